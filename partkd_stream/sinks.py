"""Where results go: JSON Lines, an annotated video, an on-screen window, and a console summary.

Every file sink is safe to interrupt: JSON Lines are flushed line by line (a run killed mid-way leaves every
line written so far complete), and the video writer is released on ``close`` so the mp4 stays playable.
"""
from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Optional

import cv2
import numpy as np

from .recognizer import Prediction
from .smoothing import Event


class JsonlSink:
    """One line per prediction ``{t, frame, label, score, topk, person_present}`` and per event
    ``{event, label, t}``, flushed as written."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._f: Optional[IO[str]] = open(self.path, "w", encoding="utf-8", buffering=1)

    def write(self, record: dict) -> None:
        assert self._f is not None, "sink closed"
        self._f.write(json.dumps(record) + "\n")
        self._f.flush()

    def prediction(self, pred: Prediction) -> None:
        self.write(pred.to_dict())

    def events(self, events: list[Event]) -> None:
        for e in events:
            self.write(e.to_dict())

    def close(self) -> None:
        if self._f is not None:
            self._f.close()
            self._f = None


class VideoSink:
    """Annotated frames into an mp4 (``mp4v``); frames are resized to the first frame's size."""

    def __init__(self, path: str | os.PathLike, fps: float, size: tuple[int, int]) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.size = size
        self._w = cv2.VideoWriter(str(self.path), cv2.VideoWriter_fourcc(*"mp4v"), float(fps), size)
        if not self._w.isOpened():
            raise OSError(f"{self.path}: cannot write a video here (check the folder and the .mp4 extension)")

    def write(self, image: np.ndarray) -> None:
        if (image.shape[1], image.shape[0]) != self.size:
            image = cv2.resize(image, self.size)
        self._w.write(image)

    def close(self) -> None:
        if self._w is not None:
            self._w.release()
            self._w = None


class DisplaySink:
    """An OpenCV window; ``show`` returns False when the user pressed ``q`` (or Esc) or closed the window."""

    def __init__(self, title: str = "partkd-stream") -> None:
        self.title = title
        cv2.namedWindow(self.title, cv2.WINDOW_NORMAL)

    def show(self, image: np.ndarray) -> bool:
        cv2.imshow(self.title, image)
        key = cv2.waitKey(1) & 0xFF
        if key in (ord("q"), 27):
            return False
        try:
            return cv2.getWindowProperty(self.title, cv2.WND_PROP_VISIBLE) >= 1
        except cv2.error:
            return False

    def close(self) -> None:
        try:
            cv2.destroyWindow(self.title)
            cv2.waitKey(1)
        except cv2.error:
            pass


def display_available() -> bool:
    """A screen to draw on: on Linux, an X11 or Wayland display; elsewhere assume one."""
    if sys.platform.startswith("linux"):
        return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    return True


@dataclass
class RunSummary:
    """Counts for the console summary at the end of a source: frames, speed, drops, actions with durations."""

    name: str
    frames: int = 0
    predictions: int = 0
    person_frames: int = 0
    drops: int = 0
    seconds: float = 0.0
    actions: list[tuple[str, float, float]] = field(default_factory=list)   # (label, start, end)
    _open: dict[str, float] = field(default_factory=dict)
    interrupted: bool = False

    def add_events(self, events: list[Event]) -> None:
        for e in events:
            if e.event == "start":
                self._open[e.label] = e.t
            elif e.label in self._open:
                self.actions.append((e.label, self._open.pop(e.label), e.t))

    def text(self) -> str:
        fps = self.frames / self.seconds if self.seconds > 0 else 0.0
        head = (f"{self.name}: {self.frames} frames in {self.seconds:.1f} s ({fps:.1f} fps), "
                f"{self.predictions} predictions, {self.drops} dropped frames"
                + (", interrupted" if self.interrupted else ""))
        if not self.actions:
            return head + "\n  no action recognised"
        lines = [f"  {label:<20s} {start:8.2f} s → {end:8.2f} s  ({end - start:.2f} s)"
                 for label, start, end in self.actions]
        return head + f"\n  {len(self.actions)} action(s):\n" + "\n".join(lines)
