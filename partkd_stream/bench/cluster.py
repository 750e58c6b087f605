"""Benchmark ``extract`` over many videos: the local worker pool against a local Ray instance, same workers, one run.

    partkd-stream bench cluster ../shared/data/ntu/videos/S001C001P001R001A001_rgb.avi [--videos 8] [--workers 2]
                                [--repeats 2] [--max-width W] [--json]

The video is linked ``--videos`` times into a temporary folder (distinct names, so distinct outputs). Runs alternate
A/B, B/A, … (A = the process pool of ``extract --workers W``, B = ``extract --ray`` on a Ray instance of W CPUs that
the run starts and shuts down, as the command does); both go through ``extract``'s own dispatch, so every video is
the same ``_job`` (a fresh MediaPipe Pose, decode, pose, an atomic ``.npz``). Each run writes a fresh output folder.
Reported, per mode, medians over the runs:

- **videos per minute** of the batch: from the first video handed out to the last result (A: the pool's start-up is
  in it; B: Ray's worker processes start in it, the instance's own start-up and shut-down are reported apart);
  the **ratio B/A** of the two medians;
- **core utilisation**: CPU seconds of every process the mode uses — this one, the pool's workers (A); Ray's
  workers and its own services (B) — over wall time × W; and CPU seconds per video;
- **per-task overhead**: ``--tasks`` no-op tasks on warm workers (a spawn pool of W vs Ray tasks on W CPUs, through
  ``RayBatch.map`` as the videos are): milliseconds per task, what dispatching one video costs;
- whether A's and B's outputs are byte for byte the same.

Not a test: numbers depend on the machine and on what else runs on it. CPU times come from ``/proc`` (Linux).
"""
from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import resource
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from .. import cluster, extract
from ..errors import PartkdError
from ..sources import VideoFileSource

TICK = os.sysconf("SC_CLK_TCK")


def tree_cpu() -> dict[int, float]:
    """CPU seconds (user + system) of this process and each of its descendants now, by pid."""
    parent, cpu = {}, {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parent[int(d)], cpu[int(d)] = int(fields[1]), (int(fields[11]) + int(fields[12])) / TICK
    keep, frontier = {os.getpid()}, [os.getpid()]
    while frontier:
        frontier = [p for p, pp in parent.items() if pp in frontier and p not in keep]
        keep.update(frontier)
    return {p: cpu[p] for p in keep if p in cpu}


def children_cpu() -> float:
    """CPU seconds of this process and of its children that have ended (the pool's workers, once joined)."""
    me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def run_pool(jobs: list[extract.Job], workers: int) -> dict:
    c0, t0 = children_cpu(), time.perf_counter()
    results = list(extract._run(jobs, workers, progress=False))
    wall = time.perf_counter() - t0
    return summarise("pool", results, wall, children_cpu() - c0, workers)


def run_ray(jobs: list[extract.Job], workers: int) -> dict:
    t0 = time.perf_counter()
    with cluster.RayBatch(None, workers) as batch:
        up = time.perf_counter() - t0
        before, t1 = tree_cpu(), time.perf_counter()
        results = list(extract._run(jobs, workers, progress=False, ray=batch))
        wall = time.perf_counter() - t1
        after = tree_cpu()
        t2 = time.perf_counter()
    down = time.perf_counter() - t2
    cpu = sum(c - before.get(p, 0.0) for p, c in after.items())
    return {**summarise("ray", results, wall, cpu, workers), "startup_s": up, "shutdown_s": down}


def summarise(mode: str, results: list, wall: float, cpu: float, workers: int) -> dict:
    failed = [r.error for r in results if r.status != "done"]
    if failed:
        raise SystemExit(f"partkd-stream bench cluster: error: {mode}: {failed[0]}")
    return {"mode": mode, "videos": len(results), "wall_s": wall, "videos_per_min": 60 * len(results) / wall,
            "cpu_s": cpu, "cpu_s_per_video": cpu / len(results), "utilisation": cpu / (wall * workers)}


def noop_tasks(workers: int, tasks: int) -> tuple[float, float]:
    """Seconds per no-op task (``abs``) through a spawn pool of ``workers`` and as Ray tasks on ``workers`` CPUs,
    both warm (the workers started by a first round of ``workers`` tasks): the dispatch's own cost per video."""
    with mp.get_context("spawn").Pool(workers) as pool:
        list(pool.imap_unordered(abs, range(workers)))
        t0 = time.perf_counter()
        list(pool.imap_unordered(abs, range(tasks)))
        per_pool = (time.perf_counter() - t0) / tasks
    with cluster.RayBatch(None, workers) as batch:
        def run(n: int) -> None:
            list(batch.map(abs, list(range(n)), name=str, lost=lambda job, msg: None, progress=False))
        run(workers)
        t0 = time.perf_counter()
        run(tasks)
        per_ray = (time.perf_counter() - t0) / tasks
    return per_pool, per_ray


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="partkd-stream bench cluster", description="extract: the local worker pool vs a local Ray instance, interleaved.")
    ap.add_argument("video")
    ap.add_argument("--videos", type=int, default=8, help="copies of the video per run (default 8)")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="workers (default: the cores)")
    ap.add_argument("--repeats", type=int, default=2, help="A/B pairs (default 2)")
    ap.add_argument("--tasks", type=int, default=200, help="no-op tasks for the per-task overhead (0: skip)")
    ap.add_argument("--max-width", type=int, default=extract._parser().get_default("max_width"),
                    help="extract's --max-width (default: extract's own)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    if min(args.videos, args.workers, args.repeats) < 1 or args.tasks < 0:
        print("partkd-stream bench cluster: error: --videos, --workers and --repeats must be ≥ 1, --tasks ≥ 0", file=sys.stderr)
        return 2
    try:
        cluster.import_ray(local=True)
        src = VideoFileSource(args.video)
        frames = src.total
        src.close()
    except (PartkdError, OSError) as e:
        print(f"partkd-stream bench cluster: error: {e}", file=sys.stderr)
        return 1
    tmp = Path(tempfile.mkdtemp(prefix="bench_cluster."))
    try:
        videos = tmp / "videos"
        videos.mkdir()
        ext = Path(args.video).suffix
        for k in range(args.videos):
            (videos / f"v{k:03d}{ext}").symlink_to(Path(args.video).resolve())
        runs: dict[str, list[dict]] = {"pool": [], "ray": []}
        first_out: dict[str, Path] = {}
        for i in range(args.repeats):
            for mode in ("pool", "ray") if i % 2 == 0 else ("ray", "pool"):
                out = tmp / f"{mode}{i}"
                jobs = [extract.Job(str(v), str(out / extract.output_name(v)), 1, args.max_width, False)
                        for v in sorted(videos.iterdir())]
                r = run_pool(jobs, args.workers) if mode == "pool" else run_ray(jobs, args.workers)
                runs[mode].append(r)
                first_out.setdefault(mode, out)
                print(f"  run {i + 1} {mode:4s}  {r['videos_per_min']:6.1f} videos/min  "
                      f"utilisation {100 * r['utilisation']:5.1f} %", file=sys.stderr)
        same = all((first_out["pool"] / p.name).read_bytes() == p.read_bytes()
                   for p in sorted(first_out["ray"].iterdir()))
        noop_pool, noop_ray = noop_tasks(args.workers, args.tasks) if args.tasks else (None, None)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    def med(mode: str, key: str) -> float:
        return statistics.median(r[key] for r in runs[mode])

    result = {
        "video": args.video, "frames_per_video": frames, "videos": args.videos, "workers": args.workers,
        "max_width": args.max_width,
        "cores": os.cpu_count(), "repeats": args.repeats, "order": "A/B, B/A, … interleaved",
        "runs": runs, "outputs_identical": same,
        "pool_videos_per_min": med("pool", "videos_per_min"), "ray_videos_per_min": med("ray", "videos_per_min"),
        "ratio_ray_over_pool": med("ray", "videos_per_min") / med("pool", "videos_per_min"),
        "pool_utilisation": med("pool", "utilisation"), "ray_utilisation": med("ray", "utilisation"),
        "pool_cpu_s_per_video": med("pool", "cpu_s_per_video"), "ray_cpu_s_per_video": med("ray", "cpu_s_per_video"),
        "ray_startup_s": med("ray", "startup_s"), "ray_shutdown_s": med("ray", "shutdown_s"),
        "noop_task_ms_pool": None if noop_pool is None else 1e3 * noop_pool,
        "noop_task_ms_ray": None if noop_ray is None else 1e3 * noop_ray,
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"video {args.video} ({frames} frames) × {args.videos}, --max-width {args.max_width}, {args.workers} workers "
          f"on {result['cores']} cores, {args.repeats} A/B pairs, interleaved")
    for mode, label in (("pool", "A local pool"), ("ray", "B local Ray")):
        runs_txt = " ".join(f"{r['videos_per_min']:.1f}" for r in runs[mode])
        print(f"  {label:13s} {med(mode, 'videos_per_min'):6.1f} videos/min median (runs: {runs_txt}); "
              f"utilisation {100 * med(mode, 'utilisation'):5.1f} % of {args.workers} cores; "
              f"{med(mode, 'cpu_s_per_video'):.2f} CPU s per video")
    print(f"  ratio B/A     {result['ratio_ray_over_pool']:6.3f}  (ratio of the two medians)")
    print(f"  Ray instance  start-up {result['ray_startup_s']:.1f} s, shut-down {result['ray_shutdown_s']:.1f} s "
          f"(once per command, not in the batch times)")
    if args.tasks:
        print(f"  per task      {result['noop_task_ms_pool']:.2f} ms pool, {result['noop_task_ms_ray']:.2f} ms Ray "
              f"({args.tasks} no-op tasks on {args.workers} warm workers: the dispatch's own cost per video)")
    print(f"  outputs identical (A vs B, byte for byte): {'yes' if same else 'NO'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
