"""Drawing on frames: the skeleton, the current action with its confidence, and the FPS."""
from __future__ import annotations

from typing import Optional

import cv2
import numpy as np

from .layouts import get_layout

_GOOD, _WEAK = (80, 220, 80), (90, 90, 90)   # BGR: joints seen / joints with a low score


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


def draw_status(image: np.ndarray, label: Optional[str], score: float, person_present: bool,
                fps: Optional[float] = None) -> None:
    """Top-left banner: ``action  87%`` / ``no action`` / ``no person``, and the processing FPS."""
    if not person_present:
        text, color = "no person", (160, 160, 160)
    elif label is None:
        text, color = "no action", (200, 200, 200)
    else:
        text, color = f"{label}  {score * 100:.0f}%", (60, 230, 255)
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
