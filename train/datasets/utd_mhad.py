"""UTD-MHAD skeletons (``a{A}_s{S}_t{T}_skeleton.mat``) → samples (``kinect20``, 3D metres, 30 fps).

Each MATLAB v5 file holds ``d_skel``, ``20 × 3 × T`` (joints × xyz × frames), Kinect v1 camera space. Actions
1..27 → labels 0..26 (names in ``labels/utd_mhad_classes.txt``, the dataset's order), subject ``S`` 1..8, trial
``T`` 1..4 (``meta["trial"]``). The files carry no confidence: every joint gets score 1, except one stored as
exactly ``(0, 0, 0)`` (Kinect's "not tracked"; none of the 861 real files has one), which gets score 0.

**Joint order.** UTD-MHAD's own order (``Skeleton_joint_order.txt``: head, shoulder_center, spine, hip_center,
then left arm, right arm, left leg, right leg, 4 joints each) is the Kinect v1 joint *set* in another order;
``UTD_JOINTS`` names each file row and the loader reorders them to ``kinect20`` by name.

**Sides and the camera, checked on the data** (``tests/test_datasets_utd_realdata.py`` re-checks all of it):

- the joints the file calls *right* are the person's right: in every clip of the right-hand actions (swipe
  left/right, wave, throw, draw x/circles/triangle, bowling, tennis forehand, knock, catch) the right wrist
  travels farther than the left one (e.g. wave: median path 3.35 m vs 0.05 m, 32 of 32 clips), and "swipe left"
  moves that hand from the right shoulder's side to the left shoulder's (78 % of clips; swipe right the reverse,
  100 %);
- the person faces the sensor: in Kinect's right-handed camera space (y up, z away from the sensor), the body's
  forward direction, (left shoulder − right shoulder) × (head − hip centre), points towards the sensor (z < 0)
  in every frame — so the raw x axis points to the *sensor's left* (the left shoulder lies at smaller x, on the
  camera's right), as Microsoft documents for Kinect v1 skeleton space;
- ``partkd_stream.convert.project_to_2d`` maps +x to image right (u = f·x/z + c), as a webcam frame that is not
  mirrored shows it. The raw files would therefore project as a mirror image: the person's left on the image's
  left, "swipe left" moving towards image left — the opposite of what MediaPipe reports on a real webcam frame.
  The loader negates x, so x points to the camera's right; a frontal person then has the left shoulder on the
  image right, as MediaPipe's landmarks of a person facing the camera do. The labels are kept (they are right).

Protocols: ``cross_subject`` (the standard one): subjects 1, 3, 5, 7 train, 2, 4, 6, 8 test.
``cross_subject_val``: for tuning without touching the test subjects — subjects 1, 3, 5 train and subject 7
takes the test split's place (a validation view of the training data); subjects 2, 4, 6, 8 are left out.
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from partkd_stream.layouts import get_layout

from .sample import DatasetError, DatasetInfo, Sample, find_files, read_class_names

FPS = 30.0
NAME_RE = re.compile(r"^a(\d+)_s(\d+)_t(\d+)_skeleton$")
PROTOCOLS = {
    "cross_subject": {"train": (1, 3, 5, 7), "test": (2, 4, 6, 8)},
    "cross_subject_val": {"train": (1, 3, 5), "test": (7,)},
}
# Row k of d_skel, in the file's order (Skeleton_joint_order.txt), by kinect20 joint name.
UTD_JOINTS: tuple[str, ...] = (
    "head", "shoulder_center", "spine", "hip_center",
    "left_shoulder", "left_elbow", "left_wrist", "left_hand",
    "right_shoulder", "right_elbow", "right_wrist", "right_hand",
    "left_hip", "left_knee", "left_ankle", "left_foot",
    "right_hip", "right_knee", "right_ankle", "right_foot",
)
TO_KINECT20 = np.array([UTD_JOINTS.index(j) for j in get_layout("kinect20").joints])  # kinect20 row ← file row
CAMERA_X = np.array([-1.0, 1.0, 1.0], np.float32)  # raw x points to the sensor's left; ours to the camera's right


def read_d_skel(path: str | Path) -> np.ndarray:
    """``d_skel`` of one file as float32 ``[T, 20, 3]`` in the file's joint order and axes."""
    import scipy.io

    path = Path(path)
    try:
        d = np.asarray(scipy.io.loadmat(str(path))["d_skel"], np.float32)
    except (OSError, ValueError, KeyError, TypeError, IndexError, EOFError, NotImplementedError,
            scipy.io.matlab.MatReadError) as e:  # scipy raises several types for a corrupt file
        raise DatasetError(f"{path}: cannot read variable d_skel ({type(e).__name__}: {e})") from None
    if d.ndim == 2 and d.shape == (20, 3):
        d = d[..., None]
    if d.ndim != 3 or d.shape[:2] != (20, 3) or d.shape[2] == 0:
        raise DatasetError(f"{path}: d_skel must be 20 x 3 x frames, got {' x '.join(map(str, d.shape))}")
    return np.ascontiguousarray(d.transpose(2, 0, 1))


def parse_name(path: Path) -> tuple[int, int, int]:
    """``(action, subject, trial)`` from ``a{A}_s{S}_t{T}_skeleton.mat``; a one-line error otherwise."""
    m = NAME_RE.match(path.stem)
    if not m:
        raise DatasetError(f"{path}: file name is not a<action>_s<subject>_t<trial>_skeleton.mat")
    action, subject, trial = (int(g) for g in m.groups())
    if not 1 <= action <= 27 or not 1 <= subject <= 8:
        raise DatasetError(f"{path}: UTD-MHAD has actions 1..27 and subjects 1..8, got a{action}_s{subject}")
    return action, subject, trial


def utd_sample(path: str | Path, split: str) -> Sample:
    """One clip: ``kinect20`` order, x towards the camera's right (see the module docstring), score last."""
    path = Path(path)
    action, subject, trial = parse_name(path)
    raw = read_d_skel(path)
    if not np.isfinite(raw).all():
        raise DatasetError(f"{path}: d_skel holds NaN or infinite values")
    raw = raw[:, TO_KINECT20]
    score = (np.abs(raw).sum(-1) > 0).astype(np.float32)
    data = np.concatenate([raw * CAMERA_X, score[..., None]], axis=-1)
    return Sample(data=data, layout="kinect20", label=action - 1, id=path.stem.removesuffix("_skeleton"),
                  fps=FPS, split=split, subject=subject, meta={"action": action, "trial": trial})


def load_utd_mhad(root: str | Path, *, protocol: str | None = None,
                  progress: bool = False) -> tuple[DatasetInfo, list[Sample]]:
    """Every ``*_skeleton.mat`` under ``root`` (the ``skeleton`` folder); subjects outside the protocol are left out."""
    protocol = protocol or "cross_subject"
    if protocol not in PROTOCOLS:
        raise DatasetError(f"unknown UTD-MHAD protocol {protocol!r}; use one of {', '.join(PROTOCOLS)}")
    from tqdm import tqdm

    split_of = {s: sp for sp, subjects in PROTOCOLS[protocol].items() for s in subjects}
    files = find_files(root, "*_skeleton.mat", "UTD-MHAD skeleton folder (a1_s1_t1_skeleton.mat …)")
    samples = []
    for p in tqdm(files, desc="utd_mhad", unit="file", disable=not progress):
        subject = parse_name(p)[1]
        if subject in split_of:  # cross_subject_val leaves the test subjects out
            samples.append(utd_sample(p, split_of[subject]))
    return DatasetInfo(name="utd_mhad", layout="kinect20", classes=read_class_names("utd_mhad_classes.txt"),
                       fps=FPS, protocol=protocol, root=str(root)), samples
