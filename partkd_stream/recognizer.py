"""The public API: feed one skeleton per frame, get timestamped action predictions and start/end events.

    from partkd_stream.recognizer import Recognizer
    rec = Recognizer.load()                          # the shipped default student, fastest backend available
    for t, keypoints in my_pose_stream:              # keypoints: [33, 3] MediaPipe (x, y in pixels, visibility),
        pred = rec.update(keypoints, t)              # or None; None until a prediction is due (every `stride` frames)
        if pred:
            print(pred.t, pred.label, pred.score)    # label None = no action; pred.reason says why
            for ev in pred.events:                   # Event(event="start"|"end", label, t)
                print(ev)
    rec.finish()                                     # end events for an action still on at the end

Any supported layout can be fed (``layout=``); it is converted to the model's. The CLI (``partkd-stream``) is a
thin layer over this class.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Optional

import numpy as np

from .skeleton_io import SkeletonFileError, check_frame_shape
from .smoothing import ActionSmoother, Event
from .window import PresenceRule, SkeletonWindow

DEFAULT_STRIDE = 6
DEFAULT_SMOOTH = 4
DEFAULT_THRESHOLD = 0.5


REASONS = ("warming_up", "no_person", "below_threshold", "confirming")


@dataclass
class Prediction:
    """One prediction. ``label``, ``score``, ``topk``, ``held`` and ``reason`` follow the rule in
    ``partkd_stream.smoothing``: ``label`` is the steady action or None, and when it is None ``reason`` says why
    (``REASONS``: ``"warming_up"`` — the stream holds less than half a model window; ``"no_person"``;
    ``"below_threshold"``; ``"confirming"`` — the top class is above the threshold but not yet confirmed)."""

    t: float
    frame: int
    label: Optional[str]
    score: float
    topk: list[tuple[str, float]]
    person_present: bool
    reason: Optional[str] = None
    held: bool = False
    events: list[Event] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The JSON Lines record ``{t, frame, label, score, topk, person_present, reason, held}`` (strict JSON)."""
        numbers = [self.t, self.score] + [s for _, s in self.topk]
        if not all(math.isfinite(x) for x in numbers):  # the window refuses such times; scores come from softmax
            raise ValueError(f"prediction at frame {self.frame} holds a non-finite number: {numbers}")
        return {"t": round(float(self.t), 4), "frame": int(self.frame), "label": self.label,
                "score": round(float(self.score), 4), "topk": [[lab, float(s)] for lab, s in self.topk],
                "person_present": bool(self.person_present), "reason": self.reason, "held": bool(self.held)}


class Recognizer:
    """``source skeletons → window → model → smoothing``; one ``update`` per frame."""

    def __init__(self, model: Any, stride: int = DEFAULT_STRIDE, smooth: int = DEFAULT_SMOOTH,
                 threshold: float = DEFAULT_THRESHOLD, topk: int = 3, confirm: int = 2, hysteresis: float = 0.1,
                 presence: PresenceRule = PresenceRule()) -> None:
        """``model``: a ``backends.LoadedModel`` (``.card``, ``.predict_proba``); use ``Recognizer.load``."""
        if stride < 1:
            raise ValueError(f"stride must be ≥ 1, got {stride}")
        self.model = model
        self.card = model.card
        self.classes = list(self.card.classes)
        self.stride = stride
        self.window = SkeletonWindow(self.card.preprocess, presence)
        self.smoother = ActionSmoother(self.classes, smooth=smooth, threshold=threshold, hysteresis=hysteresis,
                                       confirm=confirm, topk=topk)
        self.frames_seen = 0
        self.dropped_frames = 0   # frames refused for their timestamp (not finite, or not after the previous)
        self.last_t: Optional[float] = None
        self._checked: set[tuple[str, int]] = set()

    @classmethod
    def load(cls, model: Optional[str] = None, backend: str = "auto", threads: Optional[int] = None,
             **kw: Any) -> "Recognizer":
        """Load a model (``None`` = the shipped default) on a backend, then build the recognizer around it."""
        from .backends import load_model  # imported here so the smoothing/window parts need no runtime

        return cls(load_model(model=model, backend=backend, threads=threads), **kw)

    def check_source(self, layout: str, channels: int) -> None:
        """Refuse skeletons the model cannot take: ``card.CardMismatch`` with a one-line message."""
        key = (layout, channels)
        if key not in self._checked:
            self.card.check_source(layout, channels - 1)
            self._checked.add(key)

    def update(self, keypoints: Optional[np.ndarray], t: float, layout: str = "mediapipe33",
               frame: Optional[int] = None) -> Optional[Prediction]:
        """Add one frame (``[V, C]`` score last, or ``None`` = no person) and predict when one is due.

        A frame whose ``t`` is not finite, or not after the previous frame's, is dropped and counted in
        ``dropped_frames`` (returns None); a non-finite or absurd coordinate makes that joint missing."""
        if keypoints is not None:
            keypoints = np.asarray(keypoints)
            if keypoints.ndim != 2:
                raise SkeletonFileError(f"keypoints must be [V, C] (one row per joint, score last), got shape "
                                        f"{list(keypoints.shape)}")
            check_frame_shape(keypoints.shape, layout, "keypoints")
            self.check_source(layout, keypoints.shape[-1])
        if not self.window.push(keypoints, t, layout):
            self.dropped_frames += 1
            return None
        index = self.frames_seen if frame is None else int(frame)
        self.frames_seen += 1
        self.last_t = t
        if self.frames_seen % self.stride:
            return None
        present = self.window.person_present()
        if not present:
            state = self.smoother.skip(t, "no_person")
        elif not self.window.warmed_up():
            state = self.smoother.skip(t, "warming_up")
        else:
            state = self.smoother.update(self.model.predict_proba(self.window.model_input())[0], t)
        return Prediction(t=t, frame=index, label=state.label, score=state.score, topk=state.topk,
                          person_present=present, reason=state.reason, held=state.held, events=state.events)

    def finish(self, t: Optional[float] = None) -> list[Event]:
        """End of the stream: ``end`` event for an action still on (at ``t``, default the last frame's time; a ``t``
        that is not finite or lies before the last frame's is not taken: events never run backwards)."""
        if t is None or self.last_t is None or not self.window.accepts(t):
            t = self.last_t
        return [] if t is None else self.smoother.finish(t)

    def reset(self) -> None:
        """Forget the stream (a new video): empty window, no smoothing history, no action on, counters at 0."""
        self.window.clear()
        self.smoother.reset()
        self.frames_seen, self.dropped_frames, self.last_t = 0, 0, None
