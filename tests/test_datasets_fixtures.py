"""Dataset loaders, cached file and prepare.py on tiny fixtures written in the exact real formats."""
from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from fixtures_formats import (ntu_body, pyskl_annotation, standing_body, write_ntu_skeleton, write_penn_mat,
                              write_pyskl_pickle, write_sysu_mat, write_ucla_json)
from partkd_stream.skeleton_io import SkeletonSequence, save_sequence
from train.datasets import (DATASETS, DatasetError, load_dataset, load_samples, save_samples, split_samples)
from train.datasets.ntu import NtuEmptyError, NtuFormatError, ntu_sample, read_skeleton_file
from train.datasets.pyskl import UnsafePickleError, safe_load_pickle

REPO = Path(__file__).resolve().parents[1]


# --- NTU -----------------------------------------------------------------------------------------------------------
def _two_person_file(path: Path, action: int = 58) -> Path:
    """Frame 0 empty; two people moving; a short-lived noise body (furniture, wider than tall) in frames 3-5."""
    frames = [[]]
    furniture = np.stack([np.linspace(-1, 1, 25), np.full(25, -0.5), np.full(25, 4.0)], -1)
    for t in range(1, 30):
        bodies = [ntu_body(111, standing_body((-0.5, 0, 3), t=t * 0.5)),
                  ntu_body(222, standing_body((0.5, 0, 3), t=t * 0.05), tracking=1)]
        if 3 <= t <= 5:
            bodies.append(ntu_body(999, furniture))
        frames.append(bodies)
    return write_ntu_skeleton(path / f"S001C002P003R001A{action:03d}.skeleton", frames)


def test_ntu_parse_zero_body_frame_noise_body_and_two_actors(tmp_path):
    path = _two_person_file(tmp_path)
    parsed = read_skeleton_file(path)
    assert parsed.num_frames == 30 and parsed.frames[0] == []
    assert parsed.body_ids() == [111, 222, 999]
    assert parsed.frames[1][0].joints.shape == (25, 12)
    s = ntu_sample(parsed)
    assert s.id == "S001C002P003R001A058" and s.label == 57 and s.layout == "ntu25" and s.fps == 30.0
    assert s.subject == 3 and s.view == 2 and s.meta["setup"] == 1 and s.meta["replication"] == 1
    assert s.data.shape == (30, 25, 4) and s.data.dtype == np.float32
    assert s.meta["main_body_ids"] == ["111"]            # moves most
    assert s.meta["noise_bodies"] == 1                   # furniture, 3 frames
    assert np.all(s.data[0] == 0)                        # zero-body frame → missing
    assert np.all(s.data[1:, :, 3] == 1.0)               # trackingState 2 → 1
    np.testing.assert_allclose(s.data[1, :, :3], standing_body((-0.5, 0, 3), t=0.5), atol=1e-5)
    assert s.others is not None and s.others.shape == (1, 30, 25, 4)
    assert np.all(s.others[0, 1:, :, 3] == 0.5)           # trackingState 1 → 0.5
    assert s.aux["color2d"].shape == (30, 25, 3)
    np.testing.assert_allclose(s.aux["color2d"][1, :, :2], parsed.frames[1][0].joints[:, 5:7], atol=1e-3)
    assert s.split == "test"                             # performer 3 is not an X-Sub training performer
    assert ntu_sample(parsed, protocol="xview").split == "train"   # camera 2


def test_ntu_single_person_action_has_no_others(tmp_path):
    s = ntu_sample(read_skeleton_file(_two_person_file(tmp_path, action=1)))
    assert s.others is None and s.label == 0


def test_ntu_truncated_file_names_file_and_line(tmp_path):
    good = _two_person_file(tmp_path)
    n_lines = len(good.read_text().splitlines())
    bad = tmp_path / "cut" / good.name
    bad.parent.mkdir()
    bad.write_text("\n".join(good.read_text().splitlines()[:-7]) + "\n")
    with pytest.raises(NtuFormatError) as e:
        read_skeleton_file(bad)
    msg = str(e.value)
    assert str(bad) in msg and f":{n_lines - 6}:" in msg and "end of file" in msg and "\n" not in msg


def test_ntu_malformed_joint_line_names_line(tmp_path):
    lines = _two_person_file(tmp_path).read_text().splitlines()
    lines[6] = "0.1 0.2 nan? 4"                           # frame 2 (line 2 = empty frame 1), 3rd joint
    bad = tmp_path / "bad.skeleton"
    bad.write_text("\n".join(lines))
    with pytest.raises(NtuFormatError, match=r"bad\.skeleton:7: expected 12 numbers"):
        read_skeleton_file(bad)


def test_ntu_empty_file_is_skipped_by_loader(tmp_path):
    write_ntu_skeleton(tmp_path / "S001C001P001R001A002.skeleton", [[], []])
    _two_person_file(tmp_path, action=1)
    with pytest.raises(NtuEmptyError):
        ntu_sample(read_skeleton_file(tmp_path / "S001C001P001R001A002.skeleton"))
    info, samples = load_dataset("ntu60", tmp_path)
    assert [s.id for s in samples] == ["S001C002P003R001A001"]
    assert info.meta["skipped_empty"] == ["S001C001P001R001A002"] and len(info.classes) == 60


def test_ntu60_filters_ntu120_actions_and_protocols(tmp_path):
    _two_person_file(tmp_path, action=1)
    _two_person_file(tmp_path, action=106)
    assert len(load_dataset("ntu120", tmp_path)[1]) == 2
    assert len(load_dataset("ntu60", tmp_path)[1]) == 1
    assert load_dataset("ntu120", tmp_path, protocol="xset")[1][0].split == "test"   # setup 1 is odd
    with pytest.raises(DatasetError, match="xset"):
        load_dataset("ntu60", tmp_path, protocol="xset")


# --- Penn Action ---------------------------------------------------------------------------------------------------
def _penn_folder(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    root = tmp_path / "labels"
    root.mkdir()
    for i, (action, train, n) in enumerate([("bowl", 1, 12), ("squat", -1, 300), ("bowl", -1, 5)]):
        vis = rng.integers(0, 2, size=(n, 13))
        write_penn_mat(root / f"{i + 1:04d}.mat", rng.uniform(0, 480, (n, 13)), rng.uniform(0, 360, (n, 13)),
                       vis, action, train)
    return root


def test_penn_action_fixture(tmp_path):
    root = _penn_folder(tmp_path)
    info, samples = load_dataset("penn_action", root)
    assert info.layout == "penn13" and len(info.classes) == 15 and info.fps == 30.0
    assert [s.id for s in samples] == ["0001", "0002", "0003"]
    assert [s.split for s in samples] == ["train", "test", "test"]
    assert [info.classes[s.label] for s in samples] == ["bowl", "squat", "bowl"]
    assert samples[1].data.shape == (300, 13, 3)        # nframes stored as uint16 here, uint8 for the others
    import scipy.io
    m = scipy.io.loadmat(str(root / "0001.mat"))
    np.testing.assert_allclose(samples[0].data[..., 0], m["x"], rtol=1e-6)
    np.testing.assert_array_equal(samples[0].data[..., 2], m["visibility"])
    assert samples[0].aux["bbox"].shape == (12, 4) and samples[0].meta["dimensions"] == [360, 480, 12]
    assert samples[0].meta["pose"] == "front"


def test_penn_corrupt_file_one_line_error(tmp_path):
    root = _penn_folder(tmp_path)
    (root / "0004.mat").write_bytes(b"not a mat file")
    with pytest.raises(DatasetError, match=r"0004\.mat"):
        load_dataset("penn_action", root)


# --- NW-UCLA -------------------------------------------------------------------------------------------------------
def test_nw_ucla_fixture(tmp_path):
    rng = np.random.default_rng(1)
    for name, label in [("a01_s01_e00_v01", 1), ("a12_s02_e01_v03", 10), ("a08_s03_e02_v02", 7)]:
        sk = rng.normal(size=(9, 20, 3))
        sk[4, 7] = 0.0
        write_ucla_json(tmp_path / f"{name}.json", sk, label)
    info, samples = load_dataset("nw_ucla", tmp_path)
    assert info.layout == "kinect20" and info.protocol == "cross_view" and info.classes[9] == "carry"
    by_id = {s.id: s for s in samples}
    s = by_id["a12_s02_e01_v03"]
    assert (s.label, s.view, s.subject, s.split) == (9, 3, 2, "test")
    assert by_id["a08_s03_e02_v02"].split == "train" and by_id["a08_s03_e02_v02"].label == 6
    assert s.data.shape == (9, 20, 4) and s.data[4, 7, 3] == 0 and s.data[..., 3].sum() == 9 * 20 - 1


# --- SYSU -----------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("v73", [False, True])
def test_sysu_v5_and_v73(tmp_path, v73):
    rng = np.random.default_rng(2)
    root = tmp_path / "SYSU" / "3DvideoNorm"
    sws = {}
    for subj in range(4):
        for action in (1, 12):
            sw = rng.normal(size=(20, 3, 7 + subj))
            sw[3, :, 2] = 0
            sws[(subj, action)] = sw
            write_sysu_mat(root / f"subj{subj:02d}" / f"video{action}" / "sklWorld.mat", sw, v73=v73)
    if v73:
        import h5py
        p = root / "subj00" / "video1" / "sklWorld.mat"
        assert h5py.is_hdf5(str(p)) and p.read_bytes()[:19] == b"MATLAB 7.3 MAT-file"
    info, samples = load_dataset("sysu", tmp_path / "SYSU")
    assert len(samples) == 8 and info.layout == "kinect20" and len(info.classes) == 12
    s = next(x for x in samples if x.id == "subj02/video12")
    assert (s.label, s.subject) == (11, 3) and s.data.shape == (9, 20, 4)
    np.testing.assert_allclose(s.data[:, :, :3], sws[(2, 12)].transpose(2, 0, 1), rtol=1e-6)
    assert s.data[2, 3, 3] == 0 and s.data[0, 3, 3] == 1
    train_subjects = {x.subject for x in split_samples(samples, "train")}
    assert len(train_subjects) == 2 and not train_subjects & {x.subject for x in split_samples(samples, "test")}
    same = load_dataset("sysu", tmp_path / "SYSU", protocol="same_subject", seed=3)[1]
    assert all(sorted(x.split for x in same if x.subject == k) == ["test", "train"] for k in range(1, 5))


def test_sysu_bad_folder_layout(tmp_path):
    write_sysu_mat(tmp_path / "subj" / "clip1" / "sklWorld.mat", np.ones((20, 3, 4)))
    with pytest.raises(DatasetError, match="video1"):
        load_dataset("sysu", tmp_path)


# --- PYSKL ---------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_pyskl_round_trip(tmp_path, protocol):
    anns = [pyskl_annotation("S001C001P001R001A001", 0, m=1), pyskl_annotation("S001C001P002R001A050", 49, m=2,
                                                                               seed=1),
            pyskl_annotation("S001C002P003R001A002", 1, seed=2)]
    split = {"xsub_train": ["S001C001P001R001A001", "S001C001P002R001A050"], "xsub_val": ["S001C002P003R001A002"],
             "xview_train": ["S001C002P003R001A002"], "xview_val": ["S001C001P001R001A001"]}
    path = write_pyskl_pickle(tmp_path / "ntu60_hrnet.pkl", anns, split, protocol=protocol)
    info, samples = load_dataset("pyskl", path)
    assert info.layout == "coco17" and info.protocol == "xsub" and info.classes[0] == "drink water"
    assert [s.split for s in samples] == ["train", "train", "test"]
    s = samples[1]
    assert s.data.shape == (20, 17, 3) and s.others.shape == (1, 20, 17, 3) and s.label == 49
    np.testing.assert_allclose(s.data[..., :2], anns[1]["keypoint"][0].astype(np.float32))
    np.testing.assert_allclose(s.others[0, ..., 2], anns[1]["keypoint_score"][1].astype(np.float32))
    xview = load_dataset("pyskl", path, protocol="xview")[1]
    assert [(s.id, s.split) for s in xview] == [("S001C001P001R001A001", "test"), ("S001C002P003R001A002", "train")]
    with pytest.raises(DatasetError, match="xset_train"):
        load_dataset("pyskl", path, protocol="xset")


def test_pyskl_3d_layout(tmp_path):
    path = write_pyskl_pickle(tmp_path / "my.pkl", [pyskl_annotation("a", 2, three_d=True)],
                              {"train": ["a"], "test": []})
    (tmp_path / "classes.txt").write_text("x\ny\nz\n")
    info, samples = load_dataset("pyskl", path)
    assert info.layout == "ntu25" and info.classes == ["x", "y", "z"] and samples[0].data.shape == (20, 25, 4)


class _Evil:
    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


def test_hostile_pickle_is_refused_without_running(tmp_path):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pkl"
    with open(path, "wb") as f:
        pickle.dump({"split": {"train": []}, "annotations": [_Evil(marker)]}, f)
    with pytest.raises(UnsafePickleError, match="refused to load (posix|nt|os).system"):
        safe_load_pickle(path)
    with pytest.raises(DatasetError):
        load_dataset("pyskl", path)
    assert not marker.exists()
    eval_pickle = tmp_path / "eval.pkl"
    eval_pickle.write_bytes(b"cbuiltins\neval\n(S'1+1'\ntR.")
    with pytest.raises(UnsafePickleError, match="builtins.eval"):
        safe_load_pickle(eval_pickle)


# --- generic -------------------------------------------------------------------------------------------------------
def _generic_folder(tmp_path: Path) -> Path:
    root = tmp_path / "mine"
    (root / "sub").mkdir(parents=True)
    (root / "classes.txt").write_text("wave\nclap\n")
    rng = np.random.default_rng(4)
    for i, (label, split, m) in enumerate([(0, "train", 1), (1, "test", 2), (1, "train", 1)]):
        data = rng.uniform(size=(m, 8, 33, 3)).astype(np.float32) if m > 1 else rng.uniform(size=(8, 33, 3))
        save_sequence(root / ("sub" if i == 2 else "") / f"clip{i}.npz",
                      SkeletonSequence(data=data, layout="mediapipe33", fps=25.0, timestamps=np.arange(8) / 25,
                                       id=f"clip{i}", label=label,
                                       meta={"split": split, "subject": i + 1, "view": 1, "note": "x"}))
    return root


def test_generic_folder(tmp_path):
    info, samples = load_dataset("generic", _generic_folder(tmp_path))
    assert info.classes == ["wave", "clap"] and info.layout == "mediapipe33" and info.fps == 25.0
    by_id = {s.id: s for s in samples}
    assert set(by_id) == {"clip0", "clip1", "clip2"}
    assert by_id["clip1"].others.shape == (1, 8, 33, 3) and by_id["clip1"].data.shape == (8, 33, 3)
    assert (by_id["clip1"].split, by_id["clip1"].subject, by_id["clip1"].meta) == ("test", 2, {"note": "x"})


def test_generic_bad_label_and_missing_classes(tmp_path):
    root = _generic_folder(tmp_path)
    (root / "classes.txt").write_text("wave\n")
    with pytest.raises(DatasetError, match="label 1"):
        load_dataset("generic", root)
    (root / "classes.txt").unlink()
    with pytest.raises(DatasetError, match="classes.txt"):
        load_dataset("generic", root)


# --- cache ---------------------------------------------------------------------------------------------------------
def test_cache_round_trip_without_pickle(tmp_path):
    _two_person_file(tmp_path / "ntu")
    _two_person_file(tmp_path / "ntu", action=1)
    info, samples = load_dataset("ntu120", tmp_path / "ntu")
    out = tmp_path / "cache" / "ntu.npz"
    save_samples(out, info, samples)
    info2, back = load_samples(out)
    assert info2 == info and len(back) == len(samples)
    for a, b in zip(samples, back):
        assert (a.id, a.label, a.split, a.fps, a.layout, a.subject, a.view, a.meta) == \
               (b.id, b.label, b.split, b.fps, b.layout, b.subject, b.view, b.meta)
        np.testing.assert_array_equal(a.data, b.data)
        assert (a.others is None) == (b.others is None)
        if a.others is not None:
            np.testing.assert_array_equal(a.others, b.others)
        assert a.aux.keys() == b.aux.keys()
        for k in a.aux:
            np.testing.assert_array_equal(a.aux[k], b.aux[k])
    with np.load(out, allow_pickle=False) as z:
        assert all(z[k].dtype != object for k in z.files)
    (tmp_path / "junk.npz").write_bytes(b"junk")
    with pytest.raises(DatasetError, match="junk.npz"):
        load_samples(tmp_path / "junk.npz")


def test_unknown_dataset():
    assert "penn_action" in DATASETS
    with pytest.raises(DatasetError, match="unknown dataset"):
        load_dataset("kinetics", "/x")


# --- prepare.py ----------------------------------------------------------------------------------------------------
def _prepare(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "train.prepare", *args], cwd=REPO, capture_output=True, text=True,
                          timeout=120)


def test_prepare_cli_summary_json_and_errors(tmp_path):
    root = _penn_folder(tmp_path)
    out = tmp_path / "penn.npz"
    r = _prepare("--dataset", "penn_action", "--root", str(root), "--out", str(out))
    assert r.returncode == 0, r.stderr
    assert "3 samples" in r.stdout and "train 1" in r.stdout and "test 2" in r.stdout
    assert "median 12" in r.stdout and "missing joints" in r.stdout and "squat" in r.stdout
    assert len(load_samples(out)[1]) == 3
    r = _prepare("--dataset", "penn_action", "--root", str(root), "--out", str(out), "--json")
    assert r.returncode == 0, r.stderr
    s = json.loads(r.stdout)
    assert s["samples"] == 3 and s["per_split"] == {"test": 2, "train": 1}
    assert s["per_class"] == {"bowl": {"train": 1, "test": 1}, "squat": {"test": 1}}
    assert s["frames"] == {"min": 5, "median": 12.0, "max": 300, "total": 317}
    assert 0.3 < s["missing_joints"] < 0.7
    missing = tmp_path / "nowhere"
    r = _prepare("--dataset", "nw_ucla", "--root", str(missing), "--out", str(tmp_path / "x.npz"))
    assert r.returncode == 2 and r.stdout == ""
    assert len(r.stderr.strip().splitlines()) == 1 and str(missing) in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "x.npz").exists()


def test_nw_ucla_json_whose_top_level_is_a_list_is_one_line(tmp_path):
    (tmp_path / "a01_s01_e00_v01.json").write_text(json.dumps([[[0.0, 0.0, 0.0]] * 20]))
    with pytest.raises(DatasetError, match="the top level must be an object") as e:
        load_dataset("nw_ucla", tmp_path)
    assert "\n" not in str(e.value) and "a01_s01_e00_v01.json" in str(e.value)


@pytest.mark.parametrize("opcode", [b"\x8e", b"\x8d", b"\x96", b"\x95"],      # BINBYTES8 BINUNICODE8 BYTEARRAY8 FRAME
                         ids=["bytes8", "unicode8", "bytearray8", "frame"])
def test_a_pickle_declaring_a_huge_object_is_refused_before_allocating(tmp_path, opcode):
    path = tmp_path / "huge.pkl"
    path.write_bytes(b"\x80\x05" + opcode + (1 << 40).to_bytes(8, "little") + b"abc.")   # "1 TiB" follows
    with pytest.raises(DatasetError, match=r"declares an object of 1,099,511,627,776 bytes") as e:
        safe_load_pickle(path)
    assert "\n" not in str(e.value)
    path.write_bytes(b"\x80\x05" + opcode + (10).to_bytes(8, "little") + b"abc")        # merely truncated
    with pytest.raises(DatasetError, match="declares an object of 10 bytes"):
        safe_load_pickle(path)
