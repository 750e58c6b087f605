"""The live window: resampling to the model's fps, bounded memory, and the person-presence rule."""
from __future__ import annotations

import numpy as np
import pytest
from stream_fixtures import person_frames

from partkd_stream.layouts import get_layout
from partkd_stream.preprocess import PreprocessConfig
from partkd_stream.window import PresenceRule, SkeletonWindow, frame_has_person

MP = get_layout("mediapipe33")


def _frame(score_by_joint: dict[str, float], default: float = 0.0) -> np.ndarray:
    kp = np.zeros((33, 3), np.float32)
    kp[:, :2] = np.random.default_rng(0).uniform(0, 100, (33, 2))
    kp[:, 2] = default
    for j, s in score_by_joint.items():
        kp[MP.index(j), 2] = s
    return kp


def test_60fps_source_into_30fps_model_takes_every_other_frame():
    cfg = PreprocessConfig(layout="mediapipe33", window=32, fps=30.0)
    win = SkeletonWindow(cfg)
    for i in range(100):
        kp = np.full((33, 3), 1.0, np.float32)
        kp[:, 0] = i  # the frame number rides in x
        win.push(kp, i / 60.0, "mediapipe33")
    frame_numbers = np.array([kp[0, 0] for _, kp, _ in win._frames])
    assert list(frame_numbers[win.sample_indices()]) == list(range(37, 100, 2))
    x = win.model_input()
    assert x.shape == (1, cfg.in_channels, 32, 33) and np.all(np.isfinite(x))


def test_short_buffer_is_front_padded_and_memory_is_bounded():
    cfg = PreprocessConfig(layout="penn13", window=16, fps=30.0)
    win = SkeletonWindow(cfg)
    for t, kp in person_frames(5):
        win.push(kp, t, "mediapipe33")
    idx = win.sample_indices()
    assert (idx[:11] == -1).all() and list(idx[11:]) == [0, 1, 2, 3, 4]
    kp = person_frames(1)[0][1]
    for i in range(5, 2000):
        win.push(kp, i / 30.0, "mediapipe33")
    assert len(win) <= int(win.horizon_s * 30) + 2


def test_person_rule_needs_torso_and_arms():
    full = _frame({}, default=0.9)
    assert frame_has_person(full, "mediapipe33")
    legs_only = _frame({j: 0.9 for j in MP.joints if any(k in j for k in ("knee", "ankle", "heel", "foot"))})
    assert not frame_has_person(legs_only, "mediapipe33")
    torso_no_arms = _frame({j: 0.9 for j in ("left_shoulder", "right_shoulder", "left_hip", "right_hip")})
    assert not frame_has_person(torso_no_arms, "mediapipe33")
    one_hip_missing = _frame({}, default=0.9)
    one_hip_missing[MP.index("left_hip"), 2] = 0.2
    assert not frame_has_person(one_hip_missing, "mediapipe33")
    assert not frame_has_person(None, "mediapipe33")
    penn = np.concatenate([np.zeros((13, 2)), np.ones((13, 1))], 1)
    assert frame_has_person(penn, "penn13")


def test_person_present_is_a_fraction_of_recent_frames():
    cfg = PreprocessConfig(layout="penn13", window=32, fps=30.0)
    win = SkeletonWindow(cfg, PresenceRule(span_s=1.0, min_fraction=0.6))
    frames = person_frames(30)
    for i, (t, kp) in enumerate(frames):          # 1 s: a person in every other frame → 50 %
        win.push(kp if i % 2 else None, t, "mediapipe33")
    assert win.person_fraction() == pytest.approx(0.5, abs=0.05)
    assert not win.person_present()
    for i in range(30, 60):                       # then a person in every frame
        win.push(frames[i - 30][1], i / 30.0, "mediapipe33")
    assert win.person_fraction() == pytest.approx(1.0)
    assert win.person_present()


@pytest.mark.parametrize("src_fps", [30.0, 25.0, 60.0])
def test_live_window_and_training_window_give_the_same_model_input(src_fps):
    """The same frames, fed live into ``SkeletonWindow`` or cut from a clip by ``train.data.windows`` (how
    training and evaluation pick windows), are the same model input — also before the window is full."""
    from partkd_stream.convert import convert
    from train.data import windows

    cfg = PreprocessConfig(layout="penn13", window=16, fps=15.0)
    frames = person_frames(70, fps=src_fps)
    clip = convert(np.stack([kp for _, kp in frames]), "mediapipe33", "penn13")
    clip[20:24, 5, 2] = 0.0                                   # a few missing joints, as in real data
    win = SkeletonWindow(cfg)
    for i, (t, _) in enumerate(frames):
        win.push(clip[i], t, "penn13")
        if i in (5, 30, 69):
            want = windows([clip], np.array([src_fps]), np.array([i]), cfg)
            np.testing.assert_allclose(win.model_input(), want, atol=1e-6)


def test_bad_timestamps_are_refused_and_absurd_joints_are_missing():
    cfg = PreprocessConfig(layout="penn13", window=16, fps=30.0)
    win = SkeletonWindow(cfg)
    frames = person_frames(3)
    assert win.push(frames[0][1], 0.0, "mediapipe33")
    for t in (float("nan"), float("inf"), -1.0, 0.0, 2e9):
        assert not win.push(frames[1][1], t, "mediapipe33")
    kp = frames[1][1].astype(np.float64)
    kp[MP.index("left_hip"), 0] = 1e300                        # visibility kept, place absurd
    assert win.push(kp, 1 / 30, "mediapipe33") and len(win) == 2
    assert not win._frames[-1][2], "a frame without a usable left hip shows no person"
    assert np.isfinite(win.model_input()).all()
