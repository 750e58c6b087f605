"""From a stream of per-window probabilities to a steady label and start/end events.

Each window brings the probabilities of the model's actions and — for the recognizer, always (``open_set``) — one
more, last entry: the window's **unknown** share (``reject.OpenSet.probs``: p(background) for a model with a
background class, all the mass of a window its reject turned down, 0 for a closed-set model).

- **averaging**: the mean of the last ``smooth`` probability vectors (one per prediction), unknown share included:
  one rejected window pulls the actions down by 1/``smooth``, it does not end anything by itself;
- **threshold**: the top action of the average is an action only when its probability ≥ ``threshold`` and the
  unknown share does not top it; otherwise the state is "no action" (label ``None``);
- **unknown**: when the averaged unknown share tops every action the state is "no action" for that reason, and it
  stays "unknown" until the averaged unknown share falls below ``unknown_release`` (0.25): the unknown state's own
  hysteresis. So when a reject fires on some windows of an action and not on others, the action does not restart at
  every gap: after "unknown", an action (re)starts only once the reject has left the average (with all-or-nothing
  rejects and ``smooth`` 4: no rejected window among the last 4) and it is then the candidate for ``confirm``
  predictions in a row. Measured on a synthetic stream of 100 predictions alternating 3 accepted and 3 rejected
  windows: 17 start events without the release level, 1 with it (``tests/test_smoothing.py``);
- **hysteresis**: an action already on stays on while its own averaged probability ≥ ``threshold - hysteresis``
  (whatever tops the average), so a score hovering at the threshold does not flicker;
- **confirmation**: a new state (another action, or no action) must be the candidate for ``confirm``
  predictions in a row before it replaces the current one — a one-window blip never makes an event;
- **events**: ``start`` when the state becomes an action, ``end`` when it leaves it (for another action or for
  no action), at the time of the prediction that decided it;
- **no judgement** (no person, or a stream too short to judge): the history is cleared and the state becomes
  "no action" at once (ending an action that was on, forgetting an unknown state); no action ever starts without
  a person.

What one state says — the rule a record, the overlay and a summary all follow:

- ``label``: the steady action (confirmed, possibly held by hysteresis or by a pending confirmation), else None;
- ``score``: the averaged probability of ``label``; when ``label`` is None, that of the top action — or, when the
  reason is ``"unknown"``, the averaged unknown share;
- ``topk``: the averaged probabilities of the actions (never the unknown share), best first;
- ``held``: True when ``label`` is not what the averages alone say (it is not the top action at or above the
  threshold, above the unknown share) and is kept by hysteresis or while another state waits for confirmation;
- ``reason``: None when ``label`` is an action; otherwise why not: ``"unknown"`` (the unknown state, above),
  ``"below_threshold"`` (the top action is under the threshold), ``"confirming"`` (the top action is at or above
  it but not yet for ``confirm`` predictions), or what the caller says when there was nothing to judge
  (``"no_person"``, ``"warming_up"``). A state never has label None and a score at or above the threshold
  without ``reason`` being ``"confirming"`` or ``"unknown"``.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np

UNKNOWN_RELEASE = 0.25  # the "unknown" state ends when the averaged unknown share falls below this

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
                 confirm: int = 2, topk: int = 3, open_set: bool = False,
                 unknown_release: float = UNKNOWN_RELEASE) -> None:
        """``classes``: the actions. ``open_set``: every probability vector carries one more, last entry — the
        window's unknown share (``reject.OpenSet.probs``). ``unknown_release``: the "unknown" state lasts until the
        averaged unknown share falls below it (see the module docstring)."""
        if smooth < 1 or confirm < 1:
            raise ValueError("smooth and confirm must be ≥ 1")
        if not 0.0 < unknown_release <= 1.0:
            raise ValueError(f"unknown_release must be in (0, 1], got {unknown_release}")
        self.classes = list(classes)
        self.open_set, self.unknown_release = open_set, unknown_release
        self._unknown = False     # in the "unknown" state: no action until the unknown share falls below release
        self.threshold, self.hysteresis, self.confirm, self.k = threshold, hysteresis, confirm, topk
        self._history: deque[np.ndarray] = deque(maxlen=smooth)
        self.active: Optional[str] = None
        self._pending: Optional[str] = None
        self._pending_count = 0

    def update(self, probs: Optional[np.ndarray], t: float, person_present: bool = True) -> SmoothedState:
        """One prediction: probabilities ``[K]`` of the actions (``[K + 1]``, unknown last, with ``open_set``);
        ``None`` or ``person_present=False`` when no person."""
        if probs is None or not person_present:
            return self.skip(t, "no_person")
        k = len(self.classes)
        probs = np.asarray(probs, dtype=np.float64).reshape(-1)
        if len(probs) != k + self.open_set:
            raise ValueError(f"expected {k + self.open_set} probabilities ({k} actions"
                             f"{' and the unknown share' if self.open_set else ''}), got {len(probs)}")
        self._history.append(probs)
        avg = sum(self._history) / len(self._history)   # np.mean(…, axis=0), the same sums, 3× faster
        acts = avg[:k]
        order = np.argsort(-acts)
        top = int(order[0])
        unknown = self.open_set and avg[k] > acts[top]       # the unknown share tops every action
        if self._unknown and avg[k] < self.unknown_release:  # the unknown state's own hysteresis: released
            self._unknown = False
        top_is_on = not unknown and acts[top] >= self.threshold
        candidate = self.classes[top] if top_is_on and not (self._unknown and self.active is None) else None
        if (self.active is not None and candidate is None
                and acts[self.classes.index(self.active)] >= self.threshold - self.hysteresis):
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
        self._unknown = label is None and (unknown or self._unknown)
        if label is not None:
            score = float(acts[self.classes.index(label)])
        else:
            score = float(avg[k] if self._unknown else acts[top])
        topk = [(self.classes[i], round(float(acts[i]), 4)) for i in order[: self.k]]
        held = label is not None and not (label == self.classes[top] and top_is_on)
        reason = None if label is not None else ("unknown" if self._unknown else
                                                 "confirming" if top_is_on else "below_threshold")
        return SmoothedState(label, score, topk, events, reason=reason, held=held)

    def skip(self, t: float, reason: str) -> SmoothedState:
        """Nothing to judge at ``t`` (``reason``: no person, warming up): clear the history, end the action."""
        self._history.clear()
        self._pending, self._pending_count, self._unknown = None, 0, False
        return SmoothedState(None, 0.0, [], self._switch(None, t), reason=reason)

    def finish(self, t: float) -> list[Event]:
        """End of stream: close the action that is on, if any."""
        return self._switch(None, t)

    def reset(self) -> None:
        """Forget everything (a new stream): no history, no action, nothing pending; no events."""
        self._history.clear()
        self.active, self._pending, self._pending_count, self._unknown = None, None, 0, False

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
