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

MAX_COST = 0.25         # between consecutive frames a body moves less than a quarter of its size …
GAP_COST_PER_S = 1.0    # … plus one body size per second it has not been seen
_UNMATCHABLE = 1e6


@dataclass
class Track:
    """One person over time; ``id`` is ``None`` while the track is tentative."""

    id: Optional[int]
    keypoints: np.ndarray            # last seen skeleton [V, C]
    t: float                         # when it was last seen
    velocity: np.ndarray = field(default_factory=lambda: np.zeros(2, np.float32))   # pixels / second
    hits: int = 1
    missed: int = 0                  # frames in a row without a match

    def predicted_xy(self, t: float) -> np.ndarray:
        """``[V, 2]`` joint positions moved along the track's velocity to time ``t``."""
        return self.keypoints[:, :2] + self.velocity * float(t - self.t)


@dataclass(frozen=True)
class TrackerUpdate:
    """What one frame did to the tracks."""

    people: list[tuple[int, np.ndarray]]   # (id, skeleton) of every confirmed person seen in this frame
    missing: list[int]                     # confirmed ids alive but not seen in this frame
    started: list[int]                     # ids confirmed in this frame
    ended: list[int]                       # ids whose person has been gone longer than ``max_missed_s``


def body_size(xy: np.ndarray, seen: np.ndarray) -> float:
    """Larger side of the box around the seen joints (pixels); 1 when fewer than two are seen."""
    pts = xy[seen]
    if len(pts) < 2:
        return 1.0
    return float(max(np.ptp(pts[:, 0]), np.ptp(pts[:, 1]), 1.0))


def skeleton_distance(a_xy: np.ndarray, a_seen: np.ndarray, b_xy: np.ndarray, b_seen: np.ndarray,
                      min_common: int = 3) -> float:
    """Mean distance of the joints both skeletons show, in units of the larger body size; with fewer than
    ``min_common`` such joints, the distance of the centres of the seen joints."""
    scale = max(body_size(a_xy, a_seen), body_size(b_xy, b_seen))
    both = a_seen & b_seen
    if both.sum() >= min_common:
        return float(np.linalg.norm(a_xy[both] - b_xy[both], axis=1).mean() / scale)
    if not a_seen.any() or not b_seen.any():
        return _UNMATCHABLE
    return float(np.linalg.norm(a_xy[a_seen].mean(0) - b_xy[b_seen].mean(0)) / scale)


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
        dets = [np.asarray(p, dtype=np.float32) for p in people]
        seen = [d[:, -1] >= self.min_score for d in dets]
        cost = np.full((len(self.tracks), len(dets)), _UNMATCHABLE)
        gate = np.array([self.max_cost + self.gap_cost_per_s * (t - tr.t) for tr in self.tracks])
        for i, tr in enumerate(self.tracks):
            pred, tr_seen = tr.predicted_xy(t), tr.keypoints[:, -1] >= self.min_score
            for j, d in enumerate(dets):
                cost[i, j] = skeleton_distance(pred, tr_seen, d[:, :2], seen[j])
        cost[cost > gate[:, None]] = _UNMATCHABLE        # out of reach: never traded for a better total
        rows, cols = linear_sum_assignment(cost) if cost.size else (np.zeros(0, int), np.zeros(0, int))
        matched = {int(r): int(c) for r, c in zip(rows, cols) if cost[r, c] < _UNMATCHABLE}

        started: list[int] = []
        for i, tr in enumerate(self.tracks):
            if i in matched:
                self._observe(tr, dets[matched[i]], t)
                if tr.id is None and tr.hits >= self.confirm_hits:
                    tr.id = self._take_id()
                    started.append(tr.id)
            else:
                tr.missed += 1
        claimed = set(matched.values())
        for j, d in enumerate(dets):
            if j not in claimed:
                tr = Track(id=None, keypoints=d, t=t)
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

    def finish(self) -> list[int]:
        """End of the stream: the ids still alive, now ended."""
        ended = sorted(tr.id for tr in self.tracks if tr.id is not None)
        self.tracks = []
        return ended

    def _observe(self, tr: Track, kp: np.ndarray, t: float) -> None:
        dt = t - tr.t
        both = (tr.keypoints[:, -1] >= self.min_score) & (kp[:, -1] >= self.min_score)
        if dt > 0 and both.sum() >= 3:
            step = np.median(kp[both, :2] - tr.keypoints[both, :2], axis=0) / dt
            tr.velocity = (step if tr.hits == 1 else 0.5 * tr.velocity + 0.5 * step).astype(np.float32)
        tr.keypoints, tr.t = kp, t
        tr.hits += 1
        tr.missed = 0

    def _take_id(self) -> int:
        self._next_id += 1
        return self._next_id - 1
