"""A pose estimator without MediaPipe: the demo's jumping-jacks figure on every frame, scaled to the frame.

Used in-process (``app.main(argv, estimator_factory=FakePose)``) and as a script, so a test can send a real
signal to a run that uses it:

    PYTHONPATH=<repo> python tests/fake_pose.py [--delay S] -- <partkd-stream run-mode arguments>
"""
from __future__ import annotations

import os
import signal
import sys
import time

import numpy as np

from partkd_stream.pose import PoseResult
from partkd_stream.synthetic import figure


class FakePose:
    """``PoseEstimator`` protocol: one fully visible person per frame (``person=False``: nobody, ever); with
    ``people=N``, N of them side by side (the k-th shifted right by k / N of the frame's width)."""

    layout = "mediapipe33"
    instances: list["FakePose"] = []

    def __init__(self, delay: float = 0.0, person: bool = True, startup: float = 0.0, people: int = 1) -> None:
        time.sleep(startup)
        self.delay, self.person, self.people = delay, person, people
        self.frames, self.closed = 0, False
        FakePose.instances.append(self)

    def process(self, frame_bgr: np.ndarray) -> list[PoseResult]:
        assert not self.closed, "process() after close()"
        self.frames += 1
        if self.delay:
            time.sleep(self.delay)
        if not self.person:
            return []
        width = frame_bgr.shape[1] / self.people
        xy = figure("jumping_jacks", self.frames / 30.0) * (width / 640.0)
        return [PoseResult(image_xy=(xy + [k * width, 0]).astype(np.float32),
                           visibility=np.full(33, 0.95, np.float32)) for k in range(self.people)]

    def close(self) -> None:
        self.closed = True

    def __enter__(self) -> "FakePose":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class DyingPose(FakePose):
    """``FakePose`` whose process dies at frame ``at`` of a video — SIGKILL, as the kernel's OOM killer or ``kill -9``
    end it: no clean-up, no exception. With ``once`` (a file path) only the first time: it creates the file before
    dying, so a retried task runs through."""

    def __init__(self, at: int, once: str | None = None, **kw) -> None:
        super().__init__(**kw)
        self.at, self.once = at, once

    def process(self, frame_bgr: np.ndarray) -> list[PoseResult]:
        if self.frames + 1 == self.at and not (self.once and os.path.exists(self.once)):
            if self.once:
                open(self.once, "w").close()
            os.kill(os.getpid(), signal.SIGKILL)
        return super().process(frame_bgr)


if __name__ == "__main__":
    from partkd_stream import app

    args = sys.argv[1:]
    delay = 0.0
    if args[:1] == ["--delay"]:
        delay, args = float(args[1]), args[2:]
    if args[:1] == ["--"]:
        args = args[1:]
    sys.exit(app.main(args, estimator_factory=lambda: FakePose(delay=delay)))
