"""Benchmark the offline pipeline on a real video: MediaPipe alone vs MediaPipe + recognition, same frames, same run.

    python demo/bench_pipeline.py /work/shared/data/ntu/videos/S001C001P001R001A001_rgb.avi [--model M] [--repeats 3]

Each repeat decodes the video twice — once with the pose estimator only, once with pose + ``Recognizer.update``
(window, preprocessing, model, smoothing) — alternating, so both see the same frames and the same machine load.
Reported:

- **throughput ratio** = (frames/s with recognition) / (frames/s pose only), median over repeats (target ≥ 0.95);
- **overhead** = time in ``Recognizer.update`` / time in the pose estimator, summed over all frames (the stable
  form of the same question);
- **latency frame → label**: for frames where a prediction is due, the wall time from the decoded frame to the
  prediction (pose + window + model + smoothing), median and p95; and the recognition part alone.

Prints a plain-text table, or JSON with ``--json``. Not a test: numbers depend on the machine.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

os.environ.setdefault("GLOG_minloglevel", "2")

from partkd_stream.pose import MediaPipePose  # noqa: E402
from partkd_stream.recognizer import DEFAULT_STRIDE, Recognizer  # noqa: E402
from partkd_stream.sources import SourceError, VideoFileSource  # noqa: E402


def one_pass(video: str, rec: Recognizer | None) -> dict:
    """Decode + pose (+ recognition when ``rec``) over the whole video; per-frame timings."""
    src = VideoFileSource(video)
    pose_s, rec_s, latency, rec_latency = [], [], [], []
    t_start = time.perf_counter()
    with MediaPipePose() as pose:
        for frame in src:
            t0 = time.perf_counter()
            res = pose.process(frame.image)
            t1 = time.perf_counter()
            pose_s.append(t1 - t0)
            if rec is not None:
                pred = rec.update(None if res is None else res.keypoints_2d(), frame.t, frame=frame.index)
                t2 = time.perf_counter()
                rec_s.append(t2 - t1)
                if pred is not None:
                    latency.append(t2 - t0)
                    rec_latency.append(t2 - t1)
    wall = time.perf_counter() - t_start
    src.close()
    return {"frames": len(pose_s), "wall_s": wall, "fps": len(pose_s) / wall, "pose_s": sum(pose_s),
            "rec_s": sum(rec_s), "latency": latency, "rec_latency": rec_latency}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Recognition overhead against MediaPipe alone, on one video.")
    ap.add_argument("video")
    ap.add_argument("--model", default=None, help="model (default: the shipped engines/penn_student.onnx)")
    ap.add_argument("--backend", default="auto")
    ap.add_argument("--threads", type=int, default=1, help="model threads (default 1: MediaPipe keeps the rest)")
    ap.add_argument("--stride", type=int, default=DEFAULT_STRIDE)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    try:
        VideoFileSource(args.video).close()
        rec0 = Recognizer.load(args.model, backend=args.backend, threads=args.threads, stride=args.stride)
    except (SourceError, ValueError, OSError) as e:
        print(f"bench_pipeline: error: {e}", file=sys.stderr)
        return 1
    one_pass(args.video, None)  # warm-up: MediaPipe graph, file cache
    ratios, pose_runs, full_runs = [], [], []
    for _ in range(args.repeats):
        a = one_pass(args.video, None)
        b = one_pass(args.video, Recognizer(rec0.model, stride=args.stride))
        pose_runs.append(a)
        full_runs.append(b)
        ratios.append(b["fps"] / a["fps"])
    lat = np.array([x for r in full_runs for x in r["latency"]]) * 1e3
    rlat = np.array([x for r in full_runs for x in r["rec_latency"]]) * 1e3
    result = {
        "video": args.video, "frames": pose_runs[0]["frames"], "repeats": args.repeats,
        "model": str(rec0.model.path), "backend": rec0.model.backend.name, "stride": args.stride,
        "fps_pose_only": statistics.median(r["fps"] for r in pose_runs),
        "fps_with_recognition": statistics.median(r["fps"] for r in full_runs),
        "throughput_ratio": statistics.median(ratios),
        "overhead_rec_over_pose": sum(r["rec_s"] for r in full_runs) / sum(r["pose_s"] for r in full_runs),
        "latency_ms_median": float(np.median(lat)), "latency_ms_p95": float(np.percentile(lat, 95)),
        "recognition_ms_median": float(np.median(rlat)), "recognition_ms_p95": float(np.percentile(rlat, 95)),
    }
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"video {result['video']} ({result['frames']} frames), model {result['model']} on "
              f"{result['backend']}, stride {args.stride}, {args.repeats} repeats")
        print(f"  pose only            {result['fps_pose_only']:7.1f} frames/s")
        print(f"  pose + recognition   {result['fps_with_recognition']:7.1f} frames/s")
        print(f"  throughput ratio     {result['throughput_ratio']:7.3f}   (target ≥ 0.95)")
        print(f"  recognition / pose   {result['overhead_rec_over_pose'] * 100:6.2f} %  (time in update vs pose)")
        print(f"  latency frame→label  {result['latency_ms_median']:6.1f} ms median, {result['latency_ms_p95']:.1f} "
              f"ms p95  (pose + window + model + smoothing)")
        print(f"  recognition part     {result['recognition_ms_median']:6.2f} ms median, "
              f"{result['recognition_ms_p95']:.2f} ms p95")
    return 0


if __name__ == "__main__":
    sys.exit(main())
