"""UTD-MHAD loader on fixtures in the real file format (MATLAB v5 ``d_skel`` 20 × 3 × T, its own joint order)."""
from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from fixtures_formats import utd_d_skel, write_utd_mat, write_utd_tree
from partkd_stream.convert import project_to_2d
from partkd_stream.layouts import get_layout
from train.datasets import DatasetError, load_dataset
from train.prepare import main as prepare_main

K20 = get_layout("kinect20")


def test_cross_subject_protocol_and_sample_fields(tmp_path):
    root = write_utd_tree(tmp_path / "skeleton", subjects=8, frames=31, trials=(1, 2), actions={3: 0.2, 4: 0.0})
    info, samples = load_dataset("utd_mhad", root)
    assert (info.name, info.layout, info.fps, info.protocol) == ("utd_mhad", "kinect20", 30.0, "cross_subject")
    assert len(info.classes) == 27 and info.classes[2] == "wave" and info.classes[3] == "clap"
    assert len(samples) == 2 * 8 * 2
    assert all((s.split == "train") == (s.subject % 2 == 1) for s in samples)
    assert Counter(s.label for s in samples) == {2: 16, 3: 16}
    s = next(x for x in samples if x.id == "a3_s5_t2")
    assert (s.label, s.subject, s.meta, s.fps) == (2, 5, {"action": 3, "trial": 2}, 30.0)
    assert s.data.shape == (30 + 5 + 2, 20, 4) and s.data.dtype == np.float32
    assert (s.data[..., 3] == 1).all()


def test_joint_order_and_camera_axes(tmp_path):
    """File rows are reordered to kinect20 by name, and x is negated so +x is the camera's right."""
    raw = utd_d_skel(10)
    write_utd_mat(tmp_path / "a4_s1_t1_skeleton.mat", raw)
    s = load_dataset("utd_mhad", tmp_path)[1][0]
    np.testing.assert_allclose(s.data[:, K20.index("head"), :3], raw[0].T * [-1, 1, 1], atol=1e-6)  # file row 0
    np.testing.assert_allclose(s.data[:, K20.index("hip_center"), :3], raw[3].T * [-1, 1, 1], atol=1e-6)
    np.testing.assert_allclose(s.data[:, K20.index("right_foot"), :3], raw[19].T * [-1, 1, 1], atol=1e-6)
    uv = project_to_2d(s.data)
    ls, rs = K20.shoulders
    assert (uv[:, ls, 0] > uv[:, rs, 0]).all(), "a person facing the camera shows the left shoulder on image right"
    assert (uv[:, K20.index("head"), 1] < uv[:, K20.index("hip_center"), 1]).all(), "image y points down"


def test_untracked_joint_gets_score_zero_and_single_frame_files_load(tmp_path):
    raw = utd_d_skel(5)
    raw[7, :, 2] = 0.0  # left_hand not tracked in frame 2
    write_utd_mat(tmp_path / "a1_s1_t1_skeleton.mat", raw)
    write_utd_mat(tmp_path / "a1_s2_t1_skeleton.mat", utd_d_skel(1)[..., 0])  # MATLAB drops a trailing 1: 20 × 3
    by_id = {s.id: s for s in load_dataset("utd_mhad", tmp_path)[1]}
    sc = by_id["a1_s1_t1"].data[..., 3]
    assert sc[2, K20.index("left_hand")] == 0 and sc.sum() == 5 * 20 - 1
    assert by_id["a1_s2_t1"].data.shape == (1, 20, 4)


def test_validation_protocol_leaves_the_test_subjects_out(tmp_path):
    root = write_utd_tree(tmp_path, subjects=8, actions={1: 0.0})
    info, samples = load_dataset("utd_mhad", root, protocol="cross_subject_val")
    assert info.protocol == "cross_subject_val"
    assert {s.subject: s.split for s in samples} == {1: "train", 3: "train", 5: "train", 7: "test"}


@pytest.mark.parametrize("name, content, message", [
    ("a1_s1_skeleton.mat", None, "file name is not a<action>_s<subject>_t<trial>"),
    ("a28_s1_t1_skeleton.mat", None, "actions 1..27 and subjects 1..8"),
    ("a1_s9_t1_skeleton.mat", None, "actions 1..27 and subjects 1..8"),
    ("a1_s1_t1_skeleton.mat", np.zeros((25, 3, 4)), "d_skel must be 20 x 3 x frames, got 25 x 3 x 4"),
    ("a1_s1_t1_skeleton.mat", "garbage", "cannot read variable d_skel"),
])
def test_bad_files_are_one_line_errors(tmp_path, name, content, message):
    path = tmp_path / name
    if isinstance(content, str):
        path.write_bytes(b"MATLAB 5.0 MAT-file, truncated")
    else:
        write_utd_mat(path, utd_d_skel(4) if content is None else content)
    with pytest.raises(DatasetError, match=message) as e:
        load_dataset("utd_mhad", tmp_path)
    assert "\n" not in str(e.value) and str(path) in str(e.value)


def test_bad_protocol_and_empty_root(tmp_path):
    with pytest.raises(DatasetError, match="unknown UTD-MHAD protocol 'xview'; use one of cross_subject"):
        load_dataset("utd_mhad", tmp_path, protocol="xview")
    with pytest.raises(DatasetError, match="no \\*_skeleton.mat files found"):
        load_dataset("utd_mhad", tmp_path)


def test_prepare_cli(tmp_path, capsys):
    root = write_utd_tree(tmp_path / "skeleton", subjects=8, actions={3: 0.2})
    assert prepare_main(["--dataset", "utd_mhad", "--root", str(root), "--out", str(tmp_path / "utd.npz"),
                         "--protocol", "cross_subject"]) == 0
    out = capsys.readouterr().out
    assert "utd_mhad (kinect20, protocol cross_subject, 30 fps): 8 samples, 27 classes" in out
    assert "wave" in out and "per split: test 4, train 4" in out
    assert prepare_main(["--dataset", "utd_mhad", "--root", str(tmp_path / "nowhere"),
                         "--out", str(tmp_path / "x.npz")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and "dataset root does not exist" in err
