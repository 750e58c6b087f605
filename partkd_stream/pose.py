"""Pose estimation behind a small interface: ``estimator.process(frame_bgr) -> PoseResult | None``.

MediaPipe Pose (``mediapipe==0.10.21``, the last release that bundles its model and runs offline) is the
default. It tracks one person: the most prominent one in view. A frame with no person gives ``None`` — a state,
not an error. Any other estimator can be plugged in by implementing ``PoseEstimator``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Protocol

import numpy as np

MEDIAPIPE_HINT = "install it with: pip install 'mediapipe==0.10.21' 'numpy<2' 'protobuf<5'"


@dataclass
class PoseResult:
    """One person's landmarks in one frame (``mediapipe33`` order)."""

    image_xy: np.ndarray    # [33, 2] pixels, image coordinates (x right, y down)
    world_xyz: np.ndarray   # [33, 3] metres, hip-centred world coordinates
    visibility: np.ndarray  # [33] in [0, 1]
    layout: str = "mediapipe33"

    def keypoints_2d(self) -> np.ndarray:
        """``[33, 3]`` = (x, y, score) in pixels, the format of a 2D skeleton frame."""
        return np.concatenate([self.image_xy, self.visibility[:, None]], axis=1).astype(np.float32)

    def keypoints_3d(self) -> np.ndarray:
        """``[33, 4]`` = (x, y, z, score) in metres."""
        return np.concatenate([self.world_xyz, self.visibility[:, None]], axis=1).astype(np.float32)


class PoseEstimator(Protocol):
    layout: str

    def process(self, frame_bgr: np.ndarray) -> Optional[PoseResult]: ...

    def close(self) -> None: ...


class MediaPipePose:
    """MediaPipe Pose as a context manager that owns its graph.

    ``static_image_mode=False`` lets MediaPipe track between frames (faster, steadier) — right for a video or a
    camera; use a fresh instance per video.
    """

    layout = "mediapipe33"

    def __init__(self, model_complexity: int = 1, min_detection_confidence: float = 0.5,
                 min_tracking_confidence: float = 0.5, static_image_mode: bool = False) -> None:
        try:
            from mediapipe.python.solutions import pose as mp_pose
        except ImportError as e:  # pragma: no cover - depends on the environment
            raise ImportError(f"MediaPipe is not available ({e}); {MEDIAPIPE_HINT}") from None
        self._pose = mp_pose.Pose(static_image_mode=static_image_mode, model_complexity=model_complexity,
                                  min_detection_confidence=min_detection_confidence,
                                  min_tracking_confidence=min_tracking_confidence)

    def process(self, frame_bgr: np.ndarray) -> Optional[PoseResult]:
        h, w = frame_bgr.shape[:2]
        rgb = np.ascontiguousarray(frame_bgr[:, :, ::-1])
        res = self._pose.process(rgb)
        if res.pose_landmarks is None:
            return None
        lm = np.array([(p.x, p.y, p.visibility) for p in res.pose_landmarks.landmark], dtype=np.float32)
        world = (np.array([(p.x, p.y, p.z) for p in res.pose_world_landmarks.landmark], dtype=np.float32)
                 if res.pose_world_landmarks is not None else np.zeros((33, 3), np.float32))
        xy = lm[:, :2] * np.array([w, h], dtype=np.float32)
        return PoseResult(image_xy=xy, world_xyz=world, visibility=np.clip(lm[:, 2], 0.0, 1.0))

    def close(self) -> None:
        self._pose.close()

    def __enter__(self) -> "MediaPipePose":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
