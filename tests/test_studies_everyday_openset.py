"""train.studies.everyday_openset on fixtures in the real formats: the everyday model against actions it never saw."""
from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import TINY
from fixtures_formats import standing_body, write_ntu_tree, write_ucla_json, write_utd_tree

from train.everyday_background import main as train_main
from train.studies.everyday_openset import main, unknown_clips


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    root = tmp_path_factory.mktemp("everyday_openset")
    write_utd_tree(root / "utd" / "skeleton", subjects=4, frames=30)
    write_ntu_tree(root / "shared" / "ntu" / "skeletons")            # A001 drink water (vocabulary: drink), A002 eat
    ucla = root / "shared" / "nw_ucla" / "all_sqe"
    ucla.mkdir(parents=True)
    for a in (3, 4):                                                   # drop trash: unknown; walk around: UTD's walk
        for s in (1, 2):
            sk = np.tile(standing_body()[:20], (30, 1, 1))
            sk[:, 11, 1] += 0.02 * np.sin(np.arange(30) * a)
            write_ucla_json(ucla / f"a{a:02d}_s{s:02d}_e00_v01.json", sk, a)
    assert train_main(["--root", str(root / "utd" / "skeleton"), "--out", str(root / "runs"), "--set", *TINY,
                       "train.epochs_student=1"]) == 0
    return root


def test_unseen_actions_are_outside_the_vocabulary_or_held_out_of_training(data):
    ucla = unknown_clips("nw_ucla", data / "shared")
    assert {c.id.split("_")[0] for c in ucla} == {"a03"}                # drop trash is held out; walking is `walk`
    assert {c.id[-4:] for c in unknown_clips("ntu", data / "shared")} == {"A002"}     # drinking is `drink`


def test_measure_reports_each_held_out_set_and_writes_streams(data, tmp_path, capsys):
    model = data / "runs" / "everyday_bg" / "seed0" / "baseline.pt"
    assert main(["--model", str(model), "--root", str(data / "utd" / "skeleton"), "--shared", str(data / "shared"),
                 "--out", str(tmp_path)]) == 0
    res = json.loads((tmp_path / "measure.json").read_text())
    assert res["known"]["clips"] == 4 and res["known"]["windows"] > 0
    for src, clips in (("ntu", 8), ("nw_ucla", 2)):
        r = res["sets"][src]
        assert r["clips"] == clips and r["windows"] > 0
        assert 0.0 <= r["auroc"] <= 1.0 and 0.0 <= r["accepted"] <= 1.0 and 0.0 <= r["fpr_at_95"] <= 1.0
    streams = (tmp_path / "streams.yaml").read_text()
    assert streams.count("segments: none") == 2 and (tmp_path / "streams" / "ntu.npz").exists()
    assert "drop trash" in capsys.readouterr().out


def test_a_model_without_background_is_a_one_line_error(data, tmp_path, capsys):
    from partkd_stream.checkpoint import load_checkpoint, save_checkpoint

    ck = load_checkpoint(data / "runs" / "everyday_bg" / "seed0" / "baseline.pt")
    model = ck.build_model()
    closed = tmp_path / "closed.pt"
    save_checkpoint(closed, model, [*ck.classes[:-1], "other"])
    assert main(["--model", str(closed), "--root", str(data / "utd" / "skeleton"), "--shared",
                 str(data / "shared"), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no 'background' class" in err


def test_a_model_that_knows_a_held_out_class_is_refused(data, tmp_path, capsys):
    from partkd_stream.checkpoint import load_checkpoint, save_checkpoint

    ck = load_checkpoint(data / "runs" / "everyday_bg" / "seed0" / "baseline.pt")
    knows = tmp_path / "knows.pt"
    save_checkpoint(knows, ck.build_model(), [*ck.classes[:-2], "donning", "background"])
    assert main(["--model", str(knows), "--root", str(data / "utd" / "skeleton"), "--shared",
                 str(data / "shared"), "--out", str(tmp_path / "o")]) == 2
    assert "held-out class 'donning'" in capsys.readouterr().err
