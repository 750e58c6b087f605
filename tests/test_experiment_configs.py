"""The UTD-MHAD benchmark and everyday-model configs end to end on fixtures in the real format, and the framing
evaluation (full body vs lower body out of frame)."""
from __future__ import annotations

import json

import pytest

from conftest import TINY
from fixtures_formats import write_utd_tree
from partkd_stream.checkpoint import load_checkpoint
from train.distill import main as distill_main
from train.studies.evaluate_framing import main as framing_main



@pytest.fixture(scope="module")
def utd_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("utd") / "skeleton"
    write_utd_tree(root, subjects=8, frames=36)
    return root


@pytest.fixture(scope="module")
def runs(utd_root, tmp_path_factory):
    """The benchmark's teacher and baseline, then the everyday model distilled from that teacher (1 epoch each)."""
    runs = tmp_path_factory.mktemp("runs")
    common = ["--root", str(utd_root), "--out", str(runs), "--seed", "0", "--epochs", "1"]
    assert distill_main(["--config", "train/configs/utd_mhad.yaml", *common, "--stage", "teacher,baseline",
                         "--set", *TINY]) == 0
    assert distill_main(["--config", "train/configs/everyday.yaml", *common, "--set", *TINY,
                         f"teacher={runs / 'utd_mhad' / 'seed0' / 'teacher.pt'}"]) == 0
    return runs


def test_benchmark_is_heterogeneous_and_everyday_distils(runs):
    teacher = load_checkpoint(runs / "utd_mhad" / "seed0" / "teacher.pt")
    student = load_checkpoint(runs / "utd_mhad" / "seed0" / "baseline.pt")
    assert (teacher.preprocess.layout, teacher.preprocess.dims) == ("kinect20", 3)
    assert (student.preprocess.layout, student.preprocess.dims) == ("penn13", 2)
    assert len(student.classes) == 27 and student.classes[2] == "wave"
    kd = load_checkpoint(runs / "everyday" / "seed0" / "kd.pt")
    assert kd.meta["stage"] == "kd" and kd.preprocess == student.preprocess


def test_framing_evaluation(runs, utd_root, capsys):
    capsys.readouterr()
    assert framing_main(["--config", "train/configs/everyday.yaml", "--checkpoint",
                         str(runs / "everyday" / "seed0" / "kd.pt"), "--root", str(utd_root), "--json",
                         "--set", *TINY]) == 0
    res = json.loads(capsys.readouterr().out)
    assert list(res["conditions"]) == ["full body", "lower body out of frame", "lower body not reported"]
    assert res["test_clips"] == 8
    for r in res["conditions"].values():
        assert 0 <= r["top1"] <= 100 and r["top1"] <= r["top5"]


def test_framing_refuses_a_model_of_another_layout(runs, utd_root, capsys):
    capsys.readouterr()
    assert framing_main(["--config", "train/configs/everyday.yaml", "--checkpoint",
                         str(runs / "utd_mhad" / "seed0" / "teacher.pt"), "--root", str(utd_root)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "a kinect20 model, but the config's LQ layout is penn13" in err
