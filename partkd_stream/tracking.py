"""Persistent person ids across frames: each frame's skeletons are matched to tracks, tracks survive short misses.

One ``PersonTracker`` per stream; ``update(people, t)`` once per frame with that frame's skeletons (any layout,
``[V, C]`` with the score last, pixels). Matching is one optimal assignment per frame
(``scipy.optimize.linear_sum_assignment``) on a *skeleton distance*: the mean distance between the joints both
skeletons show, after moving the track by its own velocity to time ``t``, divided by the larger body size. That
keeps two people apart while they hug (their boxes overlap; their joints do not) and while they cross (each
track is predicted along its own path). A match must be within reach: ``max_cost`` body sizes between
consecutive frames, plus ``gap_cost_per_s`` body sizes per second the track has not been seen.

- A skeleton no track claims starts a *tentative* track; it gets an id (1, 2, 3, … per stream) once it has been
  seen in ``confirm_hits`` frames, so a one-frame ghost of the pose estimator never becomes a person.
- A confirmed track that is not seen stays alive, predicted, for ``max_missed_s`` seconds (a person walking
  behind another), then *ends*: ``TrackerUpdate.ended`` says so once, so the runtime can close that person's
  events. Ids are never reused within a stream.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional, Sequence

import numpy as np
from scipy.optimize import linear_sum_assignment

from .preprocess import MAX_ABS_COORD, nanmedian_last

MAX_COST = 0.25         # between consecutive frames a body moves less than a quarter of its size …
GAP_COST_PER_S = 1.0    # … plus one body size per second it has not been seen
_UNMATCHABLE = 1e6


@dataclass
class Track:
    """One person over time; ``id`` is ``None`` while the track is tentative."""

    id: Optional[int]
    keypoints: np.ndarray            # last seen skeleton [V, C], as given
    xy: np.ndarray                   # its joints [V, 2], 0 where not seen
    seen: np.ndarray                 # [V] joints to match on
    size: float                      # body size (``body_sizes``) of that skeleton
    t: float                         # when it was last seen
    velocity: np.ndarray = field(default_factory=lambda: np.zeros(2, np.float32))   # pixels / second
    hits: int = 1
    missed: int = 0                  # frames in a row without a match

    def predicted_xy(self, t: float) -> np.ndarray:
        """``[V, 2]`` joint positions moved along the track's velocity to time ``t``."""
        return self.xy + self.velocity * float(t - self.t)


@dataclass(frozen=True)
class TrackerUpdate:
    """What one frame did to the tracks."""

    people: list[tuple[int, np.ndarray]]   # (id, skeleton) of every confirmed person seen in this frame
    missing: list[int]                     # confirmed ids alive but not seen in this frame
    started: list[int]                     # ids confirmed in this frame
    ended: list[int]                       # ids whose person has been gone longer than ``max_missed_s``


def body_sizes(xy: np.ndarray, seen: np.ndarray) -> np.ndarray:
    """``[N]``: larger side of the box around each skeleton's seen joints (``xy [N, V, 2]``, ``seen [N, V]``;
    pixels), at least 1; 1 when fewer than two joints are seen."""
    lo = np.where(seen[..., None], xy, np.inf).min(1)
    hi = np.where(seen[..., None], xy, -np.inf).max(1)
    size = np.maximum((hi - lo).max(-1), 1.0)
    return np.where(seen.sum(-1) >= 2, size, 1.0)


def skeleton_distances(a_xy: np.ndarray, a_seen: np.ndarray, b_xy: np.ndarray, b_seen: np.ndarray,
                       min_common: int = 3, a_size: Optional[np.ndarray] = None,
                       b_size: Optional[np.ndarray] = None) -> np.ndarray:
    """``[A, B]``: for every pair, the mean distance of the joints both skeletons show, in units of the larger body
    size; with fewer than ``min_common`` such joints, the distance of the centres of the seen joints; unmatchable
    (1e6) when either shows none. ``*_xy [N, V, 2]`` are 0 where a joint is not seen; ``*_size``: their
    ``body_sizes`` when known."""
    a_size = body_sizes(a_xy, a_seen) if a_size is None else a_size
    b_size = body_sizes(b_xy, b_seen) if b_size is None else b_size
    scale = np.maximum(a_size[:, None], b_size[None])
    both = a_seen[:, None] & b_seen[None]                                          # [A, B, V]
    common = both.sum(-1)
    diff = a_xy[:, None] - b_xy[None]
    mean = (np.sqrt((diff * diff).sum(-1)) * both).sum(-1) / np.maximum(common, 1)
    na, nb = a_seen.sum(-1), b_seen.sum(-1)
    ca = a_xy.sum(1) / np.maximum(na, 1)[:, None]
    cb = b_xy.sum(1) / np.maximum(nb, 1)[:, None]
    centres = np.sqrt(((ca[:, None] - cb[None]) ** 2).sum(-1))
    out = np.where(common >= min_common, mean, centres) / scale
    return np.where((na[:, None] > 0) & (nb[None] > 0), out, _UNMATCHABLE)


def skeleton_distance(a_xy: np.ndarray, a_seen: np.ndarray, b_xy: np.ndarray, b_seen: np.ndarray,
                      min_common: int = 3) -> float:
    """``skeleton_distances`` of one pair (``[V, 2]`` each, any value where not seen)."""
    a = np.where(a_seen[:, None], a_xy, 0.0)[None]
    b = np.where(b_seen[:, None], b_xy, 0.0)[None]
    return float(skeleton_distances(a, a_seen[None], b, b_seen[None], min_common)[0, 0])


class PersonTracker:
    """Ids for the people of one stream (see the module docstring)."""

    def __init__(self, max_missed_s: float = 0.5, confirm_hits: int = 3, max_cost: float = MAX_COST,
                 gap_cost_per_s: float = GAP_COST_PER_S, min_score: float = 0.3) -> None:
        if confirm_hits < 1 or max_missed_s < 0 or max_cost <= 0 or gap_cost_per_s < 0:
            raise ValueError("confirm_hits must be ≥ 1, max_missed_s ≥ 0, max_cost > 0 and gap_cost_per_s ≥ 0")
        self.max_missed_s, self.confirm_hits, self.max_cost = max_missed_s, confirm_hits, max_cost
        self.gap_cost_per_s = gap_cost_per_s
        self.min_score = min_score
        self.tracks: list[Track] = []
        self._next_id = 1
        self.last_t: Optional[float] = None

    def update(self, people: Sequence[np.ndarray], t: float) -> TrackerUpdate:
        """Match this frame's skeletons (``[V, C]`` each, score last) to the tracks at time ``t`` (seconds)."""
        if self.last_t is not None and t <= self.last_t:
            t = self.last_t + 1e-6   # a repeated clock reading is nudged, as in the window
        self.last_t = t
        with np.errstate(over="ignore", invalid="ignore"):   # 1e300 → float32 inf: a joint not seen
            dets = [np.asarray(p, dtype=np.float32) for p in people]
        if dets:
            stacked = np.stack(dets)
            seen = self._seen(stacked)                                               # [D, V]
            xy = np.where(seen[..., None], stacked[..., :2], np.float32(0))
            size = body_sizes(xy, seen)
        matched: dict[int, int] = {}
        if dets and self.tracks:
            pred = np.stack([tr.predicted_xy(t) for tr in self.tracks])
            cost = skeleton_distances(pred, np.stack([tr.seen for tr in self.tracks]), xy, seen,
                                      a_size=np.array([tr.size for tr in self.tracks]), b_size=size)
            gate = np.array([self.max_cost + self.gap_cost_per_s * (t - tr.t) for tr in self.tracks])
            cost[cost > gate[:, None]] = _UNMATCHABLE        # out of reach: never traded for a better total
            rows, cols = linear_sum_assignment(cost)
            matched = {int(r): int(c) for r, c in zip(rows, cols) if cost[r, c] < _UNMATCHABLE}

        started: list[int] = []
        if matched:
            js = list(matched.values())
            self._observe([self.tracks[i] for i in matched], [dets[j] for j in js], xy[js], seen[js], size[js], t)
        for i, tr in enumerate(self.tracks):
            if i in matched:
                if tr.id is None and tr.hits >= self.confirm_hits:
                    tr.id = self._take_id()
                    started.append(tr.id)
            else:
                tr.missed += 1
        claimed = set(matched.values())
        for j, d in enumerate(dets):
            if j not in claimed:
                tr = Track(id=None, keypoints=d, xy=xy[j], seen=seen[j], size=float(size[j]), t=t)
                if self.confirm_hits <= 1:
                    tr.id = self._take_id()
                    started.append(tr.id)
                self.tracks.append(tr)

        ended = [tr.id for tr in self.tracks if tr.id is not None and tr.missed and t - tr.t > self.max_missed_s]
        # a tentative track must be seen in consecutive frames; a confirmed one may miss up to max_missed_s
        self.tracks = [tr for tr in self.tracks
                       if not (tr.missed and (tr.id is None or t - tr.t > self.max_missed_s))]
        people_out = [(tr.id, tr.keypoints) for tr in self.tracks if tr.id is not None and tr.missed == 0]
        missing = [tr.id for tr in self.tracks if tr.id is not None and tr.missed > 0]
        return TrackerUpdate(people=sorted(people_out, key=lambda p: p[0]), missing=sorted(missing),
                             started=started, ended=sorted(ended))

    def _seen(self, kp: np.ndarray) -> np.ndarray:
        """Joints to match on: score ≥ ``min_score`` at a sane place (a NaN, infinite or absurd coordinate is not
        seen, as in ``preprocess.sanitize``)."""
        return (kp[..., -1] >= self.min_score) & (np.abs(kp[..., :-1]) <= MAX_ABS_COORD).all(-1)

    def reset(self) -> None:
        """Forget every track (a new stream): ids start again from 1."""
        self.tracks, self._next_id, self.last_t = [], 1, None

    def finish(self) -> list[int]:
        """End of the stream: the ids still alive, now ended."""
        ended = sorted(tr.id for tr in self.tracks if tr.id is not None)
        self.tracks = []
        return ended

    def _observe(self, tracks: list[Track], kps: list[np.ndarray], xy: np.ndarray, seen: np.ndarray,
                 size: np.ndarray, t: float) -> None:
        """Matched tracks take their new skeletons; velocity = median joint displacement / time (when at least 3
        joints are seen in both), averaged with the previous velocity."""
        both = np.stack([tr.seen for tr in tracks]) & seen                         # [M, V]
        step = xy - np.stack([tr.xy for tr in tracks])                              # [M, V, 2]
        step = nanmedian_last(np.where(both[..., None], step, np.nan).transpose(0, 2, 1))   # [M, 2]
        for tr, kp, txy, tseen, tsize, st, nb in zip(tracks, kps, xy, seen, size, step, both.sum(-1)):
            dt = t - tr.t
            if dt > 0 and nb >= 3:
                v = st / dt
                tr.velocity = (v if tr.hits == 1 else 0.5 * tr.velocity + 0.5 * v).astype(np.float32)
            tr.keypoints, tr.xy, tr.seen, tr.size, tr.t = kp, txy, tseen, float(tsize), t
            tr.hits += 1
            tr.missed = 0

    def _take_id(self) -> int:
        self._next_id += 1
        return self._next_id - 1
