"""Benchmark the run mode on a real video against the pose library's own call: raw MediaPipe, estimator, pipeline.

    partkd-stream bench pipeline ../shared/data/ntu/videos/S001C001P001R001A001_rgb.avi [--passes 5] [--profile]
                                 [--render] [--widths 1920,1280,640]

Four arms on the same video, interleaved so that all see, on average, the same machine load
(``partkd_stream.bench.pose``): R and E frame by frame (two graphs open side by side), then A, then P; repeated:

- **R** raw library: ``mediapipe.solutions.pose.Pose(model_complexity=1)``, tracking mode, on frames decoded and
  converted to RGB before the timing — the speed the pipeline is measured against;
- **E** the project's estimator (``MediaPipePose``) on the decoded BGR frames;
- **A** video → pose: the video decoded (on the reader thread, as in the run mode) and every frame's pose;
- **P** the whole pipeline: the run mode's own loop (``app.Run``) — decode → pose → ``Recognizer`` (window,
  preprocessing, model, smoothing) → JSONL — with ``--render``, also drawing and the H.264 video.

Each pass uses a fresh, already started estimator: MediaPipe's start-up is not timed. Reported: the median of each
arm (R, E: ms per frame and frames/s; A, P: frames/s), **E/R** (time per frame; target ≤ 1.1), **P/R** (frames/s;
target ≥ 0.9), **P/A** (what recognition costs the pipeline; target ≥ 0.95), the time in the recognizer against the
time in pose (all P passes), and the latency frame → label (pose + recognition of the frames where a prediction is
due; median, p95).

``--profile`` adds where a frame's time goes: every stage of the run mode timed, one after another on one thread,
frame by frame (mean ms per frame), and on which thread each runs in the run mode. ``--widths`` adds R on the frames
downscaled to those widths (what ``extract --max-width`` would give MediaPipe).

Prints a plain-text table, or JSON with ``--json``. Not a test: numbers depend on the machine and its load.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Optional

import numpy as np

from ..backends import BACKEND_CHOICES
from ..errors import PartkdError
from ..pose import MediaPipePose, bgr_to_rgb, solution_results
from ..recognizer import DEFAULT_EVERY_S, Recognizer
from ..sources import VideoFileSource
from .pose import EstimatorArm, RawSolutionPose, paired_pass, pipeline_pass


class _TimedPose:
    """``MediaPipePose`` whose ``process`` calls are timed (seconds, in frame order)."""

    def __init__(self) -> None:
        self._pose = MediaPipePose()
        self.layout = self._pose.layout
        self.seconds: list[float] = []

    def process(self, frame_bgr: np.ndarray) -> list:
        t0 = time.perf_counter()
        try:
            return self._pose.process(frame_bgr)
        finally:
            self.seconds.append(time.perf_counter() - t0)

    def close(self) -> None:
        self._pose.close()


def pipeline_timed(video: str, model: Any, every: float, render: bool) -> dict[str, Any]:
    """One P pass, with the time of every pose estimate and every ``Recognizer.update`` recorded."""
    pose, rec_s, due = _TimedPose(), [], []

    def instrument(run: Any) -> None:
        update = run.rec.update

        def timed_update(*a: Any, **k: Any) -> Any:
            t0 = time.perf_counter()
            pred = update(*a, **k)
            rec_s.append(time.perf_counter() - t0)
            due.append(pred is not None)
            return pred

        run.rec.update = timed_update

    r = pipeline_pass(video, model, every=every, estimator=pose, render=render, instrument=instrument)
    pose_s, rec_a, hit = np.array(pose.seconds), np.array(rec_s), np.array(due)
    return {**r, "pose_s": float(pose_s.sum()), "rec_s": float(rec_a.sum()),
            "latency": (pose_s[hit] + rec_a[hit]).tolist(), "rec_latency": rec_a[hit].tolist()}


def pose_only_pass(video: str) -> dict[str, float]:
    """A: the video decoded (reader thread) and every frame's pose; frames/s, start-up excluded."""
    src = VideoFileSource(video)
    try:
        with MediaPipePose() as pose:
            t0, n = time.perf_counter(), 0
            for frame in src:
                pose.process(frame.image)
                n += 1
            wall = time.perf_counter() - t0
    finally:
        src.close()
    return {"frames": n, "fps": n / wall}


def profile(video: str, model: Any, every: float) -> dict[str, Any]:
    """Mean milliseconds per frame of every stage of the run mode, one after another on one thread, frame by frame
    as the run mode goes (each frame's buffers freed before the next is decoded)."""
    from ..native_logs import cv2
    from ..overlay import annotate
    from ..sinks import JsonlSink

    stages = ("decode", "convert", "mediapipe", "unpack", "recognition", "jsonl", "draw")
    spent = dict.fromkeys(stages, 0.0)
    cap = cv2.VideoCapture(video)
    fps = cap.get(cv2.CAP_PROP_FPS) or 30.0
    size = f"{int(cap.get(cv2.CAP_PROP_FRAME_WIDTH))}x{int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))}"
    pose, rec, n, rgb = RawSolutionPose(), Recognizer(model, every=every), 0, None
    with tempfile.TemporaryDirectory() as tmp:
        sink = JsonlSink(Path(tmp) / "p.jsonl")
        try:
            while True:
                t = [time.perf_counter()]
                ok, image = cap.read()
                if not ok:
                    break
                t.append(time.perf_counter())
                rgb = bgr_to_rgb(image, rgb)   # into the previous frame's buffer, as MediaPipePose does
                t.append(time.perf_counter())
                res = pose.solution.process(rgb)
                t.append(time.perf_counter())
                people = solution_results(res, image.shape[1], image.shape[0])
                t.append(time.perf_counter())
                kp = people[0].keypoints_2d() if people else None
                pred = rec.update(kp, n / fps, layout="mediapipe33", frame=n)
                t.append(time.perf_counter())
                if pred is not None:
                    sink.prediction(pred)
                    sink.events(pred.events)
                t.append(time.perf_counter())
                annotate(image, kp, "mediapipe33", pred, 30.0)
                t.append(time.perf_counter())
                for stage, a, b in zip(stages, t, t[1:]):
                    spent[stage] += b - a
                n += 1
        finally:
            sink.close()
            pose.close()
            cap.release()
    return {"frames": n, "frame_size": size, **{k: v / max(n, 1) * 1e3 for k, v in spent.items()}}


def widths(imgs: list[np.ndarray], sizes: list[int], passes: int) -> dict[int, float]:
    """R at several frame widths (frames downscaled with ``INTER_AREA`` beforehand, as ``extract --max-width`` does),
    the widths frame by frame in one pass; median ms per frame over ``passes``."""
    from ..native_logs import cv2

    def scaled(img: np.ndarray, w: int) -> np.ndarray:
        h = round(img.shape[0] * w / img.shape[1])
        return img if w >= img.shape[1] else cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA)

    sets = [[scaled(img, w) for img in imgs] for w in sizes]
    runs: dict[int, list[float]] = {w: [] for w in sizes}
    for _ in range(passes):
        arms = [lambda frames=frames: _Prepared(RawSolutionPose(), frames) for frames in sets]
        for w, r in zip(sizes, paired_pass(arms, list(range(len(imgs))))):
            runs[w].append(r["ms"])
    return {w: statistics.median(v) for w, v in runs.items()}


class _Prepared:
    """An arm fed frame k of its own frame list when asked for frame k (``paired_pass`` passes indices)."""

    def __init__(self, arm: Any, frames: list[np.ndarray]) -> None:
        self.arm, self.frames = arm, frames

    def prepare(self, k: int) -> Any:
        return self.arm.prepare(self.frames[k])

    def process(self, x: Any) -> int:
        return self.arm.process(x)

    def close(self) -> None:
        self.arm.close()


def main(argv: Optional[list[str]] = None) -> int:
    ap = argparse.ArgumentParser(prog="partkd-stream bench pipeline",
                                 description="The run mode against the raw pose library, on one video.")
    ap.add_argument("video")
    ap.add_argument("--model", default=None, help="model (default: the shipped one)")
    ap.add_argument("--backend", default="auto", choices=BACKEND_CHOICES)
    ap.add_argument("--threads", type=int, default=1, help="model threads (default 1: MediaPipe keeps the rest)")
    ap.add_argument("--every", type=float, default=DEFAULT_EVERY_S, metavar="SECONDS",
                    help="seconds of stream time between predictions (default %(default)s)")
    ap.add_argument("--passes", "--repeats", type=int, default=3, help="R/E/A/P passes (default 3)")
    ap.add_argument("--render", action="store_true", help="P also draws and writes the annotated video (H.264)")
    ap.add_argument("--profile", action="store_true", help="also time every stage of a frame")
    ap.add_argument("--widths", type=lambda t: [int(x) for x in t.split(",")], metavar="W,W,…",
                    help="also time R on the frames downscaled to these widths (e.g. 1920,1280,640)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    if args.passes < 1:
        print("partkd-stream bench pipeline: error: --passes must be ≥ 1", file=sys.stderr)
        return 2
    try:
        src = VideoFileSource(args.video)
        imgs = [f.image for f in src]
        src.close()
        model = Recognizer.load(args.model, backend=args.backend, threads=args.threads, every=args.every).model
    except (PartkdError, OSError) as e:
        print(f"partkd-stream bench pipeline: error: {e}", file=sys.stderr)
        return 1
    pose_only_pass(args.video)   # warm-up: file cache, lazy imports
    runs: dict[str, list[dict[str, Any]]] = {"R": [], "E": [], "A": [], "P": []}
    for _ in range(args.passes):   # R/E/A/P interleaved
        r, e = paired_pass([RawSolutionPose, lambda: EstimatorArm(MediaPipePose())], imgs)
        runs["R"].append(r)
        runs["E"].append(e)
        runs["A"].append(pose_only_pass(args.video))
        runs["P"].append(pipeline_timed(args.video, model, args.every, args.render))
    med = {k: statistics.median(r["fps"] for r in v) for k, v in runs.items()}
    raw_ms = statistics.median(r["ms"] for r in runs["R"])
    est_ms = statistics.median(r["ms"] for r in runs["E"])
    lat = np.array([x for r in runs["P"] for x in r["latency"]]) * 1e3
    rlat = np.array([x for r in runs["P"] for x in r["rec_latency"]]) * 1e3
    result: dict[str, Any] = {
        "video": args.video, "frames": len(imgs), "frame_size": f"{imgs[0].shape[1]}x{imgs[0].shape[0]}",
        "passes": args.passes, "order": "R+E frame by frame, A, P; repeated", "model": str(model.path),
        "backend": model.backend.name, "every_s": args.every, "render": args.render,
        "raw_ms_per_frame": raw_ms, "estimator_ms_per_frame": est_ms, "estimator_over_raw": est_ms / raw_ms,
        "fps_raw": med["R"], "fps_estimator": med["E"], "fps_pose_only": med["A"], "fps_pipeline": med["P"],
        "pipeline_over_raw": med["P"] / med["R"], "pipeline_over_pose_only": med["P"] / med["A"],
        "runs_fps": {k: [r["fps"] for r in v] for k, v in runs.items()},
        "rec_over_pose": sum(r["rec_s"] for r in runs["P"]) / sum(r["pose_s"] for r in runs["P"]),
        "latency_ms_median": float(np.median(lat)), "latency_ms_p95": float(np.percentile(lat, 95)),
        "recognition_ms_median": float(np.median(rlat)), "recognition_ms_p95": float(np.percentile(rlat, 95)),
    }
    if args.profile:
        result["profile_ms_per_frame"] = profile(args.video, model, args.every)
    if args.widths:
        result["raw_ms_per_frame_by_width"] = widths(imgs, args.widths, args.passes)
    print(json.dumps(result, indent=2) if args.json else _table(result))
    return 0


def _table(r: dict[str, Any]) -> str:
    runs = {k: " ".join(f"{x:.1f}" for x in v) for k, v in r["runs_fps"].items()}
    pipe = "decode → pose → recognition → JSONL" + (" → drawing, H.264" if r["render"] else "")
    lines = [
        f"video {r['video']} ({r['frames']} frames, {r['frame_size']}), model {r['model']} on {r['backend']}, "
        f"a prediction every {r['every_s']:g} s, {r['passes']} passes (R and E frame by frame, then A, then P); medians",
        f"  R raw mp.solutions.pose.Pose  {r['raw_ms_per_frame']:6.2f} ms/frame {r['fps_raw']:6.1f} frames/s  "
        f"(runs: {runs['R']})",
        f"  E MediaPipePose               {r['estimator_ms_per_frame']:6.2f} ms/frame {r['fps_estimator']:6.1f} "
        f"frames/s  (runs: {runs['E']})",
        f"  A video → pose                {'':>15}{r['fps_pose_only']:6.1f} frames/s  (runs: {runs['A']})",
        f"  P pipeline                    {'':>15}{r['fps_pipeline']:6.1f} frames/s  (runs: {runs['P']}): {pipe}",
        f"  E/R time per frame   {r['estimator_over_raw']:6.3f}   (target ≤ 1.1)",
        f"  P/R frames/s         {r['pipeline_over_raw']:6.3f}   (target ≥ 0.9)",
        f"  P/A frames/s         {r['pipeline_over_pose_only']:6.3f}   (what recognition costs; target ≥ 0.95)",
        f"  recognition / pose   {r['rec_over_pose'] * 100:6.2f} %  (time in Recognizer.update vs in pose, all P "
        f"passes)",
        f"  latency frame→label  {r['latency_ms_median']:6.1f} ms median, {r['latency_ms_p95']:.1f} ms p95  (pose + "
        f"window + model + smoothing)",
        f"  recognition part     {r['recognition_ms_median']:6.2f} ms median, {r['recognition_ms_p95']:.2f} ms p95",
    ]
    if "profile_ms_per_frame" in r:
        p = r["profile_ms_per_frame"]
        main_thread = p["convert"] + p["mediapipe"] + p["unpack"] + p["recognition"] + p["jsonl"]
        lines += [
            f"profile: the stages one after another on one thread, frame by frame ({p['frames']} frames, "
            f"{p['frame_size']}); mean ms per frame",
            f"  reader thread   decode (OpenCV)          {p['decode']:7.2f}",
            f"  main thread     BGR → RGB (cvtColor)     {p['convert']:7.2f}",
            f"                  MediaPipe process        {p['mediapipe']:7.2f}",
            f"                  landmarks → arrays       {p['unpack']:7.2f}",
            f"                  Recognizer.update        {p['recognition']:7.2f}",
            f"                  JSONL                    {p['jsonl']:7.2f}",
            f"                  sum                      {main_thread:7.2f}  → {1e3 / main_thread:.1f} frames/s when "
            f"decoding keeps up on the other core",
            f"  --render        drawing (main thread)    {p['draw']:7.2f}  (encoding: its own thread)",
        ]
    if "raw_ms_per_frame_by_width" in r:
        lines.append("R by frame width (INTER_AREA beforehand; widths frame by frame): " + ", ".join(
            f"{w} px {ms:.2f} ms" for w, ms in r["raw_ms_per_frame_by_width"].items()))
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
