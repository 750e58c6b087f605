"""UTD-MHAD on the real files (../shared/data/utd_mhad): counts, and which side is "left" — checked on the data."""
from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from conftest import shared_path
from partkd_stream.convert import project_to_2d
from partkd_stream.layouts import get_layout
from train.datasets import load_dataset
from train.datasets.utd_mhad import UTD_JOINTS, read_d_skel

pytestmark = pytest.mark.realdata
K20 = get_layout("kinect20")
RIGHT_HANDED = (1, 2, 3, 5, 8, 9, 10, 11, 12, 15, 19, 20, 21)  # swipes, wave, throw, drawing, bowling, forehand, …


@pytest.fixture(scope="module")
def utd():
    root = shared_path("utd_mhad", "skeleton")
    return root, load_dataset("utd_mhad", root)


def test_all_clips_and_the_cross_subject_split(utd):
    _, (info, samples) = utd
    assert len(samples) == 861 and len(info.classes) == 27
    assert Counter(s.split for s in samples) == {"train": 431, "test": 430}
    assert {s.subject for s in samples if s.split == "train"} == {1, 3, 5, 7}
    assert {s.label for s in samples} == set(range(27))
    assert all(s.data.shape[1:] == (20, 4) and (s.data[..., 3] == 1).all() for s in samples)


def test_the_files_right_joints_are_the_persons_right(utd):
    """In right-hand actions the wrist the file calls right travels farther than the left one, clip after clip."""
    _, (_, samples) = utd
    lw, rw = K20.index("left_wrist"), K20.index("right_wrist")
    for action in RIGHT_HANDED:
        clips = [s.data for s in samples if s.meta["action"] == action]
        path = np.array([np.linalg.norm(np.diff(d[:, [lw, rw], :3], axis=0), axis=-1).sum(0) for d in clips])
        assert (path[:, 1] > path[:, 0]).mean() >= 0.97, f"action {action}"


def test_people_face_the_sensor_so_raw_x_points_to_the_sensors_left(utd):
    """(left − right shoulder) × (head − hip centre) is the body's forward direction in a right-handed frame."""
    root, _ = utd
    row = {j: i for i, j in enumerate(UTD_JOINTS)}
    facing = []
    for p in sorted(root.glob("*_s1_*_skeleton.mat")) + sorted(root.glob("*_s8_*_skeleton.mat")):
        raw = read_d_skel(p)
        fwd = np.cross(raw[:, row["left_shoulder"]] - raw[:, row["right_shoulder"]],
                       raw[:, row["head"]] - raw[:, row["hip_center"]])
        facing.append(np.mean(fwd[:, 2] < 0))
        assert (raw[:, row["left_shoulder"], 0] < raw[:, row["right_shoulder"], 0]).mean() > 0.95
    assert np.mean(facing) > 0.99


def test_loaded_clips_project_like_an_unmirrored_webcam(utd):
    """After loading: the left shoulder on the image's right (as MediaPipe sees a person facing the camera), and
    "swipe left" moves the right hand from the image's left to its right (the person's right → left)."""
    _, (info, samples) = utd
    ls, rs, rw = K20.index("left_shoulder"), K20.index("right_shoulder"), K20.index("right_wrist")
    uv = [project_to_2d(s.data) for s in samples]
    sides = np.concatenate([u[:, ls, 0] > u[:, rs, 0] for u in uv])
    assert sides.mean() > 0.999
    for name, expected, share in (("swipe_left", True, 0.7), ("swipe_right", False, 0.9)):
        label = info.classes.index(name)
        order = [np.argmin(u[:, rw, 0]) < np.argmax(u[:, rw, 0]) for u, s in zip(uv, samples) if s.label == label]
        assert np.mean(np.array(order) == expected) >= share, name
