"""KARD and Florence 3D loaders (``kard.py``, ``florence3d.py``, ``openni.py``) on fixtures in the real text formats."""
from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from fixtures_formats import (FLORENCE_ROWS, KARD_ROWS, openni_frames, write_florence_tree, write_florence_txt,
                              write_kard_tree, write_kard_txt)
from partkd_stream.convert import project_to_2d
from partkd_stream.layouts import get_layout
from train.datasets import DatasetError, load_dataset
from train.datasets.openni import read_joint_text
from train.prepare import main as prepare_main

O15 = get_layout("openni15")


@pytest.fixture(scope="module")
def kard_root(tmp_path_factory) -> Path:
    return write_kard_tree(tmp_path_factory.mktemp("kard") / "realworld")


@pytest.fixture(scope="module")
def florence_root(tmp_path_factory) -> Path:
    return write_florence_tree(tmp_path_factory.mktemp("florence") / "clips")


def test_kard_cross_subject_protocol_and_sample_fields(kard_root):
    info, samples = load_dataset("kard", kard_root)
    assert (info.name, info.layout, info.fps, info.protocol) == ("kard", "openni15", 30.0, "cross_subject")
    assert len(info.classes) == 18 and info.classes[1] == "high_arm_wave" and info.classes[12] == "hand_clap"
    assert len(samples) == 2 * 10 * 2 and Counter(s.label for s in samples) == {1: 20, 12: 20}
    assert all((s.split == "train") == (s.subject % 2 == 1) for s in samples)
    s = next(x for x in samples if x.id == "a02_s07_e02")
    assert (s.label, s.subject, s.fps, s.meta) == (1, 7, 30.0, {"action": 2, "repetition": 2})
    assert s.data.shape == (27, 15, 4) and s.data.dtype == np.float32 and (s.data[..., 3] == 1).all()


def test_florence_cross_subject_and_repetitions_in_clip_order(florence_root):
    info, samples = load_dataset("florence3d", florence_root)
    assert (info.name, info.layout, info.fps, info.protocol) == ("florence3d", "openni15", 12.0, "cross_subject")
    assert info.classes == ["wave", "drink", "answer_phone", "clap", "tie_lace", "sit_down", "stand_up",
                            "read_watch", "bow"]
    assert len(samples) == 40 and [s.meta["clip"] for s in samples] == list(range(1, 41))
    assert all((s.split == "train") == (s.subject % 2 == 1) for s in samples)
    s = next(x for x in samples if x.id == "a04_s3_id12")
    assert (s.label, s.subject, s.meta) == (3, 3, {"action": 4, "clip": 12, "repetition": 2})
    assert s.data.shape == (15, 15, 4)


@pytest.mark.parametrize("dataset", ["kard", "florence3d"])
def test_validation_and_leave_one_subject_out_protocols(dataset, kard_root, florence_root):
    root = kard_root if dataset == "kard" else florence_root
    _, val = load_dataset(dataset, root, protocol="cross_subject_val")
    assert {s.subject for s in val if s.split == "train"} == {1, 3, 5, 7}
    assert {s.subject for s in val if s.split == "test"} == {9}
    _, fold = load_dataset(dataset, root, protocol="loso_10")
    assert len(fold) == 40 and {s.subject for s in fold if s.split == "test"} == {10}
    with pytest.raises(DatasetError, match="subject 11 does not exist"):
        load_dataset(dataset, root, protocol="loso_11")
    with pytest.raises(DatasetError, match="unknown .* protocol 'xview'.*loso_<subject>"):
        load_dataset(dataset, root, protocol="xview")


@pytest.mark.parametrize("rows,writer,camera_left,dataset,name", [
    (KARD_ROWS, write_kard_txt, False, "kard", "a01_s01_e01_realworld.txt"),
    (FLORENCE_ROWS, write_florence_txt, True, "florence3d", "a01_s1_id1.txt"),
])
def test_rows_reordered_by_name_to_metres_with_x_to_the_cameras_right(tmp_path, rows, writer, camera_left,
                                                                      dataset, name):
    raw = openni_frames(6, wave=0.2, rows=rows, x_to_camera_left=camera_left)
    writer(tmp_path / name, raw)
    s = load_dataset(dataset, tmp_path)[1][0]
    sign = np.array([-1.0 if camera_left else 1.0, 1.0, 1.0])
    for joint in ("head", "right_hand", "left_foot", "torso"):
        np.testing.assert_allclose(s.data[:, O15.index(joint), :3], raw[:, rows.index(joint)] * sign / 1000,
                                   atol=1e-6)
    uv = project_to_2d(s.data)
    ls, rs = O15.shoulders
    assert (uv[:, ls, 0] > uv[:, rs, 0]).all(), "facing the camera: the left shoulder on the image's right"
    assert (uv[:, O15.index("head"), 1] < uv[:, O15.index("torso"), 1]).all(), "image y points down"


def test_both_formats_read_alike_and_a_trailing_blank_line_is_harmless(tmp_path):
    raw = openni_frames(4, rows=KARD_ROWS)
    a = read_joint_text(write_kard_txt(tmp_path / "a.txt", raw))
    b = read_joint_text(write_florence_txt(tmp_path / "b.txt", raw))
    np.testing.assert_allclose(a, b, atol=1e-3)
    assert a.shape == (4, 15, 3)
    (tmp_path / "c.txt").write_text((tmp_path / "a.txt").read_text() + "\n\n")
    np.testing.assert_array_equal(read_joint_text(tmp_path / "c.txt"), a)


def _lines(tmp_path: Path, frames: int = 3) -> list[str]:
    return write_kard_txt(tmp_path / "good.txt", openni_frames(frames)).read_text().splitlines()


@pytest.mark.parametrize("edit,message", [
    (lambda ls: [], r"empty file; expected 15 lines of 'x y z' per frame"),
    (lambda ls: ls[:-4], r"41 joint lines is not a multiple of 15: the file ends in frame 3 after 11 of its 15"),
    (lambda ls: ls[:-1] + [ls[-1].rsplit(" ", 1)[0]], r":45: expected 3 numbers 'x y z', got 2 values"),
    (lambda ls: ls[:7] + ["12.5 abc 2700"] + ls[8:], r":8: not a number in '12.5 abc 2700'"),
    (lambda ls: ls[:20] + ["1 2 3 4"] + ls[21:], r":21: expected 3 numbers 'x y z', got 4 values"),
    (lambda ls: ls[:2] + ["nan 1 2"] + ls[3:], r":3: NaN or infinite coordinate"),
    (lambda ls: ls[:3] + [""] + ls[3:], r":4: expected 3 numbers 'x y z', got 0 values"),
])
def test_malformed_files_are_one_line_errors_naming_file_and_line(tmp_path, edit, message):
    bad = tmp_path / "a01_s01_e01_realworld.txt"
    lines = edit(_lines(tmp_path))
    bad.write_text("\n".join(lines) + ("\n" if lines else ""))
    with pytest.raises(DatasetError, match=message) as e:
        load_dataset("kard", tmp_path)
    assert str(bad) in str(e.value) and "\n" not in str(e.value)


@pytest.mark.parametrize("dataset,name,message", [
    ("kard", "a1_s1_realworld.txt", "file name is not a<activity>_s<subject>_e<repetition>_realworld.txt"),
    ("kard", "a19_s01_e01_realworld.txt", "KARD has actions 1..18 and subjects 1..10, got a19_s1"),
    ("florence3d", "a10_s1_id1.txt", "Florence 3D has actions 1..9 and subjects 1..10, got a10_s1"),
    ("florence3d", "a01_s11_id1.txt", "Florence 3D has actions 1..9 and subjects 1..10, got a1_s11"),
])
def test_bad_file_names_are_clear_errors(tmp_path, dataset, name, message):
    (write_kard_txt if dataset == "kard" else write_florence_txt)(tmp_path / name, openni_frames(2))
    with pytest.raises(DatasetError, match=message):
        load_dataset(dataset, tmp_path)


def test_prepare_summarises_and_reports_a_truncated_file_in_one_line(kard_root, tmp_path, capsys):
    assert prepare_main(["--dataset", "kard", "--root", str(kard_root), "--out", str(tmp_path / "k.npz")]) == 0
    out = capsys.readouterr().out
    assert "kard (openni15, protocol cross_subject, 30 fps): 40 samples, 18 classes" in out
    assert "high_arm_wave" in out and (tmp_path / "k.npz").exists()
    bad = tmp_path / "cut"
    bad.mkdir()
    lines = (kard_root / "a02_s01_e01_realworld.txt").read_text().splitlines()
    (bad / "a02_s01_e01_realworld.txt").write_text("\n".join(lines[:-5]) + "\n")
    assert prepare_main(["--dataset", "florence3d", "--root", str(bad), "--out", str(tmp_path / "x.npz")]) == 2
    assert prepare_main(["--dataset", "kard", "--root", str(bad), "--out", str(tmp_path / "x.npz")]) == 2
    err = [ln for ln in capsys.readouterr().err.splitlines() if ln.startswith("error: ")]   # (progress bars aside)
    assert len(err) == 2 and "no a*_s*_id*.txt files found" in err[0]
    assert "a02_s01_e01_realworld.txt: 310 joint lines is not a multiple of 15" in err[1] and "truncated?" in err[1]
