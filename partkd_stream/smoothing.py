"""From a stream of per-window class probabilities to a steady label and start/end events.

- **averaging**: the mean of the last ``smooth`` probability vectors (one per prediction);
- **threshold**: the top class of the average is an action only when its probability ≥ ``threshold``;
  otherwise the state is "no action" (label ``None``);
- **hysteresis**: an action already on stays on while its own averaged probability ≥ ``threshold - hysteresis``,
  so a score hovering at the threshold does not flicker;
- **confirmation**: a new state (another action, or no action) must be the candidate for ``confirm``
  predictions in a row before it replaces the current one — a one-window blip never makes an event;
- **events**: ``start`` when the state becomes an action, ``end`` when it leaves it (for another action or for
  no action), at the time of the prediction that decided it;
- **no judgement** (no person, or a stream too short to judge): the history is cleared and the state becomes
  "no action" at once (ending an action that was on); no action ever starts without a person.

What one state says — the rule a record, the overlay and a summary all follow:

- ``label``: the steady action (confirmed, possibly held by hysteresis or by a pending confirmation), else None;
- ``score``: the averaged probability of ``label``, or of the top class when ``label`` is None;
- ``topk``: the averaged probabilities, best first (``topk[0]`` is the top class);
- ``held``: True when ``label`` is not what the averages alone say (it is not the top class at or above the
  threshold) and is kept by hysteresis or while another state waits for confirmation;
- ``reason``: None when ``label`` is an action; otherwise why not: ``"below_threshold"`` (the top class is
  under the threshold), ``"confirming"`` (the top class is at or above it but not yet for ``confirm``
  predictions), or what the caller says when there was nothing to judge (``"no_person"``, ``"warming_up"``).
  A state never has label None and a score at or above the threshold without ``reason == "confirming"``.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np


@dataclass(frozen=True)
class Event:
    """An action ``start`` or ``end`` at time ``t`` (seconds, source clock) of ``person`` (a track id; ``None`` in
    a single-person stream, which follows whoever the pose estimator finds most prominent)."""

    event: str
    label: str
    t: float
    person: Optional[int] = None

    def to_dict(self) -> dict:
        return {"event": self.event, "label": self.label, "t": round(float(self.t), 4), "person": self.person}


@dataclass(frozen=True)
class SmoothedState:
    """One state; the module docstring says what each field means."""

    label: Optional[str]            # the steady state: an action, or None for "no action"
    score: float                    # averaged probability of ``label`` (of the top class when no action)
    topk: list[tuple[str, float]]   # averaged probabilities, best first
    events: list[Event]
    reason: Optional[str] = None    # why label is None; None when it is an action
    held: bool = False              # label kept although the averages alone would not pick it


class ActionSmoother:
    """Averages probabilities over recent predictions and turns them into a label with start/end events."""

    def __init__(self, classes: Sequence[str], smooth: int = 4, threshold: float = 0.5, hysteresis: float = 0.1,
                 confirm: int = 2, topk: int = 3) -> None:
        if smooth < 1 or confirm < 1:
            raise ValueError("smooth and confirm must be ≥ 1")
        self.classes = list(classes)
        self.threshold, self.hysteresis, self.confirm, self.k = threshold, hysteresis, confirm, topk
        self._history: deque[np.ndarray] = deque(maxlen=smooth)
        self.active: Optional[str] = None
        self._pending: Optional[str] = None
        self._pending_count = 0

    def update(self, probs: Optional[np.ndarray], t: float, person_present: bool = True) -> SmoothedState:
        """One prediction: class probabilities ``[K]`` (``None`` or ``person_present=False`` when no person)."""
        if probs is None or not person_present:
            return self.skip(t, "no_person")
        self._history.append(np.asarray(probs, dtype=np.float64).reshape(-1))
        avg = sum(self._history) / len(self._history)   # np.mean(…, axis=0), the same sums, 3× faster
        order = np.argsort(-avg)
        top = int(order[0])
        candidate = self.classes[top] if avg[top] >= self.threshold else None
        if (self.active is not None and candidate is None
                and avg[self.classes.index(self.active)] >= self.threshold - self.hysteresis):
            candidate = self.active  # hysteresis: still close enough to stay on
        events: list[Event] = []
        if candidate == self.active:
            self._pending, self._pending_count = None, 0
        else:
            if candidate == self._pending:
                self._pending_count += 1
            else:
                self._pending, self._pending_count = candidate, 1
            if self._pending_count >= self.confirm:
                events = self._switch(candidate, t)
        label = self.active
        score = float(avg[self.classes.index(label)]) if label is not None else float(avg[top])
        topk = [(self.classes[i], round(float(avg[i]), 4)) for i in order[: self.k]]
        top_is_on = avg[top] >= self.threshold
        held = label is not None and not (label == self.classes[top] and top_is_on)
        reason = None if label is not None else ("confirming" if top_is_on else "below_threshold")
        return SmoothedState(label, score, topk, events, reason=reason, held=held)

    def skip(self, t: float, reason: str) -> SmoothedState:
        """Nothing to judge at ``t`` (``reason``: no person, warming up): clear the history, end the action."""
        self._history.clear()
        self._pending, self._pending_count = None, 0
        return SmoothedState(None, 0.0, [], self._switch(None, t), reason=reason)

    def finish(self, t: float) -> list[Event]:
        """End of stream: close the action that is on, if any."""
        return self._switch(None, t)

    def reset(self) -> None:
        """Forget everything (a new stream): no history, no action, nothing pending; no events."""
        self._history.clear()
        self.active, self._pending, self._pending_count = None, None, 0

    def _switch(self, new: Optional[str], t: float) -> list[Event]:
        events: list[Event] = []
        if new == self.active:
            return events
        if self.active is not None:
            events.append(Event("end", self.active, t))
        if new is not None:
            events.append(Event("start", new, t))
        self.active = new
        self._pending, self._pending_count = None, 0
        return events
