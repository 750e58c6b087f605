"""``partkd-stream extract VIDEO_OR_DIR_OR_GLOB… --out DIR``: MediaPipe skeletons from videos, one ``.npz`` each.

This is how a user builds the LQ side of a video dataset (e.g. NTU RGB+D from its RGB videos). Each video gives
``DIR/<stem>.npz`` (a trailing ``_rgb`` is dropped, so NTU ``S001C001P001R001A001_rgb.avi`` pairs with
``S001C001P001R001A001.skeleton``) in the sequence format of ``partkd_stream.skeleton_io``:

- ``data``: float32 ``[T, 33, 3]`` = image pixels ``(x, y, visibility)`` in ``mediapipe33`` order, one row per
  decoded frame; a frame with no person is all zeros (score 0 = missing);
- ``layout = "mediapipe33"``, ``fps`` from the container (30 if it reports none), ``timestamps = index / fps``
  (OpenCV's per-frame container times are unreliable for AVI, so they are not used);
- ``meta``: source path, frame size, model complexity, processing width, frames with a person. MediaPipe's 3D
  world landmarks are *not* stored: they double the file for data no training path uses.

``--swap-sides`` exchanges MediaPipe's left/right labels. Use it for NTU RGB+D: on the NTU RGB videos, Kinect's
``*Left`` joints coincide with MediaPipe's ``right_*`` landmarks (measured, ``train/calibration/README.md``), so
without it an extracted LQ skeleton and its Kinect HQ skeleton disagree about which arm is which.

Frames wider than ``--max-width`` (default 1280) are downscaled before MediaPipe and the landmarks scaled back
to the original pixel grid: MediaPipe runs on a 256-px crop anyway, so this only saves decoding-side work.

Parallel: ``--workers N`` processes (``spawn``-safe), a progress bar over videos. Resumable: an existing output
is skipped unless ``--overwrite``; outputs are written atomically, so an interrupted run leaves no half files.
A video that cannot be decoded is reported on one line and skipped; the exit code is then 1.
"""
from __future__ import annotations

import argparse
import glob
import multiprocessing as mp
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Optional, Sequence

import numpy as np

from .errors import PartkdError
from .skeleton_io import SkeletonSequence, save_sequence

VIDEO_EXTS = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv")
DEFAULT_FPS = 30.0


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


def find_videos(inputs: Sequence[str]) -> list[Path]:
    """Expand files, folders (recursively, video extensions) and globs; a path that matches nothing raises."""
    found: list[Path] = []
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            found += sorted(q for q in p.rglob("*") if q.is_file() and q.suffix.lower() in VIDEO_EXTS)
        elif p.is_file():
            found.append(p)
        elif glob.has_magic(item):
            matches = sorted(Path(m) for m in glob.glob(item, recursive=True) if Path(m).is_file())
            if not matches:
                raise FileNotFoundError(f"no files match {item!r}")
            found += matches
        else:
            raise FileNotFoundError(f"{item}: no such file or folder")
    seen, unique = set(), []
    for f in found:
        key = f.resolve()
        if key not in seen:
            seen.add(key)
            unique.append(f)
    return unique


def extract_video(video: str | Path, model_complexity: int = 1, max_width: int = 1280,
                  estimator=None, swap_sides: bool = False) -> SkeletonSequence:
    """Run the pose estimator on every frame of one video → a ``mediapipe33`` sequence (no file written)."""
    import cv2

    from .layouts import get_layout
    from .pose import MediaPipePose

    os.environ.setdefault("GLOG_minloglevel", "2")  # MediaPipe's C++ log lines, once per video, are noise here
    flip = get_layout("mediapipe33").flip_permutation() if swap_sides else None

    video = Path(video)
    cap = cv2.VideoCapture(str(video))
    if not cap.isOpened():
        raise ExtractError(f"{video}: cannot open video (unsupported or corrupt file)")
    fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
    fps = fps if np.isfinite(fps) and 0 < fps < 1000 else DEFAULT_FPS
    reported = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
    own = estimator is None
    est = MediaPipePose(model_complexity=model_complexity) if own else estimator
    rows: list[np.ndarray] = []
    size = (0, 0)
    work_w = 0
    try:
        while True:
            ok, frame = cap.read()
            if not ok or frame is None:
                break
            h, w = frame.shape[:2]
            size = (w, h)
            factor = min(1.0, max_width / w) if max_width > 0 else 1.0
            small = frame if factor == 1.0 else cv2.resize(frame, (int(round(w * factor)), int(round(h * factor))),
                                                           interpolation=cv2.INTER_AREA)
            work_w = small.shape[1]
            res = est.process(small)
            if res is None:
                rows.append(np.zeros((33, 3), np.float32))
            else:
                kp = res.keypoints_2d()
                kp[:, 0] *= w / small.shape[1]
                kp[:, 1] *= h / small.shape[0]
                rows.append(kp if flip is None else kp[flip])
    finally:
        cap.release()
        if own:
            est.close()
    if not rows:
        raise ExtractError(f"{video}: no frame could be decoded (corrupt, empty or unsupported video)")
    data = np.stack(rows).astype(np.float32)
    with_person = int((data[:, :, 2].max(1) > 0).sum())
    meta = {"source": str(video), "width": size[0], "height": size[1], "model_complexity": model_complexity,
            "processed_width": work_w, "frames_with_person": with_person, "estimator": "mediapipe-pose",
            "sides_swapped": bool(swap_sides), "frames_reported_by_container": reported}
    return SkeletonSequence(data=data, layout="mediapipe33", fps=fps, timestamps=np.arange(len(data)) / fps,
                            id=output_name(video)[:-4], meta=meta)


def _job(args: tuple[str, str, int, int, bool]) -> Result:
    """One video in a worker process: extract and write atomically; never raises (failures are results)."""
    video, out, complexity, max_width, swap_sides = args
    t0 = time.perf_counter()
    try:
        seq = extract_video(video, complexity, max_width, swap_sides=swap_sides)
        save_sequence(out, seq)
        reported = seq.meta["frames_reported_by_container"]
        warning = (f"{video}: decoded {len(seq.data)} of the {reported} frames the container reports (truncated "
                   f"or damaged file?); kept what was decoded" if len(seq.data) < 0.9 * reported else "")
        return Result(video, "done", len(seq.data), seq.meta["frames_with_person"], time.perf_counter() - t0,
                      warning=warning)
    except Exception as e:  # noqa: BLE001 - one bad video must not stop the others; it is reported
        msg = str(e) if isinstance(e, ExtractError) else f"{video}: {type(e).__name__}: {e}"
        return Result(video, "failed", seconds=time.perf_counter() - t0, error=msg.splitlines()[0] if msg else video)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="partkd-stream extract",
                                description="Extract MediaPipe skeletons from videos into .npz files "
                                            "(one per video, resumable, parallel).")
    p.add_argument("inputs", nargs="+", metavar="VIDEO_OR_DIR_OR_GLOB", help="video files, folders or globs")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder (DIR/<video stem>.npz)")
    p.add_argument("--workers", type=int, default=0, help="worker processes (default: min(cores, videos))")
    p.add_argument("--overwrite", action="store_true", help="redo videos whose output already exists")
    p.add_argument("--model-complexity", type=int, default=1, choices=(0, 1, 2), help="MediaPipe model (default 1)")
    p.add_argument("--max-width", type=int, default=1280,
                   help="downscale wider frames before MediaPipe (landmarks are scaled back); 0 = never")
    p.add_argument("--swap-sides", action="store_true",
                   help="exchange MediaPipe's left/right labels; use for NTU RGB+D, whose Kinect *Left joints match "
                        "MediaPipe's right_* on the RGB videos (measured by train/calibrate.py)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    return p


def _run(jobs: list[tuple[str, str, int, int, bool]], workers: int, progress: bool) -> Iterable[Result]:
    from tqdm import tqdm

    bar = tqdm(total=len(jobs), unit="video", disable=not progress, file=sys.stderr)
    try:
        if workers <= 1:
            for j in jobs:
                r = _job(j)
                bar.update()
                yield r
        else:
            with mp.get_context("spawn").Pool(workers) as pool:
                for r in pool.imap_unordered(_job, jobs):
                    bar.update()
                    yield r
    finally:
        bar.close()


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = _parser().parse_args(argv)
    try:
        videos = find_videos(args.inputs)
    except FileNotFoundError as e:
        print(f"partkd-stream extract: error: {e}; give existing video files, folders or globs", file=sys.stderr)
        return 2
    if not videos:
        print(f"partkd-stream extract: error: no videos ({', '.join(VIDEO_EXTS)}) in {' '.join(args.inputs)}",
              file=sys.stderr)
        return 2
    try:
        import mediapipe  # noqa: F401  (checked here once, rather than failing in every worker)
    except ImportError as e:
        from .pose import MEDIAPIPE_HINT
        print(f"partkd-stream extract: error: MediaPipe is not available ({e}); {MEDIAPIPE_HINT}", file=sys.stderr)
        return 2
    out_dir = Path(args.out)
    if out_dir.exists() and not out_dir.is_dir():
        print(f"partkd-stream extract: error: --out {out_dir} is a file; give a folder", file=sys.stderr)
        return 2
    out_dir.mkdir(parents=True, exist_ok=True)

    t0 = time.perf_counter()
    results: list[Result] = []
    jobs = []
    names: dict[str, Path] = {}
    for v in videos:
        name = output_name(v)
        if name in names:
            print(f"partkd-stream extract: warning: {v} and {names[name]} both map to {out_dir / name}; "
                  f"skipping {v}", file=sys.stderr)
            results.append(Result(str(v), "failed", error=f"{v}: output name {name} already taken"))
            continue
        names[name] = v
        out = out_dir / name
        if out.exists() and not args.overwrite:
            results.append(Result(str(v), "skipped"))
            continue
        jobs.append((str(v), str(out), args.model_complexity, args.max_width, args.swap_sides))

    workers = args.workers if args.workers > 0 else min(os.cpu_count() or 1, max(len(jobs), 1))
    try:
        for r in _run(jobs, min(workers, max(len(jobs), 1)), progress=not args.no_progress):
            if r.status == "failed":
                print(f"partkd-stream extract: failed: {r.error}", file=sys.stderr)
            elif r.warning:
                print(f"partkd-stream extract: warning: {r.warning}", file=sys.stderr)
            results.append(r)
    except KeyboardInterrupt:
        done = sum(r.status == "done" for r in results)
        print(f"partkd-stream extract: interrupted after {done} new videos; finished files are kept, run the same "
              f"command again to resume", file=sys.stderr)
        return 130

    done = [r for r in results if r.status == "done"]
    failed = [r for r in results if r.status == "failed"]
    skipped = [r for r in results if r.status == "skipped"]
    frames = sum(r.frames for r in done)
    person = sum(r.with_person for r in done)
    print(f"extract: {len(done)} done, {len(skipped)} skipped (already there), {len(failed)} failed; "
          f"{frames} frames, {person} with a person; {time.perf_counter() - t0:.1f} s → {out_dir}")
    return 1 if failed else 0
