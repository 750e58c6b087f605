"""Persistent person ids across frames: each frame's skeletons are matched to tracks, tracks survive short misses.

One ``PersonTracker`` per stream; ``update(people, t)`` once per frame with that frame's skeletons (any layout,
``[V, C]`` with the score last, pixels). Matching is one optimal assignment per frame
(``scipy.optimize.linear_sum_assignment``) on a *skeleton distance*: the mean distance between the joints both
skeletons show, after moving the track by its own velocity to time ``t``, divided by the larger body size. That
keeps two people apart while they hug (their boxes overlap; their joints do not) and while they cross (each
track is predicted along its own path). A match must be within reach: ``max_cost`` body sizes between
consecutive frames, plus ``gap_cost_per_s`` body sizes per second the track has not been seen. Only pairs whose
boxes lie within that reach are measured (a joint can be no nearer its match than the boxes are), and the
assignment is solved per group of tracks and skeletons that could match each other: a crowd of 500 costs about
what 500 separate people do, not 500².

- A skeleton no track claims starts a *tentative* track; it gets an id (1, 2, 3, … per stream) once it has been
  seen in ``confirm_hits`` of the last ``confirm_frames`` frames (3 of 5), so a one-frame ghost of the pose
  estimator never becomes a person, while a real one the detector misses every third frame (small people
  flicker so) does. A tentative track missed in more than ``confirm_frames - confirm_hits`` frames in a row (3) is
  dropped.
- A confirmed track that is not seen stays alive, predicted, for ``max_missed_s`` seconds (a person walking
  behind another), then *ends*: ``TrackerUpdate.ended`` says so once, so the runtime can close that person's
  events. Ids are never reused within a stream.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np
from scipy.optimize import linear_sum_assignment
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from .preprocess import MAX_ABS_COORD, median_where

MAX_COST = 0.25         # between consecutive frames a body moves less than a quarter of its size …
GAP_COST_PER_S = 1.0    # … plus one body size per second it has not been seen
_UNMATCHABLE = 1e6


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
    return _sizes(_boxes(xy, seen), seen)


def _sizes(box: np.ndarray, seen: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore"):   # an empty box: inf − inf
        size = np.maximum((box[:, 1] - box[:, 0]).max(-1), 1.0)
    return np.where(seen.sum(-1) >= 2, size, 1.0)


def skeleton_distances(a_xy: np.ndarray, a_seen: np.ndarray, b_xy: np.ndarray, b_seen: np.ndarray,
                       min_common: int = 3, a_size: Optional[np.ndarray] = None,
                       b_size: Optional[np.ndarray] = None) -> np.ndarray:
    """``[A, B]``: for every pair, the mean distance of the joints both skeletons show, in units of the larger body
    size; with fewer than ``min_common`` such joints, the distance of the centres of the seen joints; unmatchable
    (1e6) when either shows none. ``*_xy [N, V, 2]`` are 0 where a joint is not seen; ``*_size``: their
    ``body_sizes`` when known."""
    ia, ib = np.divmod(np.arange(len(a_xy) * len(b_xy)), len(b_xy))
    return pair_distances(a_xy, a_seen, b_xy, b_seen, ia, ib, min_common, a_size, b_size).reshape(len(a_xy),
                                                                                                  len(b_xy))


def pair_distances(a_xy: np.ndarray, a_seen: np.ndarray, b_xy: np.ndarray, b_seen: np.ndarray, ia: np.ndarray,
                   ib: np.ndarray, min_common: int = 3, a_size: Optional[np.ndarray] = None,
                   b_size: Optional[np.ndarray] = None) -> np.ndarray:
    """``skeleton_distances`` of the pairs ``(a[ia[k]], b[ib[k]])`` only: ``[P]``."""
    a_size = body_sizes(a_xy, a_seen) if a_size is None else a_size
    b_size = body_sizes(b_xy, b_seen) if b_size is None else b_size
    scale = np.maximum(a_size[ia], b_size[ib])
    both = a_seen[ia] & b_seen[ib]                                                 # [P, V]
    common = both.sum(-1)
    diff = a_xy[ia] - b_xy[ib]
    out = (np.sqrt((diff * diff).sum(-1)) * both).sum(-1) / np.maximum(common, 1) / scale
    few = common < min_common
    if few.any():                                  # the usual frame has none: no centres to compute
        na, nb = a_seen.sum(-1), b_seen.sum(-1)
        ca = a_xy.sum(1) / np.maximum(na, 1)[:, None]
        cb = b_xy.sum(1) / np.maximum(nb, 1)[:, None]
        centres = np.sqrt(((ca[ia] - cb[ib]) ** 2).sum(-1)) / scale
        out = np.where(few, np.where((na[ia] > 0) & (nb[ib] > 0), centres, _UNMATCHABLE), out)
    return out


def _boxes(xy: np.ndarray, seen: np.ndarray) -> np.ndarray:
    """``[N, 2, 2]``: the lower and upper corners of the box around each skeleton's seen joints (``±inf`` when none
    is seen)."""
    return np.stack([np.where(seen[..., None], xy, np.inf).min(1), np.where(seen[..., None], xy, -np.inf).max(1)],
                    1)


def _near_pairs(a: np.ndarray, b: np.ndarray, reach: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The pairs ``(i, j)`` whose boxes lie within ``reach[i, j]`` pixels of each other (overlapping boxes are 0
    apart; an empty box is infinitely far). No joint of one skeleton is nearer a joint of the other than their
    boxes are, so neither is their mean joint distance nor their centres' distance: every pair left out is out of
    reach."""
    with np.errstate(invalid="ignore"):
        gaps = []
        for k in (0, 1):   # x, then y: two [A, B] arrays rather than one [A, B, 2]
            lo_a, hi_a = a[:, 0, k].astype(np.float32), a[:, 1, k].astype(np.float32)
            lo_b, hi_b = b[:, 0, k].astype(np.float32), b[:, 1, k].astype(np.float32)
            g = np.maximum(lo_a[:, None] - hi_b[None], lo_b[None] - hi_a[:, None])
            np.maximum(g, 0, out=g)
            gaps.append(g)
        far = gaps[0] * gaps[0] + gaps[1] * gaps[1] > np.square(reach, dtype=np.float32)
    return np.nonzero(~far)


def assign(n: int, d: int, rows: np.ndarray, cols: np.ndarray, cost: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The optimal assignment of ``n`` tracks to ``d`` skeletons given the pairs that may match (``rows``, ``cols``,
    ``cost``): as many pairs as possible, then the least total cost — what one ``linear_sum_assignment`` over the
    full matrix (other pairs unmatchable) gives, solved per connected group of pairs. Returns matched
    ``(rows, cols)``."""
    if not len(rows):
        return rows, cols
    if n * d <= 64:                                # a few people: one small matrix is cheaper than finding groups
        m = np.full((n, d), _UNMATCHABLE)
        m[rows, cols] = cost
        i, j = linear_sum_assignment(m)
        keep = m[i, j] < _UNMATCHABLE
        return i[keep], j[keep]
    graph = coo_matrix((np.ones(len(rows)), (rows, n + cols)), shape=(n + d, n + d))
    _, label = connected_components(graph, directed=False)
    group = label[rows]
    size = np.bincount(group, minlength=label.max() + 1)
    single = size[group] == 1                      # a track and a skeleton that only each other could match
    out_r, out_c = [rows[single]], [cols[single]]
    for g in np.unique(group[~single]):
        k = np.flatnonzero(group == g)
        r_ids, r = np.unique(rows[k], return_inverse=True)
        c_ids, c = np.unique(cols[k], return_inverse=True)
        m = np.full((len(r_ids), len(c_ids)), _UNMATCHABLE)
        m[r, c] = cost[k]
        i, j = linear_sum_assignment(m)
        keep = m[i, j] < _UNMATCHABLE
        out_r.append(r_ids[i[keep]])
        out_c.append(c_ids[j[keep]])
    return np.concatenate(out_r), np.concatenate(out_c)


def skeleton_distance(a_xy: np.ndarray, a_seen: np.ndarray, b_xy: np.ndarray, b_seen: np.ndarray,
                      min_common: int = 3) -> float:
    """``skeleton_distances`` of one pair (``[V, 2]`` each, any value where not seen)."""
    a = np.where(a_seen[:, None], a_xy, 0.0)[None]
    b = np.where(b_seen[:, None], b_xy, 0.0)[None]
    return float(skeleton_distances(a, a_seen[None], b, b_seen[None], min_common)[0, 0])


class PersonTracker:
    """Ids for the people of one stream (see the module docstring). The tracks are held as arrays, one row per
    track (last skeleton, its seen joints and body size, time seen, velocity, hits, frames missed): a frame costs
    the same few array operations for one person or ten."""

    def __init__(self, max_missed_s: float = 0.5, confirm_hits: int = 3, max_cost: float = MAX_COST,
                 gap_cost_per_s: float = GAP_COST_PER_S, min_score: float = 0.3,
                 confirm_frames: Optional[int] = None) -> None:
        """``confirm_frames``: the last frames in which ``confirm_hits`` sightings confirm a track (default
        ``confirm_hits + 2``: 3 of 5; ``confirm_hits`` itself: that many frames in a row)."""
        confirm_frames = confirm_hits + 2 if confirm_frames is None else confirm_frames
        if (confirm_hits < 1 or not confirm_hits <= confirm_frames <= 62 or max_missed_s < 0 or max_cost <= 0
                or gap_cost_per_s < 0):
            raise ValueError("confirm_hits must be ≥ 1, confirm_frames from confirm_hits to 62, max_missed_s ≥ 0, "
                             "max_cost > 0 and gap_cost_per_s ≥ 0")
        self.max_missed_s, self.confirm_hits, self.max_cost = max_missed_s, confirm_hits, max_cost
        self.confirm_frames = confirm_frames
        self.gap_cost_per_s = gap_cost_per_s
        self.min_score = min_score
        self.reset()

    def reset(self) -> None:
        """Forget every track (a new stream): ids start again from 1."""
        self._ids: list[Optional[int]] = []          # None while a track is tentative
        self._kp: list[np.ndarray] = []              # last seen skeleton [V, C], as given
        self._xy = np.zeros((0, 0, 2), np.float32)   # its joints, 0 where not seen
        self._seen = np.zeros((0, 0), bool)          # joints to match on
        self._size = np.zeros(0)                     # body size (``body_sizes``)
        self._box = np.zeros((0, 2, 2))              # box around the seen joints (``_boxes``)
        self._t = np.zeros(0)                        # when last seen
        self._vel = np.zeros((0, 2))                 # pixels / second
        self._hits = np.zeros(0, np.int64)
        self._recent = np.zeros(0, np.int64)         # bit k: seen k frames ago (the last ``confirm_frames``)
        self._missed = np.zeros(0, np.int64)         # frames in a row without a match
        self._next_id = 1
        self.last_t: Optional[float] = None

    def update(self, people: Sequence[np.ndarray], t: float) -> TrackerUpdate:
        """Match this frame's skeletons (``[V, C]`` each, score last) to the tracks at time ``t`` (seconds)."""
        if self.last_t is not None and t <= self.last_t:
            t = self.last_t + 1e-6   # a repeated clock reading is nudged, as in the window
        self.last_t = t
        with np.errstate(over="ignore", invalid="ignore"):   # 1e300 → float32 inf: a joint not seen
            dets = [np.asarray(p, dtype=np.float32) for p in people]
        n, d = len(self._ids), len(dets)
        if d:
            stacked = np.stack(dets)
            seen = self._seen_joints(stacked)                                        # [D, V]
            xy = np.where(seen[..., None], stacked[..., :2], np.float32(0))
            box = _boxes(xy, seen)
            size = _sizes(box, seen)
            if n and self._xy.shape[1:] != xy.shape[1:]:
                raise ValueError(f"skeletons of {xy.shape[1]} joints after {self._xy.shape[1]}: a tracker follows "
                                 f"one layout; reset() it for another")
        rows = cols = np.zeros(0, np.int64)
        dt = t - self._t
        if n and d:
            shift = (self._vel * dt[:, None]).astype(np.float32)                      # [N, 2]
            pred = self._xy + shift[:, None, :]
            reach = self.max_cost + self.gap_cost_per_s * dt                           # [N] body sizes
            scale = np.maximum(self._size[:, None], size[None])                        # [N, D]
            near_r, near_c = _near_pairs(self._box + shift[:, None, :], box, reach[:, None] * scale)
            cost = pair_distances(pred, self._seen, xy, seen, near_r, near_c, a_size=self._size, b_size=size)
            ok = cost <= reach[near_r]
            rows, cols = assign(n, d, near_r[ok], near_c[ok], cost[ok])
        self._recent = (self._recent << 1) & ((1 << self.confirm_frames) - 1)
        if len(rows) < len(self._ids):
            unmatched = np.ones(len(self._ids), bool)
            unmatched[rows] = False
            self._missed[unmatched] += 1
        started: list[int] = []
        if len(rows):
            self._observe(rows, cols, xy, seen, box, size, dt[rows], t)
            self._recent[rows] |= 1
            recent_hits = _popcount(self._recent[rows])
            for i, j, hits in zip(rows.tolist(), cols.tolist(), recent_hits.tolist()):
                self._kp[i] = dets[j]
                if self._ids[i] is None and hits >= self.confirm_hits:
                    self._ids[i] = self._take_id()
                    started.append(self._ids[i])
        claimed = set(cols.tolist())
        new = [j for j in range(d) if j not in claimed]
        if new:
            ids = [self._take_id() if self.confirm_hits <= 1 else None for _ in new]
            started += [i for i in ids if i is not None]
            self._add(ids, [dets[j] for j in new], xy[new], seen[new], box[new], size[new], t)

        ended: list[int] = []
        if self._missed.any():
            confirmed = np.array([i is not None for i in self._ids], bool)
            gone = (self._missed > 0) & (t - self._t > self.max_missed_s)
            ended = sorted(self._ids[i] for i in np.flatnonzero(confirmed & gone))
            # a tentative track is dropped once missed in more than confirm_frames - confirm_hits frames in a row;
            # a confirmed one may miss up to max_missed_s
            hopeless = self._missed > self.confirm_frames - self.confirm_hits
            drop = (self._missed > 0) & ((~confirmed & hopeless) | gone)
            if drop.any():
                self._keep(~drop)
        people_out, missing = [], []
        for pid, kp, missed in zip(self._ids, self._kp, self._missed.tolist()):
            if pid is not None and missed:
                missing.append(pid)
            elif pid is not None:
                people_out.append((pid, kp))
        return TrackerUpdate(people=sorted(people_out, key=lambda p: p[0]), missing=sorted(missing),
                             started=started, ended=ended)

    def finish(self) -> list[int]:
        """End of the stream: the ids still alive, now ended."""
        ended = sorted(i for i in self._ids if i is not None)
        self.reset_tracks()
        return ended

    def reset_tracks(self) -> None:
        """Drop every track; ids go on counting."""
        self._keep(np.zeros(len(self._ids), bool))

    def _seen_joints(self, kp: np.ndarray) -> np.ndarray:
        """Joints to match on: score ≥ ``min_score`` at a sane place (a NaN, infinite or absurd coordinate is not
        seen, as in ``preprocess.sanitize``)."""
        return (kp[..., -1] >= self.min_score) & (np.abs(kp[..., :-1]) <= MAX_ABS_COORD).all(-1)

    def _observe(self, rows: np.ndarray, cols: np.ndarray, xy: np.ndarray, seen: np.ndarray, box: np.ndarray,
                 size: np.ndarray, dt: np.ndarray, t: float) -> None:
        """Matched tracks take their new skeletons; velocity = median joint displacement / time (when at least 3
        joints are seen in both), averaged with the previous velocity after the first."""
        both = self._seen[rows] & seen[cols]                                          # [M, V]
        step = median_where((xy[cols] - self._xy[rows]).transpose(0, 2, 1), both[:, None, :])   # [M, 2]
        moving = (dt > 0) & (both.sum(-1) >= 3)
        v = step / np.where(dt > 0, dt, 1.0)[:, None]
        v = np.where((self._hits[rows] == 1)[:, None], v, 0.5 * self._vel[rows] + 0.5 * v)
        self._vel[rows] = np.where(moving[:, None], v, self._vel[rows])
        self._xy[rows], self._seen[rows], self._size[rows], self._t[rows] = xy[cols], seen[cols], size[cols], t
        self._box[rows] = box[cols]
        self._hits[rows] += 1
        self._missed[rows] = 0

    def _add(self, ids: list[Optional[int]], kps: list[np.ndarray], xy: np.ndarray, seen: np.ndarray,
             box: np.ndarray, size: np.ndarray, t: float) -> None:
        k = len(ids)
        if not len(self._ids):
            self._xy, self._seen = xy[:0], seen[:0]
        self._ids += ids
        self._kp += kps
        self._xy = np.concatenate([self._xy, xy])
        self._seen = np.concatenate([self._seen, seen])
        self._box = np.concatenate([self._box, box])
        self._size = np.concatenate([self._size, size])
        self._t = np.concatenate([self._t, np.full(k, t)])
        self._vel = np.concatenate([self._vel, np.zeros((k, 2))])
        self._hits = np.concatenate([self._hits, np.ones(k, np.int64)])
        self._recent = np.concatenate([self._recent, np.ones(k, np.int64)])
        self._missed = np.concatenate([self._missed, np.zeros(k, np.int64)])

    def _keep(self, keep: np.ndarray) -> None:
        self._ids = [i for i, k in zip(self._ids, keep) if k]
        self._kp = [p for p, k in zip(self._kp, keep) if k]
        self._xy, self._seen, self._size, self._t = self._xy[keep], self._seen[keep], self._size[keep], self._t[keep]
        self._vel, self._hits, self._missed = self._vel[keep], self._hits[keep], self._missed[keep]
        self._recent, self._box = self._recent[keep], self._box[keep]

    def _take_id(self) -> int:
        self._next_id += 1
        return self._next_id - 1


_BITS = np.array([bin(k).count("1") for k in range(256)], np.int64)


def _popcount(x: np.ndarray) -> np.ndarray:
    """Set bits of each value (below 2⁶²)."""
    return sum(_BITS[(x >> (8 * k)) & 0xFF] for k in range(8))
