"""train.everyday_background on UTD-MHAD fixtures in the real format: the everyday student with a background class
(idle people and transitions as negative windows on top of the known ones)."""
from __future__ import annotations

import json

import pytest
from conftest import TINY
from fixtures_formats import write_utd_tree

from partkd_stream.checkpoint import load_checkpoint
from partkd_stream.reject import OpenSet, Reject
from train.everyday_background import main


@pytest.fixture(scope="module")
def utd_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("utd_bg") / "skeleton"
    write_utd_tree(root, subjects=4, frames=30)
    return root


def test_background_class_is_the_last_and_never_an_action(utd_root, tmp_path, capsys):
    assert main(["--root", str(utd_root), "--out", str(tmp_path), "--share", "0.5",
                 "--set", *TINY, "train.epochs_student=1"]) == 0
    out = capsys.readouterr().out
    assert "negative clips (idle, transition)" in out
    ck = load_checkpoint(tmp_path / "everyday_bg" / "seed0" / "baseline.pt")
    assert len(ck.classes) == 28 and ck.classes[-1] == "background" and ck.classes[2] == "wave"
    assert OpenSet(ck.classes).background and "background" not in OpenSet(ck.classes).actions
    assert ck.preprocess.layout == "penn13"
    # calibrated on validation clips carved from training (stratified: one per action here), never on the test set
    val_ids = ck.meta["validation_ids"]
    assert sorted(i.split("_")[0] for i in val_ids) == ["a3", "a4"]                  # one clip of each action
    assert all(i.split("_")[1] in ("s1", "s3") for i in val_ids)                      # of the training subjects
    res = json.loads((tmp_path / "everyday_bg" / "seed0" / "validation.json").read_text())
    assert res["known"]["clips"] == 2 and res["known"]["background_windows"] <= 0.02
    assert set(res["negatives"]) == {"idle", "transitions"}
    reject = Reject.from_dict(ck.meta["reject"])
    assert reject.method == "background" and reject.target_recall == 0.98
    assert ck.meta["background_offset"] == res["background_offset"] >= 0


def test_refit_on_every_clip_folds_the_given_offset(utd_root, tmp_path):
    for offset in ("0", "0.5"):
        assert main(["--root", str(utd_root), "--out", str(tmp_path / offset), "--validation", "0", "--offset",
                     offset, "--set", *TINY, "train.epochs_student=1"]) == 0
    plain, ck = (load_checkpoint(tmp_path / o / "everyday_bg" / "seed0" / "baseline.pt") for o in ("0", "0.5"))
    diff = {k: (plain.state_dict[k] - v).abs().max().item() for k, v in ck.state_dict.items()}
    assert diff.pop("fc.bias") == pytest.approx(0.5) and max(diff.values()) == 0      # only background's bias moved
    assert (plain.state_dict["fc.bias"][-1] - ck.state_dict["fc.bias"][-1]).item() == pytest.approx(0.5)
    assert ck.meta["validation_ids"] == [] and ck.meta["background_offset"] == 0.5
    assert "offset 0.5" in Reject.from_dict(ck.meta["reject"]).calibrated_on
    assert not (tmp_path / "0.5" / "everyday_bg" / "seed0" / "validation.json").exists()


@pytest.mark.parametrize("flags, message", [(["--share", "0"], "--share 0.0: must be > 0"),
                                            (["--validation", "1"], "--validation 1.0: must be in [0, 1)"),
                                            (["--offset", "1"], "--offset is for the refit on every clip")])
def test_bad_flags_are_a_one_line_error(utd_root, capsys, flags, message):
    assert main(["--root", str(utd_root), *flags]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err
