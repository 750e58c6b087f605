"""The live ring buffer: the last few seconds of skeletons, sampled at the model's frame rate on demand.

Frames arrive at the source's rate with the source's timestamps (a 60 fps camera, a 25 fps video, a stream with
dropped frames). The window keeps them in a bounded deque and builds the model input with the SAME functions
training uses (``resample_indices`` → ``take_frames`` → ``preprocess_window``), so a window seen live and a clip
seen in training are sampled and normalised alike.

It also decides whether a person is in view. MediaPipe "detects" a pose in most frames of a video with no full
person (measured on ``no_person_pool.mp4``: legs and feet at a pool's edge, a pose in 78 % of frames, and
shoulders *and* hips reported with visibility > 0.5 in 30 % of frames — the whole skeleton squeezed onto one
foot). So a frame counts as showing a person only when its upper body is seen (``frame_has_person``), and a
prediction is made for a person only when most recent frames show one (``person_fraction``); see
``PresenceRule``.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Optional

import numpy as np

from .convert import convert
from .layouts import get_layout
from .preprocess import PreprocessConfig, preprocess_window, resample_indices, take_frames


@dataclass(frozen=True)
class PresenceRule:
    """When a skeleton is a person to recognise.

    Per frame: both shoulders and both hips with score ≥ ``min_score``, and at least ``min_arm_joints`` of the
    four elbows/wrists too. Per prediction: at least ``min_fraction`` of the frames of the last ``span_s``
    seconds pass. Measured with MediaPipe (model_complexity=1): frames passing on ``no_person_pool.mp4`` 10 %,
    at most 33 % of any 2 s span; on the NTU A001 and two-person hug videos 100 % of frames.
    """

    min_score: float = 0.5
    min_arm_joints: int = 2
    span_s: float = 2.0
    min_fraction: float = 0.6


_TORSO = ("left_shoulder", "right_shoulder", "left_hip", "right_hip")
_ARMS = ("left_elbow", "right_elbow", "left_wrist", "right_wrist")


def frame_has_person(keypoints: Optional[np.ndarray], layout: str, rule: PresenceRule = PresenceRule()) -> bool:
    """Whether one frame ``[V, C]`` (score last) in ``layout`` shows an upper body (see ``PresenceRule``)."""
    if keypoints is None:
        return False
    lay = get_layout(layout)
    score = np.nan_to_num(np.asarray(keypoints, dtype=np.float32)[:, -1], nan=0.0)
    torso = score[[lay.index(j) for j in _TORSO]]
    arms = score[[lay.index(j) for j in _ARMS]]
    return bool((torso >= rule.min_score).all() and (arms >= rule.min_score).sum() >= rule.min_arm_joints)


class SkeletonWindow:
    """Ring buffer of ``(t, skeleton in the model's layout, has_person)``; ``horizon_s`` bounds its length."""

    def __init__(self, cfg: PreprocessConfig, rule: PresenceRule = PresenceRule(), horizon_s: float | None = None,
                 max_frames: int = 4096) -> None:
        self.cfg = cfg
        self.rule = rule
        self.horizon_s = horizon_s if horizon_s is not None else max(cfg.window / cfg.fps, rule.span_s) + 0.5
        self._frames: deque[tuple[float, Optional[np.ndarray], bool]] = deque(maxlen=max_frames)
        self._empty = np.zeros((get_layout(cfg.layout).num_joints, cfg.channels), dtype=np.float32)

    def __len__(self) -> int:
        return len(self._frames)

    def push(self, keypoints: Optional[np.ndarray], t: float, layout: str) -> None:
        """Add one frame (``None`` = no person); ``keypoints`` is ``[V, C]`` in ``layout``, score last."""
        if self._frames and t <= self._frames[-1][0]:
            t = self._frames[-1][0] + 1e-6  # timestamps must increase; a repeated clock reading is nudged
        person = frame_has_person(keypoints, layout, self.rule)
        kp = None
        if keypoints is not None:
            kp = np.asarray(keypoints, dtype=np.float32)
            if layout != self.cfg.layout:
                kp = convert(kp, layout, self.cfg.layout)  # ValueError when no conversion exists
        self._frames.append((float(t), kp, person))
        while self._frames and self._frames[-1][0] - self._frames[0][0] > self.horizon_s:
            self._frames.popleft()

    def clear(self) -> None:
        self._frames.clear()

    def person_fraction(self) -> float:
        """Fraction of the frames of the last ``rule.span_s`` seconds that show a person."""
        if not self._frames:
            return 0.0
        t_end = self._frames[-1][0]
        recent = [p for t, _, p in self._frames if t >= t_end - self.rule.span_s]
        return float(np.mean(recent))

    def history_s(self) -> float:
        """Seconds of stream the buffer holds (time from its first to its last frame)."""
        return self._frames[-1][0] - self._frames[0][0] if self._frames else 0.0

    def warmed_up(self) -> bool:
        """The stream is at least half a model window long: a window that is mostly padding (the first frames of a
        stream) is never a clip the model was trained on, so it is not judged before that."""
        return self.history_s() >= 0.5 * self.cfg.window / self.cfg.fps

    def person_present(self) -> bool:
        """A person is in view (most recent frames show one) and the window is ``warmed_up``."""
        return self.warmed_up() and self.person_fraction() >= self.rule.min_fraction

    def sample_indices(self) -> np.ndarray:
        """Buffer indices of the ``cfg.window`` frames at the model's fps (-1 = before the buffer: padding)."""
        ts = np.fromiter((t for t, _, _ in self._frames), dtype=np.float64, count=len(self._frames))
        return resample_indices(ts, self.cfg.fps, self.cfg.window)

    def model_input(self) -> np.ndarray:
        """``[1, C_in, T, V]`` float32: the window resampled to the model's fps and preprocessed."""
        seq = np.stack([self._empty if kp is None else kp for _, kp, _ in self._frames]) if self._frames \
            else self._empty[None]
        frames = take_frames(seq, self.sample_indices())
        return preprocess_window(frames[None], self.cfg)
