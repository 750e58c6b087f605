"""The one preprocessing used by training *and* streaming, as small named steps.

``sanitize → select window (resample_indices / fit_window) → normalize → to_features``

Everything works on ``[..., T, V, C]`` arrays with the score last (``C = dims + 1``), so a batch of clips and
a single streaming window go through the same code.

- **sanitize**: a joint whose coordinates or score are not finite, or whose coordinates lie beyond
  ``MAX_ABS_COORD`` (1e6: a million pixels or metres is no body, whatever the units), is *missing*, not an
  error (score 0, coordinates 0). Scores are clipped to [0, 1]; scores below ``min_score`` count as missing.
- **normalize**: subtract the body centre (mean of the present torso joints over the whole window) and
  divide by the body scale (median over frames of the mid-shoulder ↔ mid-hip distance; if the torso is never
  seen, the RMS spread of the visible joints). Output is invariant to translation and scale of the input.
  Missing joints get coordinates 0.
- **to_features**: coordinates, score and motion (frame-to-frame coordinate difference, 0 where either frame's
  joint is missing), laid out ``[..., C_in, T, V]`` for the model.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from .layouts import Layout, get_layout

FEATURES = ("coords", "score", "motion")
MAX_ABS_COORD = 1e6
# The version of what this module computes. Bump it whenever a change alters the model input for the same
# skeletons: a model card or checkpoint of another version is then refused instead of being fed wrongly.
PREPROCESS_VERSION = 1
# Cards and checkpoints written before the version was recorded hold version 1 (this module's first one).
UNVERSIONED = 1
_REQUIRED = ("layout", "dims", "window", "fps", "min_score", "features")


class PreprocessVersionError(ValueError):
    """A model made for another version of this preprocessing: it must be retrained, not re-described."""


@dataclass(frozen=True)
class PreprocessConfig:
    """The model-input contract: what a model expects, stored in the model card (and held by ``ModelConfig``)
    so the runtime preprocesses exactly like training."""

    layout: str = "penn13"
    dims: int = 2
    window: int = 64
    fps: float = 30.0
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
        if self.version != PREPROCESS_VERSION:
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
    score ≥ min_score) or missing (all 0)."""
    with np.errstate(over="ignore", invalid="ignore"):  # 1e300 → float32 inf: expected, and caught below
        seq = np.array(seq, dtype=np.float32, copy=True)
        coords, score = seq[..., :-1], seq[..., -1]
        bad = ~(np.abs(coords) <= MAX_ABS_COORD).all(-1) | ~np.isfinite(score)   # NaN compares False
    score = np.clip(np.where(bad, 0.0, score), 0.0, 1.0)
    score = np.where(score < min_score, 0.0, score)
    coords[score == 0] = 0.0
    seq[..., :-1], seq[..., -1] = coords, score
    return seq


def resample_indices(timestamps: np.ndarray, fps: float, window: int) -> np.ndarray:
    """Indices of the frames nearest to the ``window`` instants ``t_end - k / fps`` (k = window-1 … 0).

    Instants before the first frame get index -1 (padding). Used for training clips (timestamps from the
    dataset's frame rate) and for the live ring buffer (timestamps from the source), so both sample alike.
    """
    timestamps = np.asarray(timestamps, dtype=np.float64)
    if timestamps.size == 0:
        return np.full(window, -1, dtype=np.int64)
    want = timestamps[-1] - np.arange(window - 1, -1, -1) / fps
    idx = np.searchsorted(timestamps, want)
    idx = np.clip(idx, 0, len(timestamps) - 1)
    prev = np.clip(idx - 1, 0, len(timestamps) - 1)
    take_prev = np.abs(timestamps[prev] - want) < np.abs(timestamps[idx] - want)
    idx = np.where(take_prev, prev, idx)
    half_frame = 0.5 / fps
    return np.where(want < timestamps[0] - half_frame, -1, idx).astype(np.int64)


def take_frames(seq: np.ndarray, indices: np.ndarray) -> np.ndarray:
    """``seq[..., indices, :, :]`` where index -1 yields a missing frame (all zeros)."""
    out = np.take(seq, np.maximum(indices, 0), axis=-3)
    out[..., indices < 0, :, :] = 0.0
    return out


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
    layout = get_layout(layout) if isinstance(layout, str) else layout
    seq = np.array(seq, dtype=np.float32, copy=True)
    coords, score = seq[..., :-1], seq[..., -1]
    present = (score > 0).astype(np.float32)

    torso = list(layout.parts["torso"])
    w = present[..., torso]                                   # [..., T, J]
    wsum = w.sum((-1, -2))
    all_w = present.sum((-1, -2))
    center_torso = (coords[..., torso, :] * w[..., None]).sum((-2, -3)) / np.maximum(wsum, 1)[..., None]
    center_all = (coords * present[..., None]).sum((-2, -3)) / np.maximum(all_w, 1)[..., None]
    center = np.where((wsum > 0)[..., None], center_torso, center_all)  # [..., D]
    coords = coords - center[..., None, None, :]

    scale = body_scale(coords, present, layout)
    coords = coords / scale[..., None, None, None]
    coords = coords * present[..., None]
    seq[..., :-1] = coords
    return seq


def body_scale(coords: np.ndarray, present: np.ndarray, layout: Layout) -> np.ndarray:
    """Per sequence: median mid-shoulder ↔ mid-hip distance over frames, else 2 × RMS spread, else 1."""
    (ls, rs), (lh, rh) = layout.shoulders, layout.hips
    torso_ok = present[..., ls] * present[..., rs] * present[..., lh] * present[..., rh] > 0  # [..., T]
    mid_sh = 0.5 * (coords[..., ls, :] + coords[..., rs, :])
    mid_hip = 0.5 * (coords[..., lh, :] + coords[..., rh, :])
    torso_len = np.linalg.norm(mid_sh - mid_hip, axis=-1)          # [..., T]
    torso_len = np.where(torso_ok & (torso_len > 1e-6), torso_len, np.nan)
    with warnings.catch_warnings():  # an all-NaN row (torso never seen) is expected; it falls back below
        warnings.simplefilter("ignore", RuntimeWarning)
        torso_scale = np.nanmedian(torso_len, axis=-1)
    n = np.maximum(present.sum((-1, -2)), 1)
    rms = np.sqrt((np.square(coords).sum(-1) * present).sum((-1, -2)) / n)
    scale = np.where(np.isfinite(torso_scale), torso_scale, 2.0 * rms)
    return np.where(scale > 1e-6, scale, 1.0).astype(np.float32)


def to_features(seq: np.ndarray, cfg: PreprocessConfig) -> np.ndarray:
    """``[..., T, V, dims+1]`` normalised skeletons → ``[..., C_in, T, V]`` model input."""
    coords, score = seq[..., :-1], seq[..., -1:]
    present = score > 0
    parts = []
    for f in cfg.features:
        if f == "coords":
            parts.append(coords)
        elif f == "score":
            parts.append(score)
        else:  # motion
            both = present[..., 1:, :, :] & present[..., :-1, :, :]
            diff = np.where(both, coords[..., 1:, :, :] - coords[..., :-1, :, :], 0.0)
            parts.append(np.concatenate([np.zeros_like(coords[..., :1, :, :]), diff], axis=-3))
    feats = np.concatenate(parts, axis=-1).astype(np.float32)      # [..., T, V, C_in]
    return np.ascontiguousarray(np.moveaxis(feats, -1, -3))


def preprocess_window(window: np.ndarray, cfg: PreprocessConfig) -> np.ndarray:
    """One already-selected window (or a batch of them) ``[..., T, V, dims+1]`` → model input ``[..., C_in, T, V]``."""
    window = np.asarray(window)
    if window.shape[-1] != cfg.channels:
        raise ValueError(f"expected {cfg.channels} channels per joint ({cfg.dims}D + score), got {window.shape[-1]}")
    layout = get_layout(cfg.layout)
    if window.shape[-2] != layout.num_joints:
        raise ValueError(f"expected {layout.num_joints} joints ({cfg.layout}), got {window.shape[-2]}")
    return to_features(normalize(sanitize(window, cfg.min_score), layout), cfg)


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
    wins = [take_frames(seq, resample_indices(timestamps[: e + 1], cfg.fps, cfg.window)) for e in ends]
    return preprocess_window(np.stack(wins), cfg)
