"""Pose estimation behind one small protocol: ``estimator.process(frame_bgr) -> list[PoseResult]``.

The list has one entry per person, most prominent first; an empty list means nobody is in view — a state, not an
error. ``layout`` names the keypoint order of the results, so the recognizer converts them to the model's layout
without anyone typing a layout name by hand. Estimators own native resources: ``close()``, or use them as
context managers. The run mode (``partkd_stream.app``) and ``extract`` receive an estimator; any other one
(several people, another library, recorded keypoints) plugs in by implementing ``PoseEstimator``.

``MediaPipePose`` (``mediapipe==0.10.21``, the last release that bundles its model and runs offline) is the
default. Its legacy graph tracks one person — the most prominent in view — so it returns ``[]`` or ``[one]``.

MediaPipe takes contiguous RGB; frames arrive as BGR. ``bgr_to_rgb`` is the one conversion (``cv2.cvtColor``:
0.1 ms on a 1080p frame, where numpy's reversed-stride copy ``frame[:, :, ::-1]`` took 15 ms — 40 % of a frame).
The wrappers add nothing else measurable to the library's own call (``partkd-stream bench`` prints both).
"""
from __future__ import annotations

from contextlib import ExitStack
from dataclasses import dataclass
from typing import Optional, Protocol

import numpy as np

from .errors import PartkdError
from .native_logs import cv2

MEDIAPIPE_HINT = "install it with: pip install 'mediapipe==0.10.21' 'numpy<2' 'protobuf<5'"


class PoseUnavailable(PartkdError, ImportError):
    """The pose estimator's library is missing or cannot start; the message says what to install."""


@dataclass
class PoseResult:
    """One person's keypoints in one frame, in the estimator's ``layout``."""

    image_xy: np.ndarray    # [V, 2] pixels, image coordinates (x right, y down)
    visibility: np.ndarray  # [V] in [0, 1]
    layout: str = "mediapipe33"
    world_xyz: np.ndarray | None = None   # [V, 3] metres, hip-centred (MediaPipe); not used by recognition

    def keypoints_2d(self) -> np.ndarray:
        """``[V, 3]`` = (x, y, score) in pixels: the format of a 2D skeleton frame."""
        return np.concatenate([self.image_xy, self.visibility[:, None]], axis=1).astype(np.float32)


def bgr_to_rgb(image: np.ndarray, out: Optional[np.ndarray] = None) -> np.ndarray:
    """A BGR image — or a region of one (any row stride) — as a contiguous RGB array, what MediaPipe takes.

    ``out``: the array of the previous frame, written over when its shape fits (MediaPipe copies its input, so the
    buffer is free again once ``process`` returns): no fresh 6 MB to fault in for every 1080p frame."""
    if out is not None and out.shape == image.shape and out.dtype == image.dtype:
        return cv2.cvtColor(image, cv2.COLOR_BGR2RGB, dst=out)
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def solution_results(res: object, width: int, height: int) -> list[PoseResult]:
    """The legacy solution's output for a ``width`` × ``height`` frame → ``[]`` or ``[one PoseResult]`` in pixels.
    Reading the 33 landmarks one by one takes 0.03 ms (measured): nothing to gain from doing it another way."""
    if res.pose_landmarks is None:
        return []
    lm = np.array([(p.x, p.y, p.visibility) for p in res.pose_landmarks.landmark], dtype=np.float32)
    world = (np.array([(p.x, p.y, p.z) for p in res.pose_world_landmarks.landmark], dtype=np.float32)
             if res.pose_world_landmarks is not None else None)
    xy = lm[:, :2] * np.array([width, height], dtype=np.float32)
    return [PoseResult(image_xy=xy, visibility=np.clip(lm[:, 2], 0.0, 1.0), world_xyz=world)]


class PoseEstimator(Protocol):
    """What the stream needs from a pose estimator (see the module docstring)."""

    layout: str

    def process(self, frame_bgr: np.ndarray) -> list[PoseResult]: ...

    def close(self) -> None: ...

    def __enter__(self) -> "PoseEstimator": ...

    def __exit__(self, *exc: object) -> None: ...


class MediaPipePose:
    """MediaPipe Pose as a context manager that owns its graph.

    ``static_image_mode=False`` lets MediaPipe track between frames (faster, steadier) — right for a video or a
    camera; use a fresh instance per video. The graph is warmed up on a blank frame at construction, so start-up
    (≈ 0.15–0.3 s of the first ``process`` call, measured on this 2-core machine) is not charged to the first
    real frame. While it is open, MediaPipe's native log lines are kept off the console
    (``native_logs.filter_native_stderr``).
    """

    layout = "mediapipe33"

    def __init__(self, model_complexity: int = 1, min_detection_confidence: float = 0.5,
                 min_tracking_confidence: float = 0.5, static_image_mode: bool = False) -> None:
        from .native_logs import filter_native_stderr

        self._resources = ExitStack()
        self._resources.enter_context(filter_native_stderr())
        try:
            try:
                from mediapipe.python.solutions import pose as mp_pose
            except ImportError as e:  # pragma: no cover - depends on the environment
                raise PoseUnavailable(f"MediaPipe is not available ({e}); {MEDIAPIPE_HINT}") from None
            self._pose = mp_pose.Pose(static_image_mode=static_image_mode, model_complexity=model_complexity,
                                      min_detection_confidence=min_detection_confidence,
                                      min_tracking_confidence=min_tracking_confidence)
            self._resources.callback(self._pose.close)
            self._rgb: Optional[np.ndarray] = None   # the conversion's buffer, reused frame after frame
            self._pose.process(np.zeros((256, 256, 3), np.uint8))   # start-up here, not in the first frame
        except BaseException:
            self._resources.close()
            raise

    def process(self, frame_bgr: np.ndarray) -> list[PoseResult]:
        h, w = frame_bgr.shape[:2]
        self._rgb = bgr_to_rgb(frame_bgr, self._rgb)
        return solution_results(self._pose.process(self._rgb), w, h)

    def close(self) -> None:
        self._resources.close()

    def __enter__(self) -> "MediaPipePose":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
