"""The public API: feed one skeleton per frame, get timestamped action predictions and start/end events.

    from partkd_stream.recognizer import Recognizer
    rec = Recognizer.load()                          # the shipped default student, fastest backend available
    for t, keypoints in my_pose_stream:              # keypoints: [33, 3] MediaPipe (x, y, visibility), or None
        pred = rec.update(keypoints, t)              # None until a prediction is due (every `stride` frames)
        if pred:
            print(pred.t, pred.label, pred.score)    # label None = "no action"
            for ev in pred.events:                   # Event(event="start"|"end", label, t)
                print(ev)
    rec.finish()                                     # end events for an action still on at the end

Any supported layout can be fed (``layout=``); it is converted to the model's. The CLI (``partkd-stream``) is a
thin layer over this class.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

import numpy as np

from .smoothing import ActionSmoother, Event
from .window import PresenceRule, SkeletonWindow

DEFAULT_STRIDE = 6
DEFAULT_SMOOTH = 4
DEFAULT_THRESHOLD = 0.5


@dataclass
class Prediction:
    """One prediction; ``label`` is ``None`` in the "no action" state (and whenever no person is present).

    ``reason`` is ``None`` when ``label`` is an action, else why not: ``"warming_up"`` (the window is not yet
    half full), ``"no_person"``, ``"below_threshold"``."""

    t: float
    frame: int
    label: Optional[str]
    score: float
    topk: list[tuple[str, float]]
    person_present: bool
    events: list[Event] = field(default_factory=list)
    reason: Optional[str] = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON Lines record ``{t, frame, label, score, reason, topk, person_present}``."""
        return {"t": round(float(self.t), 4), "frame": int(self.frame), "label": self.label,
                "score": round(float(self.score), 4), "reason": self.reason,
                "topk": [[lab, s] for lab, s in self.topk], "person_present": bool(self.person_present)}


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
        """Add one frame (``[V, C]`` score last, or ``None`` = no person) and predict when one is due."""
        if keypoints is not None:
            keypoints = np.asarray(keypoints, dtype=np.float32)
            self.check_source(layout, keypoints.shape[-1])
        self.window.push(keypoints, t, layout)
        index = self.frames_seen if frame is None else int(frame)
        self.frames_seen += 1
        self.last_t = t
        if self.frames_seen % self.stride:
            return None
        present = self.window.person_present()
        probs = self.model.predict_proba(self.window.model_input())[0] if present else None
        state = self.smoother.update(probs, t, present)
        reason = (None if state.label is not None else "warming_up" if not self.window.warmed_up()
                  else "no_person" if not present else "below_threshold")
        return Prediction(t=t, frame=index, label=state.label, score=state.score, topk=state.topk,
                          person_present=present, events=state.events, reason=reason)

    def finish(self, t: Optional[float] = None) -> list[Event]:
        """End of the stream: ``end`` event for an action still on (at ``t``, default the last frame's time)."""
        t = self.last_t if t is None else t
        return [] if t is None else self.smoother.finish(t)

    def reset(self) -> None:
        """Forget the stream (a new video): empty window, no action on, frame counter at 0."""
        self.window.clear()
        self.smoother.finish(0.0)
        self.frames_seen, self.last_t = 0, None
