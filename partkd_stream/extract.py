"""``partkd-stream extract VIDEO_OR_DIR_OR_GLOB… --out DIR``: MediaPipe skeletons from videos, one ``.npz`` each.

This is how a user builds the LQ side of a video dataset (e.g. NTU RGB+D from its RGB videos). Each video gives
``DIR/<stem>.npz`` (a trailing ``_rgb`` is dropped, so NTU ``S001C001P001R001A001_rgb.avi`` pairs with
``S001C001P001R001A001.skeleton``) in the sequence format of ``partkd_stream.skeleton_io``:

- ``data``: float32 ``[T, 33, 3]`` = image pixels ``(x, y, visibility)`` in ``mediapipe33`` order, one row per
  decoded frame; a frame with no person is all zeros (score 0 = missing);
- ``layout = "mediapipe33"``, ``fps`` from the container (``sources.video_fps``: 30 if it reports none),
  ``timestamps = index / fps`` (OpenCV's per-frame container times are unreliable for AVI, so they are not used);
- ``meta``: source path, frame size, model complexity, processing width, frames with a person. MediaPipe's 3D
  world landmarks are *not* stored: they double the file for data no training path uses.

``--swap-sides`` exchanges MediaPipe's left/right labels. Use it for NTU RGB+D: on the NTU RGB videos, Kinect's
``*Left`` joints coincide with MediaPipe's ``right_*`` landmarks (measured, ``train/calibration/README.md``), so
without it an extracted LQ skeleton and its Kinect HQ skeleton disagree about which arm is which.

MediaPipe gets the frames the run mode gives it, at full resolution: ``--max-width W`` downscales wider frames
first (landmarks scaled back to the original pixel grid), which saves MediaPipe nothing — its time per frame does
not depend on the width (``docs/speed.md``) — and costs 5–11 ms per 1080p frame. On NTU A001 the landmarks of
``--max-width 1280`` (the default before) are 0.4 px apart (median) from full resolution's.

Videos are found and decoded by ``partkd_stream.sources`` (``find_videos``, ``VideoFileSource``), as in the run
mode. Parallel: ``--workers N`` processes (``spawn``-safe), or ``--ray [ADDRESS]``: one Ray task per video on a
local Ray instance or a cluster (``partkd_stream.cluster``), each running the same per-video function (``_job``); a
progress bar over videos. Resumable: an existing readable output is skipped unless ``--overwrite`` (an empty or
unreadable one is redone); outputs are written atomically, so an interrupted run leaves no half files. The output
folder is checked before any video is decoded. Ctrl-C and SIGTERM stop the same way (finished files kept; exit 130 /
143). A video that cannot be decoded is reported on one line and skipped; the exit code is then 1; one that decodes
fewer frames than its container reports is kept with a warning.
"""
from __future__ import annotations

import argparse
import gc
import multiprocessing as mp
import os
import sys
import time
import zipfile
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, NamedTuple, Optional, Sequence

import numpy as np

from . import cluster
from .errors import PartkdError
from .signals import exit_code, raise_if_interrupted, terminate_as_interrupt, worker_stops_on_sigterm
from .sinks import check_not_inputs, check_output_folder
from .skeleton_io import SkeletonSequence, save_sequence
from .sources import VideoFileSource, find_videos, is_url, truncation_warning

PROG = "partkd-stream extract"


class ExtractError(PartkdError, RuntimeError):
    """A video that cannot be processed; the message names the file."""


@dataclass
class Result:
    video: str
    status: str            # "done" | "skipped" | "failed"
    frames: int = 0
    with_person: int = 0
    seconds: float = 0.0
    error: str = ""
    warning: str = ""


def output_name(video: str | Path) -> str:
    """``S001C001P001R001A001_rgb.avi`` → ``S001C001P001R001A001.npz`` (ids kept across HQ and LQ sides)."""
    stem = Path(video).stem
    return (stem[:-4] if stem.endswith("_rgb") and len(stem) > 4 else stem) + ".npz"


def is_finished(path: Path) -> bool:
    """An existing output counts as done only if it is a readable sequence file: a 0-byte, cut or unreadable
    ``.npz`` (a disk that filled up, a copy that failed) is redone. Reads the zip directory, not the data."""
    try:
        with np.load(path, allow_pickle=False) as z:
            return "data" in z.files
    except (OSError, ValueError, EOFError, zipfile.BadZipFile):
        return False


def extract_video(video: str | Path, model_complexity: int = 1, max_width: int = 0,
                  estimator=None, swap_sides: bool = False) -> SkeletonSequence:
    """Run the pose estimator on every frame of one video → a ``mediapipe33`` sequence (no file written).

    ``estimator``: any ``pose.PoseEstimator`` with the ``mediapipe33`` layout (default: a fresh ``MediaPipePose``,
    closed afterwards); the most prominent person of each frame is kept."""
    from .layouts import get_layout
    from .native_logs import cv2
    from .pose import MediaPipePose

    flip = get_layout("mediapipe33").flip_permutation() if swap_sides else None

    def downscale(image: np.ndarray) -> np.ndarray:   # on the decoder's thread: overlaps with the pose estimate
        h, w = image.shape[:2]
        factor = min(1.0, max_width / w) if max_width > 0 else 1.0
        return image if factor == 1.0 else cv2.resize(image, (int(round(w * factor)), int(round(h * factor))),
                                                      interpolation=cv2.INTER_AREA)

    src = VideoFileSource(str(video), prepare=downscale)   # SourceError (one line) when it cannot be opened or decoded
    own = estimator is None
    rows: list[np.ndarray] = []
    work_w = 0
    try:
        est = MediaPipePose(model_complexity=model_complexity) if own else estimator
        try:
            if est.layout != "mediapipe33":
                raise ExtractError(f"extract writes mediapipe33 sequences; this estimator gives {est.layout}")
            for frame in src:
                small = frame.image
                work_w = small.shape[1]
                people = est.process(small)
                if not people:
                    rows.append(np.zeros((33, 3), np.float32))
                    continue
                kp = people[0].keypoints_2d()
                kp[:, 0] *= src.size[0] / small.shape[1]
                kp[:, 1] *= src.size[1] / small.shape[0]
                rows.append(kp if flip is None else kp[flip])
        finally:
            if own:
                est.close()
    finally:
        src.close()
    data = np.stack(rows).astype(np.float32)
    with_person = int((data[:, :, 2].max(1) > 0).sum())
    meta = {"source": str(video), "width": src.size[0], "height": src.size[1], "model_complexity": model_complexity,
            "processed_width": work_w, "frames_with_person": with_person, "estimator": "mediapipe-pose",
            "sides_swapped": bool(swap_sides), "frames_reported_by_container": src.total or 0}
    return SkeletonSequence(data=data, layout="mediapipe33", fps=src.fps,
                            timestamps=np.arange(len(data)) / src.fps, id=output_name(video)[:-4], meta=meta)


class Job(NamedTuple):
    """One video to extract (what a worker process or a Ray task is given)."""
    video: str
    out: str
    model_complexity: int
    max_width: int
    swap_sides: bool
    make_estimator: Optional[Callable[[], object]] = None   # None: MediaPipe Pose, ``model_complexity``


def _job(job: Job) -> Result:
    """One video: extract and write atomically; never raises an error (failures are results). The one per-video
    function of every way to run a batch: in turn, in a worker pool, as Ray tasks."""
    video, out = job.video, job.out
    t0 = time.perf_counter()
    try:
        estimator = job.make_estimator() if job.make_estimator is not None else None
        try:
            seq = extract_video(video, job.model_complexity, job.max_width, estimator=estimator,
                                swap_sides=job.swap_sides)
        finally:
            if estimator is not None:
                estimator.close()
        save_sequence(out, seq)
        warning = truncation_warning(video, len(seq.data), seq.meta["frames_reported_by_container"]) or ""
        return Result(video, "done", len(seq.data), seq.meta["frames_with_person"], time.perf_counter() - t0,
                      warning=warning)
    except Exception as e:  # noqa: BLE001 - one bad video must not stop the others; it is reported
        msg = str(e) if isinstance(e, PartkdError) else f"{video}: {type(e).__name__}: {e}"
        return Result(video, "failed", seconds=time.perf_counter() - t0, error=msg.splitlines()[0] if msg else video)


def _lost(job: Job, message: str) -> Result:
    """A Ray task that gave no result (its worker died on every try): a failed video like any other."""
    return Result(job.video, "failed", error=message)


def _worker_init() -> None:
    """Worker processes leave Ctrl-C to the parent (which stops the pool) and end quietly on the SIGTERM the
    pool sends: ``SystemExit`` unwinds the atomic writer, so no temporary file is left, and prints nothing; a
    worker stuck in a native call (a video that is a FIFO) is ended by the watchdog (``signals``)."""
    worker_stops_on_sigterm(PROG)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=PROG,
                                description="Extract MediaPipe skeletons from videos into .npz files "
                                            "(one per video, resumable, parallel).")
    p.add_argument("inputs", nargs="+", metavar="VIDEO_OR_DIR_OR_GLOB",
                   help="video files, folders (searched recursively) or globs")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder (DIR/<video stem>.npz)")
    p.add_argument("--workers", type=int, default=0,
                   help="worker processes, or the CPUs of a local Ray instance (default: min(cores, videos))")
    p.add_argument("--overwrite", action="store_true", help="redo videos whose output already exists")
    p.add_argument("--model-complexity", type=int, default=1, choices=(0, 1, 2), help="MediaPipe model (default 1)")
    p.add_argument("--max-width", type=int, default=0,
                   help="downscale wider frames before MediaPipe (landmarks are scaled back; it saves MediaPipe "
                        "nothing); 0 = never, the default: the frames the run mode gives MediaPipe")
    p.add_argument("--swap-sides", action="store_true",
                   help="exchange MediaPipe's left/right labels; use for NTU RGB+D, whose Kinect *Left joints match "
                        "MediaPipe's right_* on the RGB videos (measured by train/calibrate.py)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    cluster.add_option(p)
    return p


def _run(jobs: list[Job], workers: int, progress: bool, ray: Optional[cluster.RayBatch] = None) -> Iterable[Result]:
    """``_job`` over ``jobs`` as they finish: on Ray (``ray``), in this process (``workers`` ≤ 1), or in a pool."""
    if ray is not None:
        yield from ray.map(_job, jobs, name=lambda j: j.video, lost=_lost, progress=progress)
        return
    from tqdm import tqdm

    bar = tqdm(total=len(jobs), unit="video", disable=not progress, file=sys.stderr)
    try:
        if workers <= 1:
            for j in jobs:
                r = _job(j)
                bar.update()
                yield r
        else:
            pool = mp.get_context("spawn").Pool(workers, initializer=_worker_init)
            try:
                for r in pool.imap_unordered(_job, jobs):
                    bar.update()
                    yield r
                pool.close()   # done: the workers leave on their own
            finally:
                pool.terminate()   # interrupted: SIGTERM to the workers (a no-op after close)
                pool.join()
    finally:
        bar.close()


def _fail(msg: str) -> int:
    print(f"{PROG}: error: {msg}", file=sys.stderr)
    return 2


def main(argv: Optional[Sequence[str]] = None, estimator_factory: Optional[Callable[[], object]] = None) -> int:
    """``extract``; ``estimator_factory`` makes each video's pose estimator (default: MediaPipe Pose). With
    ``--workers`` or ``--ray`` it is sent to other processes: a module-level class or function (a
    ``functools.partial`` of one), not a lambda."""
    args = _parser().parse_args(argv)
    with terminate_as_interrupt(PROG):
        try:
            try:
                return _extract(args, estimator_factory)
            except Exception:
                raise_if_interrupted()
                raise
        except KeyboardInterrupt as e:
            print(f"{PROG}: interrupted before any video was started", file=sys.stderr)
            return exit_code(e)


def _extract(args: argparse.Namespace, estimator_factory: Optional[Callable[[], object]] = None) -> int:
    try:
        address = cluster.check_address(args.ray) if args.ray is not None else None
        if args.ray is not None:
            cluster.import_ray(local=not cluster.joins_cluster(address))
            if args.workers > 0 and cluster.joins_cluster(address):
                raise cluster.ClusterError("--workers sets the size of a local run; a cluster's is set where it is "
                                           "started (ray start --num-cpus N)")
        videos = find_videos(args.inputs)
        urls = [v for v in videos if is_url(v)]
        if urls:
            raise ExtractError(f"{urls[0]}: extract reads video files, not streams; download it first")
        out_dir = check_output_folder(args.out, "skeleton files")
        check_not_inputs([("--out", str(out_dir / output_name(v))) for v in videos], videos, distinct=False)
    except PartkdError as e:
        return _fail(f"{e}")
    try:
        if estimator_factory is None:
            import mediapipe  # noqa: F401  (checked here once, rather than failing in every worker)
    except ImportError as e:
        from .pose import MEDIAPIPE_HINT
        return _fail(f"MediaPipe is not available ({e}); {MEDIAPIPE_HINT}")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        return _fail(f"--out {out_dir}: cannot create the folder ({e.strerror or e})")

    t0 = time.perf_counter()
    results: list[Result] = []
    jobs = []
    names: dict[str, str] = {}
    for v in videos:
        name = output_name(v)
        if name in names:
            print(f"{PROG}: warning: {v} and {names[name]} both map to {out_dir / name}; skipping {v}",
                  file=sys.stderr)
            results.append(Result(v, "failed", error=f"{v}: output name {name} already taken"))
            continue
        names[name] = v
        out = out_dir / name
        if not args.overwrite and out.exists():
            if is_finished(out):
                results.append(Result(v, "skipped"))
                continue
            print(f"{PROG}: warning: {out} is empty or unreadable; extracting {v} again", file=sys.stderr)
        if args.ray is not None and cluster.joins_cluster(address):   # workers elsewhere: no shared working dir
            v, out = os.path.abspath(v), out.absolute()
        jobs.append(Job(v, str(out), args.model_complexity, args.max_width, args.swap_sides, estimator_factory))

    workers = args.workers if args.workers > 0 else min(os.cpu_count() or 1, max(len(jobs), 1))
    workers = min(workers, max(len(jobs), 1))
    interrupted: Optional[int] = None
    try:
        with (cluster.RayBatch(address, workers) if args.ray is not None and jobs else nullcontext()) as ray:
            for r in _run(jobs, workers, progress=not args.no_progress, ray=ray):
                if r.status == "failed":
                    raise_if_interrupted()   # in-process: the signal may have surfaced as this video's error
                    print(f"{PROG}: failed: {r.error}", file=sys.stderr)
                elif r.warning:
                    print(f"{PROG}: warning: {r.warning}", file=sys.stderr)
                results.append(r)
    except cluster.ClusterError as e:
        return _fail(str(e))
    except KeyboardInterrupt as e:
        interrupted = exit_code(e)
    if interrupted is not None:
        # The interrupted pool's queues hold named semaphores, released when the pool (in a reference cycle) is
        # collected; the CLI ends with os._exit, without the interpreter's teardown, so collect it now, or the
        # resource tracker prints a "leaked semaphore" warning.
        gc.collect()
        done = sum(r.status == "done" for r in results)
        print(f"{PROG}: interrupted after {done} new videos; finished files are kept, run the same command again "
              f"to resume", file=sys.stderr)
        return interrupted

    done = [r for r in results if r.status == "done"]
    failed = [r for r in results if r.status == "failed"]
    skipped = [r for r in results if r.status == "skipped"]
    frames = sum(r.frames for r in done)
    person = sum(r.with_person for r in done)
    print(f"extract: {len(done)} done, {len(skipped)} skipped (already there), {len(failed)} failed; "
          f"{frames} frames, {person} with a person; {time.perf_counter() - t0:.1f} s → {out_dir}")
    return 1 if failed else 0
