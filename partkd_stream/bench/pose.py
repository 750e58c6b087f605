"""Pose speed against the library's own call: raw MediaPipe, the project's estimator and the run mode, interleaved.

A wrapper measured only against itself hides its own cost. So every pose figure of ``partkd-stream bench`` and
``partkd-stream bench pipeline`` comes with its anchor, timed on the same frames in the same run, interleaved so
that all see the machine's load alike — raw and estimator frame by frame (two graphs open side by side,
``paired_pass``), the pipeline in passes between theirs:

- **raw**: the library call and nothing else, on inputs prepared outside the timing — for ``MediaPipePose``,
  ``mediapipe.solutions.pose.Pose(model_complexity=1)`` in tracking mode on frames already converted to RGB
  (``RawSolutionPose``); for ``MediaPipeMultiPose``, the ``PoseLandmarker.detect_for_video`` calls it makes, one
  after another, on ``mp.Image`` regions built beforehand (``RawLandmarkers``);
- **estimator**: the project's estimator on the decoded BGR frames, everything it does timed;
- **pipeline**: the run mode itself (``app.Run``) on a video file: decoding on the reader thread → pose →
  ``Recognizer`` → JSONL, start-up not counted (as in the run's own summary).

Per frame: the median over a pass's frames, then the median over passes. Frames per second: frames over the wall
time of a pass (raw, estimator: the sum of their calls). The ratios are of those medians.
"""
from __future__ import annotations

import itertools
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Iterator, Optional, Sequence

import numpy as np

from ..pose import bgr_to_rgb
from ..sources import Frame, Source, VideoFileSource


class RawSolutionPose:
    """The anchor of ``MediaPipePose``: ``mediapipe.solutions.pose.Pose(model_complexity=1)``, tracking mode, on RGB
    frames (``prepare`` converts, outside the timing). Started on a blank frame, as ``MediaPipePose`` is."""

    name = "mp.solutions.pose.Pose"

    def __init__(self) -> None:
        from mediapipe.python.solutions import pose as mp_pose

        from ..native_logs import filter_native_stderr

        self._quiet = filter_native_stderr()
        self._quiet.__enter__()
        self.solution = mp_pose.Pose(model_complexity=1)
        self.solution.process(np.zeros((256, 256, 3), np.uint8))

    def prepare(self, frame_bgr: np.ndarray) -> np.ndarray:
        return bgr_to_rgb(frame_bgr)

    def process(self, rgb: np.ndarray) -> int:
        return int(self.solution.process(rgb).pose_landmarks is not None)

    def close(self) -> None:
        self.solution.close()
        self._quiet.__exit__(None, None, None)


class RawLandmarkers:
    """The anchor of ``MediaPipeMultiPose(max_people, tiled=…)``: its landmarkers (same options: one, or five with
    ``tiled``) called one after another on the frame and its tiles, as ``mp.Image``s built by ``prepare``."""

    def __init__(self, max_people: int, tiled: bool = False) -> None:
        import mediapipe as mp
        from mediapipe.tasks.python import vision

        from ..native_logs import filter_native_stderr
        from ..pose_multi import landmarker_options

        self.name = f"PoseLandmarker × {5 if tiled else 1}"
        self._mp, self.tiled, self._ms = mp, tiled, 0
        self._quiet = filter_native_stderr()
        self._quiet.__enter__()
        opts = landmarker_options(max_people)
        self._landmarkers = [vision.PoseLandmarker.create_from_options(opts) for _ in range(5 if tiled else 1)]
        self.process(self.prepare(np.zeros((256, 256, 3), np.uint8)))

    def prepare(self, frame_bgr: np.ndarray) -> list[Any]:
        from ..pose_multi import tiles

        h, w = frame_bgr.shape[:2]
        regions = [(0, 0, h, w)] + (tiles(h, w) if self.tiled else [])
        return [self._mp.Image(image_format=self._mp.ImageFormat.SRGB, data=bgr_to_rgb(frame_bgr[y0:y1, x0:x1]))
                for y0, x0, y1, x1 in regions]

    def process(self, images: list[Any]) -> int:
        self._ms += 1
        return sum(len(lm.detect_for_video(image, self._ms).pose_landmarks)
                   for lm, image in zip(self._landmarkers, images))

    def close(self) -> None:
        for lm in self._landmarkers:
            lm.close()
        self._quiet.__exit__(None, None, None)


class EstimatorArm:
    """A project estimator as a benchmark arm: it takes the decoded BGR frames; all it does is timed."""

    def __init__(self, estimator: Any) -> None:
        self.estimator = estimator
        self.name = type(estimator).__name__

    def prepare(self, frame_bgr: np.ndarray) -> np.ndarray:
        return frame_bgr

    def process(self, frame_bgr: np.ndarray) -> int:
        return len(self.estimator.process(frame_bgr))

    def close(self) -> None:
        self.estimator.close()


def raw_anchor(max_people: int = 1, tiled: bool = False) -> Callable[[], Any]:
    """The raw arm for the estimator the run mode uses with ``--max-people N`` (``--pose-tiles``)."""
    if max_people == 1 and not tiled:
        return RawSolutionPose
    return lambda: RawLandmarkers(max_people, tiled)


def paired_pass(makers: Sequence[Callable[[], Any]], imgs: Sequence[np.ndarray]) -> list[dict[str, float]]:
    """One pass of fresh arms (tracking from the first frame) over ``imgs``, frame by frame: every arm takes frame
    k before any takes frame k + 1, in an order that rotates, so all meet the same moments of the machine's load.
    Per arm: milliseconds per frame (median), frames per second (frames / the sum of its calls), people found per
    frame."""
    arms: list[Any] = []
    try:
        for make in makers:
            arms.append(make())
        inputs = [[arm.prepare(img) for img in imgs] for arm in arms]
        times, found = np.empty((len(arms), len(imgs))), np.zeros(len(arms))
        for k in range(len(imgs)):
            for j in (np.arange(len(arms)) + k) % len(arms):
                t0 = time.perf_counter()
                found[j] += arms[j].process(inputs[j][k])
                times[j, k] = time.perf_counter() - t0
    finally:
        for arm in arms:
            arm.close()
    return [{"ms": float(np.median(t) * 1e3), "fps": len(t) / float(t.sum()), "found": f / len(t)}
            for t, f in zip(times, found)]


def arm_pass(make_arm: Callable[[], Any], imgs: Sequence[np.ndarray]) -> dict[str, float]:
    """``paired_pass`` of one arm."""
    return paired_pass([make_arm], imgs)[0]


class FirstFrames(Source):
    """The first ``n`` frames of a video source (the rest is not decoded)."""

    def __init__(self, source: Source, n: int) -> None:
        self._source = source
        self.name, self.fps, self.size, self.live = source.name, source.fps, source.size, source.live
        self.total = min(n, source.total) if source.total else n

    def __iter__(self) -> Iterator[Frame]:
        return itertools.islice(iter(self._source), self.total)

    def close(self) -> None:
        self._source.close()


def pipeline_pass(video: str, model: Any, frames: Optional[int] = None, max_people: int = 1, tiled: bool = False,
                  every: Optional[float] = None, render: bool = False, estimator: Any = None,
                  instrument: Optional[Callable[[Any], None]] = None) -> dict[str, float]:
    """The run mode on ``video``'s first ``frames`` (all when None), set up by the run mode's own ``_start_run``:
    its estimator for ``max_people`` / ``tiled`` (or ``estimator``, closed here), its ``Recognizer``, a JSONL file
    (and the annotated video with ``render``) in a temporary folder; ``instrument(run)`` may wrap its parts before
    it starts. Frames per second over ``Run.run``, the estimator's start-up not counted (as in the run's summary)."""
    from ..app import _start_run, build_parser, default_estimator

    argv = ["--video", video, "--max-people", str(max_people), "--quiet"] + (["--pose-tiles"] if tiled else []) \
        + (["--every", str(every)] if every else [])
    args = build_parser().parse_args(argv)
    make = (lambda: estimator) if estimator is not None else default_estimator(max_people, tiled)
    source: Source = VideoFileSource(video)
    if frames:
        source = FirstFrames(source, frames)
    with tempfile.TemporaryDirectory() as tmp:
        try:
            run = _start_run(args, source, model, str(Path(tmp) / "predictions.jsonl"),
                             str(Path(tmp) / "render.mp4") if render else None, None, make)
        except BaseException:
            source.close()
            if estimator is not None:
                estimator.close()
            raise
        try:
            if instrument is not None:
                instrument(run)
            run.run()
        finally:
            summary = run.close()
    return {"frames": summary.frames, "fps": summary.frames / summary.seconds, "predictions": summary.predictions}


def compare(imgs: Sequence[np.ndarray], raw: Callable[[], Any], estimator: Callable[[], Any], passes: int,
            pipeline: Optional[Callable[[], dict[str, float]]] = None) -> dict[str, Any]:
    """``passes`` times: raw and estimator frame by frame (``paired_pass``), then the pipeline, on the same frames →
    medians and their ratios: ``estimator_over_raw`` (time per frame; 1.0 = the library's speed) and
    ``pipeline_over_raw`` (frames per second; 1.0 = the whole run mode as fast as the library call alone)."""
    runs: dict[str, list[dict[str, float]]] = {"raw": [], "estimator": [], "pipeline": []}
    for _ in range(passes):
        a, b = paired_pass([raw, lambda: EstimatorArm(estimator())], imgs)
        runs["raw"].append(a)
        runs["estimator"].append(b)
        if pipeline is not None:
            runs["pipeline"].append(pipeline())
    med = {k: {m: statistics.median(r[m] for r in v) for m in v[0]} for k, v in runs.items() if v}
    out: dict[str, Any] = {
        "frames": len(imgs), "passes": passes, "frame_size": f"{imgs[0].shape[1]}x{imgs[0].shape[0]}",
        "raw_ms": med["raw"]["ms"], "raw_fps": med["raw"]["fps"], "estimator_ms": med["estimator"]["ms"],
        "estimator_fps": med["estimator"]["fps"], "estimator_over_raw": med["estimator"]["ms"] / med["raw"]["ms"],
        "found_per_frame": med["estimator"]["found"], "raw_found_per_frame": med["raw"]["found"],
        "raw_ms_runs": [r["ms"] for r in runs["raw"]], "estimator_ms_runs": [r["ms"] for r in runs["estimator"]]}
    if pipeline is not None:
        out["pipeline_fps"] = med["pipeline"]["fps"]
        out["pipeline_over_raw"] = med["pipeline"]["fps"] / med["raw"]["fps"]
        out["pipeline_fps_runs"] = [r["fps"] for r in runs["pipeline"]]
    return out


def write_video(imgs: Sequence[np.ndarray], path: str | Path, fps: float = 30.0) -> list[np.ndarray]:
    """``imgs`` as an mp4 (MPEG-4 Part 2, OpenCV's own writer) for a pipeline pass; returns the frames as decoded
    back, so the per-frame arms time exactly what the pipeline sees."""
    from ..native_logs import cv2

    h, w = imgs[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
    for img in imgs:
        writer.write(np.ascontiguousarray(img))
    writer.release()
    src = VideoFileSource(str(path))
    try:
        return [f.image for f in src]
    finally:
        src.close()


# --- frames with several people ----------------------------------------------------------------------------------
def person_box(imgs: Sequence[np.ndarray], margin: float = 1.1, aspect: float = 0.6) -> Optional[tuple[slice, slice]]:
    """Rows and columns of a tight box around the person the one-person estimator finds first in ``imgs``
    (``margin`` × their height, at least ``aspect`` × that wide), or None when it finds nobody."""
    from ..pose import MediaPipePose

    with MediaPipePose() as pose:
        for img in imgs:
            people = pose.process(img)
            if people:
                kp = people[0].keypoints_2d()
                seen = kp[kp[:, 2] >= 0.5, :2]
                if len(seen) >= 2:
                    break
        else:
            return None
    (x0, y0), (x1, y1) = seen.min(0), seen.max(0)
    h = (y1 - y0) * margin
    w = max((x1 - x0) * margin, h * aspect)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    height, width = imgs[0].shape[:2]
    return (slice(int(max(0, cy - h / 2)), int(min(height, cy + h / 2))),
            slice(int(max(0, cx - w / 2)), int(min(width, cx + w / 2))))


def people_frames(imgs: Sequence[np.ndarray], box: Optional[tuple[slice, slice]], people: int) -> list[np.ndarray]:
    """Frames with ``people`` people: the box around the person, ``people`` copies side by side in one row (each
    copy a few frames apart). One row keeps everyone as tall as the detector needs: stacked in a 2 × 2 grid, 4 NTU
    A001 crops were found 2–3 at a time; in one row 4 of 4 (``MediaPipeMultiPose``, measured here)."""
    rows, cols = box if box is not None else (slice(None), slice(None))
    crops = [np.ascontiguousarray(img[rows, cols]) for img in imgs]
    return [np.hstack([crops[(k + 7 * p) % len(crops)] for p in range(people)]) for k in range(len(crops))]
