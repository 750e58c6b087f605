"""Explicit conversions between skeleton layouts, and 3D → 2D projection.

A conversion is data: for every target joint, the source joints whose (weighted) mean it is. Joints that the
source does not have are *synthesised* this way, and the table below is their documentation:

- ``mediapipe33 → ntu25/kinect20``: spine_base / hip_center = mid-hip; spine_shoulder / shoulder_center =
  mid-shoulder; spine_mid / spine = mean of both shoulders and both hips; neck = halfway between mid-shoulder
  and mid-mouth; head = mid-ear; hand = mean(pinky, index); hand_tip = index; foot = foot_index.
- ``mediapipe33 → penn13``: head = mean(nose, left_ear, right_ear) (Penn labels mark the head's centre).
- ``ntu25/kinect20 → coco17``: nose, eyes and ears all = head (Kinect has no face joints).
- ``coco17 → penn13``: head = mean(nose, left_ear, right_ear).
- ``kinect20/ntu25 → openni15`` (one layout for every Kinect set, so a 3D teacher trains on UTD-MHAD, NW-UCLA,
  KARD and Florence 3D together): neck = mid-shoulder and torso = mean of both shoulders and both hips, which is
  how OpenNI/NITE computes them (KARD and Florence 3D: 0 mm off) — Kinect's own shoulder_center / neck sits
  ~10 cm above the shoulders and its spine lower than NITE's torso, so they are not used; hand = Kinect hand and
  foot = Kinect foot (the OpenNI joints' bone lengths match those, not the wrist or ankle). Dropped: hip_center,
  spine, shoulder_center, wrists, ankles (NTU also spine_base, spine_mid, spine_shoulder, hand tips, thumbs).
- ``openni15 → penn13``: wrist = 0.77·hand + 0.23·elbow and ankle = 0.85·foot + 0.15·knee (OpenNI has no wrist
  or ankle; where Kinect has all four, the wrist lies 0.76–0.78 of the way from elbow to hand and the ankle
  0.85–0.86 of the way from knee to foot: UTD-MHAD and NW-UCLA, every frame, median).

A synthesised joint's score is the *minimum* of its sources' scores: it is only as present as its least
present source. Coordinates may be 2D ``(x, y, score)`` or 3D ``(x, y, z, score)``; the score is always last.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Mapping, Sequence, Union

import numpy as np

from .layouts import Layout, get_layout

Source = Union[str, Sequence[str], Mapping[str, float]]

_FACE_FROM_HEAD = {j: "head" for j in ("nose", "left_eye", "right_eye", "left_ear", "right_ear")}
_MP_HEAD = ["nose", "left_ear", "right_ear"]
_MP_TO_KINECT_COMMON: dict[str, Source] = {
    "head": ["left_ear", "right_ear"],
    "left_hand": ["left_pinky", "left_index"], "right_hand": ["right_pinky", "right_index"],
    "left_foot": "left_foot_index", "right_foot": "right_foot_index",
}
_MID_HIP = ["left_hip", "right_hip"]
_MID_SHOULDER = ["left_shoulder", "right_shoulder"]
_OPENNI_CENTRE: dict[str, Source] = {"neck": _MID_SHOULDER, "torso": _MID_SHOULDER + _MID_HIP}

# target layout name → {target joint: source joint(s)}; target joints not listed are taken by identical name.
CONVERSIONS: dict[tuple[str, str], dict[str, Source]] = {
    ("mediapipe33", "ntu25"): {
        **_MP_TO_KINECT_COMMON,
        "spine_base": _MID_HIP, "spine_shoulder": _MID_SHOULDER, "spine_mid": _MID_HIP + _MID_SHOULDER,
        "neck": {"left_shoulder": 0.25, "right_shoulder": 0.25, "mouth_left": 0.25, "mouth_right": 0.25},
        "left_hand_tip": "left_index", "right_hand_tip": "right_index",
    },
    ("mediapipe33", "kinect20"): {
        **_MP_TO_KINECT_COMMON,
        "hip_center": _MID_HIP, "shoulder_center": _MID_SHOULDER, "spine": _MID_HIP + _MID_SHOULDER,
    },
    ("mediapipe33", "penn13"): {"head": _MP_HEAD},
    ("mediapipe33", "coco17"): {},
    ("ntu25", "kinect20"): {"hip_center": "spine_base", "spine": "spine_mid", "shoulder_center": "spine_shoulder"},
    ("ntu25", "penn13"): {},
    ("ntu25", "coco17"): dict(_FACE_FROM_HEAD),
    ("kinect20", "penn13"): {},
    ("kinect20", "coco17"): dict(_FACE_FROM_HEAD),
    ("coco17", "penn13"): {"head": _MP_HEAD},
    ("kinect20", "openni15"): dict(_OPENNI_CENTRE),
    ("ntu25", "openni15"): dict(_OPENNI_CENTRE),
    ("openni15", "penn13"): {
        **{f"{s}_wrist": {f"{s}_hand": 0.77, f"{s}_elbow": 0.23} for s in ("left", "right")},
        **{f"{s}_ankle": {f"{s}_foot": 0.85, f"{s}_knee": 0.15} for s in ("left", "right")},
    },
}


def conversion_matrix(src: Layout | str, dst: Layout | str) -> np.ndarray:
    """``[V_dst, V_src]`` weights (rows sum to 1) such that ``dst_coords = M @ src_coords`` (read-only: cached)."""
    return conversion(src, dst).matrix


@dataclass(frozen=True)
class Conversion:
    """One layout conversion, built once per pair of layouts (``conversion``) and applied to any number of frames.

    ``matrix`` ``[V_dst, V_src]``: the weights; ``sources`` ``[V_dst, K]``: each target joint's source joints
    (padded by repeating one of them), over which its score is the minimum and a non-finite coordinate spreads."""

    src: str
    dst: str
    matrix: np.ndarray
    sources: np.ndarray

    @property
    def identity(self) -> bool:
        return self.src == self.dst

    def __call__(self, seq: np.ndarray) -> np.ndarray:
        """``[..., V_src, C]`` (score last) → ``[..., V_dst, C]`` float32.

        A non-finite coordinate makes only the target joints built from it non-finite (a matrix product alone
        would spread ``0 · inf = nan`` to every target), so sanitising later loses that joint, not the frame."""
        seq = np.asarray(seq)
        if seq.dtype != np.float32:
            with np.errstate(over="ignore", invalid="ignore"):   # 1e300 → float32 inf: a missing joint later
                seq = seq.astype(np.float32)
        if self.identity:
            return seq.copy()
        coords = seq[..., :-1]
        bad = ~np.isfinite(coords).all(-1)                                      # [..., V_src]
        out = np.empty(seq.shape[:-2] + (len(self.matrix), seq.shape[-1]), np.float32)
        if bad.any():
            np.matmul(self.matrix, np.where(bad[..., None], np.float32(0), coords), out=out[..., :-1])
            out[bad[..., self.sources].any(-1), :-1] = np.nan
        else:
            np.matmul(self.matrix, coords, out=out[..., :-1])
        out[..., -1] = seq[..., -1][..., self.sources].min(-1)
        return out


@functools.lru_cache(maxsize=None)
def _conversion(src: str, dst: str) -> Conversion:
    s, d = get_layout(src), get_layout(dst)
    if s.name == d.name:
        m = np.eye(s.num_joints, dtype=np.float32)
    else:
        try:
            table = CONVERSIONS[(s.name, d.name)]
        except KeyError:
            known = ", ".join(f"{a}→{b}" for a, b in CONVERSIONS)
            raise ValueError(f"no conversion from {s.name} to {d.name}; known: {known}") from None
        m = np.zeros((d.num_joints, s.num_joints), dtype=np.float32)
        for j, joint in enumerate(d.joints):
            spec = table.get(joint, joint)
            if isinstance(spec, str):
                spec = {spec: 1.0}
            elif not isinstance(spec, Mapping):
                spec = {x: 1.0 / len(spec) for x in spec}
            for x, w in spec.items():
                m[j, s.index(x)] += w
    used = [np.flatnonzero(row > 0) for row in m]
    sources = np.array([np.resize(u, max(map(len, used))) for u in used])
    m.flags.writeable = sources.flags.writeable = False
    return Conversion(s.name, d.name, m, sources)


def conversion(src: Layout | str, dst: Layout | str) -> Conversion:
    """The ``Conversion`` from ``src`` to ``dst`` (built once, then cached); ``ValueError`` when none exists."""
    return _conversion(_layout(src).name, _layout(dst).name)


def convert(seq: np.ndarray, src: Layout | str, dst: Layout | str) -> np.ndarray:
    """Convert ``[..., V_src, C]`` (score last) to ``[..., V_dst, C]``; synthesised scores = min of sources."""
    return conversion(src, dst)(seq)


def project_to_2d(seq3d: np.ndarray, focal: float = 1.0, principal: tuple[float, float] = (0.0, 0.0)
                  ) -> np.ndarray:
    """Pinhole projection of camera-space ``(x, y, z, score)`` to image-like ``(u, v, score)``.

    ``v`` points down, as in images (Kinect's y points up). Joints at ``z ≤ 1 cm`` cannot be projected and get
    score 0 with finite coordinates.
    """
    seq3d = np.asarray(seq3d, dtype=np.float32)
    x, y, z, s = (seq3d[..., i] for i in range(4))
    ok = z > 1e-2
    zs = np.where(ok, z, 1.0)
    u = np.where(ok, focal * x / zs + principal[0], 0.0)
    v = np.where(ok, -focal * y / zs + principal[1], 0.0)
    return np.stack([u, v, np.where(ok, s, 0.0)], axis=-1).astype(np.float32)


def _layout(x: Layout | str) -> Layout:
    return x if isinstance(x, Layout) else get_layout(x)
