"""Drawing on frames: the skeleton, the recognizer's state with its confidence, and the processing FPS.

The banner reads the prediction's ``reason`` rather than re-deriving the state: ``warming_up`` (the window is
not yet half full — also before the first prediction exists), ``no_person``, ``below_threshold`` ("no action"),
``unknown`` (an open-set model's reject); ``reason is None`` means ``label`` is an action.
"""
from __future__ import annotations

import time
from typing import Any, Optional

import numpy as np

from .layouts import get_layout
from .native_logs import cv2

_GOOD, _WEAK = (80, 220, 80), (90, 90, 90)   # BGR: joints seen / joints with a low score
_ACTION, _IDLE, _ABSENT = (60, 230, 255), (200, 200, 200), (160, 160, 160)
STATE_TEXT = {"warming_up": "warming up", "no_person": "no person", "below_threshold": "no action",
              "unknown": "unknown action"}


def status_text(pred: Optional[Any]) -> tuple[str, tuple[int, int, int]]:
    """Banner text and colour for the latest prediction (``None`` = none yet: the window is warming up)."""
    if pred is None:
        return STATE_TEXT["warming_up"], _IDLE
    if pred.reason is None:
        return f"{pred.label}  {pred.score * 100:.0f}%", _ACTION
    text = STATE_TEXT.get(pred.reason, pred.reason.replace("_", " "))
    return text, _ABSENT if pred.reason == "no_person" else _IDLE


def draw_skeleton(image: np.ndarray, keypoints: Optional[np.ndarray], layout: str, min_score: float = 0.5) -> None:
    """Draw ``[V, C]`` pixel keypoints (score last) in place; weak joints and bones in grey."""
    if keypoints is None:
        return
    lay = get_layout(layout)
    xy = np.nan_to_num(keypoints[:, :2]).astype(int)
    score = keypoints[:, -1]
    thick = max(1, image.shape[0] // 360)
    for a, b in lay.edges:
        color = _GOOD if min(score[a], score[b]) >= min_score else _WEAK
        cv2.line(image, tuple(xy[a]), tuple(xy[b]), color, thick, cv2.LINE_AA)
    for j in range(lay.num_joints):
        cv2.circle(image, tuple(xy[j]), thick + 2, _GOOD if score[j] >= min_score else _WEAK, -1, cv2.LINE_AA)


def draw_status(image: np.ndarray, pred: Optional[Any], fps: Optional[float] = None) -> None:
    """Top-left banner (``status_text``) and, top right, the processing FPS."""
    text, color = status_text(pred)
    scale = max(0.5, image.shape[0] / 720)
    thick = max(1, int(round(2 * scale)))
    (w, h), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thick)
    pad = int(8 * scale)
    cv2.rectangle(image, (0, 0), (w + 2 * pad, h + base + 2 * pad), (0, 0, 0), -1)
    cv2.putText(image, text, (pad, h + pad), cv2.FONT_HERSHEY_SIMPLEX, scale, color, thick, cv2.LINE_AA)
    if fps is not None:
        ftxt = f"{fps:.1f} FPS"
        (fw, fh), _ = cv2.getTextSize(ftxt, cv2.FONT_HERSHEY_SIMPLEX, scale * 0.7, thick)
        cv2.putText(image, ftxt, (image.shape[1] - fw - pad, fh + pad), cv2.FONT_HERSHEY_SIMPLEX, scale * 0.7,
                    (255, 255, 255), thick, cv2.LINE_AA)


def annotate(image: np.ndarray, keypoints: Optional[np.ndarray], layout: str, pred: Optional[Any],
             fps: Optional[float]) -> np.ndarray:
    """A copy of ``image`` with the skeleton and the status banner drawn on it."""
    out = image.copy()
    draw_skeleton(out, keypoints, layout)
    draw_status(out, pred, fps)
    return out


class FpsMeter:
    """Frames per second of the processing loop, smoothed (exponential moving average of 1 / frame time)."""

    def __init__(self, alpha: float = 0.1) -> None:
        self.alpha = alpha
        self.fps: Optional[float] = None
        self._last: Optional[float] = None

    def tick(self, now: Optional[float] = None) -> Optional[float]:
        """Call once per frame; returns the smoothed rate (``None`` until two frames were seen)."""
        now = time.perf_counter() if now is None else now
        if self._last is not None and now > self._last:
            rate = 1.0 / (now - self._last)
            self.fps = rate if self.fps is None else (1 - self.alpha) * self.fps + self.alpha * rate
        self._last = now
        return self.fps
