"""The one preprocessing used by training *and* streaming, as small named steps.

``sanitize → select window (resample_indices → take_frames, or fit_window) → model_input`` (normalise, features)

Everything works on ``[..., T, V, C]`` arrays with the score last (``C = dims + 1``), so a batch of clips and
a single streaming window go through the same code.

- **resample** (``resample_indices`` → ``take_frames``): the window's instants are one model step (``1 / fps``)
  apart, ending at the last frame; each is interpolated linearly in time between the two frames around it, so a
  step shows the motion of one step's time whatever the input rate, and a slow source never fills a window with
  repeated frames (motion 0). Version-1 models take the nearest frame where frames are at most a step apart.
- **sanitize**: a joint whose coordinates or score are not finite, or whose coordinates lie beyond
  ``MAX_ABS_COORD`` (1e6: a million pixels or metres is no body, whatever the units), is *missing*, not an
  error (score 0, coordinates 0). Scores are clipped to [0, 1]; scores below ``min_score`` count as missing.
- **normalize**: subtract the body centre (mean of the present torso joints over the whole window) and
  divide by the body scale (median over frames of the mid-shoulder ↔ mid-hip distance; if the torso is never
  seen, the RMS spread of the visible joints). Output is invariant to translation and scale of the input.
  Missing joints get coordinates 0.
- **features** (``model_input``): coordinates, score and motion (frame-to-frame coordinate difference, 0 where either frame's
  joint is missing), laid out ``[..., C_in, T, V]`` for the model.
"""
from __future__ import annotations

import functools
import math
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from .layouts import Layout, get_layout

FEATURES = ("coords", "score", "motion")
MAX_ABS_COORD = 1e6
# The version of what this module computes. Bump it whenever a change alters the model input for the same
# skeletons: a model card or checkpoint of another version is then refused instead of being fed wrongly.
# Version 2 places every window instant on the clip's timeline by linear interpolation between its two frames
# (``resample_indices``), so the motion of a model step is the motion of that much time at any input rate.
# Version 1 took the nearest frame. Version-1 models (every card and checkpoint written before version 2) are still
# read (``READABLE_VERSIONS``) and sampled as version 1 wherever the frames are at most a model step apart — bit
# for bit what they were trained on (30 fps clips, 20 fps models) — and interpolated across wider gaps, where
# version 1 repeated a frame (a motion of 0 that training never showed).
PREPROCESS_VERSION = 2
READABLE_VERSIONS = (1, 2)
# Cards and checkpoints written before the version was recorded hold version 1 (this module's first one).
UNVERSIONED = 1
_REQUIRED = ("layout", "dims", "window", "fps", "min_score", "features")


class PreprocessVersionError(ValueError):
    """A model made for another version of this preprocessing: it must be retrained, not re-described."""


@dataclass(frozen=True)
class PreprocessConfig:
    """The model-input contract: what a model expects, stored in the model card (and held by ``ModelConfig``)
    so the runtime preprocesses exactly like training. The defaults are what every shipped model and training
    config uses (32 frames at 20 fps: 1.6 s); a card always states every field."""

    layout: str = "penn13"
    dims: int = 2
    window: int = 32
    fps: float = 20.0
    min_score: float = 0.05
    features: tuple[str, ...] = field(default=FEATURES)
    version: int = PREPROCESS_VERSION

    def __post_init__(self) -> None:
        if not isinstance(self.layout, str):
            raise ValueError(f"layout must be a layout name, got {self.layout!r}")
        get_layout(self.layout)
        if not _is_int(self.dims) or self.dims not in (2, 3):
            raise ValueError(f"dims must be 2 or 3, got {self.dims!r}")
        if not _is_int(self.window) or self.window < 1:
            raise ValueError(f"window must be a whole number of frames ≥ 1, got {self.window!r}")
        if not is_number(self.fps) or not (math.isfinite(self.fps) and self.fps > 0):
            raise ValueError(f"fps must be a finite number > 0, got {self.fps!r}")
        if not is_number(self.min_score) or not 0.0 <= self.min_score <= 1.0:
            raise ValueError(f"min_score must be in [0, 1], got {self.min_score!r}")
        if isinstance(self.features, str) or not all(isinstance(f, str) for f in self.features):
            raise ValueError(f"features must be a list of names from {FEATURES}, got {self.features!r}")
        unknown = set(self.features) - set(FEATURES)
        if unknown:
            raise ValueError(f"unknown features {sorted(unknown)}; known: {FEATURES}")
        if self.version not in READABLE_VERSIONS:
            raise PreprocessVersionError(f"made for preprocessing version {self.version!r}, this partkd-stream "
                                         f"implements version {PREPROCESS_VERSION}; retrain the model (or use the "
                                         f"partkd-stream release it was built with)")

    @property
    def in_channels(self) -> int:
        per = {"coords": self.dims, "score": 1, "motion": self.dims}
        return sum(per[f] for f in self.features)

    @property
    def channels(self) -> int:
        """Channels of a raw skeleton frame for this config: coordinates + score."""
        return self.dims + 1

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["features"] = list(self.features)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "PreprocessConfig":
        """Strict: every field of the contract must be written (a card without ``layout`` is refused, never
        given a default layout); only ``version`` may be absent (older files: ``UNVERSIONED``)."""
        if not isinstance(d, dict):
            raise ValueError(f"preprocess must be a mapping of {', '.join(_REQUIRED)}, got {type(d).__name__}")
        missing = [k for k in _REQUIRED if k not in d]
        if missing:
            raise ValueError(f"preprocess lacks {', '.join(missing)}")
        unknown = sorted(set(d) - set(cls.__dataclass_fields__))
        if unknown:
            raise ValueError(f"unknown preprocess fields {unknown}")
        d = {"version": UNVERSIONED, **d}
        if isinstance(d["features"], list):
            d["features"] = tuple(d["features"])
        return cls(**d)


def _is_int(x: Any) -> bool:
    return isinstance(x, (int, np.integer)) and not isinstance(x, bool)


def is_number(x: Any) -> bool:
    """A real number (Python or numpy), not a bool: what a frame rate, a score or a timestamp must be."""
    return isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(x, bool)


def sanitize(seq: np.ndarray, min_score: float = 0.05) -> np.ndarray:
    """Return a float32 copy where every joint is either present (finite, |coordinate| ≤ ``MAX_ABS_COORD``,
    score ≥ min_score, clipped to 1) or missing (all 0)."""
    seq = np.asarray(seq)
    if seq.dtype != np.float32:
        with np.errstate(over="ignore", invalid="ignore"):  # 1e300 → float32 inf: expected, and caught below
            seq = seq.astype(np.float32)
    score = seq[..., -1]
    ok = (score >= min_score) & (score > 0) & (score < np.inf)              # NaN compares False
    for d in range(seq.shape[-1] - 1):                                      # faster than .all() over 2 or 3
        ok &= np.abs(seq[..., d]) <= MAX_ABS_COORD
    out = np.where(ok[..., None], seq, np.float32(0))
    np.minimum(out[..., -1], 1.0, out=out[..., -1])
    return out


def resample_indices(timestamps: np.ndarray, fps: float, window: int,
                     version: int = PREPROCESS_VERSION) -> np.ndarray:
    """Where in the frames the ``window`` instants ``t_end - k / fps`` (k = window-1 … 0) lie: float64 positions.

    Position ``i`` is frame ``i``; ``i + w`` (0 < w < 1) is the point ``w`` of the way, in time, from frame ``i`` to
    frame ``i + 1`` (``take_frames`` blends them); -1 is an instant before the first frame (padding; within half a
    step of it: frame 0). Version 2 (``PREPROCESS_VERSION``) interpolates every instant between two frames, so a
    window shows the same motion per step at any input rate and never a repeated frame. ``version=1`` (a model
    card of version 1) takes the nearer frame when the two are at most a step (``1 / fps``) apart, as version 1
    did, and interpolates across wider gaps (a source slower than the model, a dropped frame). Used for training
    clips (timestamps from the dataset's frame rate) and for the live ring buffer (timestamps from the source), so
    both sample alike: pass the model's ``cfg.version``.
    """
    timestamps = np.asarray(timestamps, dtype=np.float64)
    if timestamps.size == 0:
        return np.full(window, -1.0)
    fps = float(fps)
    want = timestamps[-1] - _steps_back(window, fps)
    idx = np.minimum(np.searchsorted(timestamps, want), len(timestamps) - 1)
    prev = np.maximum(idx - 1, 0)
    t_prev, t_next = timestamps[prev], timestamps[idx]
    take_prev = np.abs(t_prev - want) < np.abs(t_next - want)
    pos = np.where(take_prev, prev, idx).astype(np.float64)
    gap = t_next - t_prev
    nearest_up_to = (1.0 + 1e-6) / fps if version == 1 else 0.0      # version 1: frames ≤ a step apart
    blend = (gap > nearest_up_to) & (want > t_prev) & (want < t_next)
    if blend.any():
        frac = (want[blend] - t_prev[blend]) / gap[blend]
        on_frame = (frac < 1e-6) | (frac > 1 - 1e-6)
        frac[on_frame] = np.round(frac[on_frame])                # an instant on a frame, up to rounding, takes it
        pos[blend] = prev[blend] + frac
    pos[want < timestamps[0] - 0.5 / fps] = -1.0
    return pos


@functools.lru_cache(maxsize=64)
def _steps_back(window: int, fps: float) -> np.ndarray:
    """``[(window-1)/fps, …, 1/fps, 0]`` (read-only: cached)."""
    steps = np.arange(window - 1, -1, -1) / fps
    steps.flags.writeable = False
    return steps


def take_frames(seq: np.ndarray, positions: np.ndarray, min_score: float = 0.0) -> np.ndarray:
    """The frames of ``seq [..., T, V, C]`` at ``positions`` (``resample_indices``): ``[..., len(positions), V, C]``.

    Position -1 yields a missing frame (all 0); a whole position, its frame as it is; ``i + w``, frames ``i`` and
    ``i + 1`` blended (``blend_frames``; pass the model's ``min_score``, with which the live window sanitises its
    frames, so both blend the same joints).
    """
    positions = np.asarray(positions, dtype=np.float64)
    lo = np.floor(positions)
    pad = lo < 0
    i = np.maximum(lo, 0).astype(np.intp)
    a = np.take(seq, i, axis=-3)
    b = np.take(seq, np.minimum(i + 1, seq.shape[-3] - 1), axis=-3)
    out = blend_frames(a, b, np.where(pad, 0.0, positions - lo), min_score)
    out[..., pad, :, :] = 0.0
    return out


def blend_frames(a: np.ndarray, b: np.ndarray, w: np.ndarray, min_score: float = 0.0) -> np.ndarray:
    """Frames ``a`` and ``b`` ``[..., V, C]`` mixed at ``w`` (``[...]``, 0 = ``a``): the step behind
    ``take_frames`` and the live window.

    A joint seen in both (after ``sanitize`` with ``min_score``) gets its coordinates and score interpolated
    linearly; a joint missing in either is taken from the nearer frame (seen or missing, as nearest-frame sampling
    would take it), so interpolation never makes a joint up nor pulls one towards a missing joint's zeros. Where
    ``w`` is 0 the result is ``a`` exactly.
    """
    w = np.asarray(w, dtype=np.float32)[..., None, None]
    nearest = np.where(w < 0.5, a, b)
    if not (w > 0).any():
        return nearest
    a, b = sanitize(a, min_score), sanitize(b, min_score)
    both = (a[..., -1:] > 0) & (b[..., -1:] > 0) & (w > 0)
    return np.where(both, a + w * (b - a), nearest)


def fit_window(seq: np.ndarray, window: int, start: int | None = None) -> np.ndarray:
    """Crop ``[T, V, C]`` to ``window`` frames (from ``start``, default centred) or pad missing frames in front.

    Padding in front is what a live stream looks like before its buffer is full.
    """
    t = seq.shape[-3]
    if t >= window:
        s = (t - window) // 2 if start is None else int(np.clip(start, 0, t - window))
        return seq[..., s:s + window, :, :]
    pad = np.zeros(seq.shape[:-3] + (window - t,) + seq.shape[-2:], dtype=seq.dtype)
    return np.concatenate([pad, seq], axis=-3)


def normalize(seq: np.ndarray, layout: Layout | str) -> np.ndarray:
    """Centre and scale ``[..., T, V, C]`` (sanitised) per sequence; see the module docstring."""
    layout = _layout(layout)
    seq = np.asarray(seq, dtype=np.float32)
    t, v, c = seq.shape[-3:]
    x = _channels_first(seq.reshape((-1, t, v, c)))
    xy, _, _ = _normalised_coords(x, layout)
    out = np.array(seq, dtype=np.float32, copy=True).reshape((-1, t, v, c))
    out[..., :-1] = xy.transpose(0, 2, 3, 1)
    return out.reshape(seq.shape)


def body_scale(coords: np.ndarray, present: np.ndarray, layout: Layout | str) -> np.ndarray:
    """Per sequence ``[..., T, V, dims]`` (joints seen: ``present [..., T, V]``): median over frames of the
    mid-shoulder ↔ mid-hip distance, else 2 × RMS spread of the seen joints around the body centre, else 1."""
    layout = _layout(layout)
    coords = np.asarray(coords, dtype=np.float32)
    lead, (t, v, d) = coords.shape[:-3], coords.shape[-3:]
    cf = np.ascontiguousarray(coords.reshape((-1, t, v, d)).transpose(0, 3, 1, 2))
    pf = np.asarray(present, dtype=np.float32).reshape((-1, t, v))
    cf = cf * pf[:, None]                      # what sanitising guarantees: a joint not seen sits at 0
    return _body_scale(cf, pf, _body_centre(cf, pf, layout), layout).reshape(lead)


def nanmedian_last(x: np.ndarray) -> np.ndarray:
    """``np.nanmedian(x, axis=-1)`` by sorting, without its warning for an all-NaN row (NaN there) and without its
    slow path for small arrays."""
    return median_where(x, ~np.isnan(x))


def median_where(x: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Median over the last axis of the ``valid`` entries of ``x`` (``valid`` broadcast to it; NaN where a row has
    none)."""
    valid = np.broadcast_to(valid, x.shape)
    s = np.sort(np.where(valid, x, np.inf), axis=-1).reshape(-1, x.shape[-1])
    n = np.count_nonzero(valid, axis=-1).reshape(-1)
    rows = np.arange(len(s))
    med = 0.5 * (s[rows, np.maximum((n - 1) // 2, 0)] + s[rows, n // 2])
    med[n == 0] = np.nan
    return med.reshape(x.shape[:-1])


def _layout(layout: Layout | str) -> Layout:
    return get_layout(layout) if isinstance(layout, str) else layout


def _channels_first(seq: np.ndarray) -> np.ndarray:
    """``[B, T, V, C]`` → contiguous ``[B, C, T, V]``: every sum over ``T, V`` then runs over a contiguous last
    axis (with the 2 coordinates innermost it costs 5× more)."""
    return np.ascontiguousarray(seq.transpose(0, 3, 1, 2))


@functools.lru_cache(maxsize=None)
def _body_vectors(layout: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per layout, ``[V]`` weights whose products with a frame give: the torso joints' sum, the torso vector
    (mid-shoulder − mid-hip), and the number of the four shoulder and hip joints seen."""
    lay = get_layout(layout)
    torso = np.zeros(lay.num_joints, np.float32)
    torso[list(lay.parts["torso"])] = 1.0
    half = np.zeros(lay.num_joints, np.float32)
    four = np.zeros(lay.num_joints, np.float32)
    for j, w in zip(lay.shoulders + lay.hips, (0.5, 0.5, -0.5, -0.5)):
        half[j] += w
        four[j] = 1.0
    return torso, half, four


def _body_centre(coords: np.ndarray, pf: np.ndarray, layout: Layout) -> np.ndarray:
    """``[B, d]``: mean of the seen torso joints over the window, else of all seen joints (``coords`` 0 where
    not seen, channels-first ``[B, d, T, V]``)."""
    torso = _body_vectors(layout.name)[0]
    wsum = (pf @ torso).sum(-1)
    centre = (coords @ torso).sum(-1) / np.maximum(wsum, 1)[:, None]
    none = wsum == 0
    if none.any():
        b, d, t, v = coords.shape
        asum = pf[none].reshape(-1, t * v).sum(-1)
        centre[none] = coords[none].reshape(-1, d, t * v).sum(-1) / np.maximum(asum, 1)[:, None]
    return centre


def _body_scale(coords: np.ndarray, pf: np.ndarray, centre: np.ndarray, layout: Layout) -> np.ndarray:
    """``[B]`` float32: the scale of ``body_scale``, channels-first; the torso length does not change with a
    translation, so it is measured on ``coords`` as they are."""
    _, half_w, four = _body_vectors(layout.name)
    half = coords @ half_w                                                    # [B, d, T]
    torso_len = np.sqrt((half * half).sum(1))                                 # [B, T]
    scale = median_where(torso_len, ((pf @ four) > 3.5) & (torso_len > 1e-6))
    never = np.isnan(scale)
    if never.any():                                   # torso never seen: 2 × RMS spread of the joints seen
        b, d, t, v = coords.shape
        centred = coords[never] - centre[never][:, :, None, None]
        seen = pf[never]
        rms = np.sqrt(((centred * centred).sum(1) * seen).reshape(-1, t * v).sum(-1)
                      / np.maximum(seen.reshape(-1, t * v).sum(-1), 1))
        scale[never] = 2.0 * rms
    return np.where(scale > 1e-6, scale, 1.0).astype(np.float32)


def _normalised_coords(x: np.ndarray, layout: Layout) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sanitised channels-first ``[B, dims+1, T, V]`` → (centred and scaled coordinates ``[B, dims, T, V]``, 0
    where a joint is not seen; seen ``[B, T, V]`` as 0/1; score ``[B, T, V]``)."""
    coords, score = x[:, :-1], x[:, -1]
    pf = (score > 0).astype(np.float32)
    centre = _body_centre(coords, pf, layout)
    scale = _body_scale(coords, pf, centre, layout)
    xy = coords - centre[:, :, None, None].astype(np.float32)
    xy *= (pf / scale[:, None, None])[:, None]
    return xy, pf, score


def model_input(sanitised: np.ndarray, cfg: PreprocessConfig) -> np.ndarray:
    """The steps after ``sanitize``: *sanitised* windows ``[..., T, V, dims+1]`` (a missing joint is all 0) →
    normalised features ``[..., C_in, T, V]``. The live window calls it directly (its frames are sanitised on
    arrival); everything else goes through ``preprocess_window``.

    Coordinates (centred and scaled), score, and motion (the frame-to-frame difference of the coordinates, 0 where
    the joint is not seen in both frames), written straight into the output, channels-first."""
    lead, (t, v, c) = sanitised.shape[:-3], sanitised.shape[-3:]
    x = _channels_first(np.asarray(sanitised, dtype=np.float32).reshape((-1, t, v, c)))
    xy, pf, score = _normalised_coords(x, get_layout(cfg.layout))
    d = cfg.dims
    out = np.empty((x.shape[0], cfg.in_channels, t, v), np.float32)
    ch = 0
    for f in cfg.features:
        if f == "coords":
            out[:, ch:ch + d] = xy
        elif f == "score":
            out[:, ch] = score
        else:  # motion
            out[:, ch:ch + d, 0] = 0.0
            np.subtract(xy[:, :, 1:], xy[:, :, :-1], out=out[:, ch:ch + d, 1:])
            out[:, ch:ch + d, 1:] *= (pf[:, 1:] * pf[:, :-1])[:, None]
        ch += 1 if f == "score" else d
    return out.reshape(lead + out.shape[1:])


def preprocess_window(window: np.ndarray, cfg: PreprocessConfig) -> np.ndarray:
    """One already-selected window (or a batch of them) ``[..., T, V, dims+1]`` → model input ``[..., C_in, T, V]``."""
    window = np.asarray(window)
    if window.shape[-1] != cfg.channels:
        raise ValueError(f"expected {cfg.channels} channels per joint ({cfg.dims}D + score), got {window.shape[-1]}")
    layout = get_layout(cfg.layout)
    if window.shape[-2] != layout.num_joints:
        raise ValueError(f"expected {layout.num_joints} joints ({cfg.layout}), got {window.shape[-2]}")
    return model_input(sanitize(window, cfg.min_score), cfg)


def clip_windows(seq: np.ndarray, src_fps: float, cfg: PreprocessConfig, stride: int | None = None) -> np.ndarray:
    """All sliding windows of a clip ``[T, V, C]`` at the model's frame rate → ``[W, C_in, T_win, V]``.

    Windows end every ``stride`` source frames (default: half a window's duration), exactly as the stream
    predicts; a clip shorter than a window yields one front-padded window. This is streaming accuracy's input.
    """
    t = seq.shape[0]
    timestamps = np.arange(t) / src_fps
    if stride is None:
        stride = max(1, int(round(cfg.window / cfg.fps * src_fps / 2)))
    span = int(np.ceil(cfg.window / cfg.fps * src_fps))
    ends = list(range(min(span, t) - 1, t, stride))
    if ends[-1] != t - 1:
        ends.append(t - 1)
    wins = [take_frames(seq, resample_indices(timestamps[: e + 1], cfg.fps, cfg.window, cfg.version),
                        cfg.min_score) for e in ends]
    return preprocess_window(np.stack(wins), cfg)
