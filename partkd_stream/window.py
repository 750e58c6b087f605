"""The live windows: the last few seconds of skeletons of every tracked person, sampled at the model's frame rate
on demand, in one preallocated ring buffer (one person = one slot).

Frames arrive at the source's rate with the source's timestamps (a 60 fps camera, a 25 fps video, a stream with
dropped frames). Each slot keeps its recent frames (``horizon_s``) in the model's layout, and ``model_input``
builds the model input of many slots at once with the SAME steps training uses (``resample_indices`` →
``blend_frames``, as ``take_frames`` does → ``preprocess.model_input``), so a window seen live and a clip seen in
training are sampled and normalised alike (``tests/test_stream_window.py`` checks it).

It also decides whether a person is in view. MediaPipe "detects" a pose in most frames of a video with no full
person (measured on ``no_person_pool.mp4``: legs and feet at a pool's edge, a pose in 78 % of frames, and
shoulders *and* hips reported with visibility > 0.5 in 30 % of frames — the whole skeleton squeezed onto one
foot). So a frame counts as showing a person only when its upper body is seen (``frame_has_person``), and a
prediction is made for a person only when most recent frames show one (``person_fraction``); see
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
from dataclasses import asdict, dataclass
from typing import Any, Optional, Sequence

import numpy as np

from .convert import Conversion, conversion
from .layouts import LAYOUTS, get_layout
from .preprocess import PreprocessConfig, blend_frames, is_number, model_input, resample_indices, sanitize
from .spec import check_object

MAX_TIMESTAMP_S = 1e9   # ~32 years: a stream clock beyond that is corrupt, not a long recording


@dataclass(frozen=True)
class PresenceRule:
    """When a skeleton is a person to recognise — the model card's optional ``presence`` field (``from_dict``).

    Per frame: every ``torso`` joint with score ≥ ``min_score``, and at least ``min_arm_joints`` of the ``arms``
    joints too. Per prediction: at least ``min_fraction`` of the frames of the last ``span_s`` seconds pass.
    Joints are named (``layouts``), so one rule serves every source layout. The default is the full-body rule
    (``PRESENCE_RULES["full_body"]``); an upper-body model's card names the shoulders alone as its torso
    (``"upper_body"``), so a person at a desk, hips out of frame, counts.
    Measured with MediaPipe (model_complexity=1) and the defaults (both shoulders and hips; 2 of the 4 elbows and
    wrists): frames passing on ``no_person_pool.mp4`` 10 %, at most 33 % of any 2 s span; on the NTU A001 and
    two-person hug videos 100 % of frames.
    """

    min_score: float = 0.5
    min_arm_joints: int = 2
    span_s: float = 2.0
    min_fraction: float = 0.6
    torso: tuple[str, ...] = ("left_shoulder", "right_shoulder", "left_hip", "right_hip")
    arms: tuple[str, ...] = ("left_elbow", "right_elbow", "left_wrist", "right_wrist")

    def __post_init__(self) -> None:
        for k in ("torso", "arms"):
            v = getattr(self, k)
            if isinstance(v, str) or not all(isinstance(j, str) and j for j in v):
                raise ValueError(f"presence {k} must be a list of joint names, got {v!r}")
            object.__setattr__(self, k, tuple(v))
        checks = (("min_score", 0.0, 1.0), ("min_fraction", 0.0, 1.0), ("span_s", 0.0, 60.0))
        for k, lo, hi in checks:
            v = getattr(self, k)
            if not (is_number(v) and lo <= v <= hi) or (k == "span_s" and v == 0):
                raise ValueError(f"presence {k} must be a number in {'(' if k == 'span_s' else '['}{lo:g}, {hi:g}], "
                                 f"got {v!r}")
        if not (is_number(self.min_arm_joints) and float(self.min_arm_joints).is_integer()
                and 0 <= self.min_arm_joints <= len(self.arms)):
            raise ValueError(f"presence min_arm_joints must be a whole number from 0 to {len(self.arms)} (the arms "
                             f"joints), got {self.min_arm_joints!r}")
        object.__setattr__(self, "min_arm_joints", int(self.min_arm_joints))

    def check_names(self) -> None:
        """``ValueError`` for a joint name that no layout has (a typo): the rule is judged in the *source* layout,
        which the card cannot know, so a name only has to exist somewhere (``joints`` checks the source's)."""
        known = {j for name in LAYOUTS for j in get_layout(name).joints}
        unknown = [j for j in self.torso + self.arms if j not in known]
        if unknown:
            raise ValueError(f"presence joint {unknown[0]!r} is no joint of any layout (e.g. left_shoulder, "
                             f"left_hip, left_wrist)")

    def joints(self, layout: str) -> tuple[np.ndarray, np.ndarray]:
        """Indices of the ``torso`` and ``arms`` joints in ``layout`` (``ValueError`` naming a joint it lacks)."""
        lay = get_layout(layout)
        missing = [j for j in self.torso + self.arms if j not in lay.joints]
        if missing:
            raise ValueError(f"layout {layout} has no joint {missing[0]!r} (the presence rule needs it)")
        return (np.array([lay.index(j) for j in self.torso], np.intp),
                np.array([lay.index(j) for j in self.arms], np.intp))

    def passes(self, score: np.ndarray, torso: np.ndarray, arms: np.ndarray) -> np.ndarray:
        """Per frame of ``score [..., V]`` (NaN-free), with ``joints``' indices: does it show a person?"""
        return ((score[..., torso] >= self.min_score).all(-1)
                & ((score[..., arms] >= self.min_score).sum(-1) >= self.min_arm_joints))

    def to_dict(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, d: Any) -> "PresenceRule":
        """A rule from the card's ``presence`` object; missing fields take the full-body defaults. ``ValueError``
        with a one-line message for anything else."""
        return cls(**check_object(cls, d, "presence", ValueError))

    def describe(self) -> str:
        """One short phrase, e.g. ``left_shoulder+right_shoulder, 2 of 4 arm joints ≥ 0.5; 60 % of 2 s``."""
        arms = f", {self.min_arm_joints} of {len(self.arms)} arm joints" if self.min_arm_joints else ""
        return (f"{'+'.join(self.torso) or 'no torso joint'}{arms} ≥ {self.min_score:g}; "
                f"{100 * self.min_fraction:.0f} % of {self.span_s:g} s")


PRESENCE_RULES = {
    "full_body": PresenceRule(),                                              # both shoulders and both hips
    "upper_body": PresenceRule(torso=("left_shoulder", "right_shoulder")),  # a desk webcam: hips out of frame
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
                         f"'{{\"torso\": [\"left_shoulder\", \"right_shoulder\"]}}'") from None
    rule = PresenceRule.from_dict(d)
    rule.check_names()
    return rule


def frame_has_person(keypoints: Optional[np.ndarray], layout: str, rule: PresenceRule = PresenceRule()) -> bool:
    """Whether one frame ``[V, C]`` (score last) in ``layout`` shows an upper body (see ``PresenceRule``)."""
    if keypoints is None:
        return False
    score = np.nan_to_num(np.asarray(keypoints, dtype=np.float32)[:, -1], nan=0.0)
    return bool(rule.passes(score, *rule.joints(layout)))


@dataclass(frozen=True)
class _Source:
    """What a push from one source layout needs, built once: the conversion and the presence rule's joints."""

    conversion: Conversion
    torso: np.ndarray
    arms: np.ndarray


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
        person = self.rule.passes(kp[..., -1], src.torso, src.arms)
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
            src = _Source(conversion(layout, self.cfg.layout), *self.rule.joints(layout))   # ValueError: none
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
