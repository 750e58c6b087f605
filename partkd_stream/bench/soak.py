"""Memory over long runs: the real run mode on a long skeleton stream and a long video, its RSS sampled throughout.

    partkd-stream bench soak [--frames 100000] [--video VIDEO [--video-repeats 30] [--width 960]] [--json FILE]

Each soak runs ``python -m partkd_stream.cli`` (this very package) as a child process (the shipped model, or
``--model``; ``--no-display``) and reads the child's resident memory (``VmRSS`` in ``/proc/<pid>/status``) every
``--interval`` seconds, together with how far it got (the ``frame`` of the last record in its ``--out`` file).
Not ``--quiet``: the frames are counted by the run's own summary (without a terminal it draws no progress bar).

- **skeleton soak**: the demo's stream (``synthetic.demo_stream``: standing, jumping jacks, nobody, jump rope;
  375 frames) repeated with increasing timestamps at 30 fps into a ``.jsonl`` stream, which the run mode reads
  line by line (an ``.npz`` would be loaded whole, so its size would be the memory). Every repeat starts and ends
  actions, so events, smoothing and the summary are exercised, not only the window.
- **video soak**: a real clip (``--video``; docs/speed.md uses NTU S001C001P001R001A001, 103 frames 1920×1080)
  repeated ``--video-repeats`` times into one H.264 mp4 with PyAV, scaled to ``--width`` pixels wide (default 960:
  a quarter of the pixels to decode and render; MediaPipe scales every frame to 256×256 itself; ``--width 0``
  keeps the clip's size), then ``--video … --out … --render …`` with MediaPipe. Skipped, saying why, without a
  clip or without MediaPipe.

Per soak: frames (as counted by the run's own summary), wall time, RSS at the **baseline** = median of the samples
taken while the run was 20–30 % through its frames (start-up — imports, the model session, MediaPipe's graph, the
encoder, the first window — is long over by then, and a median ignores a lone spike), RSS at the **end** = the
largest sample in the last 10 % of the frames (a spike there counts as growth: the conservative side) taken
before the last record was written (then the process only closes and frees), **growth** = end − baseline, the
**peak** (all samples), and the slope of RSS against frames over the 20–100 % stretch. The target (< 5 MB growth
over ≥ 100,000 skeleton frames and ≥ 3,000 video frames) and the measurements are in docs/speed.md; this prints
numbers and asserts nothing: they depend on the machine, its load and the libraries' allocators.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Optional

from . import child_env

SUMMARY = re.compile(r": (\d+) frames in ([\d.]+) s \(([\d.]+) fps")


def write_skeleton_stream(path: Path, frames: int, seed: int = 0) -> int:
    """The demo stream's 375 frames repeated up to ``frames`` frames, timestamps and indices increasing; → frames."""
    from ..skeleton_io import write_stream
    from ..synthetic import FPS, demo_stream

    base = demo_stream(seed)
    return write_stream(path, "mediapipe33", FPS, ((i / FPS, i, base[i % len(base)][2]) for i in range(frames)))


def write_long_video(src: Path, dst: Path, repeats: int, width: int = 960) -> dict[str, Any]:
    """``src`` decoded once and written ``repeats`` times into an H.264 ``dst`` (``width`` px wide, 0: as is)."""
    import av

    with av.open(str(src)) as inp:
        stream = inp.streams.video[0]
        rate = stream.average_rate or 30
        images = [f.to_ndarray(format="bgr24") for f in inp.decode(stream)]
    if not images:
        raise ValueError(f"{src}: no frame decodes")
    h, w = images[0].shape[:2]
    if width and width != w:
        size = (width - width % 2, int(round(h * width / w / 2)) * 2)
    else:
        size = (w - w % 2, h - h % 2)
    with av.open(str(dst), "w") as out:
        vs = out.add_stream("libx264", rate=rate, options={"preset": "veryfast", "crf": "26"})
        vs.width, vs.height, vs.pix_fmt = size[0], size[1], "yuv420p"
        frames = [av.VideoFrame.from_ndarray(im, format="bgr24").reformat(width=size[0], height=size[1],
                                                                          format="yuv420p") for im in images]
        n = 0
        for _ in range(repeats):
            for frame in frames:
                frame.pts = n
                n += 1
                out.mux(vs.encode(frame))
        out.mux(vs.encode(None))
    return {"source": str(src), "frames": n, "size": list(size), "fps": float(rate), "bytes": dst.stat().st_size}


def rss_kb(pid: int) -> Optional[int]:
    """The process's resident set (``VmRSS``, kB), or None once it has gone (or is a zombie: no VmRSS line)."""
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        pass
    return None


def last_frame(path: Path) -> Optional[int]:
    """The ``frame`` of the last complete prediction record in a run's JSONL output (None before the first)."""
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            f.seek(max(0, f.tell() - 8192))
            tail = f.read().decode("utf-8", "replace")
    except FileNotFoundError:
        return None
    for line in reversed(tail.split("\n")[:-1]):      # the last piece may be a line still being written
        try:
            frame = json.loads(line).get("frame")
        except (ValueError, AttributeError):
            continue
        if isinstance(frame, int):
            return frame
    return None


def run_sampled(argv: list[str], out: Path, interval: float = 0.2) -> dict[str, Any]:
    """Run ``python -m partkd_stream.cli ARGV`` (this package); sample its RSS and progress until it exits."""
    cmd = [sys.executable, "-m", "partkd_stream.cli", *argv]
    samples: list[tuple[float, int, Optional[int]]] = []     # (seconds since start, RSS kB, last frame written)
    with tempfile.TemporaryFile("w+") as so, tempfile.TemporaryFile("w+") as se:
        t0 = time.perf_counter()
        child = subprocess.Popen(cmd, env=child_env(), stdout=so, stderr=se)
        try:
            while child.poll() is None:
                kb = rss_kb(child.pid)
                if kb is not None:
                    samples.append((time.perf_counter() - t0, kb, last_frame(out)))
                time.sleep(interval)
        finally:
            if child.poll() is None:
                child.kill()
            child.wait()
        wall = time.perf_counter() - t0
        so.seek(0)
        se.seek(0)
        stdout, stderr = so.read(), se.read()
    return {"command": cmd, "returncode": child.returncode, "wall_s": wall, "samples": samples,
            "stdout": stdout, "stderr": stderr}


def summarise(samples: list[tuple[float, int, Optional[int]]], frames: int) -> dict[str, Any]:
    """Baseline, end, growth, peak and slope (MB, 1 MB = 2^20 bytes) of RSS samples ``(t, kB, frame)`` of a run
    over ``frames`` frames; progress is the sample's frame ÷ ``frames`` (samples before the first record: 0).

    End and slope use the samples taken before the run's last record appeared: after it the process finishes,
    closes its files and frees MediaPipe's graph, and its RSS then says nothing about a run going on. The peak is
    the largest of all samples."""
    if not samples:
        raise ValueError("no RSS sample was taken (the run ended before the first one)")
    mb = [kb / 1024 for _, kb, _ in samples]
    progress = [(f + 1) / frames if f is not None else 0.0 for _, _, f in samples]
    written = [f for _, _, f in samples if f is not None]
    running = {i for i, (_, _, f) in enumerate(samples) if f is not None and f < max(written)}

    def stretch(lo: float, hi: float, only_running: bool = False) -> list[int]:
        return [i for i, p in enumerate(progress) if lo <= p <= hi and (i in running or not only_running)]

    base = stretch(0.2, 0.3) or [min(range(len(samples)), key=lambda i: abs(progress[i] - 0.25))]
    end = stretch(0.9, 1.0, True) or [max(running, default=len(samples) - 1)]
    baseline = statistics.median(mb[i] for i in base)
    end_mb = max(mb[i] for i in end)
    tail = stretch(0.2, 1.0, True)
    slope = None
    if len({progress[i] for i in tail}) >= 2:
        x = [progress[i] * frames / 1e4 for i in tail]
        y = [mb[i] for i in tail]
        mx, my = statistics.fmean(x), statistics.fmean(y)
        slope = sum((a - mx) * (b - my) for a, b in zip(x, y)) / sum((a - mx) ** 2 for a in x)
    return {"samples": len(samples), "baseline_samples": len(base), "end_samples": len(end),
            "rss_baseline_mb": baseline, "rss_end_mb": end_mb, "growth_mb": end_mb - baseline,
            "peak_mb": max(mb), "rss_last_mb": mb[-1], "slope_mb_per_10k_frames": slope}


def _soak(kind: str, argv: list[str], out: Path, frames_in: int, interval: float) -> dict[str, Any]:
    run = run_sampled(argv, out, interval)
    if run["returncode"] != 0:
        last = run["stderr"].strip().splitlines()[-1:] or ["(no message)"]
        raise RuntimeError(f"{kind} soak: the run mode exited {run['returncode']}: {last[0]}")
    m = SUMMARY.search(run["stdout"])
    counted = int(m.group(1)) if m else None
    result = {"soak": kind, "frames_in": frames_in, "frames": counted, "wall_s": run["wall_s"],
              "run_s": float(m.group(2)) if m else None, "fps": float(m.group(3)) if m else None,
              "command": " ".join(run["command"][1:]), "interval_s": interval,
              **summarise(run["samples"], counted or frames_in),
              "rss_trace": [[round(t, 2), kb, f] for t, kb, f in run["samples"]]}
    return result


def skeleton_soak(frames: int, work: Path, model: Optional[str] = None, interval: float = 0.2) -> dict[str, Any]:
    """``frames`` frames of the demo figure through ``--skeletons`` (``.jsonl``, streamed line by line)."""
    stream, out = work / "soak_skeletons.jsonl", work / "soak_skeletons_out.jsonl"
    write_skeleton_stream(stream, frames)
    argv = ["--skeletons", str(stream), "--out", str(out), "--no-display"] + (["--model", model] if model else [])
    r = _soak("skeleton", argv, out, frames, interval)
    r["input_bytes"] = stream.stat().st_size
    return r


def video_soak(src: Path, repeats: int, width: int, work: Path, model: Optional[str] = None,
               interval: float = 0.2) -> dict[str, Any]:
    """``src`` repeated ``repeats`` times through ``--video … --out … --render …`` (MediaPipe, H.264 render)."""
    video, out, render = work / "soak_video.mp4", work / "soak_video_out.jsonl", work / "soak_video_render.mp4"
    made = write_long_video(src, video, repeats, width)
    argv = ["--video", str(video), "--out", str(out), "--render", str(render), "--no-display"] \
        + (["--model", model] if model else [])
    r = _soak("video", argv, out, made["frames"], interval)
    r["input"] = made
    r["render_bytes"] = render.stat().st_size
    return r


def video_unavailable(src: Optional[Path]) -> Optional[str]:
    """Why the video soak cannot run here, or None."""
    if src is None:
        return "no --video given"
    if not src.is_file():
        return f"{src} not found"
    for mod in ("mediapipe", "av"):
        if importlib.util.find_spec(mod) is None:
            return f"{mod} is not installed"
    return None


def _row(r: dict[str, Any]) -> str:
    slope = r["slope_mb_per_10k_frames"]
    return (f"{r['soak']:9s} {r['frames'] or 0:>8,d} {r['wall_s']:8.1f} {r['fps'] or 0:7.1f} "
            f"{r['rss_baseline_mb']:9.1f} {r['rss_end_mb']:8.1f} {r['growth_mb']:+8.2f} {r['peak_mb']:8.1f} "
            f"{'' if slope is None else f'{slope:+.3f}':>9s}")


def main(argv: Optional[list[str]] = None) -> int:
    ap = argparse.ArgumentParser(prog="partkd-stream bench soak", description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=100_000, help="skeleton frames (default %(default)s; 0: skip)")
    ap.add_argument("--video", type=Path, help="clip to repeat for the video soak (without it: no video soak)")
    ap.add_argument("--video-repeats", type=int, default=30, help="default %(default)s (0: skip the video soak)")
    ap.add_argument("--width", type=int, default=960, help="video width in pixels (default %(default)s; 0: as is)")
    ap.add_argument("--model", default=None, help="model name or file (default: the shipped one)")
    ap.add_argument("--interval", type=float, default=0.2, help="seconds between RSS samples (default %(default)s)")
    ap.add_argument("--workdir", default=None, help="where the inputs and outputs go (default: a temporary folder)")
    ap.add_argument("--json", metavar="FILE", help="also write the results, every RSS sample included, as JSON")
    args = ap.parse_args(argv)
    if args.frames < 0 or args.video_repeats < 0 or args.width < 0 or args.interval <= 0:
        print("partkd-stream bench soak: error: --frames, --video-repeats and --width must be ≥ 0, --interval > 0",
              file=sys.stderr)
        return 2
    if not Path("/proc/self/status").exists():
        print("partkd-stream bench soak: error: needs Linux's /proc to read a process's memory", file=sys.stderr)
        return 2
    results, skipped = [], []
    with tempfile.TemporaryDirectory(prefix="partkd_soak_") as tmp:
        work = Path(args.workdir or tmp)
        work.mkdir(parents=True, exist_ok=True)
        try:
            if args.frames:
                results.append(skeleton_soak(args.frames, work, args.model, args.interval))
                _progress(results[-1])
            if args.video_repeats:
                why = video_unavailable(args.video)
                if why:
                    skipped.append(f"video soak skipped: {why}")
                    print(f"partkd-stream bench soak: {skipped[-1]}", file=sys.stderr)
                else:
                    results.append(video_soak(args.video, args.video_repeats, args.width, work, args.model,
                                              args.interval))
                    _progress(results[-1])
        except (RuntimeError, OSError, ValueError) as e:
            print(f"partkd-stream bench soak: error: {e}", file=sys.stderr)
            return 1
    print(f"{'soak':9s} {'frames':>8s} {'wall s':>8s} {'fps':>7s} {'base MB':>9s} {'end MB':>8s} {'growth':>8s} "
          f"{'peak MB':>8s} {'MB/10k fr':>9s}")
    for r in results:
        print(_row(r))
    for s in skipped:
        print(s)
    print("RSS = VmRSS of the run-mode process; base = median in the 20–30 % stretch of its frames, end = max in the "
          "last 10 % before the last record, growth = end − base (1 MB = 2^20 bytes)")
    if args.json:
        Path(args.json).write_text(json.dumps({"results": results, "skipped": skipped}, indent=1) + "\n")
    return 0


def _progress(r: dict[str, Any]) -> None:
    extra = f", video {r['input']['size'][0]}×{r['input']['size'][1]}" if "input" in r else ""
    print(f"partkd-stream bench soak: {r['soak']} soak done: {r['frames']} frames, {r['samples']} RSS samples{extra}",
          file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
