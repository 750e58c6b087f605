"""The live windows of several tracked people in one preallocated ring buffer, preprocessed as one batch.

Prototype of the batched recognition path (issue 15, phase 1): same results as one ``SkeletonWindow`` per person
(``tests/test_track_windows.py`` checks it frame by frame), a fraction of the cost. Phase 2 folds it into
``window.py`` / ``preprocess.py`` / ``recognizer.py`` and removes the per-person path. What the old path paid for
and this one does not (measured by ``demo/bench_people.py``):

- the layout conversion table was rebuilt for every frame (``conversion_matrix``): here it is built once, and
  the synthesised joints' scores (min over sources) come from a padded index table;
- the presence rule looked its joints up by name every frame: here by precomputed indices;
- each person's frame was pushed alone: ``push_many`` sanitises and converts everyone's frame in one call;
- the window was re-stacked from a deque of per-frame arrays for every prediction: here frames are written into
  ``[slots, capacity, V, C]`` once and gathered by index;
- ``body_scale`` ran ``np.nanmedian`` (a masked-array path for small arrays) inside ``warnings.catch_warnings``:
  together more than the model; here ``nanmedian_last``, a sort, equal to it;
- sums over ``T, V`` ran with the 2 coordinates innermost (5× a contiguous sum) and the features were
  concatenated: ``window_features`` works channels-first and writes into its output.

Differences from ``SkeletonWindow``: the horizon is cut when a window is read, not when a frame arrives (same
frames), and at most ``capacity`` frames are held (``SkeletonWindow``: 4096): 1024 frames cover the shipped
model's horizon (2.5 s) up to 400 fps. A non-finite coordinate loses only its own joint here;
``convert.convert`` loses the whole frame (0 · inf = nan in its matrix product).
"""
from __future__ import annotations

from typing import Optional, Sequence

import numpy as np

from .convert import conversion_matrix
from .layouts import get_layout
from .preprocess import PreprocessConfig, resample_indices, sanitize
from .window import PresenceRule

_TORSO = ("left_shoulder", "right_shoulder", "left_hip", "right_hip")
_ARMS = ("left_elbow", "right_elbow", "left_wrist", "right_wrist")


def nanmedian_last(x: np.ndarray) -> np.ndarray:
    """``np.nanmedian(x, axis=-1)`` by sorting (NaNs sort last); NaN where a row has no number."""
    s = np.sort(x, axis=-1)
    n = np.count_nonzero(~np.isnan(x), axis=-1)
    lo = np.take_along_axis(s, np.maximum((n - 1) // 2, 0)[..., None], -1)[..., 0]
    hi = np.take_along_axis(s, np.maximum(n // 2, 0)[..., None], -1)[..., 0]
    return np.where(n > 0, 0.5 * (lo + hi), np.nan)


class TrackWindows:
    """Ring buffers of ``slots`` people, frames in the model's layout; ``model_input`` for many slots at once.

    Semantics per slot are ``SkeletonWindow``'s: frames older than ``horizon_s`` before the newest are dropped,
    a frame shows a person by ``PresenceRule``, the window is resampled to the model's fps by
    ``resample_indices`` and preprocessed exactly like training.
    """

    def __init__(self, cfg: PreprocessConfig, source_layout: str, slots: int = 4, rule: PresenceRule = PresenceRule(),
                 horizon_s: Optional[float] = None, capacity: int = 1024) -> None:
        self.cfg, self.rule = cfg, rule
        self.horizon_s = horizon_s if horizon_s is not None else max(cfg.window / cfg.fps, rule.span_s) + 0.5
        src, dst = get_layout(source_layout), get_layout(cfg.layout)
        self.source_layout = src.name
        self._identity = src.name == dst.name
        self._m = conversion_matrix(src, dst)                                      # [V_dst, V_src], built once
        used = [np.flatnonzero(row > 0) for row in self._m]
        self._score_src = np.array([np.resize(u, max(map(len, used))) for u in used])   # [V_dst, K]: min over these
        self._torso = np.array([src.index(j) for j in _TORSO])
        self._arms = np.array([src.index(j) for j in _ARMS])
        self.capacity = capacity
        self.kp = np.zeros((slots, capacity, dst.num_joints, cfg.channels), np.float32)
        self.t = np.zeros((slots, capacity), np.float64)
        self.person = np.zeros((slots, capacity), bool)
        self.head = np.zeros(slots, np.int64)   # next write position
        self.n = np.zeros(slots, np.int64)      # frames written, up to ``capacity`` (the horizon is cut on reading)

    @property
    def slots(self) -> int:
        return self.kp.shape[0]

    def clear(self, slot: int) -> None:
        self.n[slot] = 0

    def push(self, slot: int, keypoints: Optional[np.ndarray], t: float) -> None:
        """One frame for one person: ``[V_src, C]`` in the source layout (score last), or ``None`` (not seen)."""
        self.push_many([slot], [keypoints], t)

    def push_many(self, slots: Sequence[int], keypoints: Sequence[Optional[np.ndarray]], t: float) -> None:
        """One frame for several people at once (one sanitise, one conversion for all): ``keypoints[i]`` is
        ``[V_src, C]`` for ``slots[i]``, or ``None`` (that person not seen in this frame)."""
        seen = [i for i, kp in enumerate(keypoints) if kp is not None]
        rows = np.zeros((len(slots),) + self.kp.shape[2:], np.float32)
        person = np.zeros(len(slots), bool)
        if seen:
            raw = np.stack([np.asarray(keypoints[i], dtype=np.float32) for i in seen])      # [P, V_src, C]
            score = raw[..., -1]
            score = np.where(np.isnan(score), 0.0, score)         # frame_has_person's rule (nan_to_num is slow)
            person[seen] = ((score[:, self._torso] >= self.rule.min_score).all(-1)
                            & ((score[:, self._arms] >= self.rule.min_score).sum(-1) >= self.rule.min_arm_joints))
            # Sanitising works joint by joint, and a converted joint is missing when any source is: so a
            # sanitised source frame, converted, equals the converted window sanitised, as preprocess_window does.
            kp = sanitize(raw, self.cfg.min_score)
            if self._identity:
                rows[seen] = kp
            else:
                rows[seen, :, :-1] = np.matmul(self._m, kp[..., :-1])
                rows[seen, :, -1] = kp[:, self._score_src, -1].min(-1)
        idx = np.asarray(slots, dtype=np.int64)
        head, n = self.head[idx], self.n[idx]
        last = self.t[idx, head - 1]
        ts = np.where((n > 0) & (t <= last), last + 1e-6, t)   # timestamps must increase: a repeated one is nudged
        self.kp[idx, head], self.person[idx, head], self.t[idx, head] = rows, person, ts
        self.head[idx] = (head + 1) % self.capacity
        self.n[idx] = np.minimum(n + 1, self.capacity)

    def _order(self, slot: int) -> np.ndarray:
        """Ring positions of the frames within ``horizon_s`` of the newest, oldest first."""
        n = int(self.n[slot])
        order = (self.head[slot] - n + np.arange(n)) % self.capacity
        ts = self.t[slot, order]
        return order[ts[-1] - ts <= self.horizon_s] if n else order

    def warmed_up(self, slot: int) -> bool:
        """Half a model window of history (as ``SkeletonWindow.warmed_up``)."""
        order = self._order(slot)
        return bool(len(order)) and self.t[slot, order[-1]] - self.t[slot, order[0]] >= 0.5 * self.cfg.window / self.cfg.fps

    def person_present(self, slot: int) -> bool:
        """A person in ``rule.min_fraction`` of the last ``rule.span_s`` (as ``SkeletonWindow.person_present``)."""
        order = self._order(slot)
        if not len(order):
            return False
        ts = self.t[slot, order]
        recent = self.person[slot, order[ts >= ts[-1] - self.rule.span_s]]
        return bool(recent.mean() >= self.rule.min_fraction)

    def model_input(self, slots: Sequence[int]) -> np.ndarray:
        """``[len(slots), C_in, T, V]`` float32: each slot's window resampled and preprocessed, in one batch."""
        cfg = self.cfg
        win = np.empty((len(slots), cfg.window) + self.kp.shape[2:], np.float32)
        for b, slot in enumerate(slots):
            order = self._order(slot)
            idx = resample_indices(self.t[slot, order], cfg.fps, cfg.window)
            np.take(self.kp[slot], order[np.maximum(idx, 0)] if len(order) else np.zeros_like(idx), axis=0,
                    out=win[b])
            if idx[0] < 0:
                win[b, idx < 0] = 0.0          # before the first frame: padding, a missing frame
        return window_features(win, self.cfg)


def window_features(seq: np.ndarray, cfg: PreprocessConfig) -> np.ndarray:
    """``to_features(normalize(seq))`` for *sanitised* windows ``[B, T, V, dims+1]`` → ``[B, C_in, T, V]``.

    The same numbers as ``preprocess.preprocess_window`` (to float rounding: sums run in another order) with
    fewer and cheaper numpy calls: it works channels-first, so every sum runs over a contiguous last axis (a sum
    over ``T, V`` with the 2 coordinates innermost costs 5× more); sanitised coordinates are already 0 where a
    joint is missing, so the masked sums need no mask; features are written into the output, not concatenated;
    and the body scale's median is ``nanmedian_last``.
    """
    lay = get_layout(cfg.layout)
    (ls, rs), (lh, rh) = lay.shoulders, lay.hips
    torso_mask = np.zeros(lay.num_joints, np.float32)
    torso_mask[list(lay.parts["torso"])] = 1.0
    d = cfg.dims
    x = np.ascontiguousarray(np.asarray(seq, dtype=np.float32).transpose(0, 3, 1, 2))   # [B, C, T, V]
    b, _, t, v = x.shape
    coords, score = x[:, :d], x[:, d]
    pf = (score > 0).astype(np.float32)                                                  # [B, T, V]
    wsum = (pf @ torso_mask).sum(-1)                                                     # [B]
    asum = pf.reshape(b, t * v).sum(-1)
    center = np.where((wsum > 0)[:, None], (coords @ torso_mask).sum(-1) / np.maximum(wsum, 1)[:, None],
                      coords.reshape(b, d, t * v).sum(-1) / np.maximum(asum, 1)[:, None])   # [B, d]
    # the torso length does not change with a translation: measured before centring
    both = pf[..., ls] * pf[..., rs] * pf[..., lh] * pf[..., rh] > 0                     # [B, T]
    half = 0.5 * (coords[..., ls] + coords[..., rs] - coords[..., lh] - coords[..., rh])  # [B, d, T]
    torso_len = np.sqrt((half * half).sum(1))
    torso_len[~(both & (torso_len > 1e-6))] = np.nan
    scale = nanmedian_last(torso_len)
    never = ~np.isfinite(scale)
    if never.any():                                   # torso never seen: 2 × RMS spread of the joints seen
        centred = coords - center[:, :, None, None]
        rms = np.sqrt(((centred * centred).sum(1) * pf).reshape(b, t * v).sum(-1) / np.maximum(asum, 1))
        scale = np.where(never, 2.0 * rms, scale)
    scale = np.where(scale > 1e-6, scale, 1.0).astype(np.float32)

    out = np.empty((b, cfg.in_channels, t, v), np.float32)
    xy = np.subtract(coords, center[:, :, None, None], dtype=np.float32)
    xy *= (pf / scale[:, None, None])[:, None]
    c = 0
    for f in cfg.features:
        if f == "coords":
            out[:, c:c + d] = xy
        elif f == "score":
            out[:, c] = score
        else:  # motion: frame-to-frame difference where the joint is seen in both frames
            out[:, c:c + d, 0] = 0.0
            np.subtract(xy[:, :, 1:], xy[:, :, :-1], out=out[:, c:c + d, 1:])
            out[:, c:c + d, 1:] *= (pf[:, 1:] * pf[:, :-1])[:, None]
        c += 1 if f == "score" else d
    return out
