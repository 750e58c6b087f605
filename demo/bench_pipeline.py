"""Benchmark the offline pipeline on a real video: MediaPipe alone vs MediaPipe + recognition, same frames, same run.

    python demo/bench_pipeline.py ../shared/data/ntu/videos/S001C001P001R001A001_rgb.avi [--model M] [--repeats 5]

Runs are interleaved A/B/A/B… (A = pose only, B = pose + ``Recognizer.update``: window, preprocessing, model,
smoothing), so both see the same frames and, on average, the same machine load. Each run decodes the whole video
with a fresh, already started pose estimator: MediaPipe's start-up is not timed. Reported:

- frames/s of every run, and their **medians** for A and B;
- **throughput ratio** = median B frames/s ÷ median A frames/s — the ratio of the two medians printed above it
  (target ≥ 0.95);
- **overhead** = time in ``Recognizer.update`` / time in the pose estimator, summed over all B runs (the stable form
  of the same question: it does not depend on load changing between runs);
- **latency frame → label**: for frames where a prediction is due, the wall time from the decoded frame to the
  prediction (pose + window + model + smoothing), median and p95; and the recognition part alone.

Prints a plain-text table, or JSON with ``--json``. Not a test: numbers depend on the machine.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from partkd_stream.errors import PartkdError  # noqa: E402
from partkd_stream.pose import MediaPipePose  # noqa: E402
from partkd_stream.recognizer import DEFAULT_EVERY_S, Recognizer  # noqa: E402
from partkd_stream.sources import VideoFileSource  # noqa: E402


def one_pass(video: str, rec: Recognizer | None) -> dict:
    """Decode + pose (+ recognition when ``rec``) over the whole video; per-frame timings, start-up excluded."""
    src = VideoFileSource(video)
    pose_s, rec_s, latency, rec_latency = [], [], [], []
    with MediaPipePose() as pose:
        t_start = time.perf_counter()
        for frame in src:
            t0 = time.perf_counter()
            people = pose.process(frame.image)
            t1 = time.perf_counter()
            pose_s.append(t1 - t0)
            if rec is not None:
                pred = rec.update(people[0].keypoints_2d() if people else None, frame.t, layout=pose.layout,
                                  frame=frame.index)
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
    ap.add_argument("--every", type=float, default=DEFAULT_EVERY_S, metavar="SECONDS")
    ap.add_argument("--repeats", type=int, default=3, help="A/B pairs (default 3)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    if args.repeats < 1:
        print("bench_pipeline: error: --repeats must be ≥ 1", file=sys.stderr)
        return 2
    try:
        VideoFileSource(args.video).close()
        rec0 = Recognizer.load(args.model, backend=args.backend, threads=args.threads, every=args.every)
    except (PartkdError, OSError) as e:
        print(f"bench_pipeline: error: {e}", file=sys.stderr)
        return 1
    one_pass(args.video, None)  # warm-up: file cache, lazy imports
    pose_runs, full_runs = [], []
    for _ in range(args.repeats):  # A/B/A/B…
        pose_runs.append(one_pass(args.video, None))
        full_runs.append(one_pass(args.video, Recognizer(rec0.model, every=args.every)))
    lat = np.array([x for r in full_runs for x in r["latency"]]) * 1e3
    rlat = np.array([x for r in full_runs for x in r["rec_latency"]]) * 1e3
    fps_a = statistics.median(r["fps"] for r in pose_runs)
    fps_b = statistics.median(r["fps"] for r in full_runs)
    result = {
        "video": args.video, "frames": pose_runs[0]["frames"], "repeats": args.repeats, "order": "A/B interleaved",
        "model": str(rec0.model.path), "backend": rec0.model.backend.name, "every_s": args.every,
        "fps_pose_only_runs": [r["fps"] for r in pose_runs],
        "fps_with_recognition_runs": [r["fps"] for r in full_runs],
        "fps_pose_only": fps_a, "fps_with_recognition": fps_b,
        "throughput_ratio": fps_b / fps_a,     # ratio of the two medians above
        "overhead_rec_over_pose": sum(r["rec_s"] for r in full_runs) / sum(r["pose_s"] for r in full_runs),
        "latency_ms_median": float(np.median(lat)), "latency_ms_p95": float(np.percentile(lat, 95)),
        "recognition_ms_median": float(np.median(rlat)), "recognition_ms_p95": float(np.percentile(rlat, 95)),
    }
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        runs = lambda rs: " ".join(f"{r['fps']:.1f}" for r in rs)  # noqa: E731
        print(f"video {result['video']} ({result['frames']} frames), model {result['model']} on "
              f"{result['backend']}, a prediction every {args.every:g} s, {args.repeats} A/B pairs, interleaved")
        print(f"  A pose only            {fps_a:7.1f} frames/s median  (runs: {runs(pose_runs)})")
        print(f"  B pose + recognition   {fps_b:7.1f} frames/s median  (runs: {runs(full_runs)})")
        print(f"  throughput ratio B/A   {result['throughput_ratio']:7.3f}   (ratio of the two medians; target ≥ 0.95)")
        print(f"  recognition / pose     {result['overhead_rec_over_pose'] * 100:6.2f} %  (time in update vs pose, "
              f"all B runs)")
        print(f"  latency frame→label    {result['latency_ms_median']:6.1f} ms median, "
              f"{result['latency_ms_p95']:.1f} ms p95  (pose + window + model + smoothing)")
        print(f"  recognition part       {result['recognition_ms_median']:6.2f} ms median, "
              f"{result['recognition_ms_p95']:.2f} ms p95")
    return 0


if __name__ == "__main__":
    sys.exit(main())
