import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from partkd_stream.preprocess import (PreprocessConfig, clip_windows, fit_window, normalize, preprocess_window,
                                      resample_indices, sanitize, take_frames)

CFG = PreprocessConfig(layout="penn13", dims=2, window=16, fps=30.0)


def _seq(rng, t=16, v=13, drop=0.2):
    xy = rng.normal(100, 40, size=(t, v, 2))
    score = (rng.random((t, v)) > drop).astype(np.float64) * rng.uniform(0.5, 1, (t, v))
    return np.concatenate([xy, score[..., None]], -1).astype(np.float32)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), shift=st.tuples(st.floats(-1e3, 1e3), st.floats(-1e3, 1e3)),
       scale=st.floats(0.05, 50))
def test_invariant_to_translation_and_scale(seed, shift, scale):
    seq = _seq(np.random.default_rng(seed))
    moved = seq.copy()
    moved[..., :2] = moved[..., :2] * scale + np.array(shift, np.float32)
    a, b = preprocess_window(seq, CFG), preprocess_window(moved, CFG)
    np.testing.assert_allclose(a, b, atol=2e-3)


def test_all_missing_frames_give_finite_zeros():
    seq = np.zeros((16, 13, 3), np.float32)
    out = preprocess_window(seq, CFG)
    assert out.shape == (CFG.in_channels, 16, 13)
    assert np.isfinite(out).all() and (out == 0).all()


def test_nan_and_inf_are_sanitised_to_missing_joints():
    seq = _seq(np.random.default_rng(0), drop=0.0)
    seq[3, 4, 0] = np.nan
    seq[5, 2, 2] = np.inf
    seq[6, 1, 1] = -np.inf
    clean = sanitize(seq)
    assert np.isfinite(clean).all()
    assert clean[3, 4, 2] == 0 and clean[5, 2, 2] == 0 and clean[6, 1, 2] == 0
    out = preprocess_window(seq, CFG)
    assert np.isfinite(out).all()


def test_missing_joints_have_zero_coords_and_motion():
    seq = _seq(np.random.default_rng(2), drop=0.0)
    seq[4, 7, 2] = 0.0
    out = preprocess_window(seq, CFG)  # channels: x, y, score, dx, dy
    assert (out[:2, 4, 7] == 0).all() and out[2, 4, 7] == 0
    assert (out[3:, 4, 7] == 0).all() and (out[3:, 5, 7] == 0).all()
    assert (out[3:, 0] == 0).all(), "no motion for the first frame"


def test_normalised_torso_has_unit_length():
    seq = _seq(np.random.default_rng(3), drop=0.0)
    n = normalize(sanitize(seq), "penn13")
    ls, rs, lh, rh = 2, 1, 8, 7
    torso = np.linalg.norm(0.5 * (n[:, ls, :2] + n[:, rs, :2]) - 0.5 * (n[:, lh, :2] + n[:, rh, :2]), axis=-1)
    assert np.median(torso) == pytest.approx(1.0, rel=1e-4)


def test_wrong_shape_is_rejected():
    with pytest.raises(ValueError, match="expected 13 joints"):
        preprocess_window(np.zeros((16, 17, 3)), CFG)
    with pytest.raises(ValueError, match="expected 3 channels"):
        preprocess_window(np.zeros((16, 13, 4)), CFG)


def test_resample_indices_halves_a_60fps_stream():
    ts = np.arange(100) / 60.0
    idx = resample_indices(ts, fps=30.0, window=8)
    assert list(idx) == list(range(85, 100, 2))
    short = resample_indices(ts[:5], fps=30.0, window=8)
    assert (short[:5] == -1).all() and list(short[5:]) == [0, 2, 4]


def test_take_frames_pads_and_fit_window_crops():
    seq = _seq(np.random.default_rng(4), t=10)
    out = take_frames(seq, np.array([-1, 0, 9]))
    assert (out[0] == 0).all() and (out[2] == seq[9]).all()
    assert fit_window(seq, 4).shape == (4, 13, 3)
    padded = fit_window(seq, 16)
    assert (padded[:6] == 0).all() and (padded[6:] == seq).all()


def test_clip_windows_cover_a_clip_like_a_stream():
    seq = _seq(np.random.default_rng(5), t=100)
    wins = clip_windows(seq, src_fps=30.0, cfg=CFG, stride=10)
    assert wins.shape[1:] == (CFG.in_channels, 16, 13)
    # windows end at frames 15, 25, ..., 95, 99
    assert wins.shape[0] == 10
    np.testing.assert_allclose(wins[-1], preprocess_window(seq[-16:], CFG), atol=1e-5)


def test_config_round_trips_through_dict():
    cfg = PreprocessConfig(layout="ntu25", dims=3, window=32, fps=15.0)
    assert PreprocessConfig.from_dict(cfg.to_dict()) == cfg
    assert cfg.in_channels == 7
