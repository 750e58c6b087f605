"""Skeleton layouts as plain data, and the small pure functions derived from them.

Every layout defines the *same* ordered body parts (``PARTS`` and the finer ``FINE_PARTS``). That shared part
table is the bridge between heterogeneous skeletons: a 25-joint 3D teacher and a 13-joint 2D student are
compared part by part, never joint by joint.

Joint orders follow ``shared/CONVENTIONS.md``. Joint names always spell the *person's own* side
(``left_*`` / ``right_*``), so left/right pairs, flips and conversions are derived from names, not indices.
Penn Action is stored right side first (joint 2 of the dataset is the person's right shoulder), which was
measured on the real labels and is re-checked by a data test.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping, Sequence

import numpy as np

PARTS: tuple[str, ...] = ("head", "torso", "left_arm", "right_arm", "left_leg", "right_leg")
FINE_PARTS: tuple[str, ...] = (
    "head", "torso",
    "left_upper_arm", "left_forearm", "right_upper_arm", "right_forearm",
    "left_thigh", "left_shin", "right_thigh", "right_shin",
)


@dataclass(frozen=True)
class Layout:
    """A skeleton layout: joint names, a tree of edges, a centre joint and the two part tables."""

    name: str
    joints: tuple[str, ...]
    edges: tuple[tuple[int, int], ...]
    center: int
    parts: Mapping[str, tuple[int, ...]] = field(repr=False)
    fine_parts: Mapping[str, tuple[int, ...]] = field(repr=False)

    @property
    def num_joints(self) -> int:
        return len(self.joints)

    def index(self, joint: str) -> int:
        return self.joints.index(joint)

    def part_table(self, which: str = "coarse") -> Mapping[str, tuple[int, ...]]:
        """``coarse`` → the 6 shared parts, ``fine`` → the 10 limb-segment parts."""
        if which == "coarse":
            return self.parts
        if which == "fine":
            return self.fine_parts
        raise ValueError(f"unknown part table {which!r}: use 'coarse' or 'fine'")

    def flip_permutation(self) -> np.ndarray:
        """Index permutation that swaps every ``left_*`` joint with its ``right_*`` twin."""
        perm = np.arange(self.num_joints)
        for i, name in enumerate(self.joints):
            for a, b in (("left", "right"), ("right", "left")):
                if a in name.split("_"):
                    twin = "_".join(b if w == a else w for w in name.split("_"))
                    perm[i] = self.index(twin)
        return perm

    @property
    def shoulders(self) -> tuple[int, int]:
        return self.index("left_shoulder"), self.index("right_shoulder")

    @property
    def hips(self) -> tuple[int, int]:
        return self.index("left_hip"), self.index("right_hip")


def _build(name: str, joints: Sequence[str], edges: Sequence[tuple[str, str]], center: str,
           parts: Mapping[str, Sequence[str]], fine_parts: Mapping[str, Sequence[str]]) -> Layout:
    joints = tuple(joints)
    idx = {j: i for i, j in enumerate(joints)}

    def table(spec: Mapping[str, Sequence[str]], order: tuple[str, ...]) -> dict[str, tuple[int, ...]]:
        assert tuple(spec) == order, f"{name}: parts must be {order}"
        return {p: tuple(idx[j] for j in members) for p, members in spec.items()}

    return Layout(
        name=name,
        joints=joints,
        edges=tuple((idx[a], idx[b]) for a, b in edges),
        center=idx[center],
        parts=table(parts, PARTS),
        fine_parts=table(fine_parts, FINE_PARTS),
    )


def _limb_edges(prefix_chain: Sequence[str]) -> list[tuple[str, str]]:
    edges = []
    for side in ("left", "right"):
        chain = [f"{side}_{j}" for j in prefix_chain]
        edges += list(zip(chain[:-1], chain[1:]))
    return edges


def _limb_parts(arm: Sequence[str], leg: Sequence[str], upper_arm: Sequence[str], forearm: Sequence[str],
                thigh: Sequence[str], shin: Sequence[str], head: Sequence[str], torso: Sequence[str]):
    def side(s: str, names: Sequence[str]) -> list[str]:
        return [n if n in head or n in torso else f"{s}_{n}" for n in names]

    coarse = {"head": list(head), "torso": list(torso),
              "left_arm": side("left", arm), "right_arm": side("right", arm),
              "left_leg": side("left", leg), "right_leg": side("right", leg)}
    fine = {"head": list(head), "torso": list(torso),
            "left_upper_arm": side("left", upper_arm), "left_forearm": side("left", forearm),
            "right_upper_arm": side("right", upper_arm), "right_forearm": side("right", forearm),
            "left_thigh": side("left", thigh), "left_shin": side("left", shin),
            "right_thigh": side("right", thigh), "right_shin": side("right", shin)}
    return coarse, fine


# --- Kinect v2 (NTU RGB+D), 25 joints -------------------------------------------------------------------------
_NTU25_JOINTS = (
    "spine_base", "spine_mid", "neck", "head",
    "left_shoulder", "left_elbow", "left_wrist", "left_hand",
    "right_shoulder", "right_elbow", "right_wrist", "right_hand",
    "left_hip", "left_knee", "left_ankle", "left_foot",
    "right_hip", "right_knee", "right_ankle", "right_foot",
    "spine_shoulder", "left_hand_tip", "left_thumb", "right_hand_tip", "right_thumb",
)
_NTU25_EDGES_1BASED = ((1, 2), (2, 21), (3, 21), (4, 3), (5, 21), (6, 5), (7, 6), (8, 7), (9, 21), (10, 9),
                       (11, 10), (12, 11), (13, 1), (14, 13), (15, 14), (16, 15), (17, 1), (18, 17), (19, 18),
                       (20, 19), (22, 8), (23, 8), (24, 12), (25, 12))
_ntu_coarse, _ntu_fine = _limb_parts(
    arm=("shoulder", "elbow", "wrist", "hand", "hand_tip", "thumb"), leg=("hip", "knee", "ankle", "foot"),
    upper_arm=("shoulder", "elbow"), forearm=("elbow", "wrist", "hand", "hand_tip", "thumb"),
    thigh=("hip", "knee"), shin=("knee", "ankle", "foot"),
    head=("neck", "head"),
    torso=("spine_base", "spine_mid", "spine_shoulder", "left_shoulder", "right_shoulder", "left_hip", "right_hip"))
NTU25 = _build("ntu25", _NTU25_JOINTS,
               [(_NTU25_JOINTS[a - 1], _NTU25_JOINTS[b - 1]) for a, b in _NTU25_EDGES_1BASED],
               "spine_shoulder", _ntu_coarse, _ntu_fine)

# --- Kinect v1 (NW-UCLA, SYSU 3D HOI), 20 joints = NTU joints 1-20 ------------------------------------------------
_KINECT20_JOINTS = ("hip_center", "spine", "shoulder_center", "head") + _NTU25_JOINTS[4:20]
_k_coarse, _k_fine = _limb_parts(
    arm=("shoulder", "elbow", "wrist", "hand"), leg=("hip", "knee", "ankle", "foot"),
    upper_arm=("shoulder", "elbow"), forearm=("elbow", "wrist", "hand"),
    thigh=("hip", "knee"), shin=("knee", "ankle", "foot"),
    head=("shoulder_center", "head"),
    torso=("hip_center", "spine", "shoulder_center", "left_shoulder", "right_shoulder", "left_hip", "right_hip"))
KINECT20 = _build(
    "kinect20", _KINECT20_JOINTS,
    [("hip_center", "spine"), ("spine", "shoulder_center"), ("shoulder_center", "head"),
     ("shoulder_center", "left_shoulder"), ("shoulder_center", "right_shoulder"),
     ("hip_center", "left_hip"), ("hip_center", "right_hip")]
    + _limb_edges(("shoulder", "elbow", "wrist", "hand")) + _limb_edges(("hip", "knee", "ankle", "foot")),
    "spine", _k_coarse, _k_fine)

# --- Penn Action, 13 joints, right side first (measured on the labels; see module docstring) -------------------
_PENN13_JOINTS = ("head",) + tuple(f"{s}_{j}" for j in ("shoulder", "elbow", "wrist", "hip", "knee", "ankle")
                                   for s in ("right", "left"))
_p_coarse, _p_fine = _limb_parts(
    arm=("shoulder", "elbow", "wrist"), leg=("hip", "knee", "ankle"),
    upper_arm=("shoulder", "elbow"), forearm=("elbow", "wrist"), thigh=("hip", "knee"), shin=("knee", "ankle"),
    head=("head",), torso=("left_shoulder", "right_shoulder", "left_hip", "right_hip"))
PENN13 = _build(
    "penn13", _PENN13_JOINTS,
    [("head", "left_shoulder"), ("head", "right_shoulder"), ("left_shoulder", "left_hip"),
     ("right_shoulder", "right_hip")]
    + _limb_edges(("shoulder", "elbow", "wrist")) + _limb_edges(("hip", "knee", "ankle")),
    "head", _p_coarse, _p_fine)

# --- COCO, 17 keypoints ----------------------------------------------------------------------------------------
_COCO17_JOINTS = ("nose", "left_eye", "right_eye", "left_ear", "right_ear") + tuple(
    f"{s}_{j}" for j in ("shoulder", "elbow", "wrist", "hip", "knee", "ankle") for s in ("left", "right"))
_c_coarse, _c_fine = _limb_parts(
    arm=("shoulder", "elbow", "wrist"), leg=("hip", "knee", "ankle"),
    upper_arm=("shoulder", "elbow"), forearm=("elbow", "wrist"), thigh=("hip", "knee"), shin=("knee", "ankle"),
    head=("nose", "left_eye", "right_eye", "left_ear", "right_ear"),
    torso=("left_shoulder", "right_shoulder", "left_hip", "right_hip"))
COCO17 = _build(
    "coco17", _COCO17_JOINTS,
    [("nose", "left_eye"), ("nose", "right_eye"), ("left_eye", "left_ear"), ("right_eye", "right_ear"),
     ("nose", "left_shoulder"), ("nose", "right_shoulder"), ("left_shoulder", "left_hip"),
     ("right_shoulder", "right_hip")]
    + _limb_edges(("shoulder", "elbow", "wrist")) + _limb_edges(("hip", "knee", "ankle")),
    "nose", _c_coarse, _c_fine)

# --- MediaPipe Pose, 33 landmarks ------------------------------------------------------------------------------
_MP33_JOINTS = (
    "nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner", "right_eye", "right_eye_outer",
    "left_ear", "right_ear", "mouth_left", "mouth_right",
    "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
    "left_pinky", "right_pinky", "left_index", "right_index", "left_thumb", "right_thumb",
    "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle",
    "left_heel", "right_heel", "left_foot_index", "right_foot_index",
)
_m_coarse, _m_fine = _limb_parts(
    arm=("shoulder", "elbow", "wrist", "pinky", "index", "thumb"), leg=("hip", "knee", "ankle", "heel", "foot_index"),
    upper_arm=("shoulder", "elbow"), forearm=("elbow", "wrist", "pinky", "index", "thumb"),
    thigh=("hip", "knee"), shin=("knee", "ankle", "heel", "foot_index"),
    head=("nose", "left_eye_inner", "left_eye", "left_eye_outer", "right_eye_inner", "right_eye",
          "right_eye_outer", "left_ear", "right_ear", "mouth_left", "mouth_right"),
    torso=("left_shoulder", "right_shoulder", "left_hip", "right_hip"))
MEDIAPIPE33 = _build(
    "mediapipe33", _MP33_JOINTS,
    [("nose", "left_eye_inner"), ("left_eye_inner", "left_eye"), ("left_eye", "left_eye_outer"),
     ("left_eye_outer", "left_ear"), ("nose", "right_eye_inner"), ("right_eye_inner", "right_eye"),
     ("right_eye", "right_eye_outer"), ("right_eye_outer", "right_ear"), ("nose", "mouth_left"),
     ("nose", "mouth_right"), ("nose", "left_shoulder"), ("nose", "right_shoulder"),
     ("left_shoulder", "left_hip"), ("right_shoulder", "right_hip")]
    + _limb_edges(("shoulder", "elbow", "wrist", "index")) + _limb_edges(("wrist", "pinky"))
    + _limb_edges(("wrist", "thumb")) + _limb_edges(("hip", "knee", "ankle", "heel"))
    + _limb_edges(("ankle", "foot_index")),
    "nose", _m_coarse, _m_fine)

# --- OpenNI / NITE (KARD, Florence 3D Actions), 15 joints --------------------------------------------------------
# NITE computes two of its joints from the others (measured on KARD and Florence 3D: 0 mm off in every frame):
# neck = mid-shoulder and torso = the midpoint of neck and mid-hip. Its "hand" is Kinect's hand (palm), not the
# wrist, and its "foot" is Kinect's foot, not the ankle (bone lengths; ``docs/datasets.md``).
_OPENNI15_JOINTS = ("head", "neck", "torso") + tuple(
    f"{s}_{j}" for s, js in (("left", ("shoulder", "elbow", "hand")), ("right", ("shoulder", "elbow", "hand")),
                              ("left", ("hip", "knee", "foot")), ("right", ("hip", "knee", "foot"))) for j in js)
_o_coarse, _o_fine = _limb_parts(
    arm=("shoulder", "elbow", "hand"), leg=("hip", "knee", "foot"),
    upper_arm=("shoulder", "elbow"), forearm=("elbow", "hand"), thigh=("hip", "knee"), shin=("knee", "foot"),
    head=("neck", "head"), torso=("torso", "neck", "left_shoulder", "right_shoulder", "left_hip", "right_hip"))
OPENNI15 = _build(
    "openni15", _OPENNI15_JOINTS,
    [("head", "neck"), ("neck", "torso"), ("neck", "left_shoulder"), ("neck", "right_shoulder"),
     ("torso", "left_hip"), ("torso", "right_hip")]
    + _limb_edges(("shoulder", "elbow", "hand")) + _limb_edges(("hip", "knee", "foot")),
    "torso", _o_coarse, _o_fine)

LAYOUTS: dict[str, Layout] = {lay.name: lay for lay in (NTU25, KINECT20, PENN13, COCO17, MEDIAPIPE33, OPENNI15)}


def get_layout(name: str) -> Layout:
    try:
        return LAYOUTS[name]
    except KeyError:
        raise ValueError(f"unknown skeleton layout {name!r}; known: {', '.join(LAYOUTS)}") from None


# --- graph matrices (PYSKL-style small pure functions) -----------------------------------------------------------
def edge2mat(edges: Sequence[tuple[int, int]], num_joints: int) -> np.ndarray:
    """``A[j, i] = 1`` for every edge ``(i, j)``."""
    a = np.zeros((num_joints, num_joints), dtype=np.float32)
    for i, j in edges:
        a[j, i] = 1.0
    return a


def normalize_digraph(a: np.ndarray) -> np.ndarray:
    """Column-normalise so that each joint averages, rather than sums, its neighbours."""
    deg = a.sum(0)
    inv = np.where(deg > 0, 1.0 / np.maximum(deg, 1e-12), 0.0)
    return (a * inv[None, :]).astype(np.float32)


def hop_distance(layout: Layout) -> np.ndarray:
    """Shortest path length in edges between every pair of joints (``inf`` when unreachable)."""
    n = layout.num_joints
    dist = np.full((n, n), np.inf)
    np.fill_diagonal(dist, 0)
    for i, j in layout.edges:
        dist[i, j] = dist[j, i] = 1
    for k in range(n):  # Floyd-Warshall; layouts have ≤ 33 joints
        dist = np.minimum(dist, dist[:, k:k + 1] + dist[k:k + 1, :])
    return dist


def spatial_adjacency(layout: Layout) -> np.ndarray:
    """ST-GCN spatial partition ``[3, V, V]``: self, neighbours nearer the centre, neighbours farther away."""
    n = layout.num_joints
    hop = hop_distance(layout)
    to_center = hop[:, layout.center]
    inward, outward = [], []
    for i, j in layout.edges:
        near, far = (i, j) if to_center[i] < to_center[j] else (j, i)
        inward.append((far, near))
        outward.append((near, far))
    eye = np.eye(n, dtype=np.float32)
    return np.stack([eye, normalize_digraph(edge2mat(inward, n)), normalize_digraph(edge2mat(outward, n))])


def part_pool_matrix(layout: Layout, which: str = "coarse") -> np.ndarray:
    """``[V, P]`` matrix whose column p averages the joints of part p (so ``features @ M`` pools parts)."""
    table = layout.part_table(which)
    m = np.zeros((layout.num_joints, len(table)), dtype=np.float32)
    for p, members in enumerate(table.values()):
        m[list(members), p] = 1.0 / len(members)
    return m


def part_names(which: str = "coarse") -> tuple[str, ...]:
    return PARTS if which == "coarse" else FINE_PARTS
