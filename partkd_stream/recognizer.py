"""The public API: feed skeletons frame by frame, get timestamped action predictions and start/end events.

One person (whoever the pose estimator finds most prominent):

    from partkd_stream.recognizer import Recognizer
    rec = Recognizer.load()                          # the shipped default student, fastest backend available
    for t, keypoints in my_pose_stream:              # keypoints: [33, 3] MediaPipe (x, y in pixels, visibility),
        pred = rec.update(keypoints, t)              # or None; None until a prediction is due (every `every` s)
        if pred:
            print(pred.t, pred.label, pred.score)    # label None = no action; pred.reason says why
            for ev in pred.events:                   # Event(event="start"|"end", label, t, person=None)
                print(ev)
    rec.finish()                                     # end events for an action still on

Several people (each frame: everyone the pose estimator sees, in any order):

    for t, people in my_multi_pose_stream:          # people: list of [33, 3]
        for pred in rec.update_people(people, t):   # one Prediction per tracked person when one is due
            print(pred.person, pred.label)           # person: the track id (1, 2, …), kept while they move
    rec.finish()                                     # end events of everyone still in view

``update_people`` gives each person a persistent id (``tracking.PersonTracker``), a window slot and a smoother of
their own, and judges everyone due in ONE model call; a person whose track ends (gone longer than the tracker's
``max_missed_s``) gets a last prediction (``reason: "no_person"``) carrying their ``end`` events.

Any supported layout can be fed (``layout=``); it is converted to the model's. The CLI (``partkd-stream``) is a
thin layer over this class.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any, Optional, Sequence

import numpy as np

from .card import CardMismatch
from .skeleton_io import SkeletonFileError, check_frame_shape
from .smoothing import ActionSmoother, Event, SmoothedState
from .tracking import PersonTracker
from .window import PresenceRule, TrackWindows, sane_time

DEFAULT_EVERY_S = 0.2   # a prediction every 0.2 s of stream time: 6 frames at 30 fps, 3 at 15, 12 at 60
MAX_EVERY_S = 60.0
DEFAULT_SMOOTH = 4
DEFAULT_THRESHOLD = 0.5
MISSED_HOLD_S = 0.2
"""A tracked person missed for up to this long adds no frame to their window (the pose detector flickers on small
people: MediaPipe misses some in every few frames); longer, frames without a person (they are hidden or gone)."""


REASONS = ("warming_up", "no_person", "unknown", "below_threshold", "confirming")
# what each state is called where people read it (overlay banner, console summary); None = an action is on
STATE_TEXT = {None: "action", "warming_up": "warming up", "no_person": "no person", "unknown": "unknown action",
              "below_threshold": "no action", "confirming": "confirming"}


@dataclass
class Prediction:
    """One prediction for one person. ``label``, ``score``, ``topk``, ``held`` and ``reason`` follow the rule in
    ``partkd_stream.smoothing``: ``label`` is the steady action or None, and when it is None ``reason`` says why
    (``REASONS``: ``"warming_up"`` — the stream holds less than half a model window; ``"no_person"``;
    ``"unknown"`` — the model's reject says none of its actions (an open-set model); ``"below_threshold"``;
    ``"confirming"`` — the top action is above the threshold but not yet confirmed). ``topk`` lists actions only.
    ``person`` is the track id from ``update_people``; ``None`` from ``update`` (one person, not tracked)."""

    t: float
    frame: int
    label: Optional[str]
    score: float
    topk: list[tuple[str, float]]
    person_present: bool
    reason: Optional[str] = None
    held: bool = False
    events: list[Event] = field(default_factory=list)
    person: Optional[int] = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON Lines record ``{t, frame, person, label, score, topk, person_present, reason, held}`` (strict
        JSON)."""
        numbers = [self.t, self.score] + [s for _, s in self.topk]
        if not all(math.isfinite(x) for x in numbers):  # the window refuses such times; scores come from softmax
            raise ValueError(f"prediction at frame {self.frame} holds a non-finite number: {numbers}")
        return {"t": round(float(self.t), 4), "frame": int(self.frame), "person": self.person, "label": self.label,
                "score": round(float(self.score), 4), "topk": [[lab, float(s)] for lab, s in self.topk],
                "person_present": bool(self.person_present), "reason": self.reason, "held": bool(self.held)}


@dataclass
class _Person:
    """What the recognizer keeps per person: a window slot, a smoother, and when they were last seen."""

    slot: int
    smoother: ActionSmoother
    seen_t: float = -math.inf


class Recognizer:
    """``source skeletons → (tracker) → windows → model → smoothing``; one ``update`` (one person) or
    ``update_people`` (several) per frame, not both on one recognizer."""

    def __init__(self, model: Any, every: float = DEFAULT_EVERY_S, smooth: int = DEFAULT_SMOOTH,
                 threshold: float = DEFAULT_THRESHOLD, topk: int = 3, confirm: int = 2, hysteresis: float = 0.1,
                 presence: Optional[PresenceRule] = None, tracker: Optional[PersonTracker] = None) -> None:
        """``model``: a ``backends.LoadedModel`` (``.card``, ``.predict`` → logits); use ``Recognizer.load``.
        ``presence``: who counts as a person (default: the model card's rule, else the full-body one).
        ``tracker``: how ``update_people`` keeps ids (default ``PersonTracker()``).
        ``every``: seconds of stream time between predictions — a cadence in time, not in frames, so a 15 fps
        camera gets as many predictions per second as a 30 fps one, and the smoother's ``smooth`` windows and
        ``confirm`` predictions span the same time at any frame rate."""
        if isinstance(every, bool) or not (isinstance(every, (int, float)) and 0 < every <= MAX_EVERY_S):
            raise ValueError(f"every must be a number of seconds in (0, {MAX_EVERY_S:g}], got {every!r}")
        self.model = model
        self.card = model.card
        self.open_set = self.card.open_set        # the card's reject: logits → actions + unknown share
        self.classes = list(self.open_set.actions)  # what a label can be (never "background")
        self.every = float(every)
        self._smoothing = dict(smooth=smooth, threshold=threshold, hysteresis=hysteresis, confirm=confirm, topk=topk,
                               open_set=True)
        ActionSmoother(self.classes, **self._smoothing)    # bad settings fail here, not at the first person
        self.presence = presence if presence is not None else self.card.presence_rule
        self.windows = TrackWindows(self.card.preprocess, self.presence)
        self.tracker = tracker if tracker is not None else PersonTracker()
        self.in_view: list[tuple[int, np.ndarray]] = []   # (id, skeleton) of the people tracked in the last frame
        self._people: dict[Optional[int], _Person] = {}
        self._free_slots = [0]
        self._mode: Optional[str] = None
        self.frames_seen = 0
        self._first_t: Optional[float] = None   # the stream's first frame time, and the stream time its frames
        self._next_due = self.every             # must cover for the next prediction to be due
        self._due = False                       # whether a prediction is due at the frame just added
        self.dropped_frames = 0   # frames refused for their timestamp (not finite, or not after the previous)
        self.clock_back: Optional[tuple[int, float, float]] = None   # the first (frame, t, previous t) not after
        self.last_t: Optional[float] = None
        self._checked: set[tuple] = set()   # (layout, channels) and (layout, frame shape) already checked

    @classmethod
    def load(cls, model: Optional[str] = None, backend: str = "auto", threads: Optional[int] = None,
             **kw: Any) -> "Recognizer":
        """Load a model (``None`` = the shipped default) on a backend, then build the recognizer around it."""
        from .backends import load_model  # imported here so the smoothing/window parts need no runtime

        return cls(load_model(model=model, backend=backend, threads=threads), **kw)

    def check_source(self, layout: str, channels: int) -> None:
        """Refuse skeletons the model cannot take, or whose layout lacks the joints the presence rule reads:
        ``card.CardMismatch`` with a one-line message."""
        key = (layout, channels)
        if key not in self._checked:
            self.card.check_source(layout, channels - 1)
            try:
                self.presence.joints(layout)
            except ValueError as e:
                raise CardMismatch(f"model {self.card.name!r} judges who is in view by joints the source lacks: "
                                   f"{e}") from None
            self._checked.add(key)

    def people(self) -> list[int]:
        """The ids of the people tracked now (``update_people``), in view or briefly hidden."""
        return sorted(p for p in self._people if p is not None)

    def active(self, person: Optional[int] = None) -> Optional[str]:
        """The action on now for ``person`` (``None``: the one person of ``update``), else None."""
        p = self._people.get(person)
        return p.smoother.active if p else None

    # --- one person -------------------------------------------------------------------------------------------
    def update(self, keypoints: Optional[np.ndarray], t: float, layout: str = "mediapipe33",
               frame: Optional[int] = None) -> Optional[Prediction]:
        """Add one frame (``[V, C]`` score last, or ``None`` = no person) and predict when one is due.

        A frame whose ``t`` is not finite, or not after the previous frame's, is dropped and counted in
        ``dropped_frames`` (returns None); a non-finite or absurd coordinate makes that joint missing. A ``None``
        within ``MISSED_HOLD_S`` of the last frame with a person adds nothing to the window (a flickering
        detection), as for a tracked person of ``update_people``."""
        self._use("update")
        if keypoints is not None:
            keypoints = self._frame(keypoints, layout)
        person = self._person(None)
        if not self._follows(t):
            self._drop(t, frame)
            return None
        if keypoints is not None:
            person.seen_t = t
        if keypoints is not None or t - person.seen_t > MISSED_HOLD_S:
            self.windows.push(keypoints, t, layout, slot=person.slot)
        index = self._advance(t, frame)
        if not self._due:
            return None
        return self._predict([None], t, index)[0]

    # --- several people ---------------------------------------------------------------------------------------
    def update_people(self, people: Sequence[np.ndarray], t: float, layout: str = "mediapipe33",
                      frame: Optional[int] = None) -> list[Prediction]:
        """Add one frame with everyone in view (``[V, C]`` each, score last; ``[]`` = nobody) and return the
        predictions due: one per tracked person every ``every`` seconds (ids ascending), and a last one for each
        person whose track ended in this frame (their ``end`` events).

        A frame whose ``t`` is not finite, or not after the previous frame's, is dropped and counted in
        ``dropped_frames`` (returns ``[]``)."""
        self._use("update_people")
        people = [self._frame(kp, layout) for kp in people]
        if not self._follows(t):
            self._drop(t, frame)
            return []
        upd = self.tracker.update(people, t)
        if len(upd.started) > len(self._free_slots):      # room for everyone who came at once, in one resize
            extra = len(upd.started) - len(self._free_slots)
            self.windows.add_slots(extra)
            self._free_slots += range(self.windows.slots - extra, self.windows.slots)
        for pid in upd.started:
            self._person(pid)
        for pid, _ in upd.people:
            self._people[pid].seen_t = t
        # a person missed only briefly (a detection that flickers) adds no frame: the window's resampling takes the
        # frames around the gap; missed for longer (hidden behind someone), frames without a person
        gone = [pid for pid in upd.missing if t - self._people[pid].seen_t > MISSED_HOLD_S]
        ids = [pid for pid, _ in upd.people] + gone
        self.windows.push_many([self._people[pid].slot for pid in ids],
                               [kp for _, kp in upd.people] + [None] * len(gone), t, layout)
        self.in_view = upd.people
        index = self._advance(t, frame)
        preds = [self._end(pid, t, index) for pid in upd.ended]
        if self._due and self._people:
            preds += self._predict(sorted(self._people), t, index)
        return preds

    # --- the decision -----------------------------------------------------------------------------------------
    def _predict(self, persons: list[Optional[int]], t: float, index: int) -> list[Prediction]:
        """One prediction for these people: who can be judged, one model call for all of them, each one's state."""
        w = self.windows
        slots = [self._people[p].slot for p in persons]
        present = [w.person_present(s) for s in slots]
        skip = [None if pr and w.warmed_up(s) else "warming_up" if pr else "no_person"
                for s, pr in zip(slots, present)]
        judged = [i for i, why in enumerate(skip) if why is None]
        probs = self.open_set.probs(self.model.predict(w.model_input([slots[i] for i in judged]))) if judged else []
        row = dict(zip(judged, probs))
        out = []
        for i, p in enumerate(persons):
            state = self.decide(self._people[p].smoother, t, row.get(i), skip[i])
            out.append(self._prediction(p, state, t, index, present[i]))
        return out

    def decide(self, smoother: ActionSmoother, t: float, probs: Optional[np.ndarray],
               skip: Optional[str]) -> SmoothedState:
        """The per-window decision, the one place where a model's output becomes a person's state: the window's
        probabilities ``[A + 1]`` (its actions and, last, its unknown share: ``reject.OpenSet.probs``) → smoothed
        label and events; ``skip`` (``"no_person"``, ``"warming_up"``) when there was nothing to judge."""
        if skip is not None:
            return smoother.skip(t, skip)
        return smoother.update(probs, t)

    def _prediction(self, person: Optional[int], state: SmoothedState, t: float, index: int,
                    present: bool) -> Prediction:
        events = state.events if person is None else [replace(e, person=person) for e in state.events]
        return Prediction(t=t, frame=index, label=state.label, score=state.score, topk=state.topk,
                          person_present=present, reason=state.reason, held=state.held, events=events,
                          person=person)

    def _end(self, person: int, t: float, index: int) -> Prediction:
        """A track ended: the person's last prediction (nobody there), with the end of their action; the slot is
        freed for the next person."""
        p = self._people.pop(person)
        state = self.decide(p.smoother, t, None, "no_person")
        self.windows.clear(p.slot)
        self._free_slots.append(p.slot)
        return self._prediction(person, state, t, index, False)

    # --- bookkeeping ------------------------------------------------------------------------------------------
    def _use(self, mode: str) -> None:
        if self._mode is None:
            self._mode = mode
        elif self._mode != mode:
            raise ValueError(f"this Recognizer is fed with {self._mode}(); use another one for {mode}() (or reset() "
                             f"it first)")

    def _frame(self, keypoints: np.ndarray, layout: str) -> np.ndarray:
        """One skeleton, checked against its layout and the model (each shape and layout once)."""
        keypoints = np.asarray(keypoints)
        if (layout, keypoints.shape) not in self._checked:
            if keypoints.ndim != 2:
                raise SkeletonFileError(f"keypoints must be [V, C] (one row per joint, score last), got shape "
                                        f"{list(keypoints.shape)}")
            check_frame_shape(keypoints.shape, layout, "keypoints")
            self.check_source(layout, keypoints.shape[-1])
            self._checked.add((layout, keypoints.shape))
        return keypoints

    def _person(self, person: Optional[int]) -> _Person:
        p = self._people.get(person)
        if p is None:
            if not self._free_slots:
                self.windows.add_slots(1)
                self._free_slots.append(self.windows.slots - 1)
            p = self._people[person] = _Person(self._free_slots.pop(), ActionSmoother(self.classes,
                                                                                      **self._smoothing))
        return p

    def _follows(self, t: float) -> bool:
        """A finite, sane time after the last frame's."""
        return sane_time(t) and (self.last_t is None or t > self.last_t)

    def _drop(self, t: float, frame: Optional[int]) -> None:
        """Count a frame refused for its timestamp; remember the first whose clock went back (or stood still)."""
        self.dropped_frames += 1
        if self.clock_back is None and self.last_t is not None and sane_time(t) and t <= self.last_t:
            self.clock_back = (self.frames_seen + self.dropped_frames - 1 if frame is None else int(frame), float(t),
                               self.last_t)

    def _advance(self, t: float, frame: Optional[int]) -> int:
        """Count a frame, and say whether a prediction is due at it: when the stream time its frames cover reaches
        the next multiple of ``every`` (up to half a frame short) — at 30 fps with ``every`` = 0.2 s the 6th, 12th,
        … frame, as a stride of 6 frames was. Covered = from the first frame's time to this one's, plus the mean
        frame interval (not the last one: a clock that jitters by milliseconds keeps the phase). A one-frame stream
        covers no time: it is due no prediction."""
        index = self.frames_seen if frame is None else int(frame)
        if self._first_t is None:
            self._first_t, covered, step = t, 0.0, 0.0
        else:
            step = (t - self._first_t) / self.frames_seen   # the mean frame interval: steady under clock jitter
            covered = (t - self._first_t) + step
        self._due = covered >= self._next_due - 0.5 * step - 1e-9   # half a frame's slack
        if self._due:   # the next multiple of `every` after this frame (a long gap skips those it spans)
            self._next_due += self.every * (1 + max(0, int((covered - self._next_due) // self.every)))
        self.frames_seen += 1
        self.last_t = t
        return index

    def finish(self, t: Optional[float] = None) -> list[Event]:
        """End of the stream: ``end`` events for every action still on (at ``t``, default the last frame's time; a
        ``t`` that is not finite or lies before the last frame's is not taken: events never run backwards).
        Tracks end too: people seen after this get new ids."""
        if t is None or self.last_t is None or not self._follows(t):
            t = self.last_t
        if t is None:
            return []
        events = []
        for person in sorted(self._people, key=lambda p: -1 if p is None else p):
            events += [e if person is None else replace(e, person=person)
                       for e in self._people[person].smoother.finish(t)]
        if self._mode == "update_people":
            self.tracker.finish()
            for person in list(self._people):
                self.windows.clear(self._people[person].slot)
                self._free_slots.append(self._people.pop(person).slot)
            self.in_view = []
        return events

    def reset(self) -> None:
        """Forget the stream (a new video): empty windows, no people, no smoothing history, no action on, counters
        at 0, and ids start again from 1."""
        for p in self._people.values():
            self.windows.clear(p.slot)
        self._people.clear()
        self._free_slots = list(range(self.windows.slots))
        self.tracker.reset()
        self.in_view = []
        self._mode = None
        self.frames_seen, self.dropped_frames, self.last_t, self.clock_back = 0, 0, None, None
        self._first_t, self._next_due, self._due = None, self.every, False
