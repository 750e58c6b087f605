"""Open-set training and validation (train.openset_train) and the held-out measure (train.studies.reject_study), on tiny
fixtures in the real formats."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from fixtures_formats import (standing_body, write_ntu_tree, write_penn_tree, write_ucla_json, write_ucla_tree,
                              write_utd_clip)

from partkd_stream.checkpoint import load_checkpoint
from partkd_stream.model import ModelConfig, PartGCN
from partkd_stream.preprocess import PreprocessConfig
from train.evaluate_stream import main as evaluate_main
from train.lib.background import background_offset, fold_offset
from train.lib.data import split_validation
from train.lib.evaluation import stream_top1
from train.lib.openset import BACKGROUND, Reject
from train.lib.openset_training import OpensetConfig, family_clips, openset_config, source_weights, subject
from train.openset_train import main
from train.studies.reject_study import main as study_main


def test_source_weights_share_the_dataset_weight():
    w = source_weights(["idle", "nw_ucla", "ntu", "transition"])
    assert w["nw_ucla"] == w["ntu"] == pytest.approx(0.2) and w["idle"] == pytest.approx(0.25)


def test_subjects_from_clip_ids():
    assert subject("nw_ucla", "a01_s09_e00_v01") == 9 and subject("utd_mhad", "a12_s3_t2") == 3
    assert subject("ntu", "S001C001P003R001A001") == 3


def test_streaming_top1_counts_a_background_average_as_wrong():
    z = np.log(np.array([[0.6, 0.1, 0.3], [0.2, 0.1, 0.7], [0.1, 0.8, 0.1]]))   # last column: background
    owner, labels = np.array([0, 0, 1]), np.array([0, 1])
    assert stream_top1(z, owner, labels) == 0.5   # clip 0 averages to background on top


def test_background_offset_is_the_smallest_that_keeps_the_known_recall():
    z = np.zeros((100, 3))
    z[:, 0] = 1.0
    z[:10, 2] = np.linspace(1.1, 3.0, 10)      # 10 known windows with background ahead by 0.1, 0.31, … 2.0
    assert background_offset(z, 1.0) == pytest.approx(2.0)
    assert background_offset(z, 0.95) == pytest.approx(1.0)   # 5 may stay ahead: 1.16 … 2.0 after 1.0
    assert background_offset(z, 0.9) == 0.0


def test_folding_the_offset_lowers_only_the_background_logit():
    model = PartGCN(ModelConfig.student(preprocess=PreprocessConfig(), num_classes=3))
    x = torch.randn(4, 5, model.cfg.window, 13)
    before = model.eval()(x).detach()
    fold_offset(model, 1.5)
    after = model(x).detach()
    torch.testing.assert_close(after[:, :2], before[:, :2])
    torch.testing.assert_close(after[:, 2], before[:, 2] - 1.5)


def test_variant_overrides_are_checked():
    assert openset_config("bg_look", ["share=0.3"]).share == 0.3
    with pytest.raises(ValueError, match="unknown variant"):
        openset_config("nope", [])
    with pytest.raises(ValueError, match="KEY=VALUE with KEY one of"):
        openset_config("bg", ["shar=0.3"])
    with pytest.raises(ValueError, match="share ≥ 0"):
        OpensetConfig(share=-1.0)


def test_validation_subjects_are_kept_out_of_training_negatives(tmp_path):
    ucla = tmp_path / "nw_ucla" / "all_sqe"
    write_ucla_tree(ucla)
    body = np.stack([standing_body(t=i / 10)[:20] for i in range(30)])
    write_ucla_json(ucla / "a01_s09_e00_v01.json", body, 1)
    train = family_clips("a", "train", tmp_path, part="train")
    val = family_clips("a", "train", tmp_path, part="val")
    assert [c.id for c in val] == ["a01_s09_e00_v01"]
    assert val[0].id not in {c.id for c in train} and len(train) == 12


def test_family_c_splits_every_dataset_by_action(tmp_path):
    """Family c: each dataset's first actions are training negatives, its last ones held out — never both."""
    ucla = tmp_path / "nw_ucla" / "all_sqe"
    ucla.mkdir(parents=True)
    body = np.stack([standing_body(t=i / 10)[:20] for i in range(30)])
    for a in (3, 6, 8, 9):                                   # drop trash, stand up | donning, doffing
        write_ucla_json(ucla / f"a{a:02d}_s01_e00_v01.json", body, a)
    write_ntu_tree(tmp_path / "ntu" / "skeletons")                 # A001, A002: both ≤ 7, training
    utd = tmp_path / "utd_mhad" / "skeleton"
    utd.mkdir(parents=True)
    for a in (3, 14, 20):                                    # wave | baseball swing (a Penn action), catch
        write_utd_clip(utd, a, frames=30)
    train = {c.id for c in family_clips("c", "train", tmp_path)}
    held = {c.id for c in family_clips("c", "eval", tmp_path)}
    assert {i for i in train if i.startswith("a")} == {"a03_s01_e00_v01", "a06_s01_e00_v01", "a3_s1_t1"}
    assert held == {"a08_s01_e00_v01", "a09_s01_e00_v01", "a20_s1_t1"} and not train & held
    assert sum(i.startswith("S") for i in train) == 16


def test_validation_split_is_stratified_and_disjoint(tmp_path):
    from train.lib.config import load_config
    from train.lib.data import load_benchmark

    penn = write_penn_tree(tmp_path / "penn")
    cfg = load_config("train/configs/penn_default.yaml", [f"data.root={penn}"])
    full = load_benchmark(cfg.data, 0)
    train, val = split_validation(full)
    assert not set(train.train_ids) & set(val["ids"])
    assert sorted(train.train_ids + val["ids"]) == sorted(full.train_ids)
    assert set(val["labels"]) == set(full.train_labels)               # every class has validation clips
    assert len(val["lq"]) == len(val["ids"]) and val["lq"][0].shape[1:] == (13, 3)


def _shared(tmp_path):
    shared = tmp_path / "shared"
    penn = write_penn_tree(shared / "penn")
    ucla = write_ucla_tree(shared / "nw_ucla" / "all_sqe")
    write_ucla_json(ucla / "a02_s09_e00_v01.json", np.stack([standing_body(t=i / 10)[:20] for i in range(30)]), 2)
    write_ntu_tree(shared / "ntu" / "skeletons")
    utd = shared / "utd_mhad" / "skeleton"
    utd.mkdir(parents=True)
    for a, s in ((1, 1), (3, 2), (14, 1), (14, 2), (27, 2)):   # swipe left, wave; baseball swing, squat
        write_utd_clip(utd, a, subject=s)
    return shared, penn


@pytest.mark.slow  # ~40 s: a training epoch with look and Kinect knowns, validation, all rejects, held-out sets
def test_train_validate_measure_on_fixtures(tmp_path):
    shared, penn = _shared(tmp_path)
    runs = tmp_path / "runs"
    common = ["--root", str(penn), "--shared", str(shared), "--out", str(runs)]
    assert main(["train", "--variant", "bg_look_kin", "--epochs", "1", "--device", "cpu", *common]) == 0
    ck = load_checkpoint(runs / "bg_look_kin" / "student.pt")
    assert ck.classes[-1] == BACKGROUND and ck.meta["negatives"] == "a" and ck.meta["openset"]["look"]
    assert set(ck.meta["negative_sources"]) == {"nw_ucla", "idle", "transition"}
    assert ck.meta["known_extra_ids"] == ["a14_s1_t1"]                       # odd subjects only
    assert Reject.from_dict(ck.meta["reject"]).method == "background"
    val = json.loads((runs / "bg_look_kin" / "validation.json").read_text())
    assert set(val["negatives"]) == {"nw_ucla_val", "idle", "transition"}   # subject 9 of NW-UCLA: validation
    assert val["background_offset"] == ck.meta["background_offset"]
    assert 0.0 <= val["known"]["background_windows"] <= 1 - 0.98 + 1e-9 or val["background_offset"] == 8.0

    assert study_main(["measure", "--model", str(runs / "bg_look_kin" / "student.pt"), *common]) == 0
    res = json.loads((runs / "bg_look_kin" / "measure.json").read_text())
    assert res["validation_held_out"] and res["background"] and res["look"]
    assert set(res["scores"]["energy"]["sets"]) == {"utd_mhad", "ntu", "idle", "transition"}   # family a held out
    assert "nw_ucla" not in res["streams"]
    sc = res["shortcut_check"]
    assert sc["known_windows"] > 0 and sc["unknown_windows"] > 0          # UTD's Penn actions of even subjects
    assert set(sc["per_action"]) == {"swipe_left", "wave"}
    for m in res["scores"]["not_background"]["sets"].values():
        assert 0.0 <= m["auroc"] <= 1.0 and 0.0 <= m["fpr_at_95"] <= 1.0
    r = Reject.load(runs / "bg_look_kin" / "reject_not_background.json")
    assert r.score == "not_background" and r.target_recall == 0.95 and "held out" in r.calibrated_on
    # the OOV streams it wrote run through the harness
    assert evaluate_main(["--annotations", str(runs / "bg_look_kin" / "streams.yaml"),
                          "--model", str(runs / "bg_look_kin" / "student.pt"), "--json", str(tmp_path / "s.json")]) == 0
    assert json.loads((tmp_path / "s.json").read_text())["total"]["counts"]["segments"] == 0
    # the same model judged on another family's held-out sets (a control), in its own folder
    assert study_main(["measure", "--model", str(runs / "bg_look_kin" / "student.pt"), "--family", "b", *common]) == 0
    res_b = json.loads((runs / "bg_look_kin.family_b" / "measure.json").read_text())
    assert set(res_b["scores"]["energy"]["sets"]) == {"nw_ucla", "idle", "transition"}
    assert res_b["negatives_trained_on"] == res["negatives_trained_on"] == "a" and res_b["judged_on_family"] == "b"


@pytest.mark.slow  # ~60 s: two variants trained one epoch each by the sweep, tabulated and packed
def test_sweep_trains_variants_in_parallel_and_packs_them(tmp_path):
    import tarfile

    shared, penn = _shared(tmp_path)
    out = tmp_path / "out"
    assert main(["sweep", "--variants", "control,bg_look", "--jobs", "2", "--epochs", "1", "--device", "cpu",
                 "--root", str(penn), "--shared", str(shared), "--out", str(out), "--work", str(tmp_path / "w")]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["openset_sweep.tar.gz", "summary.md"]   # what comes back
    table = (out / "summary.md").read_text()
    assert "| control |" in table and "| bg_look |" in table and "nw_ucla_val auroc / accepted" in table
    with tarfile.open(out / "openset_sweep.tar.gz") as tar:
        names = set(tar.getnames())
    assert {"control/student.pt", "bg_look/validation.json", "bg_look.log"} <= names


def test_errors_are_one_line(tmp_path, capsys):
    assert main(["train", "--variant", "bg", "--root", str(tmp_path / "nothing"), "--epochs", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("openset_train: error:") and "\n" not in err
