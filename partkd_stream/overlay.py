"""Drawing on frames: the skeleton, the recognizer's state with its confidence, and the processing FPS.

The banner reads the prediction's ``reason`` rather than re-deriving the state (words: ``recognizer.STATE_TEXT``):
``warming_up`` (the window is not yet half full — also before the first prediction exists), ``no_person``,
``unknown`` ("unknown action": the model's reject says none of its actions), ``below_threshold`` ("no action"),
``confirming``; ``reason is None`` means ``label`` is an action.

One person (``annotate``): the skeleton in green (weak joints grey) and the state in the banner. Several people
(``annotate_people``): each tracked person's skeleton in the colour of their id, with a tag ``#id state`` above
the head; skeletons the tracker has not confirmed yet in grey; the banner counts the people tracked.
"""
from __future__ import annotations

import time
from typing import Any, Optional, Sequence

import numpy as np

from .layouts import get_layout
from .native_logs import cv2
from .recognizer import STATE_TEXT

_GOOD, _WEAK = (80, 220, 80), (90, 90, 90)   # BGR: joints seen / joints with a low score
_ACTION, _IDLE, _ABSENT = (60, 230, 255), (200, 200, 200), (160, 160, 160)


def status_text(pred: Optional[Any]) -> tuple[str, tuple[int, int, int]]:
    """Banner text and colour for the latest prediction (``None`` = none yet: the window is warming up)."""
    if pred is None:
        return STATE_TEXT["warming_up"], _IDLE
    if pred.reason is None:
        return f"{pred.label}  {pred.score * 100:.0f}%", _ACTION
    text = STATE_TEXT.get(pred.reason, pred.reason.replace("_", " "))
    return text, _ABSENT if pred.reason == "no_person" else _IDLE


# BGR, told apart on a video and from the weak-joint grey; person id k gets PERSON_COLOURS[(k - 1) % 8]
PERSON_COLOURS = ((255, 160, 0), (0, 200, 255), (200, 80, 255), (80, 220, 80), (60, 60, 255), (255, 255, 0),
                  (0, 140, 255), (255, 80, 160))


def person_colour(person: int) -> tuple[int, int, int]:
    return PERSON_COLOURS[(int(person) - 1) % len(PERSON_COLOURS)]


def draw_skeleton(image: np.ndarray, keypoints: Optional[np.ndarray], layout: str, min_score: float = 0.5,
                  colour: tuple[int, int, int] = _GOOD) -> None:
    """Draw ``[V, C]`` pixel keypoints (score last) in place in ``colour``; weak joints and bones in grey."""
    if keypoints is None:
        return
    lay = get_layout(layout)
    xy = _pixels(keypoints)
    score = np.nan_to_num(keypoints[:, -1])
    thick = max(1, image.shape[0] // 360)
    for a, b in lay.edges:
        color = colour if min(score[a], score[b]) >= min_score else _WEAK
        cv2.line(image, tuple(xy[a]), tuple(xy[b]), color, thick, cv2.LINE_AA)
    for j in range(lay.num_joints):
        cv2.circle(image, tuple(xy[j]), thick + 2, colour if score[j] >= min_score else _WEAK, -1, cv2.LINE_AA)


def _pixels(keypoints: np.ndarray) -> np.ndarray:
    """Integer pixel positions; a non-finite or absurd coordinate (a missing joint) is drawn off the image."""
    xy = np.nan_to_num(np.asarray(keypoints[:, :2], np.float64), nan=-1e4, posinf=-1e4, neginf=-1e4)
    return np.clip(xy, -1e4, 1e5).astype(int)


def draw_tag(image: np.ndarray, keypoints: np.ndarray, text: str, colour: tuple[int, int, int],
             min_score: float = 0.5, taken: Optional[list[tuple[int, int, int, int]]] = None) -> None:
    """``text`` on a dark box just above the highest seen joint of a skeleton, kept inside the image and moved up
    past the boxes in ``taken`` (``(x0, y0, x1, y1)``; the new box is added): two people hugging get two tags."""
    score = np.nan_to_num(keypoints[:, -1])
    seen = _pixels(keypoints)[score >= min_score]
    if not len(seen):
        return
    scale = max(0.45, image.shape[0] / 1100)
    thick = max(1, int(round(1.5 * scale)))
    (w, h), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, thick)
    pad = int(4 * scale)
    bw, bh = w + 2 * pad, h + base + 2 * pad
    x = int(np.clip(seen[:, 0].mean() - bw / 2, 0, max(0, image.shape[1] - bw)))
    y = int(seen[:, 1].min() - 2 * pad - bh)                          # top of the box
    taken = [] if taken is None else taken
    for x0, y0, x1, y1 in sorted(taken, key=lambda r: -r[1]):
        if x < x1 and x0 < x + bw and y < y1 and y0 < y + bh:
            y = y0 - bh - 1
    y = int(np.clip(y, 0, max(0, image.shape[0] - bh)))
    taken.append((x, y, x + bw, y + bh))
    cv2.rectangle(image, (x, y), (x + bw, y + bh), (0, 0, 0), -1)
    cv2.putText(image, text, (x + pad, y + pad + h), cv2.FONT_HERSHEY_SIMPLEX, scale, colour, thick, cv2.LINE_AA)


def draw_status(image: np.ndarray, pred: Optional[Any], fps: Optional[float] = None,
                text: Optional[str] = None) -> None:
    """Top-left banner (``status_text``, or ``text``) and, top right, the processing FPS."""
    text, color = (text, _IDLE) if text is not None else status_text(pred)
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
    """One person: a copy of ``image`` with the skeleton and the status banner drawn on it."""
    out = image.copy()
    draw_skeleton(out, keypoints, layout)
    draw_status(out, pred, fps)
    return out


def annotate_people(image: np.ndarray, layout: str, tracked: Sequence[tuple[int, np.ndarray, Optional[Any]]],
                    others: Sequence[np.ndarray], fps: Optional[float]) -> np.ndarray:
    """Several people: a copy of ``image`` with every ``(id, skeleton, latest prediction)`` of ``tracked`` in its
    colour and tagged, the skeletons in ``others`` (not tracked yet) in grey, and a banner counting the people."""
    out = image.copy()
    for kp in others:
        draw_skeleton(out, kp, layout, colour=_WEAK)
    taken: list[tuple[int, int, int, int]] = []
    for person, kp, pred in tracked:
        colour = person_colour(person)
        draw_skeleton(out, kp, layout, colour=colour)
        draw_tag(out, kp, f"#{person} {status_text(pred)[0]}", colour, taken=taken)
    n = len(tracked)
    draw_status(out, None, fps, text="no person" if not n else f"{n} {'person' if n == 1 else 'people'}")
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
