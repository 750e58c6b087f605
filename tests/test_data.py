import numpy as np
import pytest
from fixtures_formats import write_penn_tree

from partkd_stream.preprocess import PreprocessConfig
from train.lib.data import centre_ends, fill_before_clip, random_ends, windows


def test_fill_modes_before_a_short_clip():
    idx = np.array([-1, -1, -1, -1, -1, 0, 2, 4])
    assert fill_before_clip(idx, "pad").tolist() == idx.tolist()
    assert fill_before_clip(idx, "hold").tolist() == [0, 0, 0, 0, 0, 0, 2, 4]
    assert fill_before_clip(idx, "loop").tolist() == [2, 4, 0, 2, 4, 0, 2, 4]  # periodic continuation backwards
    full = np.arange(8)
    assert fill_before_clip(full, "loop").tolist() == full.tolist()
    with pytest.raises(ValueError, match="unknown fill mode"):
        fill_before_clip(idx, "mirror")


def test_windows_are_aligned_across_views_and_fill_the_window():
    pre = PreprocessConfig(layout="penn13", window=16, fps=15.0)
    rng = np.random.default_rng(0)
    clip = np.concatenate([rng.normal(100, 30, (10, 13, 2)), np.ones((10, 13, 1))], -1).astype(np.float32)
    ends = np.array([9])
    padded = windows([clip], np.array([30.0]), ends, pre)
    held = windows([clip], np.array([30.0]), ends, pre, ["hold"])
    assert (padded[0, 2, :10] == 0).all() and (padded[0, 2, -1] > 0).all(), "score channel is 0 for padding"
    assert (held[0, 2] > 0).all(), "hold fills every frame"
    lengths, fps = np.array([10, 200]), np.array([30.0, 30.0])
    r = random_ends(lengths, fps, pre, np.random.default_rng(1))
    assert r[0] == 9 and 31 <= r[1] <= 199
    assert centre_ends(lengths, fps, pre).tolist() == [9, 115]



def test_fixed_lq_training_set_is_the_same_every_epoch_and_fresh_is_not(tmp_path):
    from train.lib.config import DataConfig
    from train.lib.data import load_benchmark, lq_train_views

    root = write_penn_tree(tmp_path / "data")
    bench = load_benchmark(DataConfig(root=str(root), max_samples=4), seed=0)
    fixed = [lq_train_views(bench, 0, epoch, fixed=True) for epoch in (0, 3)]
    fresh = [lq_train_views(bench, 0, epoch) for epoch in (0, 3)]
    assert all(np.array_equal(a, b) for a, b in zip(*fixed))
    assert not all(np.array_equal(a, b) for a, b in zip(*fresh))
    assert all(np.array_equal(a, b) for a, b in zip(fixed[0], fresh[0])), "fixed = the first epoch's draw"
    with pytest.raises(ValueError, match="lq_train"):
        load_benchmark(DataConfig(root=str(root), lq_train="sometimes"), seed=0)


def test_random_yaw_turns_3d_clips_about_the_vertical_and_keeps_their_shape(tmp_path):
    from train.lib.data import random_yaw

    rng = np.random.default_rng(3)
    clip = np.concatenate([rng.normal(0, 0.5, (6, 20, 3)) + [0.2, 0.1, 3.0], np.ones((6, 20, 1))], -1)
    clip[2, 5] = [0, 0, 0, 0]  # a missing joint
    turned = random_yaw([clip] * 8, 60.0, np.random.default_rng(0))
    present = clip[..., 3] > 0
    for t in turned:
        assert np.allclose(t[..., 1], clip[..., 1]) and np.array_equal(t[..., 3], clip[..., 3]), "y and scores kept"
        assert np.array_equal(t[2, 5], clip[2, 5]), "a missing joint stays where it is"
        d = lambda s: np.linalg.norm(s[present][:, None, :3] - s[present][None, :, :3], axis=-1)  # noqa: E731
        assert np.allclose(d(t), d(clip), atol=1e-9), "a rotation keeps every distance"
        a = np.arctan2(*np.linalg.lstsq(clip[present][:, [0, 2]] - clip[present][:, [0, 2]].mean(0),
                                        t[present][:, [0, 2]] - t[present][:, [0, 2]].mean(0), rcond=None)[0][[1, 0], 0])
        assert abs(np.rad2deg(a)) <= 60.0 + 1e-6
    assert not np.allclose(turned[0], turned[1]), "each clip gets its own angle"
    assert np.allclose(random_yaw([clip], 0.0, np.random.default_rng(0))[0], clip)


def test_hq_rotate_needs_a_3d_teacher(tmp_path):
    from train.lib.config import DataConfig
    from train.lib.data import load_benchmark

    root = write_penn_tree(tmp_path / "data")
    with pytest.raises(ValueError, match="hq_rotate"):
        load_benchmark(DataConfig(root=str(root), hq_rotate=30.0), seed=0)


def test_markov_runs_equal_the_frame_by_frame_chain():
    """degrade.markov_runs is vectorised; it must give exactly what the two-state chain gives frame by frame."""
    from train.lib.degrade import markov_runs

    def loop(rng, t, frac, mean_len):
        frac = np.clip(np.asarray(frac, np.float64), 0.0, 0.999)
        leave = 1.0 / np.maximum(np.asarray(mean_len, np.float64), 1.0)
        enter = np.minimum(frac * leave / (1.0 - frac), 1.0)
        u = rng.random((t, frac.size))
        out = np.zeros((t, frac.size), dtype=bool)
        if t and frac.any():
            state = out[0] = u[0] < frac
            for i in range(1, t):
                state = out[i] = np.where(state, u[i] >= leave, u[i] < enter)
        return out

    for trial in range(200):
        r = np.random.default_rng(trial)
        t, k = int(r.integers(0, 300)), int(r.integers(1, 8))
        frac, mean_len = r.uniform(0, 0.6, k) * (r.random(k) < 0.8), r.uniform(0.5, 30, k)
        assert np.array_equal(markov_runs(np.random.default_rng(trial), t, frac, mean_len),
                              loop(np.random.default_rng(trial), t, frac, mean_len)), trial


def test_labelled_subset_is_class_stratified_nested_and_independent_of_the_paired_mask():
    from train.lib.data import labelled_subset

    labels = np.repeat(np.arange(5), [40, 20, 10, 3, 1])
    subsets = {f: labelled_subset(labels, f, seed=0) for f in (0.1, 0.25, 0.5, 1.0)}
    for f, keep in subsets.items():
        counts = np.bincount(labels[keep], minlength=5)
        expected = [max(1, round(f * n)) for n in (40, 20, 10, 3, 1)]
        assert counts.tolist() == expected, f
    assert (subsets[0.1] <= subsets[0.25]).all() and (subsets[0.25] <= subsets[0.5]).all(), "nested"
    assert not np.array_equal(labelled_subset(labels, 0.5, seed=1), subsets[0.5]), "each seed draws its own"
    assert np.array_equal(labelled_subset(labels, 0.5, seed=0), subsets[0.5]), "reproducible"


def test_lq_fraction_leaves_the_paired_mask_and_the_test_set_alone(tmp_path):
    from train.lib.config import DataConfig
    from train.lib.data import load_benchmark

    root = write_penn_tree(tmp_path / "data")
    full = load_benchmark(DataConfig(root=str(root)), seed=0)
    half = load_benchmark(DataConfig(root=str(root), lq_fraction=0.5), seed=0)
    assert half.labelled.sum() == 4 and full.labelled.all()
    assert np.array_equal(full.paired, half.paired)
    assert all(np.array_equal(a, b) for a, b in zip(full.test_lq, half.test_lq))


def test_student_steps_fix_the_number_of_optimiser_steps_whatever_the_share_of_clips(tmp_path):
    from train.lib.config import load_config
    from train.lib.data import load_benchmark
    from train.lib.loops import stage_epochs
    from train.lib.stages import STAGES

    root = write_penn_tree(tmp_path / "data")
    for fraction, epochs in ((1.0, 5), (0.5, 10)):  # 8 clips → 2 batches of 4 per epoch; 4 clips → 1
        cfg = load_config(None, [f"data.root={root}", f"data.lq_fraction={fraction}", "train.batch_size=4",
                                 "train.student_steps=10", "train.epochs_teacher=3"])
        bench = load_benchmark(cfg.data, seed=0)
        assert stage_epochs(STAGES["baseline"], cfg, bench) == epochs
        assert stage_epochs(STAGES["teacher"], cfg, bench) == 3
