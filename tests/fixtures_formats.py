"""Writers of tiny datasets in the exact real file formats (see shared/CONVENTIONS.md), for tests everywhere.

Each writer mirrors what the real files hold, down to the integer types MATLAB stored, so a loader that passes
on these fixtures reads the real data the same way.
"""
from __future__ import annotations

import json
import pickle
import time
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np


# --- NTU RGB+D .skeleton ------------------------------------------------------------------------------------------
def ntu_body(body_id: int, xyz: np.ndarray, tracking: int | np.ndarray = 2,
             color: np.ndarray | None = None) -> tuple[int, np.ndarray]:
    """A body for :func:`write_ntu_skeleton`: ``xyz`` ``[25, 3]`` metres → 25 × 12 joint values."""
    xyz = np.asarray(xyz, np.float64).reshape(25, 3)
    j = np.zeros((25, 12))
    j[:, :3] = xyz
    j[:, 3:5] = 256 + 100 * xyz[:, :2]                                  # depthX, depthY
    j[:, 5:7] = color if color is not None else 960 + 400 * xyz[:, :2] * [1, -1]  # colorX, colorY
    j[:, 7:11] = (1.0, 0.0, 0.0, 0.0)
    j[:, 11] = tracking
    return body_id, j


def standing_body(offset: Sequence[float] = (0.0, 0.0, 3.0), t: float = 0.0) -> np.ndarray:
    """Plausible upright ``[25, 3]`` Kinect v2 joints (taller than wide), the right hand moving with ``t``."""
    y = np.array([0.0, 0.3, 0.55, 0.65, 0.5, 0.25, 0.05, 0.0, 0.5, 0.25, 0.05, 0.0,
                  0.0, -0.45, -0.85, -0.9, 0.0, -0.45, -0.85, -0.9, 0.5, -0.05, 0.0, -0.05, 0.0])
    x = np.array([0.0, 0.0, 0.0, 0.0, -0.2, -0.25, -0.25, -0.25, 0.2, 0.25, 0.25, 0.25,
                  -0.1, -0.1, -0.1, -0.1, 0.1, 0.1, 0.1, 0.1, 0.0, -0.25, -0.27, 0.25, 0.27])
    xyz = np.stack([x, y, np.zeros(25)], -1) + np.asarray(offset)
    xyz[[10, 11, 23, 24], 1] += 0.3 * np.sin(t)
    return xyz


def write_ntu_skeleton(path: str | Path, frames: Sequence[Sequence[tuple[int, np.ndarray]]],
                       truncate_lines: int = 0) -> Path:
    """Write a ``.skeleton`` file; ``frames[t]`` lists ``(bodyID, joints [25, 12])`` (may be empty)."""
    lines = [str(len(frames))]
    for bodies in frames:
        lines.append(str(len(bodies)))
        for body_id, joints in bodies:
            lines.append(f"{body_id} 0 1 1 1 1 0 0.02764709 0.05745083 2")
            lines.append("25")
            for row in joints:
                lines.append(" ".join(f"{v:.7g}" for v in row[:11]) + f" {int(row[11])}")
    if truncate_lines:
        lines = lines[:-truncate_lines]
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\r\n".join(lines) + "\r\n", encoding="ascii")
    return path


# --- Penn Action .mat ---------------------------------------------------------------------------------------------
def write_penn_mat(path: str | Path, x: np.ndarray, y: np.ndarray, visibility: np.ndarray, action: str,
                   train: int, pose: str = "front", dims: tuple[int, int] = (360, 480)) -> Path:
    """A Penn Action label file as MATLAB v5, with the field types of the real files."""
    import scipy.io

    n = len(x)
    bbox = np.stack([x.min(1), y.min(1), x.max(1), y.max(1)], -1).astype(np.float64)
    scipy.io.savemat(str(path), {
        "action": action, "pose": pose, "x": np.asarray(x, np.float64), "y": np.asarray(y, np.float64),
        "visibility": np.asarray(visibility, np.uint8), "train": np.array([[train]], np.int32), "bbox": bbox,
        "dimensions": np.array([[dims[0], dims[1], n]], np.uint16),
        "nframes": np.array([[n]], np.uint8 if n < 256 else np.uint16)})
    return Path(path)


# --- NW-UCLA json -------------------------------------------------------------------------------------------------
def write_ucla_json(path: str | Path, skeletons: np.ndarray, label: int, file_name: str | None = None) -> Path:
    path = Path(path)
    path.write_text(json.dumps({"file_name": file_name or path.stem,
                                "skeletons": np.round(np.asarray(skeletons, float), 6).tolist(),
                                "label": int(label)}), encoding="utf-8")
    return path


# --- SYSU 3D HOI sklWorld.mat ------------------------------------------------------------------------------------
def write_sysu_mat(path: str | Path, sw: np.ndarray, v73: bool = False) -> Path:
    """``SW`` (``20 × 3 × T``) as MATLAB v5, or as v7.3: HDF5 with MATLAB's 512-byte header and transposed storage."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sw = np.asarray(sw, np.float64)
    if not v73:
        import scipy.io

        scipy.io.savemat(str(path), {"SW": sw})
        return path
    import h5py

    with h5py.File(str(path), "w", userblock_size=512) as f:
        d = f.create_dataset("SW", data=sw.T)  # MATLAB stores column-major: h5py sees T × 3 × 20
        d.attrs["MATLAB_class"] = np.bytes_("double")
    text = (f"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: {time.strftime('%a %b %d %H:%M:%S %Y')} "
            f"HDF5 schema 1.00 .").encode("ascii").ljust(116, b" ")
    header = text + b"\x00" * 8 + b"\x00\x02" + b"IM"
    with open(path, "r+b") as f:
        f.write(header.ljust(512, b"\x00"))
    return path


# --- UTD-MHAD a{A}_s{S}_t{T}_skeleton.mat -------------------------------------------------------------------------
UTD_ROWS_FROM_KINECT20 = [3, 2, 1, 0] + list(range(4, 20))  # file row k ← kinect20 joint (head, shoulder_center, …)


def utd_d_skel(t: int = 40, wave: float = 0.0, offset: Sequence[float] = (0.0, 0.1, 2.9)) -> np.ndarray:
    """A standing person facing the sensor as UTD-MHAD stores it: ``d_skel`` ``20 × 3 × t`` in the file's joint
    order and Kinect's axes (x to the sensor's left, so the left shoulder has the smaller x); the right hand
    waves with amplitude ``wave`` (metres)."""
    frames = []
    for k in range(t):
        xyz = standing_body(offset=offset)[:20]              # kinect20 order = NTU joints 1-20
        if wave:
            xyz[[10, 11], 1] += 0.45                         # forearm raised …
            xyz[[10, 11], 0] += wave * np.sin(0.5 * k)       # … right wrist and hand swing sideways
        frames.append(xyz[UTD_ROWS_FROM_KINECT20])
    return np.stack(frames, -1)


def write_utd_mat(path: str | Path, d_skel: np.ndarray) -> Path:
    """A UTD-MHAD skeleton file: MATLAB v5 with one float64 variable ``d_skel`` (20 × 3 × frames)."""
    import scipy.io

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    scipy.io.savemat(str(path), {"d_skel": np.asarray(d_skel, np.float64)})
    return path


# --- PYSKL pickle -------------------------------------------------------------------------------------------------
def write_pyskl_pickle(path: str | Path, annotations: list[dict[str, Any]], split: dict[str, list[str]],
                       protocol: int = 4) -> Path:
    with open(path, "wb") as f:
        pickle.dump({"split": split, "annotations": annotations}, f, protocol=protocol)
    return Path(path)


def pyskl_annotation(frame_dir: str, label: int, m: int = 1, t: int = 20, three_d: bool = False,
                     seed: int = 0) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    ann: dict[str, Any] = {"frame_dir": frame_dir, "label": label, "total_frames": t,
                           "img_shape": (1080, 1920), "original_shape": (1080, 1920)}
    if three_d:
        ann["keypoint"] = rng.normal(size=(m, t, 25, 3)).astype(np.float32)
    else:
        ann["keypoint"] = rng.uniform(0, 1000, size=(m, t, 17, 2)).astype(np.float16)
        ann["keypoint_score"] = rng.uniform(0, 1, size=(m, t, 17)).astype(np.float16)
    return ann


def write_utd_clip(root: str | Path, action: int, subject: int = 1, frames: int = 40, wave: float = 0.0,
                   trial: int = 1) -> Path:
    """One UTD-MHAD clip in the real format and under the real name (``a<action>_s<subject>_t<trial>_skeleton.mat``):
    a standing person (``utd_d_skel``) whose right hand waves with amplitude ``wave``."""
    return write_utd_mat(Path(root) / f"a{action}_s{subject}_t{trial}_skeleton.mat", utd_d_skel(frames, wave=wave))


def write_utd_tree(root: str | Path, subjects: int | Sequence[int] = 4, frames: int = 30, trials: Sequence[int] = (1,),
                   actions: dict[int, float] | None = None) -> Path:
    """A UTD-MHAD ``skeleton/`` folder: per action (its number → the right wrist's wave amplitude; default action 3,
    wave, waving 0.25, and action 4, clap, still), subject (1…``subjects``, or those listed) and trial, a clip of
    ``frames + subject + trial − 1`` frames."""
    for action, wave in (actions or {3: 0.25, 4: 0.0}).items():
        for subject in range(1, subjects + 1) if isinstance(subjects, int) else subjects:
            for trial in trials:
                write_utd_clip(root, action, subject, frames + subject + trial - 1, wave, trial)
    return Path(root)



# --- OpenNI text files: KARD a{AA}_s{SS}_e{EE}_realworld.txt, Florence 3D a{AA}_s{S}_id{N}.txt ---------------------
# Row k of each frame in each file, by openni15 joint name (the datasets' documented orders).
KARD_ROWS = ("head", "neck", "right_shoulder", "right_elbow", "right_hand", "left_shoulder", "left_elbow",
             "left_hand", "torso", "right_hip", "right_knee", "right_foot", "left_hip", "left_knee", "left_foot")
FLORENCE_ROWS = ("head", "neck", "torso", "left_shoulder", "left_elbow", "left_hand", "right_shoulder",
                 "right_elbow", "right_hand", "left_hip", "left_knee", "left_foot", "right_hip", "right_knee",
                 "right_foot")
_OPENNI_BODY = {  # metres, x to the camera's right, y up: a person facing the sensor (their right on image left)
    "head": (0.0, 0.62), "right_shoulder": (-0.18, 0.40), "left_shoulder": (0.18, 0.40),
    "right_elbow": (-0.22, 0.12), "left_elbow": (0.22, 0.12), "right_hand": (-0.24, -0.15),
    "left_hand": (0.24, -0.15), "right_hip": (-0.10, -0.05), "left_hip": (0.10, -0.05),
    "right_knee": (-0.10, -0.48), "left_knee": (0.10, -0.48), "right_foot": (-0.10, -0.88),
    "left_foot": (0.10, -0.88),
}


def openni_frames(t: int = 30, wave: float = 0.0, rows: Sequence[str] = KARD_ROWS, x_to_camera_left: bool = False,
                  offset: Sequence[float] = (0.1, 0.2, 2.7)) -> np.ndarray:
    """``[t, 15, 3]`` millimetres in a file's row order: the standing person above, the neck at mid-shoulder and
    the torso halfway to mid-hip (as NITE writes them); with ``wave`` (metres) the right hand is raised above the
    head and swings sideways. ``x_to_camera_left`` writes x as Florence 3D's files do (a mirror image)."""
    frames = []
    for k in range(t):
        body = {j: np.array([x, y, 0.0]) for j, (x, y) in _OPENNI_BODY.items()}
        if wave:
            body["right_elbow"] = np.array([-0.28, 0.45, -0.05])
            body["right_hand"] = np.array([-0.30 + wave * np.sin(0.6 * k), 0.75, -0.10])
        body["neck"] = (body["left_shoulder"] + body["right_shoulder"]) / 2
        body["torso"] = (body["neck"] + (body["left_hip"] + body["right_hip"]) / 2) / 2
        xyz = np.stack([body[j] for j in rows]) + np.asarray(offset)
        if x_to_camera_left:
            xyz[:, 0] *= -1
        frames.append(1000.0 * xyz)
    return np.stack(frames)


def write_kard_txt(path: str | Path, xyz_mm: np.ndarray) -> Path:
    """A KARD ``*_realworld.txt``: one joint per line, ``x y z`` mm as short decimals, 15 lines per frame."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = np.asarray(xyz_mm, np.float32).reshape(-1, 3)
    path.write_text("".join(f"{x:.8g} {y:.8g} {z:.8g}\n" for x, y, z in rows), encoding="ascii")
    return path


def write_florence_txt(path: str | Path, xyz_mm: np.ndarray) -> Path:
    """A Florence 3D clip file: one joint per line, ``x y z`` mm in %.16e with a trailing space, 15 lines per frame."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    rows = np.asarray(xyz_mm, np.float32).astype(np.float64).reshape(-1, 3)
    path.write_text("".join(f"{x:.16e} {y:.16e} {z:.16e} \n" for x, y, z in rows), encoding="ascii")
    return path


def write_kard_tree(root: str | Path, subjects: Sequence[int] = range(1, 11), frames: int = 20) -> Path:
    """A KARD ``realworld/`` folder: activities 2 (high arm wave, the right hand waving) and 13 (hand clap, still),
    repetitions 1 and 2 of each subject, subject s with ``frames + s`` frames."""
    root = Path(root)
    for activity, wave in ((2, 0.25), (13, 0.0)):
        for s in subjects:
            for e in (1, 2):
                write_kard_txt(root / f"a{activity:02d}_s{s:02d}_e{e:02d}_realworld.txt",
                               openni_frames(frames + s, wave=wave, rows=KARD_ROWS))
    return root


def write_florence_tree(root: str | Path, subjects: Sequence[int] = range(1, 11), frames: int = 12) -> Path:
    """A Florence 3D ``clips/`` folder: actions 1 (wave, the right hand waving) and 4 (clap, still), two clips per
    subject numbered in the original file's order (``id`` 1, 2, …), subject s with ``frames + s`` frames."""
    root = Path(root)
    n = 0
    for s in subjects:
        for action, wave in ((1, 0.25), (4, 0.0)):
            for _ in range(2):
                n += 1
                write_florence_txt(root / f"a{action:02d}_s{s}_id{n}.txt",
                                   openni_frames(frames + s, wave=wave, rows=FLORENCE_ROWS, x_to_camera_left=True))
    return root


# --- tiny datasets for training runs ------------------------------------------------------------------------------
def _motion(t: int, kind: int, rng) -> np.ndarray:
    """A swinging limb whose speed depends on the class, so the tiny run has something to learn."""
    return np.sin(np.arange(t) * (0.2 + 0.3 * kind))[:, None] + 0.05 * rng.normal(size=(t, 1))


def write_penn_tree(root: Path) -> Path:
    """Penn Action ``labels/``: 12 clips of two classes (squat, pushup) that swing differently, 8 train, 4 test."""
    rng = np.random.default_rng(0)
    labels = root / "labels"
    labels.mkdir(parents=True)
    for i in range(12):
        kind = i % 2
        t = 30 + 5 * i
        x = 200 + 40 * rng.normal(size=(1, 13)) + 30 * _motion(t, kind, rng)
        y = 150 + 60 * np.linspace(0, 1, 13)[None] + np.zeros((t, 1))
        vis = (rng.random((t, 13)) > 0.1).astype(np.uint8)
        write_penn_mat(labels / f"{i + 1:04d}.mat", x, y, vis, ["squat", "pushup"][kind], train=1 if i < 8 else -1)
    return labels


def write_ucla_tree(root: Path) -> Path:
    """NW-UCLA ``all_sqe/``: actions 1 and 2 (a swinging hand), views 1-3, subjects 1-2."""
    rng = np.random.default_rng(1)
    root.mkdir(parents=True)
    for a, label in ((1, 1), (2, 2)):
        for v in (1, 2, 3):
            for s in (1, 2):
                t = 25 + 3 * s
                sk = np.tile(standing_body()[:20], (t, 1, 1))
                sk[:, 11, 1] += 0.3 * _motion(t, label, rng)[:, 0]
                write_ucla_json(root / f"a{a:02d}_s{s:02d}_e00_v{v:02d}.json", sk, label)
    return root


def write_ntu_tree(root: Path) -> Path:
    """NTU ``skeletons/``: actions 1 and 2, setups 1-2, cameras 1-2, performers 1 and 3, 24 frames each."""
    root.mkdir(parents=True)
    for setup in (1, 2):
        for cam in (1, 2):
            for perf in (1, 3):
                for action in (1, 2):
                    frames = [[ntu_body(7, standing_body(t=0.2 * k * action))] for k in range(24)]
                    write_ntu_skeleton(root / f"S{setup:03d}C{cam:03d}P{perf:03d}R001A{action:03d}.skeleton", frames)
    return root


def write_sysu_tree(root: Path) -> Path:
    """SYSU ``3DvideoNorm/``: 4 subjects (odd ones in MATLAB v7.3), actions 1-2, two repetitions."""
    base = root / "3DvideoNorm"
    for subj in range(4):
        for action in (1, 2):
            for rep in range(2):
                t = 30
                sk = np.stack([standing_body(t=0.3 * k * action)[:20] for k in range(t)])  # [T, 20, 3]
                write_sysu_mat(base / f"subject{subj:02d}_{rep}" / f"video{action}" / "sklWorld.mat",
                               sk.transpose(1, 2, 0), v73=bool(subj % 2))
    return base


# --- videos ------------------------------------------------------------------------------------------------------
def write_video(path: str | Path, frames: Iterable[np.ndarray], fps: float = 25.0, fourcc: str = "mp4v") -> Path:
    """``frames`` (BGR images of one size) as a video through OpenCV's writer: ``mp4v`` for .mp4, ``MJPG`` for
    .avi."""
    import cv2

    frames = iter(frames)
    first = next(frames)
    out = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, (first.shape[1], first.shape[0]))
    assert out.isOpened(), f"OpenCV cannot write {path} with {fourcc}"
    for f in (first, *frames):
        out.write(np.ascontiguousarray(f))
    out.release()
    return Path(path)


def write_truncated_video(folder: str | Path, frames: int = 30) -> tuple[Path, Path]:
    """``full.avi`` (160×120 MJPG, ``frames`` noise frames at 25 fps) and ``cut.avi``, its first half of the bytes —
    what a download cut short leaves. Returns both paths."""
    noise = (np.random.default_rng(i).integers(0, 255, (120, 160, 3), dtype=np.uint8) for i in range(frames))
    full = write_video(Path(folder) / "full.avi", noise, 25.0, "MJPG")
    cut = Path(folder) / "cut.avi"
    cut.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    return full, cut
