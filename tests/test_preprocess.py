import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from partkd_stream.layouts import get_layout
from partkd_stream.preprocess import (PreprocessConfig, body_scale, clip_windows, fit_window, model_input,
                                      nanmedian_last, normalize, preprocess_window, resample_indices, sanitize,
                                      take_frames)

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


def _reference(seq: np.ndarray, cfg: PreprocessConfig) -> np.ndarray:
    """The model input as the module docstring defines it, written plainly (masked means, ``np.nanmedian``,
    channels last, features concatenated): the oracle for the fast channels-first implementation."""
    lay = get_layout(cfg.layout)
    seq = sanitize(seq, cfg.min_score).astype(np.float64)
    coords, score = seq[..., :-1], seq[..., -1]
    present = score > 0
    torso = list(lay.parts["torso"])
    w = present[..., torso]
    centre_torso = (coords[..., torso, :] * w[..., None]).sum((-2, -3)) / np.maximum(w.sum((-1, -2)), 1)[..., None]
    centre_all = (coords * present[..., None]).sum((-2, -3)) / np.maximum(present.sum((-1, -2)), 1)[..., None]
    centre = np.where((w.sum((-1, -2)) > 0)[..., None], centre_torso, centre_all)
    coords = coords - centre[..., None, None, :]
    (ls, rs), (lh, rh) = lay.shoulders, lay.hips
    ok = present[..., ls] & present[..., rs] & present[..., lh] & present[..., rh]
    length = np.linalg.norm(0.5 * (coords[..., ls, :] + coords[..., rs, :] - coords[..., lh, :] - coords[..., rh, :]),
                            axis=-1)
    length = np.where(ok & (length > 1e-6), length, np.nan)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        scale = np.nanmedian(length, axis=-1)
    rms = np.sqrt((np.square(coords).sum(-1) * present).sum((-1, -2)) / np.maximum(present.sum((-1, -2)), 1))
    scale = np.where(np.isfinite(scale), scale, 2 * rms)
    scale = np.where(scale > 1e-6, scale, 1.0)
    coords = coords / scale[..., None, None, None] * present[..., None]
    parts = []
    for f in cfg.features:
        if f == "coords":
            parts.append(coords)
        elif f == "score":
            parts.append(score[..., None])
        else:
            both = (present[..., 1:, :] & present[..., :-1, :])[..., None]
            diff = np.where(both, coords[..., 1:, :, :] - coords[..., :-1, :, :], 0.0)
            parts.append(np.concatenate([np.zeros_like(coords[..., :1, :, :]), diff], axis=-3))
    return np.moveaxis(np.concatenate(parts, -1), -1, -3)


@pytest.mark.parametrize("features", [("coords", "score", "motion"), ("coords",), ("motion", "coords"),
                                      ("score", "coords")])
def test_model_input_equals_the_plain_definition(features):
    cfg = PreprocessConfig(layout="penn13", window=32, fps=20.0, features=features)
    rng = np.random.default_rng(0)
    win = rng.normal(200, 60, (7, 32, 13, 3))             # float64: room for an absurd value
    win[..., 2] = rng.uniform(0, 1, (7, 32, 13))
    win[1, :, [1, 2, 7, 8]] = 0.0            # torso never seen: the RMS fallback
    win[2, :10] = np.nan                     # non-finite frames
    win[3] = 0.0                             # nobody at all
    win[4, :, :, 2] = 0.01                   # everything below min_score
    win[5, :, 1, 0] = 1e300                  # an absurd coordinate: a missing joint
    got = preprocess_window(win, cfg)
    np.testing.assert_allclose(got, _reference(win, cfg), atol=2e-6)
    assert got.dtype == np.float32 and np.isfinite(got).all()
    np.testing.assert_array_equal(preprocess_window(win[None, 2:4], cfg)[0], got[2:4])   # any leading axes
    np.testing.assert_array_equal(preprocess_window(win[5], cfg), got[5])
    np.testing.assert_array_equal(model_input(sanitize(win, cfg.min_score), cfg), got)


def test_body_scale_is_the_normalising_scale():
    rng = np.random.default_rng(1)
    seq = sanitize(_seq(rng, t=20))
    present = (seq[..., 2] > 0).astype(np.float32)
    s = body_scale(seq[..., :2], present, "penn13")
    assert s.shape == () and s > 0
    n = normalize(seq, "penn13")
    np.testing.assert_allclose(body_scale(n[..., :2], present, "penn13"), 1.0, rtol=1e-5)
    moved = (seq[..., :2] - 50.0) * 3.0
    assert body_scale(moved, present, "penn13") == pytest.approx(3 * s, rel=1e-5)   # not-seen joints ignored


def test_nanmedian_last_is_numpys():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(7, 9, 33))
    x[rng.random(x.shape) < 0.4] = np.nan
    x[0, 0] = np.nan
    with np.errstate(all="ignore"), pytest.warns(RuntimeWarning):
        want = np.nanmedian(x, axis=-1)
    np.testing.assert_array_equal(nanmedian_last(x), want)
