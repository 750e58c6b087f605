"""The batched window prototype gives exactly what one SkeletonWindow per person gives."""
from __future__ import annotations

import numpy as np
import pytest
from stream_fixtures import person_frames

from partkd_stream.preprocess import PreprocessConfig, preprocess_window, sanitize
from partkd_stream.track_windows import TrackWindows, nanmedian_last, window_features
from partkd_stream.window import SkeletonWindow


@pytest.mark.parametrize("layout,fps,src_fps", [("penn13", 20.0, 30.0), ("mediapipe33", 30.0, 60.0),
                                                ("coco17", 25.0, 15.0)])
def test_every_frame_matches_one_skeleton_window_per_person(layout, fps, src_fps):
    cfg = PreprocessConfig(layout=layout, window=24, fps=fps)
    rng = np.random.default_rng(1)
    people = [person_frames(200, fps=src_fps, kind=k) for k in ("jumping_jacks", "jump_rope", "stand")]
    tw = TrackWindows(cfg, "mediapipe33", slots=3, capacity=256)
    ref = [SkeletonWindow(cfg) for _ in people]
    for k in range(200):
        shared: dict[int, np.ndarray | None] = {}
        for p, frames in enumerate(people):
            t, kp = frames[k]
            if k == 50:
                t = frames[k - 1][0]                           # a repeated clock reading
            if (k // 20) % 4 == 3 and p == 2:
                kp = None                                      # person 2 leaves now and then
            elif rng.random() < 0.3:
                kp = kp.copy()
                kp[rng.choice(33, 6, replace=False), 2] = rng.choice([0.0, 0.02, np.nan])
            if p == 1:
                t += 0.004 * rng.random()                      # a clock of its own: pushed alone
                tw.push(p, kp, t)
            else:
                shared[p] = kp                                 # people 0 and 2: one push for both
            ref[p].push(kp, t, "mediapipe33")
        tw.push_many(list(shared), list(shared.values()), people[0][k - (k == 50)][0])
        for p in range(3):
            assert tw.person_present(p) == ref[p].person_present(), (k, p)
            assert tw.warmed_up(p) == ref[p].warmed_up(), (k, p)
        if k % 7 == 0:
            got = tw.model_input([2, 0, 1])
            want = np.concatenate([ref[p].model_input() for p in (2, 0, 1)])
            np.testing.assert_allclose(got, want, atol=2e-6)


def test_a_non_finite_coordinate_loses_only_its_joint():
    # convert.convert loses the whole frame here (0 · inf = nan in its matmul); the window keeps the rest
    cfg = PreprocessConfig(layout="penn13", window=16, fps=30.0)
    tw = TrackWindows(cfg, "mediapipe33", slots=1)
    kp = person_frames(1)[0][1].copy()
    kp[5, 0] = np.inf          # right_eye: not a source of any penn13 joint
    kp[25, 1] = np.nan         # left_knee
    tw.push(0, kp, 0.0)
    score = tw.kp[0, 0, :, 2]
    assert score[10] == 0 and (np.delete(score, 10) > 0.9).all() and np.isfinite(tw.kp[0, 0]).all()


def test_clear_forgets_and_capacity_bounds_memory():
    cfg = PreprocessConfig(layout="penn13", window=16, fps=30.0)
    tw = TrackWindows(cfg, "mediapipe33", slots=1, capacity=32, horizon_s=10.0)
    for t, kp in person_frames(100):
        tw.push(0, kp, t)
    assert tw.n[0] == 32 and tw.person_present(0)
    tw.clear(0)
    assert not tw.person_present(0)
    x = tw.model_input([0])
    assert x.shape == (1, cfg.in_channels, 16, 13) and not x.any()
    assert tw.model_input([]).shape == (0, cfg.in_channels, 16, 13)


def test_window_features_equal_the_training_preprocessing():
    cfg = PreprocessConfig(layout="penn13", window=32, fps=20.0)
    rng = np.random.default_rng(0)
    win = rng.normal(200, 60, (6, 32, 13, 3)).astype(np.float32)
    win[..., 2] = rng.uniform(0, 1, (6, 32, 13))
    win[1, :, [1, 2, 7, 8]] = 0.0            # torso never seen: the RMS fallback
    win[2, :10] = np.nan                     # non-finite frames
    win[3] = 0.0                             # nobody at all
    win[4, :, :, 2] = 0.01                   # everything below min_score
    want = preprocess_window(win, cfg)
    got = window_features(sanitize(win, cfg.min_score), cfg)
    np.testing.assert_allclose(got, want, atol=1e-6)
    for features in (("coords",), ("motion", "coords"), ("score", "coords")):
        c = PreprocessConfig(layout="penn13", window=32, fps=20.0, features=features)
        np.testing.assert_allclose(window_features(sanitize(win, c.min_score), c), preprocess_window(win, c),
                                   atol=1e-6)


def test_nanmedian_last_is_numpys():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(7, 9, 33))
    x[rng.random(x.shape) < 0.4] = np.nan
    x[0, 0] = np.nan
    with np.errstate(all="ignore"), pytest.warns(RuntimeWarning):
        want = np.nanmedian(x, axis=-1)
    np.testing.assert_array_equal(nanmedian_last(x), want)
