"""The live windows: the last few seconds of skeletons of every tracked person, sampled at the model's frame rate
on demand, in one preallocated ring buffer (one person = one slot).

Frames arrive at the source's rate with the source's timestamps (a 60 fps camera, a 25 fps video, a stream with
dropped frames). Each slot keeps its recent frames (``horizon_s``) in the model's layout, and ``model_input``
builds the model input of many slots at once with the SAME steps training uses (``resample_indices`` →
``blend_frames``, as ``take_frames`` does → ``preprocess.model_input``), so a window seen live and a clip seen in
training are sampled and normalised alike (``tests/test_window.py`` checks it).

It also decides whether a person is in view. MediaPipe "detects" a pose in most frames of a video with no full
person (measured on ``no_person_pool.mp4``: legs and feet at a pool's edge, a pose in 78 % of frames, and
shoulders *and* hips reported with visibility > 0.5 in 30 % of frames — the whole skeleton squeezed onto one
foot), while a real person in profile hides half of their joints. So a frame counts as showing a person only when
the model card's rule finds enough of a body clearly seen — by default on one side of it (``frame_has_person``),
and a prediction is made for a person only when most recent frames show one (``person_fraction``); see
``PresenceRule``.

Each frame is sanitised (``preprocess.sanitize``: a non-finite or absurd coordinate is a missing joint) before it
is judged or converted, so such a joint never counts towards a person nor leaks into a conversion; then it is
converted to the model's layout. A frame whose timestamp is not finite (or beyond ``MAX_TIMESTAMP_S``), or not
after the slot's previous frame, is refused (``push`` returns False): one bad clock
reading never poisons the frames after it.

What the batched buffer saves against one deque of per-frame arrays per person (the path's cost:
``partkd-stream bench --people``): a push only copies the skeleton and its time; the frames pushed since the last reading (a
prediction is due every few frames) are sanitised, judged and converted together, for everyone, in one call each;
frames are written once into ``[slots, capacity, V, C]`` and gathered by index instead of re-stacked for every
prediction; the conversion and the presence rule's joints are built once per source layout, not every frame.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Optional, Sequence

import numpy as np

from .convert import Conversion, conversion
from .layouts import LAYOUTS, get_layout
from .preprocess import PreprocessConfig, blend_frames, is_number, model_input, resample_indices, sanitize
from .spec import check_object

MAX_TIMESTAMP_S = 1e9   # ~32 years: a stream clock beyond that is corrupt, not a long recording


BODY_SIDE = ("shoulder", "elbow", "wrist", "hip", "knee", "ankle")   # one side's body joints, without the side
LEG = ("hip", "knee", "ankle")


def _both_sides(joints: Sequence[str]) -> tuple[str, ...]:
    return tuple(f"{side}_{j}" for j in joints for side in ("left", "right"))


def _side_of(joint: str) -> Optional[str]:
    side = joint.split("_", 1)[0]
    return side if side in ("left", "right") else None


@dataclass(frozen=True)
class PresenceRule:
    """When a skeleton is a person to recognise — the model card's optional ``presence`` field (``from_dict``).

    Per frame: for every ``[k, joints]`` of ``seen``, at least ``k`` of those joints with score ≥ ``min_score``.
    ``sides="either"`` judges each side of the body alone — the ``left_*`` joints (with any joint without a side),
    then the ``right_*`` ones — and a frame passes when one side does, so a person in profile, whose far side is
    occluded (score 0, or a low one), counts; ``"both"`` judges the listed joints together. Per prediction: at least
    ``min_fraction`` of the frames of the last ``span_s`` seconds pass. Joints are named (``layouts``), so one rule
    serves every source layout.

    The default (``PRESENCE_RULES["full_body"]``): one side of the body shows 3 of its shoulder, elbow, wrist, hip,
    knee and ankle at ≥ 0.8, one of them on the leg. 0.8 lies between what MediaPipe reports for joints it sees
    (hips, knees, ankles ≥ 0.97 on the NTU calibration clip) and for joints it makes up: the whole skeleton it
    fits onto a foot in ``no_person_pool.mp4`` has its hips, knees and ankles at 0.3–0.4 (median), its elbows and
    wrists at 0.4–0.6, only its shoulders and face high; hips and legs out of the image get 0.05–0.4. The leg
    joint keeps a person at a desk (hips and legs out of view) out of a full-body model; an upper-body model's card
    says ``"upper_body"``: one side shows its shoulder and its elbow or wrist at ≥ 0.7 — a person in profile at a
    desk counts, MediaPipe's made-up skeleton on the empty pool (elbows and wrists 0.4–0.6) does not (the everyday
    model: 0 events there, 4 under the earlier both-shoulders-at-0.5 rule). Measured (``docs/runtime.md``,
    *Who counts as a person*): Penn Action's test clips with their annotated 0/1 visibility, a person in 96.9 % of
    predictions (both shoulders and hips required, the older default: 32.5 %); the pool video, 11 % of frames and
    at most 49 % of any 2 s span, so no prediction runs there; the NTU A001 and two-person hug videos, every
    frame.

    Cards written before ``seen`` existed say ``torso`` (joints all required), ``arms`` and ``min_arm_joints``
    (that many of the ``arms`` joints), judged on both sides together at ``min_score`` 0.5 unless given; they are
    read as that rule (``from_dict``).
    """

    min_score: float = 0.8
    span_s: float = 2.0
    min_fraction: float = 0.6
    sides: str = "either"
    seen: tuple[tuple[int, tuple[str, ...]], ...] = ((3, _both_sides(BODY_SIDE)), (1, _both_sides(LEG)))

    def __post_init__(self) -> None:
        checks = (("min_score", 0.0, 1.0), ("min_fraction", 0.0, 1.0), ("span_s", 0.0, 60.0))
        for k, lo, hi in checks:
            v = getattr(self, k)
            if not (is_number(v) and lo <= v <= hi) or (k == "span_s" and v == 0):
                raise ValueError(f"presence {k} must be a number in {'(' if k == 'span_s' else '['}{lo:g}, {hi:g}], "
                                 f"got {v!r}")
        if self.sides not in ("both", "either"):
            raise ValueError(f"presence sides must be 'both' (the joints judged together) or 'either' (each side of "
                             f"the body alone), got {self.sides!r}")
        object.__setattr__(self, "seen", tuple(self._group(g) for g in _as_list(self.seen, "seen")))
        if not self.seen:
            raise ValueError("presence seen must name at least one [count, [joint names]] group")

    def _group(self, g: Any) -> tuple[int, tuple[str, ...]]:
        """One ``[k, joints]`` of ``seen``, checked: ``k`` a whole number that one side (``"either"``) or the whole
        list (``"both"``) can meet."""
        if isinstance(g, (str, bytes)) or not isinstance(g, Sequence) or len(g) != 2:
            raise ValueError(f"presence seen must be a list of [count, [joint names]] pairs, got {g!r}")
        k, joints = g
        joints = _names(joints, "seen")
        most = len(joints) if self.sides == "both" else \
            min(sum(_side_of(j) in (side, None) for j in joints) for side in ("left", "right"))
        if not (is_number(k) and float(k).is_integer() and 1 <= k <= most):
            raise ValueError(f"presence seen [{k!r}, {list(joints)}]: the count must be a whole number from 1 to "
                             f"{most} (the joints {'one side has' if self.sides == 'either' else 'listed'})")
        return int(k), joints

    @property
    def names(self) -> tuple[str, ...]:
        """Every joint the rule reads, once each."""
        return tuple(dict.fromkeys(j for _, joints in self.seen for j in joints))

    def check_names(self) -> None:
        """``ValueError`` for a joint name that no layout has (a typo): the rule is judged in the *source* layout,
        which the card cannot know, so a name only has to exist somewhere (``joints`` checks the source's)."""
        known = {j for name in LAYOUTS for j in get_layout(name).joints}
        unknown = [j for j in self.names if j not in known]
        if unknown:
            raise ValueError(f"presence joint {unknown[0]!r} is no joint of any layout (e.g. left_shoulder, "
                             f"left_hip, left_wrist)")

    def joints(self, layout: str) -> tuple:
        """The rule compiled for ``layout``, for ``passes``: per side judged, per group, (joint indices, count).
        ``ValueError`` naming a joint the layout lacks."""
        lay = get_layout(layout)
        missing = [j for j in self.names if j not in lay.joints]
        if missing:
            raise ValueError(f"layout {layout} has no joint {missing[0]!r} (the presence rule needs it)")
        sides = (None,) if self.sides == "both" else ("left", "right")
        return tuple(tuple((np.array([lay.index(j) for j in joints if side is None or _side_of(j) in (side, None)],
                                     np.intp), k) for k, joints in self.seen) for side in sides)

    def passes(self, score: np.ndarray, *sides: tuple) -> np.ndarray:
        """Per frame of ``score [..., V]`` (NaN-free), with ``joints(layout)`` unpacked: does it show a person?"""
        hit = score >= self.min_score
        out = np.zeros(score.shape[:-1], bool)
        for groups in sides:
            side = np.ones(score.shape[:-1], bool)
            for idx, k in groups:
                side &= np.count_nonzero(hit[..., idx], axis=-1) >= k
            out |= side
        return out

    def to_dict(self) -> dict:
        return {"min_score": self.min_score, "span_s": self.span_s, "min_fraction": self.min_fraction,
                "sides": self.sides, "seen": [[k, list(joints)] for k, joints in self.seen]}

    @classmethod
    def from_dict(cls, d: Any) -> "PresenceRule":
        """A rule from the card's ``presence`` object; missing fields take the defaults. An object in the older form
        (``torso`` / ``arms`` / ``min_arm_joints``) is read as the rule it was written for. ``ValueError`` with a
        one-line message for anything else."""
        if isinstance(d, dict) and set(d) & set(LEGACY_FIELDS):
            return _legacy_rule(d)
        return cls(**check_object(cls, d, "presence", ValueError))

    def describe(self) -> str:
        """One short phrase, e.g. ``one side: 3 of shoulder/elbow/wrist/hip/knee/ankle, 1 of hip/knee/ankle ≥ 0.8;
        60 % of 2 s``."""
        either = self.sides == "either"
        parts = []
        for k, joints in self.seen:
            if either:
                joints = tuple(dict.fromkeys(j.split("_", 1)[1] if _side_of(j) else j for j in joints))
            parts.append("+".join(joints) if k == len(joints) else f"{k} of {'/'.join(joints)}")
        return (f"{'one side: ' if either else ''}{', '.join(parts)} ≥ {self.min_score:g}; "
                f"{100 * self.min_fraction:.0f} % of {self.span_s:g} s")


LEGACY_FIELDS = ("torso", "arms", "min_arm_joints")


def _legacy_rule(d: dict) -> PresenceRule:
    """A ``presence`` object of the older form: every ``torso`` joint and ``min_arm_joints`` of the ``arms`` joints
    at ≥ ``min_score``, both sides together; its defaults were both shoulders and hips, 2 of the 4 elbows and
    wrists, 0.5."""
    new = sorted(set(d) & {"sides", "seen"})
    if new:
        raise ValueError(f"presence: give seen/sides or the older torso/arms/min_arm_joints, not both (got {new[0]})")
    known = ("min_score", "span_s", "min_fraction") + LEGACY_FIELDS
    unknown = sorted(set(d) - set(known))
    if unknown:
        raise ValueError(f"unknown presence fields {unknown}; known: {list(known)}")
    torso = _names(d.get("torso", _both_sides(("shoulder", "hip"))), "torso")
    arms = _names(d.get("arms", _both_sides(("elbow", "wrist"))), "arms")
    k = d.get("min_arm_joints", 2)
    if not (is_number(k) and float(k).is_integer() and 0 <= k <= len(arms)):
        raise ValueError(f"presence min_arm_joints must be a whole number from 0 to {len(arms)} (the arms joints), "
                         f"got {k!r}")
    seen = ((len(torso), torso),) * bool(torso) + ((int(k), arms),) * bool(k)
    rest = {f: d[f] for f in ("span_s", "min_fraction") if f in d}
    return PresenceRule(min_score=d.get("min_score", 0.5), sides="both", seen=seen, **rest)


def _as_list(v: Any, what: str) -> Sequence:
    if isinstance(v, (str, bytes)) or not isinstance(v, Sequence):
        raise ValueError(f"presence {what} must be a list of [count, [joint names]] pairs, got {v!r}")
    return v


def _names(v: Any, what: str) -> tuple[str, ...]:
    if isinstance(v, (str, bytes)) or not isinstance(v, Sequence) or not all(isinstance(j, str) and j for j in v):
        raise ValueError(f"presence {what} must be a list of joint names, got {v!r}")
    return tuple(v)


PRESENCE_RULES = {
    "full_body": PresenceRule(),                           # one side of the body, a leg joint among what it shows
    "upper_body": PresenceRule(min_score=0.7, sides="either",   # a desk webcam: hips out of frame
                               seen=((1, _both_sides(("shoulder",))), (1, _both_sides(("elbow", "wrist"))))),
}


def presence_rule(spec: str) -> PresenceRule:
    """A rule from a command line: a preset name (``PRESENCE_RULES``) or a JSON object of ``PresenceRule`` fields
    (``ValueError`` with a one-line message otherwise)."""
    import json

    if spec in PRESENCE_RULES:
        return PRESENCE_RULES[spec]
    try:
        d = json.loads(spec)
    except json.JSONDecodeError:
        raise ValueError(f"presence {spec!r}: give a preset ({', '.join(PRESENCE_RULES)}) or a JSON object such as "
                         f"'{{\"sides\": \"either\", \"seen\": [[2, [\"left_shoulder\", \"right_shoulder\", "
                         f"\"left_hip\", \"right_hip\"]]]}}'") from None
    rule = PresenceRule.from_dict(d)
    rule.check_names()
    return rule


def frame_has_person(keypoints: Optional[np.ndarray], layout: str, rule: PresenceRule = PresenceRule()) -> bool:
    """Whether one frame ``[V, C]`` (score last) in ``layout`` shows a person (see ``PresenceRule``)."""
    if keypoints is None:
        return False
    score = np.nan_to_num(np.asarray(keypoints, dtype=np.float32)[:, -1], nan=0.0)
    return bool(rule.passes(score, *rule.joints(layout)))


@dataclass(frozen=True)
class _Source:
    """What a push from one source layout needs, built once: the conversion and the presence rule's joints."""

    conversion: Conversion
    presence: tuple


class TrackWindows:
    """Ring buffers of ``(t, skeleton in the model's layout, shows a person)`` for ``slots`` people.

    Per slot it keeps the frames of the last ``horizon_s`` seconds (at most ``max_frames``: beyond, the oldest
    frame is overwritten; 4096 frames hold the shipped model's 2.5 s up to 1,600 fps). Slots are added with
    ``add_slots``; a slot is emptied with ``clear``. A single person is slot 0.
    """

    def __init__(self, cfg: PreprocessConfig, rule: PresenceRule = PresenceRule(), slots: int = 1,
                 horizon_s: Optional[float] = None, max_frames: int = 4096, capacity: int = 128) -> None:
        self.cfg, self.rule = cfg, rule
        self.horizon_s = horizon_s if horizon_s is not None else max(cfg.window / cfg.fps, rule.span_s) + 0.5
        self.max_frames = max_frames
        v = get_layout(cfg.layout).num_joints
        capacity = max(1, min(capacity, max_frames))
        self.kp = np.zeros((slots, capacity, v, cfg.channels), np.float32)
        self.t = np.zeros((slots, capacity), np.float64)
        self.person = np.zeros((slots, capacity), bool)
        self.head = [0] * slots                  # next write position per slot (Python ints: read every frame)
        self.n = [0] * slots                     # frames held per slot
        self._sources: dict[str, _Source] = {}
        self._pending: list[tuple[int, int, np.ndarray]] = []   # (slot, ring position, skeleton) not yet judged
        self._pending_layout: Optional[str] = None
        self._half_window_s = 0.5 * cfg.window / cfg.fps

    @property
    def slots(self) -> int:
        return self.kp.shape[0]

    @property
    def capacity(self) -> int:
        return self.kp.shape[1]

    def __len__(self) -> int:
        """Frames held by slot 0 (the one person of a single-person stream)."""
        return int(self.n[0])

    def add_slots(self, k: int) -> None:
        """``k`` more empty slots (numbered after the existing ones)."""
        self._resize(self.slots + k, self.capacity)

    def clear(self, slot: int = 0) -> None:
        self._flush()
        self.n[slot] = 0

    def accepts(self, t: float, slot: int = 0) -> bool:
        """Whether a frame at ``t`` can follow ``slot``'s frames: a finite, sane time after its last frame's."""
        return sane_time(t) and bool(self.n[slot] == 0 or t > self.t[slot, self.head[slot] - 1])

    # --- writing ------------------------------------------------------------------------------------------------
    def push(self, keypoints: Optional[np.ndarray], t: float, layout: str, slot: int = 0) -> bool:
        """Add one frame to ``slot`` (``None`` = nobody seen); ``keypoints`` is ``[V, C]`` in ``layout``, score last.

        Returns False, and keeps nothing, when ``t`` is refused (see ``accepts``)."""
        return bool(self.push_many([slot], [keypoints], t, layout)[0])

    def push_many(self, slots: Sequence[int], keypoints: Sequence[Optional[np.ndarray]], t: float,
                  layout: str) -> np.ndarray:
        """One frame at time ``t`` for several slots: ``keypoints[i]`` is ``[V, C]`` in ``layout`` for
        ``slots[i]``, or ``None`` (not seen in this frame). Returns which slots took the frame (a slot refuses a
        ``t`` that is not after its last frame's).

        The skeletons are copied and judged later, all frames since the last reading at once (one sanitise, one
        presence check, one conversion for everyone's last few frames: a prediction is due every few frames)."""
        ok = np.zeros(len(slots), bool)
        if not sane_time(t):
            return ok
        t = float(t)
        if layout != self._pending_layout or len(self._pending) + len(slots) >= self.capacity:
            self._flush()                    # a pending frame is never overwritten, and one layout per batch
            self._source(layout)             # ValueError now, not at the next reading, for a layout without conversion
            self._pending_layout = layout
        for i, (slot, kp) in enumerate(zip(slots, keypoints)):
            n, pos, cap = self.n[slot], self.head[slot], self.capacity
            if n and not t > self.t[slot, pos - 1]:
                continue
            if n == cap and cap < self.max_frames and t - self.t[slot, pos] <= self.horizon_s:
                self._resize(self.slots, min(2 * cap, self.max_frames))    # the oldest is still inside: room
                n, pos, cap = self.n[slot], self.head[slot], self.capacity
            self.t[slot, pos] = t
            if kp is None:
                self.kp[slot, pos] = 0.0
                self.person[slot, pos] = False
            else:
                self._pending.append((slot, pos, np.array(kp, copy=True)))
            self.head[slot] = (pos + 1) % cap
            n = min(n + 1, cap)
            while n > 1 and t - self.t[slot, (pos + 1 - n) % cap] > self.horizon_s:   # cut the horizon
                n -= 1
            self.n[slot] = n
            ok[i] = True
        return ok

    def _flush(self) -> None:
        """Judge and convert the frames pushed since the last reading, in one batch."""
        if not self._pending:
            return
        slots, pos, kps = zip(*self._pending)
        self._pending.clear()
        src = self._source(self._pending_layout)
        kp = sanitize(np.stack(kps), self.cfg.min_score)                     # [P, V_src, C]
        person = self.rule.passes(kp[..., -1], *src.presence)
        if not src.conversion.identity:
            kp = src.conversion(kp)
            # a synthesised joint is missing when one of its sources is: then all 0, as sanitising leaves it
            kp[..., :-1] *= (kp[..., -1:] > 0)
        self.kp[slots, pos], self.person[slots, pos] = kp, person

    def _resize(self, slots: int, capacity: int) -> None:
        """Grow to ``slots`` × ``capacity``, each slot's frames moved to the front, oldest first."""
        self._flush()
        kp = np.zeros((slots, capacity) + self.kp.shape[2:], np.float32)
        ts = np.zeros((slots, capacity), np.float64)
        person = np.zeros((slots, capacity), bool)
        for s in range(self.slots):
            order = self._order(s)
            kp[s, :len(order)], ts[s, :len(order)], person[s, :len(order)] = \
                self.kp[s, order], self.t[s, order], self.person[s, order]
        n = self.n + [0] * (slots - self.slots)
        self.kp, self.t, self.person, self.head, self.n = kp, ts, person, [k % capacity for k in n], n

    def _source(self, layout: str) -> _Source:
        src = self._sources.get(layout)
        if src is None:
            src = _Source(conversion(layout, self.cfg.layout), self.rule.joints(layout))   # ValueError: none
            self._sources[layout] = src
        return src

    # --- reading ------------------------------------------------------------------------------------------------
    def _order(self, slot: int) -> np.ndarray:
        """Ring positions of the slot's frames, oldest first."""
        n = self.n[slot]
        return (self.head[slot] - n + np.arange(n)) % self.capacity

    def frames(self, slot: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The slot's frames, oldest first: times ``[n]``, skeletons ``[n, V, C]`` (model layout, sanitised; a frame
        without anybody is all 0), shows-a-person ``[n]``."""
        self._flush()
        order = self._order(slot)
        return self.t[slot, order], self.kp[slot, order], self.person[slot, order]

    def history_s(self, slot: int = 0) -> float:
        """Seconds of stream the slot holds (time from its first to its last frame)."""
        n = self.n[slot]
        return float(self.t[slot, self.head[slot] - 1] - self.t[slot, (self.head[slot] - n) % self.capacity]) \
            if n else 0.0

    def person_fraction(self, slot: int = 0) -> float:
        """Fraction of the frames of the last ``rule.span_s`` seconds that show a person."""
        if not self.n[slot]:
            return 0.0
        self._flush()
        order = self._order(slot)
        ts = self.t[slot, order]
        recent = self.person[slot, order[ts >= ts[-1] - self.rule.span_s]]
        return float(np.count_nonzero(recent) / len(recent))

    def person_present(self, slot: int = 0) -> bool:
        """Enough of the recent frames show a person (``PresenceRule``)."""
        return self.person_fraction(slot) >= self.rule.min_fraction

    def warmed_up(self, slot: int = 0) -> bool:
        """The stream is at least half a model window long: a window that is mostly padding (the first frames
        of a stream) is never a clip the model was trained on, so it is not judged."""
        return self.history_s(slot) >= self._half_window_s

    def sample_positions(self, slot: int = 0) -> np.ndarray:
        """Positions in ``frames(slot)`` of the ``cfg.window`` instants at the model's fps (``resample_indices``:
        fractional between two frames, -1 = before the first frame: padding)."""
        return resample_indices(self.t[slot, self._order(slot)], self.cfg.fps, self.cfg.window, self.cfg.version)

    def model_input(self, slots: Sequence[int] = (0,)) -> np.ndarray:
        """``[len(slots), C_in, T, V]`` float32: each slot's window resampled to the model's fps and preprocessed,
        as one batch (``take_frames``' steps: positions, then one gather and one ``blend_frames`` for all)."""
        self._flush()
        cfg = self.cfg
        shape = (len(slots), cfg.window)
        lo, hi = np.zeros(shape, np.intp), np.zeros(shape, np.intp)
        w, pad = np.zeros(shape), np.ones(shape, bool)
        for b, slot in enumerate(slots):
            order = self._order(slot)
            if not len(order):
                continue
            pos = resample_indices(self.t[slot, order], cfg.fps, cfg.window, cfg.version)
            first = np.floor(pos)
            pad[b] = first < 0
            i = np.maximum(first, 0).astype(np.intp)
            lo[b], hi[b] = order[i], order[np.minimum(i + 1, len(order) - 1)]
            w[b] = np.where(pad[b], 0.0, pos - first)
        rows = np.asarray(slots, np.intp).reshape(-1, 1)
        win = blend_frames(self.kp[rows, lo], self.kp[rows, hi], w, cfg.min_score)
        win[pad] = 0.0                         # before the first frame: padding, a missing frame
        return model_input(win, cfg)


def sane_time(t: float) -> bool:
    """A timestamp a stream can hold: a finite number within ``MAX_TIMESTAMP_S``."""
    return is_number(t) and math.isfinite(t) and abs(t) <= MAX_TIMESTAMP_S
