"""The open-set study end to end on tiny fixtures in the real formats: train with a background class, measure."""
from __future__ import annotations

import json

import numpy as np
import pytest
from test_distill import make_ntu, make_penn, make_ucla
from test_negatives import _write_utd

from partkd_stream.checkpoint import load_checkpoint
from train.evaluate_stream import main as evaluate_main
from train.openset import BACKGROUND, Reject
from train.reject_study import _stream_top1, main, source_weights, split_validation


def test_source_weights_share_the_dataset_weight():
    w = source_weights(["idle", "nw_ucla", "ntu", "transition"])
    assert w["nw_ucla"] == w["ntu"] == pytest.approx(0.2) and w["idle"] == pytest.approx(0.25)


def test_streaming_top1_with_an_unknown_slot():
    z = np.log(np.array([[0.9, 0.1], [0.8, 0.2], [0.1, 0.9]]))
    owner, labels = np.array([0, 0, 1]), np.array([0, 1])
    assert _stream_top1(z, owner, labels, None) == 1.0
    assert _stream_top1(z, owner, labels, np.array([True, True, False])) == 0.5   # clip 1 rejected: unknown wins


@pytest.mark.slow  # ~25 s: a training epoch, all rejects, held-out sets and the harness on the written streams
def test_train_and_measure_on_fixtures(tmp_path):
    shared = tmp_path / "shared"
    penn = make_penn(shared / "penn")
    make_ucla(shared / "nw_ucla" / "all_sqe")
    make_ntu(shared / "ntu" / "skeletons")
    (shared / "utd_mhad" / "skeleton").mkdir(parents=True)
    for a in (1, 3, 14):
        _write_utd(shared / "utd_mhad" / "skeleton", a)
    common = ["--root", str(penn), "--shared", str(shared), "--out", str(tmp_path / "runs")]
    assert main(["train", "--name", "bg", "--negatives", "a", "--epochs", "1", *common]) == 0
    ck = load_checkpoint(tmp_path / "runs" / "bg" / "student.pt")
    assert ck.classes[-1] == BACKGROUND and ck.meta["negatives"] == "a"
    assert set(ck.meta["negative_sources"]) == {"nw_ucla", "idle", "transition"}
    assert main(["measure", "--model", str(tmp_path / "runs" / "bg" / "student.pt"),
                 *[a for a in common if a != "--epochs"]]) == 0
    res = json.loads((tmp_path / "runs" / "bg" / "measure.json").read_text())
    assert res["validation_held_out"] and res["background"]
    assert set(res["scores"]["energy"]["sets"]) == {"utd_mhad", "ntu", "idle", "transition"}   # family a held out
    assert "nw_ucla" not in res["streams"]
    for m in res["scores"]["not_background"]["sets"].values():
        assert 0.0 <= m["auroc"] <= 1.0 and 0.0 <= m["fpr_at_95"] <= 1.0
    r = Reject.load(tmp_path / "runs" / "bg" / "reject_not_background.json")
    assert r.score == "not_background" and r.target_recall == 0.95 and "held out" in r.calibrated_on
    # the OOV streams it wrote run through the harness
    assert evaluate_main(["--annotations", str(tmp_path / "runs" / "bg" / "streams.yaml"),
                          "--model", str(tmp_path / "runs" / "bg" / "student.pt"),
                          "--json", str(tmp_path / "s.json")]) == 0
    assert json.loads((tmp_path / "s.json").read_text())["total"]["counts"]["segments"] == 0


def test_validation_split_is_stratified_and_disjoint(tmp_path):
    from train.config import load_config
    from train.data import load_benchmark

    penn = make_penn(tmp_path / "penn")
    cfg = load_config("train/configs/penn_default.yaml", [f"data.root={penn}"])
    full = load_benchmark(cfg.data, 0)
    train, val = split_validation(full)
    assert not set(train.train_ids) & set(val["ids"])
    assert sorted(train.train_ids + val["ids"]) == sorted(full.train_ids)
    assert set(val["labels"]) == set(full.train_labels)               # every class has validation clips
    assert len(val["lq"]) == len(val["ids"]) and val["lq"][0].shape[1:] == (13, 3)
