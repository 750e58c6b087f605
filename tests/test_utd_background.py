"""train.everyday_background on UTD-MHAD fixtures in the real format: the everyday student with a background class
(idle people and transitions as negative windows on top of the known ones)."""
from __future__ import annotations

import pytest
from fixtures_formats import write_utd_tree
from test_utd_distill import TINY

from partkd_stream.checkpoint import load_checkpoint
from partkd_stream.reject import OpenSet
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


def test_bad_share_is_a_one_line_error(utd_root, capsys):
    assert main(["--root", str(utd_root), "--share", "0"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--share 0.0: must be > 0" in err
