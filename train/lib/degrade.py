"""HQ → LQ: a seeded degradation that makes clean skeletons look like what MediaPipe really produces.

``degrade(seq, src_layout, dst_layout, cfg, rng)``: 3D input is projected to 2D with a Kinect-v2-like colour
camera (``partkd_stream.convert.project_to_2d``), converted to the student's layout
(``partkd_stream.convert.convert``), then corrupted in this order:

1. **scale & translation noise** per clip (the person framed a bit larger/smaller, elsewhere);
2. **left/right swaps**: runs of frames whose left/right labels are exchanged (``Layout.flip_permutation``);
3. **position error** = per-joint constant *bias* (image x right, y down) + smooth *temporal drift* (an AR(1)
   process per joint and axis) + white per-frame *jitter*; all in torso lengths (mid-shoulder ↔ mid-hip, the
   body scale of ``partkd_stream.preprocess``), so parameters measured on NTU transfer to any dataset;
4. **part occlusion**: runs of frames where a whole body part gets a low visibility and a larger error;
5. **scores**: MediaPipe-like visibility per joint; independent **joint dropout** (score 0);
6. **missed frames**: runs of frames with no detection (all joints score 0, coordinates 0), as extraction writes;
7. **desk framing** (``lower_body_out`` of the clips; 0 in the calibrated model): the image's bottom edge cuts
   the body above the hips, as a desk webcam frames a person. Joints below the edge are out of frame: MediaPipe
   still reports them, with a low visibility, at hallucinated positions — legs hanging below the shoulders,
   whatever the real legs do — so that is what they get (``desk_framing``). Its random draws come after all
   others: a config without it degrades every clip exactly as before.

Joints missing in the HQ input stay missing. Output honours the contract: finite coordinates, score in [0, 1],
missing = score 0. Default parameters are the calibrated ones (``train/calibration/mediapipe_ntu.json``, written
by ``train/calibrate.py``); the parameters one clip cannot inform are documented priors there.
"""
from __future__ import annotations

import json
import zlib
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np

from partkd_stream.convert import convert, project_to_2d
from partkd_stream.layouts import Layout, get_layout
from partkd_stream.preprocess import body_scale

DEFAULT_CALIBRATION = Path(__file__).resolve().parents[1] / "calibration" / "mediapipe_ntu.json"

# Per-joint parameters are keyed by ntu25 joint names (what the calibration measures); joints of other layouts
# borrow the statistics of the Kinect joint nearest in meaning. Joints absent here and in ntu25 use the default.
JOINT_ALIASES: dict[str, str] = {
    "hip_center": "spine_base", "spine": "spine_mid", "shoulder_center": "spine_shoulder",
    "nose": "head", "left_eye": "head", "right_eye": "head", "left_ear": "head", "right_ear": "head",
    "left_eye_inner": "head", "left_eye_outer": "head", "right_eye_inner": "head", "right_eye_outer": "head",
    "mouth_left": "head", "mouth_right": "head",
    "left_pinky": "left_hand", "left_index": "left_hand_tip", "right_pinky": "right_hand",
    "right_index": "right_hand_tip", "left_heel": "left_ankle", "right_heel": "right_ankle",
    "left_foot_index": "left_foot", "right_foot_index": "right_foot",
}

DESK_RANGES = ("frame_cut", "out_hip_score", "out_leg_score", "out_arm_score", "out_torso_ratio")  # (lo, hi) fields


@dataclass
class DegradeConfig:
    """Parameters of the degradation. Lengths are in torso lengths, durations in frames.

    Defaults: the parameters one clip can inform are the calibrated values, rounded (``from_calibration()``
    gives the exact ones *and* the per-joint tables — what training uses); the others are documented priors,
    marked "prior", which ``train/calibrate.py`` copies into the calibration file. ``zero()`` is the identity.
    """

    # position error: bias + drift + jitter (per axis, torso lengths)
    jitter: float = 0.003                     # std of white per-frame noise, joints not in ``jitter_joints``
    jitter_joints: dict[str, float] = field(default_factory=dict)
    drift: float = 0.02                       # std of the smooth drift (AR(1)), joints not in ``drift_joints``
    drift_joints: dict[str, float] = field(default_factory=dict)
    drift_timescale: float = 15.0             # frames: correlation time of the drift (lag-k correlation e^(-k/τ))
    bias_joints: dict[str, list[float]] = field(default_factory=dict)  # constant (dx, dy) per joint, image axes
    bias_random: float = 0.02                 # prior: std of an extra per-clip random bias per joint and axis
    # global framing noise per clip
    scale_std: float = 0.05                   # prior: std of log(scale) about the body centre
    translate_std: float = 0.1                # prior: std of the translation per axis
    # left/right swaps: runs of frames with exchanged labels
    swap_frac: float = 0.01                   # prior unless measured: expected share of swapped frames
    swap_len: float = 5.0                     # prior unless measured: mean run length
    # part occlusion: runs of frames in which one body part is occluded
    occlusion_frac: float = 0.03              # prior: expected share of frames a given eligible part is occluded
    occlusion_len: float = 15.0               # prior: mean run length
    occlusion_parts: tuple[str, ...] = ("head", "left_arm", "right_arm", "left_leg", "right_leg")
    occlusion_noise: float = 0.15             # prior: extra white noise on occluded joints
    occluded_score: tuple[float, float] = (0.0, 0.4)  # prior: visibility of an occluded joint ~ U(lo, hi)
    # scores of visible joints ~ clip(N(mean, std), 0, 1)
    score_mean: float = 0.94
    score_std: float = 0.12
    score_joints: dict[str, list[float]] = field(default_factory=dict)  # per joint [mean, std]
    dropout: float = 0.005                    # prior unless measured: P(a joint is missing) per joint and frame
    # missed detections: runs of frames without a person
    drop_frame_frac: float = 0.02             # prior unless measured: share of frames without a detection
    drop_frame_len: float = 3.0               # prior: mean run length
    # desk framing (step 7): the bottom edge of the image above the hips. Visibility ranges of out-of-frame joints
    # are MediaPipe 0.10.21's on a seated close-up (`python -m train.studies.measure_out_of_frame`,
    # docs/degradation.md): median visibility of out-of-frame hips 0.23 / 0.40, knees 0.11 / 0.16, ankles
    # 0.05 / 0.09, elbows and wrists 0.47-0.78
    lower_body_out: float = 0.0               # share of clips framed from the waist up (not scaled by severity)
    frame_cut: tuple[float, float] = (0.1, 0.6)        # bottom edge, torso lengths above the mid-hip ~ U(lo, hi)
    out_hip_score: tuple[float, float] = (0.02, 0.6)   # visibility of out-of-frame hips ~ U(lo, hi) per clip
    out_leg_score: tuple[float, float] = (0.0, 0.3)    # … knees, ankles, heels, feet
    out_arm_score: tuple[float, float] = (0.3, 0.8)    # … any other joint below the edge (elbows, wrists, hands)
    out_torso_ratio: tuple[float, float] = (1.3, 1.9)  # hallucinated torso length / shoulder width (measured 1.8)
    out_drift: float = 0.1                    # smooth error of out-of-frame joints (torso lengths, AR(1) drift)
    # camera for 3D input: the Kinect v2 colour camera (1920×1080), fitted on NTU camera-space vs colour pixels
    camera_focal: float = 1056.0
    camera_principal: tuple[float, float] = (976.0, 567.0)

    # ----- construction ------------------------------------------------------------------------------------
    @classmethod
    def zero(cls) -> "DegradeConfig":
        """No corruption at all: the output is the clean converted input with score 1 where present."""
        return cls(jitter=0.0, drift=0.0, bias_random=0.0, scale_std=0.0, translate_std=0.0, swap_frac=0.0,
                   occlusion_frac=0.0,
                   score_mean=1.0, score_std=0.0, dropout=0.0, drop_frame_frac=0.0)

    @classmethod
    def from_calibration(cls, path: str | Path = DEFAULT_CALIBRATION, _depth: int = 0) -> "DegradeConfig":
        """Load the fitted parameters (the ``degrade_config`` object of a calibration JSON).

        A file with ``"extends": "<other>.json"`` is a *profile*: the other file's parameters with its own
        ``degrade_config`` entries replacing theirs (``desk_webcam.json`` = the NTU calibration + desk framing).
        """
        path = Path(path)
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise ValueError(f"{path}: cannot read calibration JSON ({e}); run python -m train.calibrate "
                             f"to write it") from None
        if not isinstance(doc, dict) or "degrade_config" not in doc:
            raise ValueError(f"{path}: not a calibration file (no 'degrade_config' object)")
        if "extends" in doc:  # a profile: another calibration file (path relative to this one) plus changes
            if _depth >= 8:
                raise ValueError(f"{path}: 'extends' chain deeper than 8 files (a cycle?)")
            base = cls.from_calibration(path.parent / str(doc["extends"]), _depth=_depth + 1)
            return cls.from_dict({**base.to_dict(), **doc["degrade_config"]})
        return cls.from_dict(doc["degrade_config"])

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for k, v in d.items():
            if isinstance(v, tuple):
                d[k] = list(v)
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "DegradeConfig":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown degradation parameters {unknown}; known: {sorted(known)}")
        d = dict(d)
        for k in ("occlusion_parts", "occluded_score", "camera_principal", *DESK_RANGES):
            if k in d:
                d[k] = tuple(d[k])
        return cls(**d)

    def scaled(self, severity: float) -> "DegradeConfig":
        """The same error model, ``severity`` times as strong: random position errors (jitter, drift, per-clip
        bias, occlusion noise, framing noise) and event rates (swaps, occlusions, dropout, missed frames, capped
        at 0.5) are multiplied; the systematic joint-definition offsets (``bias_joints``), the score model and the
        camera are kept. ``severity=1`` is the calibrated model itself.
        """
        if severity < 0:
            raise ValueError(f"degradation severity must be >= 0, got {severity}")
        s = float(severity)
        cap = lambda v: min(0.5, v * s)  # noqa: E731
        return replace(
            self, jitter=self.jitter * s, jitter_joints={k: v * s for k, v in self.jitter_joints.items()},
            drift=self.drift * s, drift_joints={k: v * s for k, v in self.drift_joints.items()},
            bias_random=self.bias_random * s, occlusion_noise=self.occlusion_noise * s,
            scale_std=self.scale_std * s, translate_std=self.translate_std * s,
            swap_frac=cap(self.swap_frac), occlusion_frac=cap(self.occlusion_frac), dropout=cap(self.dropout),
            drop_frame_frac=cap(self.drop_frame_frac))

    # ----- per-joint parameter vectors for a layout ----------------------------------------------------------
    def per_joint(self, name: str, layout: Layout) -> np.ndarray:
        """``jitter``/``drift`` → ``[V]``; ``bias`` → ``[V, 2]``; ``score`` → ``[V, 2]`` (mean, std)."""
        table, default = {
            "jitter": (self.jitter_joints, self.jitter),
            "drift": (self.drift_joints, self.drift),
            "bias": (self.bias_joints, [0.0, 0.0]),
            "score": (self.score_joints, [self.score_mean, self.score_std]),
        }[name]
        rows = []
        for j in layout.joints:
            key = j if j in table else JOINT_ALIASES.get(j, j)
            rows.append(table.get(key, default))
        return np.asarray(rows, dtype=np.float32)


# ----- helpers ------------------------------------------------------------------------------------------------
def torso_length(seq2d: np.ndarray, layout: Layout | str) -> float:
    """Body scale of a 2D clip ``[T, V, 3]``: the same measure as ``preprocess`` normalises by."""
    layout = get_layout(layout) if isinstance(layout, str) else layout
    return float(body_scale(seq2d[..., :2], (seq2d[..., 2] > 0).astype(np.float32), layout))


def markov_runs(rng: np.random.Generator, t: int, frac: np.ndarray, mean_len: np.ndarray) -> np.ndarray:
    """``[T, K]`` bool: K independent on/off runs; each is on a ``frac`` share of frames in runs of ``mean_len``.

    A two-state Markov chain started in its stationary distribution: leave with ``1/mean_len``, enter with
    ``frac / (mean_len · (1 − frac))``.
    """
    frac = np.clip(np.asarray(frac, np.float64), 0.0, 0.999)
    mean_len = np.maximum(np.asarray(mean_len, np.float64), 1.0)
    leave = 1.0 / mean_len
    enter = np.minimum(frac * leave / (1.0 - frac), 1.0)
    u = rng.random((t, frac.size))
    if t == 0 or not frac.any():
        return np.zeros((t, frac.size), dtype=bool)
    # Vectorised form of "state = u[i] >= leave if state else u[i] < enter" (the same result, bit for bit):
    # where both branches agree the new state is a reset; elsewhere it flips (on & ~stay) or keeps, so a
    # state is its latest reset's value XOR the parity of the flips since.
    on, stay = u < enter, u >= leave
    on[0] = stay[0] = u[0] < frac                               # the stationary start
    flips = np.cumsum(on & ~stay, axis=0)
    last = np.maximum.accumulate(np.where(on == stay, np.arange(t)[:, None], 0), axis=0)
    since = flips - np.take_along_axis(flips, last, axis=0)
    return np.take_along_axis(on, last, axis=0) ^ (since % 2).astype(bool)


def ar1_noise(rng: np.random.Generator, shape: tuple[int, ...], timescale: float) -> np.ndarray:
    """Unit-variance AR(1) noise along axis 0 with lag-1 correlation ``exp(-1/timescale)`` (stationary start)."""
    a = float(np.exp(-1.0 / max(timescale, 1e-6)))
    eps = rng.standard_normal(shape)
    if shape[0] <= 1:
        return eps
    from scipy.signal import lfilter   # here, not at import: scipy.signal takes ~1 s to load

    x0 = eps[:1]
    rest = lfilter([np.sqrt(1.0 - a * a)], [1.0, -a], eps[1:], axis=0, zi=a * x0)[0]
    return np.concatenate([x0, rest], axis=0)


def _part_mask(layout: Layout, parts: Iterable[str]) -> np.ndarray:
    """``[P, V]`` membership of the eligible occlusion parts."""
    parts = list(parts)
    m = np.zeros((len(parts), layout.num_joints), dtype=bool)
    for i, p in enumerate(parts):
        m[i, list(layout.parts[p])] = True
    return m


# ----- the transform ------------------------------------------------------------------------------------------
def degrade(seq: np.ndarray, src_layout: str, dst_layout: str, cfg: DegradeConfig, rng: np.random.Generator,
            *, project: dict | None = None) -> np.ndarray:
    """HQ ``[T, V_src, C]`` (2D ``x,y,score`` or 3D ``x,y,z,score``) → LQ ``[T, V_dst, 3]`` float32.

    ``[M, T, V, C]`` multi-person input is degraded person by person. ``project`` overrides the camera for 3D
    input (``{"focal": …, "principal": (cx, cy)}``, see ``project_to_2d``).
    """
    seq = np.asarray(seq, dtype=np.float32)
    if seq.ndim == 4:
        return np.stack([degrade(p, src_layout, dst_layout, cfg, rng, project=project) for p in seq])
    if seq.ndim != 3 or seq.shape[-1] not in (3, 4):
        raise ValueError(f"expected a skeleton sequence [T, V, 3|4], got shape {seq.shape}")
    bad = ~np.isfinite(seq).all(-1)
    if bad.any():
        seq = np.where(bad[..., None], 0.0, seq).astype(np.float32)
    if seq.shape[-1] == 4:
        cam = project or {"focal": cfg.camera_focal, "principal": tuple(cfg.camera_principal)}
        seq = project_to_2d(seq, **cam)
    clean = convert(seq, src_layout, dst_layout)
    return corrupt(clean, dst_layout, cfg, rng)


def corrupt(clean: np.ndarray, layout: Layout | str, cfg: DegradeConfig, rng: np.random.Generator) -> np.ndarray:
    """The corruption steps of ``degrade`` on a clean 2D clip ``[T, V, 3]`` already in the target layout."""
    lay = get_layout(layout) if isinstance(layout, str) else layout
    t, v, _ = clean.shape
    present = clean[..., 2] > 0
    xy = clean[..., :2].astype(np.float64)
    unit = torso_length(clean, lay)

    # 1. framing: scale about the clip's centre, then translate
    w = present[..., None]
    centre = (xy * w).sum((0, 1)) / max(int(present.sum()), 1)
    scale = float(np.exp(cfg.scale_std * rng.standard_normal()))
    shift = cfg.translate_std * unit * rng.standard_normal(2)
    xy = (xy - centre) * scale + centre + shift
    unit *= scale

    # 2. left/right swaps; 4. occlusion runs; 6. missed frames — one Markov chain call for all
    parts = _part_mask(lay, cfg.occlusion_parts)
    n_p = len(parts)
    runs = markov_runs(rng, t,
                       np.r_[cfg.swap_frac, cfg.drop_frame_frac, np.full(n_p, cfg.occlusion_frac)],
                       np.r_[cfg.swap_len, cfg.drop_frame_len, np.full(n_p, cfg.occlusion_len)])
    swapped, dropped, occl_parts = runs[:, 0], runs[:, 1], runs[:, 2:]
    if swapped.any():
        perm = lay.flip_permutation()
        xy[swapped] = xy[swapped][:, perm]
        present = present.copy()
        present[swapped] = present[swapped][:, perm]

    framed = xy.copy() if cfg.lower_body_out > 0 else xy  # clean positions in the image, for step 7

    # 3. position error = bias + drift + jitter
    err = cfg.per_joint("bias", lay)[None].astype(np.float64) \
        + cfg.bias_random * rng.standard_normal((1, v, 2)) \
        + cfg.per_joint("drift", lay)[None, :, None] * ar1_noise(rng, (t, v, 2), cfg.drift_timescale) \
        + cfg.per_joint("jitter", lay)[None, :, None] * rng.standard_normal((t, v, 2))
    occluded = (occl_parts[:, :, None] & parts[None]).any(1) if n_p else np.zeros((t, v), bool)
    if occluded.any():
        err = err + occluded[..., None] * cfg.occlusion_noise * rng.standard_normal((t, v, 2))
    xy = xy + err * unit

    # 5. scores
    sc = cfg.per_joint("score", lay)
    score = np.clip(sc[:, 0] + sc[:, 1] * rng.standard_normal((t, v)), 0.0, 1.0)
    lo, hi = cfg.occluded_score
    score = np.where(occluded, rng.uniform(lo, hi, (t, v)), score)
    score = np.where(rng.random((t, v)) < cfg.dropout, 0.0, score)
    score = np.where(present, score, 0.0)

    # 6. missed frames: nothing detected
    score[dropped] = 0.0
    xy[dropped] = 0.0

    # 7. desk framing (draws last, so the steps above are the same with or without it)
    if cfg.lower_body_out > 0:
        desk_framing(xy, score, framed, present & ~dropped[:, None], lay, cfg, rng, unit)

    out = np.empty((t, v, 3), dtype=np.float32)
    out[..., :2] = np.nan_to_num(xy, nan=0.0, posinf=0.0, neginf=0.0)
    out[..., 2] = np.clip(score, 0.0, 1.0)
    return out


# ----- desk framing (step 7) -------------------------------------------------------------------------------------
# Where MediaPipe puts out-of-frame legs: (across, down) in shoulder widths — across from the mid-shoulder towards
# the joint's own side, down from the hallucinated hip line (a torso length below the shoulders, out_torso_ratio).
LEG_TEMPLATE: dict[str, tuple[float, float]] = {
    "hip": (0.35, 0.0), "knee": (0.3, 1.3), "ankle": (0.3, 2.6), "heel": (0.3, 2.75),
    "foot": (0.4, 2.85), "foot_index": (0.4, 2.85),
}
HIP_DERIVED = ("hip_center", "spine_base", "spine", "spine_mid")  # Kinect joints MediaPipe has only via the hips


def _leg_kind(joint: str) -> str | None:
    side, _, rest = joint.partition("_")
    return rest if side in ("left", "right") and rest in LEG_TEMPLATE else None


def desk_framing(xy: np.ndarray, score: np.ndarray, framed: np.ndarray, present: np.ndarray, layout: Layout,
                 cfg: DegradeConfig, rng: np.random.Generator, unit: float) -> None:
    """Step 7 on one clip, in place: with probability ``lower_body_out``, joints below the image's bottom edge
    get hallucinated positions and a low visibility.

    The edge is horizontal, ``frame_cut`` torso lengths above the clip's median mid-hip (in ``framed``, the
    positions before the position error). Out-of-frame leg joints go where MediaPipe draws legs it cannot see:
    straight down from hips a torso length below the shoulders (``LEG_TEMPLATE``), moving with the shoulders —
    they say nothing about the real legs; any other joint below the edge keeps its degraded position. Both get
    a smooth extra error (``out_drift``) and a visibility from ``out_*_score`` (a level per clip and joint, ±0.05
    per frame; a level of exactly 0 means not reported: score 0). Missing joints (``present`` false, missed
    frames included) stay missing.
    """
    t, v = score.shape
    draws = rng.random(3 + v)  # fixed count: the clip decision, the edge, the torso ratio, a level per joint
    if draws[0] >= cfg.lower_body_out:
        return
    derived = [j for j in layout.joints if j in HIP_DERIVED]
    if derived:
        raise ValueError(f"desk framing needs a layout whose joints MediaPipe reports directly; {layout.name} has "
                         f"{', '.join(derived)} (use coco17, penn13 or mediapipe33 for the LQ layout)")
    (ls, rs), (lh, rh) = layout.shoulders, layout.hips
    hips_ok = present[:, lh] & present[:, rh]
    sh_ok = present[:, ls] & present[:, rs]
    if not hips_ok.any() or not sh_ok.any():
        return
    lo, hi = cfg.frame_cut
    edge = np.median(0.5 * (framed[hips_ok, lh, 1] + framed[hips_ok, rh, 1])) - (lo + (hi - lo) * draws[1]) * unit
    out = (framed[..., 1] > edge) & present

    mid = np.where(sh_ok[:, None], 0.5 * (framed[:, ls] + framed[:, rs]), 0.0)
    across = np.where(sh_ok[:, None], framed[:, ls] - framed[:, rs], 0.0)
    mid[~sh_ok] = np.median(mid[sh_ok], 0)
    across[~sh_ok] = np.median(across[sh_ok], 0)
    width = np.maximum(np.linalg.norm(across, axis=-1, keepdims=True), 1e-6)
    down = np.stack([-across[:, 1], across[:, 0]], -1) / width
    down *= np.where(down[:, 1:] < 0, -1.0, 1.0)                          # image y grows downwards
    lo, hi = cfg.out_torso_ratio
    hip_line = lo + (hi - lo) * draws[2]

    drift = cfg.out_drift * unit * ar1_noise(rng, (t, v, 2), cfg.drift_timescale)
    wobble = 0.05 * rng.standard_normal((t, v))
    for j, name in enumerate(layout.joints):
        if not out[:, j].any():
            continue
        kind = _leg_kind(name)
        if kind is not None:
            a, d = LEG_TEMPLATE[kind]
            side = 1.0 if name.startswith("left_") else -1.0
            hallucinated = mid + side * a * across + (hip_line + d) * width * down
            xy[:, j] = np.where(out[:, j, None], hallucinated + drift[:, j], xy[:, j])
        else:
            xy[:, j] = np.where(out[:, j, None], xy[:, j] + drift[:, j], xy[:, j])
        lo, hi = (cfg.out_hip_score if kind == "hip" else cfg.out_leg_score if kind else cfg.out_arm_score)
        level = lo + (hi - lo) * draws[3 + j]  # a range (0, 0): not reported at all (score 0)
        seen = np.clip(level + wobble[:, j], 0.0, 1.0) if level > 0 else 0.0
        score[:, j] = np.where(out[:, j], seen, score[:, j])


def sample_rng(seed: int, sample_id: str, epoch: int = 0) -> np.random.Generator:
    """Per-sample generator from (seed, epoch, crc32(id)); crc32 is stable across processes, unlike ``hash``.

    ``train.lib.data`` draws each training clip's LQ version with it (epoch ≥ 1) and the fixed LQ test set (epoch 0).
    """
    return np.random.default_rng([int(seed), int(epoch), zlib.crc32(str(sample_id).encode())])


def degrade_dataset(samples: Iterable[Any], dst_layout: str, cfg: DegradeConfig, seed: int) -> list[np.ndarray]:
    """Degrade every sample (``.data``, ``.layout``, ``.id``); the result depends only on (seed, sample id)."""
    return [degrade(s.data, s.layout, dst_layout, cfg, sample_rng(seed, s.id)) for s in samples]
