"""A dataset's *look*: what tells its skeletons apart from another dataset's, whatever the action — and its removal.

A background class trained on other datasets' clips learns whatever separates them from the known clips, and not
all of that is the action. Measured here (docs/results/openset.md, *The dataset look*) on the Penn model:

- **missing joints**: Penn Action's annotators mark 22 % of joints invisible (90 % of clips have some, mostly the
  far side of a body seen from the side); those joints are missing in every training window. Kinect clips, the
  generated idle people and real MediaPipe output (0–0.3 % below the runtime's score floor on our videos of whole
  people) have every joint. A model with a background class called 16 % of the Penn test windows background once
  their hidden joints were shown (8 % as annotated);
- **body proportions**: Kinect v1 (NW-UCLA, UTD-MHAD) places the hips high, so per torso length its thighs are
  1.16 long and its head 0.8 from mid-shoulder, where Penn's annotations give 0.78 and 0.39 (NTU's Kinect v2 and
  MediaPipe: 0.7 and 0.4–0.5). ``python -m train.studies.reject_study look`` prints these numbers.

``Look`` takes both away, symmetrically, so neither can stand for "background": clips of other sources are
``retarget``-ed to the known clips' median proportions and, with probability ``share``, given the missing-joint
mask of a random known clip (``MaskBank``); clips of the known data's own look (Penn clips, transitions) have, with
the same probability, their hidden joints shown (``reveal_hidden``), scored like an occluded joint, as MediaPipe
reports one.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from partkd_stream.convert import convert, project_to_2d
from partkd_stream.layouts import get_layout

from .degrade import DegradeConfig, corrupt

# bone name → (from joint, to joint); the torso (mid-shoulder → mid-hip) is the unit and is kept
BONES = {"shoulder_width": ("left_shoulder", "right_shoulder"), "hip_width": ("left_hip", "right_hip"),
         "upper_arm": ("shoulder", "elbow"), "forearm": ("elbow", "wrist"), "thigh": ("hip", "knee"),
         "shin": ("knee", "ankle"), "head": ("mid_shoulder", "head")}
_CHAINS = (("shoulder", "elbow", "upper_arm"), ("elbow", "wrist", "forearm"), ("hip", "knee", "thigh"),
           ("knee", "ankle", "shin"))


def clean_2d(seq: np.ndarray, layout: str, dst_layout: str, deg: DegradeConfig) -> np.ndarray:
    """A clean clip in ``dst_layout`` 2D, as ``train.lib.degrade.degrade`` sees it before corrupting it."""
    seq = np.asarray(seq, np.float32)
    bad = ~np.isfinite(seq).all(-1)
    if bad.any():
        seq = np.where(bad[..., None], 0.0, seq).astype(np.float32)
    if seq.shape[-1] == 4:
        seq = project_to_2d(seq, focal=deg.camera_focal, principal=tuple(deg.camera_principal))
    return convert(seq, layout, dst_layout)


class _Joints:
    """Indices of the named joints a retarget moves (``head`` is the head joint, or the nose)."""

    def __init__(self, layout: str) -> None:
        lay = get_layout(layout)
        idx = {n: i for i, n in enumerate(lay.joints)}
        need = [f"{s}_{j}" for s in ("left", "right") for j in ("shoulder", "elbow", "wrist", "hip", "knee", "ankle")]
        missing = [n for n in need if n not in idx]
        if missing:
            raise ValueError(f"layout {layout} lacks {missing}: body proportions need both arms and legs")
        self.idx = idx
        self.head = idx.get("head", idx.get("nose"))


def proportions(seq: np.ndarray, layout: str) -> dict[str, float]:
    """Median length of each bone per median torso length (2D ``[T, V, 3]``); NaN where never seen."""
    j = _Joints(layout)
    xy, ok = seq[..., :2].astype(np.float64), seq[..., 2] > 0

    def pt(name: str) -> tuple[np.ndarray, np.ndarray]:
        if name == "mid_shoulder":
            a, b = j.idx["left_shoulder"], j.idx["right_shoulder"]
            return (xy[:, a] + xy[:, b]) / 2, ok[:, a] & ok[:, b]
        if name == "head":
            return (xy[:, j.head], ok[:, j.head]) if j.head is not None else (xy[:, 0], np.zeros(len(xy), bool))
        return xy[:, j.idx[name]], ok[:, j.idx[name]]

    def lengths(a: str, b: str) -> np.ndarray:
        (pa, oa), (pb, ob) = pt(a), pt(b)
        return np.linalg.norm(pa - pb, axis=-1)[oa & ob]

    sh = [j.idx["left_shoulder"], j.idx["right_shoulder"]]
    hp = [j.idx["left_hip"], j.idx["right_hip"]]
    m = ok[:, sh + hp].all(1)
    if not m.any():
        return {k: float("nan") for k in BONES}
    torso = float(np.median(np.linalg.norm(xy[m][:, sh].mean(1) - xy[m][:, hp].mean(1), axis=-1)))
    out = {}
    for bone, (a, b) in BONES.items():
        if bone in ("upper_arm", "forearm", "thigh", "shin"):
            v = np.concatenate([lengths(f"{s}_{a}", f"{s}_{b}") for s in ("left", "right")])
        else:
            v = lengths(a, b)
        out[bone] = float(np.median(v)) / torso if len(v) and torso > 0 else float("nan")
    return out


def median_proportions(seqs: Sequence[np.ndarray], layout: str) -> dict[str, float]:
    """Per bone, the median over clips of ``proportions``."""
    per = [proportions(s, layout) for s in seqs]
    return {k: float(np.nanmedian([p[k] for p in per])) if any(np.isfinite(p[k]) for p in per) else float("nan")
            for k in BONES}


def retarget(seq: np.ndarray, layout: str, factors: dict[str, float]) -> np.ndarray:
    """Each bone of a 2D clip ``[T, V, 3]`` scaled by ``factors[bone]`` (1 where absent or not finite), the torso
    kept: shoulders and hips about their midpoints, limbs joint by joint outwards, the head from mid-shoulder.
    Scores are untouched; joints outside the bone table keep their place."""
    j = _Joints(layout)
    f = {k: (float(v) if np.isfinite(v) and v > 0 else 1.0) for k, v in factors.items()}
    xy = seq[..., :2].astype(np.float64)
    new = xy.copy()
    for a, b, bone in (("left_shoulder", "right_shoulder", "shoulder_width"), ("left_hip", "right_hip", "hip_width")):
        ia, ib = j.idx[a], j.idx[b]
        mid = (xy[:, ia] + xy[:, ib]) / 2
        new[:, ia] = mid + (xy[:, ia] - mid) * f.get(bone, 1.0)
        new[:, ib] = mid + (xy[:, ib] - mid) * f.get(bone, 1.0)
    for side in ("left", "right"):
        for a, b, bone in _CHAINS:
            ia, ib = j.idx[f"{side}_{a}"], j.idx[f"{side}_{b}"]
            new[:, ib] = new[:, ia] + (xy[:, ib] - xy[:, ia]) * f.get(bone, 1.0)
    if j.head is not None:
        ms = (xy[:, j.idx["left_shoulder"]] + xy[:, j.idx["right_shoulder"]]) / 2
        new_ms = (new[:, j.idx["left_shoulder"]] + new[:, j.idx["right_shoulder"]]) / 2
        new[:, j.head] = new_ms + (xy[:, j.head] - ms) * f.get("head", 1.0)
    out = seq.copy()
    out[..., :2] = np.where(seq[..., 2:] > 0, new, seq[..., :2]).astype(seq.dtype)
    return out


class MaskBank:
    """Missing-joint masks ``[T, V]`` (True = hidden) of known clips in the model's layout, lent to other clips."""

    def __init__(self, masks: Sequence[np.ndarray]) -> None:
        self.masks = [np.asarray(m, bool) for m in masks if len(m)]
        if not self.masks:
            raise ValueError("no masks: a MaskBank needs at least one known clip")

    @classmethod
    def from_clips(cls, clips: Sequence[tuple[np.ndarray, str]], layout: str) -> "MaskBank":
        """From ``(sequence, layout)`` known clips (2D, score last): hidden = score 0 after conversion."""
        return cls([convert(s, lay, layout)[..., -1] <= 0 for s, lay in clips])

    @property
    def hidden_share(self) -> float:
        return float(np.mean([m.mean() for m in self.masks]))

    def apply(self, seq: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """``seq`` with a random bank mask (looped over its frames from a random start) hiding joints."""
        m = self.masks[int(rng.integers(len(self.masks)))]
        start = int(rng.integers(len(m)))
        frames = (start + np.arange(len(seq))) % len(m)
        out = seq.copy()
        out[..., -1] = np.where(m[frames], 0.0, seq[..., -1])
        return out


def reveal_hidden(clean: np.ndarray, hidden: np.ndarray, deg: DegradeConfig, layout: str,
                  rng: np.random.Generator) -> np.ndarray:
    """Corrupt a clean 2D clip whose ``hidden`` joints (annotated invisible, coordinates kept) are shown, scored
    like an occluded joint (``deg.occluded_score``), as MediaPipe reports a joint it cannot see."""
    full = clean.copy()
    full[..., -1] = np.where(hidden, 1.0, clean[..., -1])
    out = corrupt(full, layout, deg, rng)
    lo, hi = deg.occluded_score
    out[..., 2] = np.where(hidden & (out[..., 2] > 0), rng.uniform(lo, hi, hidden.shape), out[..., 2])
    return out


@dataclass
class Look:
    """How a run takes the dataset look away (see the module docstring); ``None`` in a run = clips as recorded.

    ``target``: the known clips' median proportions; ``masks``: their missing-joint masks; ``share``: the chance
    that a clip of another look gets a mask, and that a clip of the known look has its hidden joints shown;
    ``known_look``: sources that already look like the known clips (no retarget, no borrowed mask).
    """

    target: dict[str, float]
    masks: MaskBank
    share: float = 0.5
    known_look: frozenset[str] = field(default_factory=lambda: frozenset({"transition"}))

    @classmethod
    def of_known(cls, clips: Sequence[tuple[np.ndarray, str]], layout: str, deg: DegradeConfig,
                 share: float = 0.5) -> "Look":
        """From the known training clips ``(sequence, layout)``."""
        if not 0.0 <= share <= 1.0:
            raise ValueError(f"look share must be in [0, 1], got {share}")
        clean = [clean_2d(s, lay, layout, deg) for s, lay in clips]
        return cls(median_proportions(clean, layout), MaskBank([c[..., -1] <= 0 for c in clean]), share)

    def factors(self, source_props: dict[str, float]) -> dict[str, float]:
        return {k: self.target[k] / v for k, v in source_props.items() if np.isfinite(v) and v > 0}

    def view(self, clean: np.ndarray, layout: str, known_look: bool, factors: dict[str, float] | None,
             deg: DegradeConfig, rng: np.random.Generator) -> np.ndarray:
        """One degraded view of a clean 2D clip (model layout) with the look taken away."""
        draw = rng.random() < self.share
        if known_look:
            hidden = clean[..., -1] <= 0
            return reveal_hidden(clean, hidden, deg, layout, rng) if draw and hidden.any() else \
                corrupt(clean, layout, deg, rng)
        seq = retarget(clean, layout, factors) if factors else clean
        if draw:
            seq = self.masks.apply(seq, rng)
        return corrupt(seq, layout, deg, rng)
