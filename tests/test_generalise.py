"""train/generalise.py and train/lib/generalisation.py end to end: fixtures in the real formats, tiny models whose
answer is fixed, so every count can be predicted."""
from __future__ import annotations

import json

import numpy as np
import pytest

from fixtures_formats import utd_d_skel, write_kard_tree, write_penn_mat, write_utd_mat
from stream_fixtures import make_model
from train.generalise import main
from train.lib.generalisation import clip_state, combine, default_rows, lodo_row, standard_rows, stream_clip
from train.lib.stream_eval import StreamRun

DATA = {"dataset": "utd_mhad", "degradation": "calibrated", "severity": 1.0, "test_seed": 5}


@pytest.fixture(scope="module")
def utd(tmp_path_factory):
    """UTD-MHAD files of swipe left (a1) and swipe right (a2), subjects 1-4 (2 and 4 test), 2 s each; a model that
    always says swipe_left."""
    d = tmp_path_factory.mktemp("gen_utd")
    for a in (1, 2):
        for s in (1, 2, 3, 4):
            write_utd_mat(d / "skeleton" / f"a{a}_s{s}_t1_skeleton.mat", utd_d_skel(60, wave=0.25))
    model = make_model(d / "left.pt", classes=["swipe_left", "swipe_right"], logits=[4.0, 0.0],
                       meta={"dataset": "utd_mhad", "data": DATA})
    return d, model


def run(args, out):
    rc = main([*args, "--out", str(out)])
    return rc, (json.loads((out / "generalisation.json").read_text()) if rc == 0 else None)


def test_rows_stream_every_test_clip_and_mirroring_swaps_which_clips_are_right(utd, tmp_path):
    d, model = utd
    rc, res = run(["--model", str(model), "--data", f"utd_mhad={d / 'skeleton'}",
                   "--rows", "clean,clean+mirrored,clean+fps15,in_distribution"], tmp_path)
    assert rc == 0
    rows = {r["name"]: r for r in res["rows"]}
    assert list(rows) == ["clean", "clean+mirrored", "clean+fps15", "in_distribution"]
    clean, mirrored = rows["clean"], rows["clean+mirrored"]
    assert clean["clips"] == 4 and clean["skipped"] == 0                      # test subjects 2 and 4 only
    assert {c[0] for c in clean["per_clip"]} == {"a1_s2_t1", "a1_s4_t1", "a2_s2_t1", "a2_s4_t1"}
    assert all(c[2] == "swipe_left" for c in clean["per_clip"])               # what the model always says
    assert clean["top1"] == 0.5 and clean["top1_labels"] == 0.5 and clean["person_share"] == 1.0
    right = lambda r: sorted(c[0] for c in r["per_clip"] if c[1] == c[2])     # noqa: E731
    assert right(clean) == ["a1_s2_t1", "a1_s4_t1"]
    assert right(mirrored) == ["a2_s2_t1", "a2_s4_t1"]                        # a mirrored swipe right is a left
    # a cadence in stream time: a 15 fps camera gets as many predictions per clip as a 30 fps one (± one each)
    assert rows["clean+fps15"]["top1"] == 0.5
    assert abs(rows["clean+fps15"]["predictions"] - clean["predictions"]) <= clean["clips"]
    assert rows["clean+mirrored"]["command"].endswith("--rows clean+mirrored")
    md = (tmp_path / "generalisation.md").read_text()
    assert "| `clean+fps15` |" in md and "--data utd_mhad=" in md and "`calibrated` × severity 1" in md


def test_a_bad_row_or_missing_data_is_one_line_and_exit_1(utd, tmp_path, capsys):
    d, model = utd
    assert main(["--model", str(model), "--data", f"utd_mhad={d / 'skeleton'}", "--rows", "fps14",
                 "--out", str(tmp_path)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("generalise: error: --rows: no row 'fps14'") and "\n" not in err
    assert main(["--model", str(model), "--data", f"utd_mhad={tmp_path / 'nothing'}", "--out", str(tmp_path)]) == 1
    assert "does not exist" in capsys.readouterr().err
    assert main(["--model", str(model), "--data", f"utd_mhad={d / 'skeleton'}", "--list-rows"]) == 0
    listed = capsys.readouterr().out
    assert "yaw90" in listed and "yaw-90" in listed and "body_kard" in listed and "upper_body" in listed


def test_penn_rows_views_and_the_share_of_predictions_with_a_person(tmp_path):
    """2D annotations: the far hip, knee and ankle annotated hidden on the side views — a person in profile, whom
    the default presence rule counts as a person, annotated or with every joint shown."""
    x0 = np.array([240, 220, 260, 210, 270, 205, 275, 230, 250, 228, 252, 226, 254], float)
    y0 = np.array([60, 100, 100, 140, 140, 180, 180, 190, 190, 250, 250, 310, 310], float)
    t = np.arange(60)
    (tmp_path / "labels").mkdir()
    for i, pose in enumerate(("front", "front", "left", "right")):
        vis = np.ones((60, 13))
        if pose != "front":
            vis[:, [7, 9, 11]] = 0                           # the far hip, knee and ankle (right side first)
        write_penn_mat(tmp_path / "labels" / f"{i + 1:04d}.mat", x0 + 10 * np.sin(t / 5)[:, None],
                       y0 + 0 * t[:, None], vis, "squat", -1, pose=pose)
    model = make_model(tmp_path / "squat.pt", classes=["squat", "pushup"], logits=[4.0, 0.0],
                       meta={"dataset": "penn_action", "data": {**DATA, "dataset": "penn_action"}})
    rc, res = run(["--model", str(model), "--data", f"penn_action={tmp_path / 'labels'}",
                   "--rows", "annotated,clean,view_front,annotated_left"], tmp_path / "out")
    assert rc == 0
    rows = {r["name"]: r for r in res["rows"]}
    assert rows["annotated"]["clips"] == 4 and rows["view_front"]["clips"] == 2 and rows["annotated_left"]["clips"] == 1
    assert rows["annotated"]["person_share"] == 1.0                            # the side views too
    assert rows["annotated"]["no_person"] == 0.0 and rows["annotated"]["top1"] == 1.0
    assert rows["clean"]["person_share"] == 1.0 and rows["clean"]["top1"] == 1.0
    assert rows["annotated_left"]["top1"] == 1.0 and rows["annotated_left"]["person_share"] == 1.0


def test_leave_one_dataset_out_maps_the_datasets_actions_through_the_vocabulary(tmp_path):
    kard = write_kard_tree(tmp_path / "realworld", subjects=(1, 2), frames=50)   # high arm wave, hand clap
    model = make_model(tmp_path / "wave.pt", classes=["wave", "clap", "sit_to_stand"], logits=[4.0, 0.0, 0.0],
                       meta={"dataset": "utd_mhad", "data": {**DATA, "dataset": "utd_mhad"}})
    rc, res = run(["--model", str(model), "--lodo", "kard", "--data", f"kard={kard}"], tmp_path / "out")
    assert rc == 0
    assert [r["name"] for r in res["rows"]] == ["in_distribution", "clean"]
    clean = res["rows"][1]
    assert clean["clips"] == 8                                  # both subjects, both repetitions: all clips
    assert {c[1] for c in clean["per_clip"]} == {"wave", "clap"} and clean["top1"] == 0.5
    assert res["settings"]["mode"] == "lodo" and "never saw" in res["settings"]["selection"]
    row = lodo_row(str(model), "kard", "clean", data={"kard": str(kard)})           # the same from Python
    assert row["per_clip"] == clean["per_clip"] and row["top1"] == 0.5


def test_a_short_clip_is_too_short_once_and_judged_when_looped(utd):
    from partkd_stream.backends import load_model

    _, path = utd
    model = load_model(str(path))
    seq = np.tile(np.array([[100.0 + 10 * j, 50.0 + 20 * j, 1.0] for j in range(13)], np.float32), (15, 1, 1))
    assert clip_state(stream_clip(model, seq, 30.0, "penn13")) == "too_short"          # 0.5 s: still warming up
    run = stream_clip(model, seq, 30.0, "penn13", loop_to=2.0)
    assert len(run.frame_t) == 60 and clip_state(run) == "swipe_left"


def test_every_row_name_resolves_alone():
    for three_d in (True, False):
        rows = standard_rows(three_d, 30.0, ["front", "back"])
        assert [combine(r.name, rows) for r in rows] == rows and len({r.name for r in rows}) == len(rows)
        assert "fps30" not in default_rows(rows, 30.0) and "fps15" in default_rows(rows, 30.0)


def test_clip_state_skips_the_warm_up_and_counts_no_action_states():
    def stream(labels, reasons):
        n = len(labels)
        return StreamRun(np.zeros(0), np.arange(n, dtype=float), labels, [], {}, reasons, [True] * n)

    assert clip_state(stream([None, None, "wave", "wave"], ["warming_up", "confirming", None, None])) == "wave"
    assert clip_state(stream([None, None, None, "wave"], ["warming_up", "unknown", "unknown", None])) == "unknown"
    assert clip_state(stream([None, None], ["warming_up", "warming_up"])) == "too_short"
    assert clip_state(stream(["clap", "wave"], [None, None])) == "clap"                     # a tie: the first


def test_a_multi_dataset_model_is_judged_on_its_one_training_set_or_asks_for_one(utd, tmp_path, capsys):
    """A card whose dataset is ``multiset``: with one training set, that set's test split is the default; with
    several, a one-line error asks for ``--dataset``."""
    d, _ = utd
    data = {**DATA, "dataset": "multiset"}
    one = make_model(tmp_path / "one.pt", classes=["swipe_left", "swipe_right"], logits=[4.0, 0.0],
                     meta={"dataset": "multiset", "data": data, "multiset": {"datasets": ["utd_mhad"]}})
    rc, res = run(["--model", str(one), "--data", f"utd_mhad={d / 'skeleton'}", "--rows", "clean"], tmp_path / "a")
    assert rc == 0 and res["settings"]["dataset"] == "utd_mhad" and res["rows"][0]["clips"] == 4
    two = make_model(tmp_path / "two.pt", classes=["swipe_left", "swipe_right"], logits=[4.0, 0.0],
                     meta={"dataset": "multiset", "data": data, "multiset": {"datasets": ["utd_mhad", "kard"]}})
    capsys.readouterr()
    assert main(["--model", str(two), "--rows", "clean", "--out", str(tmp_path / "b")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "several datasets (utd_mhad, kard)" in err and "--dataset" in err
