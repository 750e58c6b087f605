"""The live windows: resampling to the model's fps, bounded memory, the person-presence rule, and several people in
one buffer giving exactly what training computes from each person's frames."""
from __future__ import annotations

import numpy as np
import pytest
from stream_fixtures import person_frames

from partkd_stream.convert import convert
from partkd_stream.layouts import get_layout
from partkd_stream.preprocess import PreprocessConfig, preprocess_window, resample_indices, take_frames
from partkd_stream.window import PresenceRule, TrackWindows, frame_has_person

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
    win = TrackWindows(cfg)
    for i in range(100):
        kp = np.full((33, 3), 1.0, np.float32)
        kp[:, 0] = i  # the frame number rides in x
        win.push(kp, i / 60.0, "mediapipe33")
    _, kps, _ = win.frames()
    assert list(kps[win.sample_positions().astype(int), 0, 0]) == list(range(37, 100, 2))
    x = win.model_input()
    assert x.shape == (1, cfg.in_channels, 32, 33) and np.all(np.isfinite(x))


def test_short_buffer_is_front_padded_and_memory_is_bounded():
    cfg = PreprocessConfig(layout="penn13", window=16, fps=30.0)
    win = TrackWindows(cfg)
    for t, kp in person_frames(5):
        win.push(kp, t, "mediapipe33")
    idx = win.sample_positions()
    assert (idx[:11] == -1).all() and list(idx[11:]) == [0, 1, 2, 3, 4]
    kp = person_frames(1)[0][1]
    for i in range(5, 2000):
        win.push(kp, i / 30.0, "mediapipe33")
    assert len(win) <= int(win.horizon_s * 30) + 2 and win.capacity <= 128
    fast = TrackWindows(cfg, horizon_s=10.0, max_frames=64)     # 1000 fps, a 10 s horizon: capped at 64 frames
    for i in range(500):
        fast.push(kp, i / 1000.0, "mediapipe33")
    ts, _, _ = fast.frames()
    assert fast.capacity == 64 and len(ts) == 64 and list(ts) == list(np.arange(436, 500) / 1000.0)
    fast.clear()
    assert len(fast) == 0 and not fast.person_present()
    x = fast.model_input()
    assert x.shape == (1, cfg.in_channels, 16, 13) and not x.any()
    assert fast.model_input([]).shape == (0, cfg.in_channels, 16, 13)


def test_person_rule_needs_torso_and_arms():
    full = _frame({}, default=0.9)
    assert frame_has_person(full, "mediapipe33")
    legs_only = _frame({j: 0.9 for j in MP.joints if any(k in j for k in ("knee", "ankle", "heel", "foot"))})
    assert not frame_has_person(legs_only, "mediapipe33")
    torso_no_arms = _frame({j: 0.9 for j in ("left_shoulder", "right_shoulder", "left_hip", "right_hip")})
    assert not frame_has_person(torso_no_arms, "mediapipe33")
    assert frame_has_person(torso_no_arms, "mediapipe33", PresenceRule(min_arm_joints=0))
    one_hip_missing = _frame({}, default=0.9)
    one_hip_missing[MP.index("left_hip"), 2] = 0.2
    assert not frame_has_person(one_hip_missing, "mediapipe33")
    upper_body = PresenceRule(torso=("left_shoulder", "right_shoulder"))          # e.g. a person at a desk
    assert frame_has_person(one_hip_missing, "mediapipe33", upper_body)
    assert not frame_has_person(None, "mediapipe33")
    penn = np.concatenate([np.zeros((13, 2)), np.ones((13, 1))], 1)
    assert frame_has_person(penn, "penn13")


def test_person_present_is_a_fraction_of_recent_frames():
    cfg = PreprocessConfig(layout="penn13", window=32, fps=30.0)
    win = TrackWindows(cfg, PresenceRule(span_s=1.0, min_fraction=0.6))
    frames = person_frames(30)
    for i, (t, kp) in enumerate(frames):          # 1 s: a person in every other frame → 50 %
        win.push(kp if i % 2 else None, t, "mediapipe33")
    assert win.person_fraction() == pytest.approx(0.5, abs=0.05)
    assert not win.person_present()
    for i in range(30, 60):                       # then a person in every frame
        win.push(frames[i - 30][1], i / 30.0, "mediapipe33")
    assert win.person_fraction() == pytest.approx(1.0)
    assert win.person_present()


@pytest.mark.parametrize("src_fps", [30.0, 25.0, 60.0, 10.0])
def test_live_window_and_training_window_give_the_same_model_input(src_fps):
    """The same frames, fed live into the window or cut from a clip by ``train.data.windows`` (how training and
    evaluation pick windows), are the same model input — also before the window is full."""
    from train.data import windows

    cfg = PreprocessConfig(layout="penn13", window=16, fps=15.0)
    frames = person_frames(70, fps=src_fps)
    clip = convert(np.stack([kp for _, kp in frames]), "mediapipe33", "penn13")
    clip[20:24, 5, 2] = 0.0                                   # a few missing joints, as in real data
    win = TrackWindows(cfg)
    for i, (t, _) in enumerate(frames):
        win.push(clip[i], t, "penn13")
        if i in (5, 30, 69):
            want = windows([clip], np.array([src_fps]), np.array([i]), cfg)
            np.testing.assert_allclose(win.model_input(), want, atol=1e-6)


@pytest.mark.parametrize("layout,fps,src_fps", [("penn13", 20.0, 30.0), ("mediapipe33", 30.0, 60.0),
                                                ("coco17", 25.0, 15.0)])
def test_each_slot_is_what_training_makes_of_that_persons_frames(layout, fps, src_fps):
    """Three people in one buffer — pushed together and alone, with missing and NaN joints, a repeated clock
    reading (refused), one person leaving now and then — at every checked frame each slot's model input is the
    training preprocessing of exactly the frames that slot took, converted to the model's layout."""
    cfg = PreprocessConfig(layout=layout, window=24, fps=fps)
    rng = np.random.default_rng(1)
    people = [person_frames(200, fps=src_fps, kind=k) for k in ("jumping_jacks", "jump_rope", "stand")]
    tw = TrackWindows(cfg, slots=3, capacity=8)              # starts small: it grows as frames come
    taken: list[list[tuple[float, np.ndarray]]] = [[], [], []]
    for k in range(200):
        shared: dict[int, np.ndarray | None] = {}
        t0 = people[0][k - (k == 50)][0]                        # frame 50: frame 49's clock reading again
        for p, frames in enumerate(people):
            kp = frames[k][1]
            if (k // 20) % 4 == 3 and p == 2:
                kp = None                                      # person 2 leaves now and then
            elif rng.random() < 0.3:
                kp = kp.copy()
                kp[rng.choice(33, 6, replace=False), 2] = rng.choice([0.0, 0.02, np.nan])
            if p == 1:
                t = t0 + 0.004 * rng.random()                  # a clock of its own: pushed alone
                if tw.push(kp, t, "mediapipe33", slot=1):
                    taken[1].append((t, kp))
            else:
                shared[p] = kp
        ok = tw.push_many(list(shared), list(shared.values()), t0, "mediapipe33")
        for p, kp, took in zip(shared, shared.values(), ok):
            if took:
                taken[p].append((t0, kp))
        assert ok.all() == (k != 50)
        if k % 7 == 0 or k == 199:
            want = []
            for p in (2, 0, 1):
                ts = np.array([t for t, _ in taken[p]])
                keep = ts >= ts[-1] - tw.horizon_s
                seq = np.stack([np.zeros((33, 3), np.float32) if kp is None else kp
                                for (_, kp), kept in zip(taken[p], keep) if kept])
                seq = convert(seq, "mediapipe33", layout)
                want.append(preprocess_window(take_frames(seq, resample_indices(ts[keep], fps, 24), cfg.min_score),
                                                  cfg))
            np.testing.assert_allclose(tw.model_input([2, 0, 1]), np.stack(want), atol=2e-6)
    assert tw.warmed_up(0) and tw.person_present(0) and tw.person_present(1)


def test_bad_timestamps_are_refused_and_absurd_joints_are_missing():
    cfg = PreprocessConfig(layout="penn13", window=16, fps=30.0)
    win = TrackWindows(cfg)
    frames = person_frames(3)
    assert win.push(frames[0][1], 0.0, "mediapipe33")
    for t in (float("nan"), float("inf"), -1.0, 0.0, 2e9):
        assert not win.push(frames[1][1], t, "mediapipe33")
    kp = frames[1][1].astype(np.float64)
    kp[MP.index("left_hip"), 0] = 1e300                        # visibility kept, place absurd
    assert win.push(kp, 1 / 30, "mediapipe33") and len(win) == 2
    _, kps, person = win.frames()
    assert not person[-1], "a frame without a usable left hip shows no person"
    assert kps[-1, get_layout("penn13").index("left_hip")].tolist() == [0, 0, 0]
    assert np.isfinite(win.model_input()).all()


def test_a_non_finite_coordinate_loses_only_the_joints_made_from_it():
    kp = person_frames(1)[0][1].copy()
    kp[5, 0] = np.inf          # right_eye: not a source of any penn13 joint
    kp[25, 1] = np.nan         # left_knee
    kp[7, 0] = -np.inf         # left_ear: a source of penn13's head
    out = convert(kp, "mediapipe33", "penn13")
    lost = ~np.isfinite(out[:, :2]).all(-1)
    assert np.flatnonzero(lost).tolist() == [0, 10]            # head, left_knee; the other 11 joints as before
    clean = kp.copy()
    clean[[5, 7, 25], :2] = 0.0
    np.testing.assert_array_equal(out[~lost], convert(clean, "mediapipe33", "penn13")[~lost])
    win = TrackWindows(PreprocessConfig(layout="penn13", window=16, fps=30.0))
    win.push(kp, 0.0, "mediapipe33")
    _, kps, person = win.frames()
    assert person[0] and np.isfinite(kps).all() and np.flatnonzero(kps[0, :, 2] == 0).tolist() == [0, 10]
