"""Resampling a clip or a live stream to the model's frame rate: the same motion per model step at any input rate,
never a repeated frame, jittered clocks and dropped frames, and version-1 models sampled as they were trained."""
from __future__ import annotations

import numpy as np
import pytest

from partkd_stream.layouts import get_layout
from partkd_stream.preprocess import PreprocessConfig, clip_windows, resample_indices, sanitize, take_frames
from partkd_stream.window import TrackWindows

CFG = PreprocessConfig(layout="penn13", window=16, fps=20.0)
V1 = PreprocessConfig(layout="penn13", window=16, fps=20.0, version=1)
MOTION = slice(3, 5)          # penn13, 2D: coords 0-1, score 2, motion 3-4
VELOCITY = np.array([120.0, -45.0])   # pixels per second


def _walker(ts: np.ndarray) -> np.ndarray:
    """A penn13 body translating at constant speed, sampled at times ``ts``: ``[T, 13, 3]``, every joint seen."""
    body = np.random.default_rng(0).uniform(0, 200, (13, 2))
    lay = get_layout("penn13")
    body[[lay.index("left_shoulder"), lay.index("right_shoulder")], 1] = 40.0
    body[[lay.index("left_hip"), lay.index("right_hip")], 1] = 140.0      # a torso 100 px long
    seq = np.ones((len(ts), 13, 3), np.float32)
    seq[..., :2] = body + ts[:, None, None] * VELOCITY
    return seq


def _last_window(ts: np.ndarray, cfg: PreprocessConfig = CFG) -> np.ndarray:
    """The model input of the window ending at the last frame, as the live buffer builds it."""
    win = TrackWindows(cfg)
    for t, kp in zip(ts, _walker(ts)):
        win.push(kp, float(t), "penn13")
    return win.model_input()[0]


@pytest.mark.parametrize("cfg", [CFG, V1])
def test_motion_per_model_step_is_the_same_at_10_15_and_30_fps(cfg):
    """3 s of a body moving at constant speed: at 10 and 15 fps (slower than the 20 fps model) every step shows
    the motion of 1/20 s — never 0 (a repeated frame) — exactly as at 30 fps; version 2 also at 30 fps, where
    version 1 takes the nearest frames (steps of 1/30 and 1/15 s, as its training clips had them)."""
    x = {fps: _last_window(np.arange(int(3 * fps) + 1) / fps, cfg) for fps in (10.0, 15.0, 30.0)}
    step = x[30.0][MOTION, 1:]
    per_step = np.abs(step).mean((0, 2))
    if cfg.version == 2:
        assert per_step.std() < 1e-3 * per_step.mean()
        for fps in (10.0, 15.0):
            np.testing.assert_allclose(x[fps], x[30.0], atol=2e-4)
    else:
        assert per_step.max() == pytest.approx(2 * per_step.min(), rel=1e-3)     # 2/30 s and 1/30 s steps
        np.testing.assert_allclose(x[10.0], x[15.0], atol=2e-4)
        # over the window's 15 steps, the same way travelled up to one 30 fps frame (22 or 23 frames for 22.5)
        np.testing.assert_allclose(np.abs(x[10.0][MOTION, 1:]).mean(), per_step.mean(), rtol=1 / 22)
    for fps in (10.0, 15.0):
        assert (np.abs(x[fps][MOTION, 1:]).sum(0) > 1e-3).all(), f"a zero-motion step at {fps} fps"


def test_a_jittered_clock_and_a_gap_longer_than_a_step_keep_the_motion_of_the_time_between():
    """Frame times off by up to ±8 ms, then 0.47 s without a frame (longer than a model step): the window's
    instants are placed by time, so the window is the one a regular clock gives, across the gap too."""
    rng = np.random.default_rng(3)
    ts = np.arange(100) / 30 + rng.uniform(-0.008, 0.008, 100)
    ts = np.concatenate([ts[:80], ts[93:]])                  # frames 80-92 dropped
    pos = resample_indices(ts, CFG.fps, CFG.window)
    assert np.all(np.diff(pos) > 0), "no frame twice"
    inside = (pos > 79) & (pos < 80)
    assert inside.sum() >= 8, "the instants in the gap lie between the frames around it"
    regular = ts[-1] - np.arange(60, -1, -1) / 30
    np.testing.assert_allclose(_last_window(ts), _last_window(regular), atol=2e-4)
    v1 = resample_indices(ts, V1.fps, V1.window, version=1)   # nearest frames where they are ≤ a step apart
    assert np.all(np.diff(v1) > 0) and np.all(v1[~inside] % 1 == 0) and np.all(v1[inside] % 1 > 0)


def test_a_joint_missing_in_one_neighbour_is_taken_from_the_nearer_frame():
    seq = np.zeros((2, 13, 3), np.float32)
    seq[0, :, :2], seq[1, :, :2], seq[:, :, 2] = 10.0, 20.0, 0.9
    seq[1, 4, 2] = 0.0                                       # joint 4 missing in frame 1
    seq[0, 5, 2] = 0.03                                      # joint 5 below the model's min_score in frame 0
    out = sanitize(take_frames(seq, np.array([-1.0, 0.25, 0.75]), min_score=0.05), 0.05)   # as training does
    assert (out[0] == 0).all()                                # before the first frame: padding
    np.testing.assert_allclose(out[1, 0], [12.5, 12.5, 0.9])  # seen in both: interpolated in time
    np.testing.assert_allclose(out[1, 4], seq[0, 4])          # frame 0 is nearer: there it is seen
    assert (out[2, 4] == 0).all()                             # frame 1 is nearer: missing, not pulled to 0
    assert (out[1, 5] == 0).all() and (out[2, 5] == seq[1, 5]).all()
    np.testing.assert_array_equal(take_frames(seq, np.array([0.0, 1.0])), seq)   # whole positions: the frames


def test_clip_windows_and_the_live_buffer_agree_at_a_slow_rate():
    ts = np.arange(40) / 12.0
    seq = _walker(ts)
    seq[10:14, 3, 2] = 0.0
    live = TrackWindows(CFG)
    for t, kp in zip(ts, seq):
        live.push(kp, float(t), "penn13")
    np.testing.assert_allclose(clip_windows(seq, 12.0, CFG)[-1], live.model_input()[0], atol=1e-6)
