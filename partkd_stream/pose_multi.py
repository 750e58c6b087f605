"""Several people per frame: MediaPipe's Tasks ``PoseLandmarker`` run offline on the models the wheel bundles.

``mediapipe==0.10.21`` ships the pose detector and the full landmark model as bare ``.tflite`` files; the Tasks
API wants them as a ``.task`` bundle (a zip of ``pose_detector.tflite`` + ``pose_landmarks_detector.tflite``)
whose models carry TFLite metadata for the image input. ``landmarker_bundle`` writes that metadata with
MediaPipe's own writer and zips the two in memory: nothing is downloaded or written to disk.

Input normalisation, measured on the NTU A001 video (every 4th frame, static mode, against the legacy
``mp.solutions.pose`` graph without smoothing): detector in [-1, 1] and landmark model in [0, 1] reproduce the
legacy landmarks to 0.07 px (median; visibility identical); landmark model in [-1, 1] is off by 1.8 px, a
detector in [0, 1] misses the person in 15 of 26 frames.

In ``VIDEO`` mode the graph tracks each pose from its previous landmarks and runs the detector only while it holds
fewer than ``num_poses``. It drops a new detection whose region overlaps a tracked one by IoU > the association
threshold; at MediaPipe's default (0.5) two people hugging are one region, and the second person is never found
(``two_person_hug_ntu.mp4``: 1 person in 72 of 72 frames). At 0.8 both are found (2 people in 70 of 72 frames)
and the occasional duplicate of a tracked person is removed here by ``suppress_duplicates``.
"""
from __future__ import annotations

import functools
import io
import os
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from .errors import PartkdError
from .pose import MEDIAPIPE_HINT, PoseResult, bgr_to_rgb

# model name in the .task bundle → (file in the mediapipe wheel, input (mean, std), number of output tensors)
_MODELS = {
    "pose_detector.tflite": ("modules/pose_detection/pose_detection.tflite", (127.5, 127.5), 2),
    "pose_landmarks_detector.tflite": ("modules/pose_landmark/pose_landmark_full.tflite", (0.0, 255.0), 5),
}
BODY_JOINTS = tuple(range(11, 29))   # mediapipe33 shoulders … ankles: the joints that tell two people apart
DUPLICATE_DISTANCE = 0.08
"""Two poses whose body joints lie a median 8 % of the body's size apart are one person. Measured on
``two_person_hug_ntu.mp4`` (VIDEO mode, association 0.95, 4 poses): duplicate pairs ≤ 0.054, distinct people
≥ 0.098 — even mid-hug."""


class PoseModelError(PartkdError, RuntimeError):
    """The multi-person pose models cannot be built (MediaPipe missing, or its bundled model files)."""


def _mediapipe_dir() -> Path:
    try:
        import mediapipe
    except ImportError as e:
        raise PoseModelError(f"MediaPipe is not available ({e}); {MEDIAPIPE_HINT}") from None
    return Path(mediapipe.__file__).parent


@functools.lru_cache(maxsize=1)
def landmarker_bundle() -> bytes:
    """The ``.task`` bundle for ``PoseLandmarker``, built in memory from the two models bundled in the wheel."""
    root = _mediapipe_dir()
    try:
        from mediapipe.tasks.python.metadata.metadata_writers import metadata_writer
        from mediapipe.tasks.python.metadata.metadata_writers.model_asset_bundle_utils import AlignZipFile
    except ImportError as e:
        raise PoseModelError(f"MediaPipe's metadata writer is missing ({e}); {MEDIAPIPE_HINT}") from None
    out = io.BytesIO()
    with AlignZipFile(out, mode="w", alignment=4) as zf:   # stored, 4-byte aligned: what MediaPipe maps
        for name, (rel, (mean, std), n_out) in _MODELS.items():
            path = root / rel
            if not path.is_file():
                raise PoseModelError(f"{path}: MediaPipe's bundled pose model is missing (model_complexity=1 "
                                     f"needs it); reinstall with: pip install --force-reinstall "
                                     f"'mediapipe==0.10.21'")
            writer = metadata_writer.MetadataWriter.create(bytearray(path.read_bytes()))
            writer.add_image_input(norm_mean=[mean], norm_std=[std])
            for _ in range(n_out):
                writer.add_feature_output()
            zf.writestr(name, bytes(writer.populate()[0]))
    return out.getvalue()


def landmarker_options(max_people: int, min_detection_confidence: float = 0.5, min_presence_confidence: float = 0.5,
                       association_iou: float = 0.8):
    """``PoseLandmarkerOptions`` for one landmarker of ``MediaPipeMultiPose``: VIDEO mode, the bundled models."""
    from mediapipe.tasks.python import BaseOptions, vision

    return vision.PoseLandmarkerOptions(
        base_options=BaseOptions(model_asset_buffer=landmarker_bundle()), running_mode=vision.RunningMode.VIDEO,
        num_poses=max_people, min_pose_detection_confidence=min_detection_confidence,
        min_pose_presence_confidence=min_presence_confidence, min_tracking_confidence=association_iou)


def usable_cores() -> int:
    """CPU cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def body_size(keypoints: np.ndarray) -> float:
    """Larger side of the box around the body joints (pixels): the scale two poses are compared at."""
    xy = keypoints[list(BODY_JOINTS), :2]
    return float(max(np.ptp(xy[:, 0]), np.ptp(xy[:, 1]), 1.0))


def prominence(keypoints: np.ndarray, min_score: float = 0.5) -> float:
    """How much of the frame a person fills: area of the box around joints seen (score ≥ ``min_score``)."""
    seen = keypoints[keypoints[:, -1] >= min_score, :2]
    if len(seen) < 2:
        return 0.0
    return float(np.ptp(seen[:, 0]) * np.ptp(seen[:, 1]))


def suppress_duplicates(poses: Sequence[np.ndarray], max_distance: float = DUPLICATE_DISTANCE) -> list[int]:
    """Indices of the poses to keep, most prominent first: a pose whose body joints lie within ``max_distance``
    (median distance / the larger body size) of a more prominent kept pose is that person again."""
    order = sorted(range(len(poses)), key=lambda i: -prominence(poses[i]))
    keep: list[int] = []
    for i in order:
        a = poses[i][list(BODY_JOINTS), :2]
        if all(np.median(np.linalg.norm(a - poses[k][list(BODY_JOINTS), :2], axis=1))
               > max_distance * max(body_size(poses[i]), body_size(poses[k])) for k in keep):
            keep.append(i)
    return keep


TILE = 2 / 3          # a tile's side, as a share of the frame's: any person up to 1/3 of the frame fits in one
TILE_EDGE = 0.02      # a tile pose within this share of an inner tile edge is cut by it: the whole one is elsewhere


def tiles(h: int, w: int) -> list[tuple[int, int, int, int]]:
    """The four corner tiles ``(y0, x0, y1, x1)``, each ``TILE`` of the frame, overlapping by a third."""
    th, tw = int(round(TILE * h)), int(round(TILE * w))
    return [(y0, x0, y0 + th, x0 + tw) for y0 in (0, h - th) for x0 in (0, w - tw)]


def cut_by_tile(keypoints: np.ndarray, tile: tuple[int, int, int, int], h: int, w: int,
                min_score: float = 0.5) -> bool:
    """True when the joints seen (score ≥ ``min_score``) touch an edge of ``tile`` that is not the frame's edge."""
    seen = keypoints[keypoints[:, -1] >= min_score, :2]
    if len(seen) == 0:
        return True
    y0, x0, y1, x1 = tile
    mx, my = TILE_EDGE * (x1 - x0), TILE_EDGE * (y1 - y0)
    return bool((x0 > 0 and seen[:, 0].min() < x0 + mx) or (x1 < w and seen[:, 0].max() > x1 - mx)
                or (y0 > 0 and seen[:, 1].min() < y0 + my) or (y1 < h and seen[:, 1].max() > y1 - my))


class MediaPipeMultiPose:
    """Up to ``max_people`` people per frame, most prominent first (``PoseEstimator`` protocol).

    One instance per stream: the graph tracks poses from frame to frame (VIDEO mode), so frames must come in
    order. Landmarks are in pixels like ``MediaPipePose``'s; unlike the legacy solution they are not smoothed.

    ``tiled``: people a fifth of the frame tall (a wide shot of a gym or a classroom) are too small for the pose
    detector, which sees the frame at 224 × 224; so four overlapping corner tiles (``tiles``) get a landmarker each
    too. A tile's pose cut by an inner tile edge is dropped (the whole person lies in another tile or in the frame);
    the rest join the frame's poses and ``suppress_duplicates`` keeps each person once. Five graphs per frame, run
    ``threads`` at a time (default: one per core; MediaPipe releases the GIL), each one's results in a fixed order:
    about five times the pose time on one core, three on two.
    """

    layout = "mediapipe33"

    def __init__(self, max_people: int = 2, min_detection_confidence: float = 0.5,
                 min_presence_confidence: float = 0.5, association_iou: float = 0.8,
                 duplicate_distance: float = DUPLICATE_DISTANCE, tiled: bool = False,
                 threads: Optional[int] = None) -> None:
        if max_people < 1:
            raise ValueError(f"max_people must be ≥ 1, got {max_people}")
        from .native_logs import filter_native_stderr

        self._resources = ExitStack()
        self._resources.enter_context(filter_native_stderr())   # MediaPipe's log lines stay off the console
        try:
            landmarker_bundle()   # PoseModelError (one line) before MediaPipe is imported
            import mediapipe as mp
            from mediapipe.tasks.python import vision

            self._mp = mp
            self.max_people = max_people
            self.duplicate_distance = duplicate_distance
            opts = landmarker_options(max_people, min_detection_confidence, min_presence_confidence, association_iou)
            self._landmarkers = [vision.PoseLandmarker.create_from_options(opts) for _ in range(5 if tiled else 1)]
            for lm in self._landmarkers:
                self._resources.callback(lm.close)
            workers = min(len(self._landmarkers), threads or usable_cores())
            self._pool = ThreadPoolExecutor(workers, thread_name_prefix="landmarker") if workers > 1 else None
            if self._pool is not None:   # closed before the landmarkers: a call in flight ends first
                self._resources.callback(self._pool.shutdown)
            self.tiled = tiled
            self._ms = 0
            self._rgb: list[Optional[np.ndarray]] = [None] * len(self._landmarkers)   # per region, reused
            self.process(np.zeros((256, 256, 3), np.uint8))    # start-up here, not in the first frame
        except BaseException:
            self._resources.close()
            raise

    def process(self, frame_bgr: np.ndarray) -> list[PoseResult]:
        """People in one BGR frame, most prominent first; ``[]`` when nobody is in view."""
        h, w = frame_bgr.shape[:2]
        self._ms += 1   # VIDEO mode needs increasing timestamps; the graph has no time-based filter to feed
        regions = [(0, 0, h, w)] + (tiles(h, w) if self.tiled else [])
        ms = self._ms

        def detect(k: int):
            y0, x0, y1, x1 = regions[k]
            self._rgb[k] = bgr_to_rgb(frame_bgr[y0:y1, x0:x1], self._rgb[k])   # mp.Image copies it
            image = self._mp.Image(image_format=self._mp.ImageFormat.SRGB, data=self._rgb[k])
            return self._landmarkers[k].detect_for_video(image, ms)

        found = list(self._pool.map(detect, range(len(regions))) if self._pool is not None
                     else map(detect, range(len(regions))))
        poses: list[np.ndarray] = []
        worlds: list[np.ndarray] = []
        for k, ((y0, x0, y1, x1), res) in enumerate(zip(regions, found)):
            for i, lm in enumerate(res.pose_landmarks):
                pose = np.array([(x0 + p.x * (x1 - x0), y0 + p.y * (y1 - y0), p.visibility) for p in lm],
                                dtype=np.float32)
                if k and cut_by_tile(pose, (y0, x0, y1, x1), h, w):
                    continue
                poses.append(pose)
                worlds.append(np.array([(p.x, p.y, p.z) for p in res.pose_world_landmarks[i]], dtype=np.float32)
                              if i < len(res.pose_world_landmarks) else np.zeros((33, 3), np.float32))
        return [PoseResult(image_xy=poses[i][:, :2], world_xyz=worlds[i], visibility=np.clip(poses[i][:, 2], 0.0, 1.0))
                for i in suppress_duplicates(poses, self.duplicate_distance)[: self.max_people]]

    def close(self) -> None:
        self._resources.close()

    def __enter__(self) -> "MediaPipeMultiPose":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
