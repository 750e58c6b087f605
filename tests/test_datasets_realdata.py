"""Loaders on the real data in ../shared/data (skipped cleanly when it is absent)."""
from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from conftest import shared_path
from train.datasets import load_dataset
from train.datasets.ntu import ntu_sample, read_skeleton_file

pytestmark = pytest.mark.realdata


def test_penn_action_all_clips():
    info, samples = load_dataset("penn_action", shared_path("penn_action", "labels"))
    assert len(samples) == 2326 and len(info.classes) == 15
    assert Counter(s.split for s in samples) == {"train": 1258, "test": 1068}
    assert {s.label for s in samples} == set(range(15))
    assert all(s.data.shape[1:] == (13, 3) and s.data.dtype == np.float32 for s in samples)
    assert all(info.classes[s.label] == s.meta["action"] for s in samples)
    assert set(np.unique(np.concatenate([np.unique(s.data[..., 2]) for s in samples]))) == {0.0, 1.0}


def test_nw_ucla_all_samples():
    info, samples = load_dataset("nw_ucla", shared_path("nw_ucla", "all_sqe"))
    assert len(samples) == 1484 and len(info.classes) == 10
    assert Counter(s.view for s in samples) == {1: 516, 2: 504, 3: 464}
    assert Counter(s.split for s in samples) == {"train": 516 + 504, "test": 464}
    assert {s.label for s in samples} == set(range(10))
    assert all(s.data.shape[1:] == (20, 4) for s in samples)


def test_ntu_all_files_parse():
    root = shared_path("ntu", "skeletons")
    files = sorted(root.glob("*.skeleton"))
    assert len(files) == 15
    for p in files:
        s = ntu_sample(read_skeleton_file(p))
        assert s.id == p.stem and s.data.shape[1:] == (25, 4) and s.aux["color2d"].shape == (len(s.data), 25, 3)
        assert s.data[..., 3].max() == 1.0
    a001 = ntu_sample(read_skeleton_file(root / "S001C001P001R001A001.skeleton"))
    assert a001.data.shape[0] == 103 and a001.others is None and a001.label == 0
    a058 = ntu_sample(read_skeleton_file(root / "S001C003P008R002A058.skeleton"))
    assert a058.others is not None and a058.others.shape == (1, len(a058.data), 25, 4)
    assert a058.others[0, ..., 3].max() == 1.0
    # the two people stand apart: their spine bases are not the same body
    both = (a058.data[:, 0, 3] > 0) & (a058.others[0, :, 0, 3] > 0)
    assert np.linalg.norm(a058.data[both, 0, :3] - a058.others[0, both, 0, :3], axis=-1).min() > 0.2
    info, samples = load_dataset("ntu60", root)
    assert len(samples) == 15 and not info.meta["skipped_empty"]
