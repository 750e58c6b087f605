"""The multi-dataset everyday training on fixtures in the real formats: UTD-MHAD, KARD and Florence 3D through the
vocabulary (train.lib.multiset), the shifts as augmentation (train.lib.augment), and the recipe's command."""
from __future__ import annotations

import json

import numpy as np
import pytest
from fixtures_formats import write_florence_tree, write_kard_tree, write_utd_tree
from conftest import TINY

from partkd_stream.checkpoint import load_checkpoint
from partkd_stream.convert import convert
from train.datasets import DatasetError
from train.everyday_multiset import main
from train.lib.augment import AugmentedViews, ShiftedNegatives, hq_view
from train.lib.config import load_config
from train.lib.data import Benchmark
from train.lib.degrade import DegradeConfig
from train.lib.everyday_multiset import CONFIG
from train.lib.multiset import Multiset, left_out_samples, load_multiset
from train.lib.negatives import idle_clips
from train.lib.shifts import Shift, apply_shift, measure_proportions, project, KINECT_V2_COLOUR

SETS = ("utd_mhad", "kard", "florence3d")


@pytest.fixture(scope="module")
def roots(tmp_path_factory):
    base = tmp_path_factory.mktemp("multiset")
    write_utd_tree(base / "utd", subjects=8, frames=30)
    write_kard_tree(base / "kard", subjects=range(1, 5), frames=30)
    write_florence_tree(base / "florence", subjects=range(1, 5), frames=12)
    return {"utd_mhad": base / "utd", "kard": base / "kard", "florence3d": base / "florence"}


def settings(roots, *more: str) -> list[str]:
    paths = ", ".join(f"{k}: {v}" for k, v in roots.items())
    return [f"multiset.datasets=[{', '.join(SETS)}]", f"multiset.roots={{{paths}}}", "multiset.max_per_class=null",
            *more]


def test_datasets_meet_in_the_vocabulary_and_one_is_left_out(roots):
    cfg = load_config(CONFIG, settings(roots))
    ms = load_multiset(cfg, 0)
    b = ms.bench
    assert b.classes == ["wave", "clap"]                                       # vocabulary order, classes they have
    assert sorted(set(ms.train_sets)) == sorted(SETS)
    assert {b.classes[y] for y, a in zip(b.train_labels, ms.train_actions) if a == "high_arm_wave"} == {"wave"}
    assert all(s.shape[-2:] == (15, 4) for s in b.train_hq) and b.hq_pre.layout == "openni15"
    assert all(s.shape[-2:] == (13, 3) for s in b.test_lq) and b.lq_pre.layout == "penn13"
    assert all(cid.split("/")[0] in SETS for cid in b.train_ids)               # ids name their dataset
    # each dataset's own protocol: odd subjects train, even subjects test
    assert {int(cid.split("_s")[1].split("_")[0]) % 2 for cid in b.train_ids} == {1}
    assert set(b.train_fps[ms.train_sets == "florence3d"]) == {12.0}

    lodo = load_config(CONFIG, settings(roots, "multiset.leave_out=kard"))
    ms = load_multiset(lodo, 0)
    assert "kard" not in set(ms.train_sets) and ms.left_out == "kard"
    clips, labels = left_out_samples(lodo, ms.bench.classes)
    assert len(clips) == 16 and {c.split for c in clips} == {"train", "test"}   # every clip of it: never trained on
    assert sorted(np.bincount(labels).tolist()) == [8, 8]

    capped = load_multiset(load_config(CONFIG, settings(roots, "multiset.max_per_class=2")), 0)
    again = load_multiset(load_config(CONFIG, settings(roots, "multiset.max_per_class=2")), 1)
    assert len(capped.bench.train_ids) == 2 * 2 * 3 and capped.bench.train_ids == again.bench.train_ids

    no_clap = load_multiset(load_config(CONFIG, settings(roots, "multiset.exclude_classes=[clap]")), 0)
    assert no_clap.bench.classes == ["wave"] and set(no_clap.bench.train_labels) == {0}


@pytest.mark.parametrize("setting, message", [("multiset.leave_out=nw_ucla", "is not one of multiset.datasets"),
                                              ("multiset.exclude_classes=[jump]", "'jump' is no class of")])
def test_bad_multiset_settings_are_one_line_errors(roots, setting, message):
    with pytest.raises(DatasetError, match=message) as e:
        load_multiset(load_config(CONFIG, settings(roots, setting)), 0)
    assert "\n" not in str(e.value)


def test_clip_offset_rule_lets_still_stretches_of_a_clip_say_no_action():
    from train.lib.background import background_offset, clip_background_offset

    z = np.zeros((40, 3), np.float32)
    z[:, 0] = 2.0                                          # 40 windows of 4 clips: the action on top by 2 ...
    z[::5, 2] = 3.0                                        # ... but every 5th window (a still start) background by 1
    owner = np.repeat(np.arange(4), 10)
    assert clip_background_offset(z, owner) == 0.0         # no clip is mostly background
    assert background_offset(z, 0.98) == 1.0               # the window rule lifts the offset until none is


def test_mirror_image_of_a_direction_named_class_is_its_twin():
    bench = Benchmark(classes=["swipe_left", "swipe_right", "wave", "background"], hq_pre=None, lq_pre=None,
                      train_ids=[], train_labels=np.zeros(0, int), train_fps=np.zeros(0), train_hq=[], train_src=[],
                      paired=np.zeros(0, bool), test_ids=[], test_labels=np.zeros(0, int), test_fps=np.zeros(0),
                      test_hq=[], test_lq=[], degradation=None)
    from train.datasets.vocabulary import load_vocabulary

    ms = Multiset(bench=bench, vocab=load_vocabulary(), train_sets=np.array([]), test_sets=np.array([]))
    assert ms.mirror_labels().tolist() == [1, 0, 2, 3]


def test_the_teacher_sees_the_students_clip_under_the_same_shift(roots):
    ms = load_multiset(load_config(CONFIG, settings(roots)), 0)
    seq, layout = ms.bench.train_src[0]
    body = measure_proportions([s for s, n in zip(ms.bench.train_hq, ms.train_sets) if n == "kard"], "openni15")
    shift = Shift(yaw=40.0, pitch=-10.0, fps=15.0, speed=1.3, proportions=body, degrade=False)
    lq, fps = apply_shift(seq, layout, 30.0, shift, "penn13", DegradeConfig(), np.random.default_rng(0))
    hq, hq_fps = hq_view(seq, layout, 30.0, shift)
    assert fps == hq_fps == 15.0 and len(hq) == len(lq) < len(seq)
    projected = convert(project(hq, KINECT_V2_COLOUR), "openni15", "penn13")
    np.testing.assert_allclose(projected, lq, atol=1e-3)


def test_augmented_views_are_seeded_per_clip_and_epoch(roots):
    cfg = load_config(CONFIG, settings(roots, "augment.fps=[10, 60]", "augment.speed=[1, 1]"))
    ms = load_multiset(cfg, 0)
    views = AugmentedViews(ms, cfg.augment, seed=3)
    a, b, c = views(0, True), views(0, True), views(1, True)
    assert all(np.array_equal(x, y) for x, y in zip(a.lq, b.lq)) and np.array_equal(a.fps, b.fps)
    assert not all(x.shape == y.shape and np.allclose(x, y) for x, y in zip(a.lq, c.lq))
    assert set(a.fps) <= {10.0, 60.0} and len(set(np.concatenate([a.fps, c.fps]))) == 2
    for v in (a, c):                                      # 10 fps: fewer frames than the source; 60: more
        for seq, hq, f, src in zip(v.lq, v.hq, v.fps, ms.bench.train_src):
            assert len(seq) == len(hq) and (len(seq) < len(src[0])) == (f == 10.0)
    assert views(0, False).lq is None
    assert np.array_equal(a.labels, ms.bench.train_labels)                    # wave and clap are their own mirrors


def test_negatives_take_the_known_clips_look(roots):
    cfg = load_config(CONFIG, settings(roots, "augment.fps=[12]", "augment.clean=1"))
    ms = load_multiset(cfg, 0)
    views = AugmentedViews(ms, cfg.augment, seed=0)
    neg = ShiftedNegatives(idle_clips(2, seed=0), ms.bench.lq_pre, ms.bench.degradation, 0, views.ranges)
    v = neg.view(0, 0)
    assert neg.view_fps(0, 0) == 12.0 and len(v) == 6 * 12                     # 6 s at 12 fps
    assert set(np.unique(v[..., 2])) <= {0.0, 1.0}                             # clean: scores 1 where present
    x = neg.epoch_windows(0, 4)
    assert x.shape[0] == 4 and np.isfinite(x).all()


@pytest.mark.slow
def test_recipe_end_to_end_teacher_ce_and_kd(roots, tmp_path, capsys):
    common = ["--out", str(tmp_path), "--leave-out", "florence3d", "--share", "0.5",
              "--set", *settings(roots), *TINY, "train.epochs_teacher=1", "train.epochs_student=1"]
    assert main(["--stage", "teacher", *common]) == 0
    assert main(["--stage", "baseline", *common]) == 0
    assert main(["--stage", "kd", *common]) == 0
    run = tmp_path / "everyday_multiset" / "lodo_florence3d" / "seed0"
    teacher, ce, kd = (load_checkpoint(run / f"{s}.pt") for s in ("teacher", "baseline", "kd"))
    assert teacher.classes == ce.classes == kd.classes == ["wave", "clap", "background"]
    assert teacher.preprocess.layout == "openni15" and kd.preprocess.layout == "penn13"
    for ck in (ce, kd):
        assert ck.meta["vocabulary"] == "everyday_vocabulary.yaml" and ck.meta["left_out"] == "florence3d"
        assert set(ck.meta["training_sets"]) == {"utd_mhad", "kard"} and ck.meta["augment"]["enabled"]
        assert ck.meta["reject"]["method"] == "background" and ck.meta["presence"]["sides"] == "both"
    assert "loss_part" in json.dumps(json.loads((run / "kd.metrics.json").read_text())["history"])
    assert main(["--stage", "baseline", "--recalibrate", *common]) == 0                # the same rule: the same offset
    again = load_checkpoint(run / "baseline.pt")
    assert again.meta["background_offset"] == ce.meta["background_offset"]
    assert all((again.state_dict[k] == v).all() for k, v in ce.state_dict.items())
    assert json.loads((run / "baseline.validation.json").read_text())["known"]["background_clips"] <= 0.02
    out = capsys.readouterr().out
    assert "augmentation on" in out and "classes + background" in out


def test_kd_without_a_teacher_is_a_one_line_error(roots, tmp_path, capsys):
    assert main(["--stage", "kd", "--out", str(tmp_path), "--set", *settings(roots), *TINY]) == 2
    err = capsys.readouterr().err
    assert err.startswith("everyday_multiset: error:") and err.count("\n") == 1


@pytest.mark.slow
def test_lodo_study_trains_its_plan_and_tabulates_the_left_out_dataset(tmp_path, monkeypatch):
    from train.studies.everyday_lodo import main as lodo

    shared = tmp_path / "shared"
    write_utd_tree(shared / "utd_mhad" / "skeleton", subjects=8, frames=30)
    write_kard_tree(shared / "kard" / "realworld", subjects=range(1, 5), frames=30)
    write_florence_tree(shared / "florence3d" / "clips", subjects=range(1, 5), frames=12)
    monkeypatch.setenv("PARTKD_SHARED_DATA", str(shared))             # the units run as their own processes
    sets = [f"out={tmp_path / 'runs'}", f"multiset.datasets=[{', '.join(SETS)}]", f"multiset.root={shared}",
            "multiset.max_per_class=null", *TINY, "train.epochs_teacher=1", "train.epochs_student=1"]
    assert lodo(["run", "--folds", "kard", "--seeds", "0", "--stages", "baseline,kd", "--variants", "aug",
                 "--jobs", "1", "--set", *sets]) == 0
    run = tmp_path / "runs" / "everyday_multiset" / "lodo_kard" / "seed0"
    assert {p.name for p in run.glob("*.pt")} == {"teacher.pt", "baseline.pt", "kd.pt"}
    assert lodo(["table", "--runs", str(tmp_path / "runs"), "--root", str(tmp_path / "no_caches"), "--old", "",
                 "--out", str(tmp_path / "table"), "--set", *sets]) == 0
    res = json.loads((tmp_path / "table" / "lodo.json").read_text())
    for stage in ("baseline", "kd"):
        (row,) = res[f"aug/{stage}"]["kard"]
        assert row["clips"] == 16 and 0.0 <= row["top1"] <= 1.0                  # every KARD clip: never trained on
    text = (tmp_path / "table" / "lodo.md").read_text()
    assert "| CE, augmented" in text and "| KD (CE + part KD from a 3D teacher), augmented" in text
