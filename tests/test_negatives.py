"""Negative windows: generated idle people, transitions, other datasets (on fixtures in the real formats)."""
from __future__ import annotations

import numpy as np
import pytest
from fixtures_formats import ntu_body, standing_body, write_ntu_skeleton, write_ucla_json, write_utd_clip

from partkd_stream.layouts import get_layout
from partkd_stream.preprocess import PreprocessConfig
from partkd_stream.window import frame_has_person
from train.lib.degrade import DegradeConfig
from train.lib.negatives import (NegativeClip, NegativeWindows, dataset_clips, idle_clips, idle_person,
                             idle_stream, penn_overlap, transition_clips)

PRE = PreprocessConfig(layout="penn13", window=32, fps=20.0)
MP = get_layout("mediapipe33")


def test_idle_person_is_a_still_plausible_body():
    for sitting in (False, True):
        seq = idle_person(300, 30.0, np.random.default_rng(3), sitting=sitting)
        assert seq.shape == (300, 33, 4) and np.isfinite(seq).all() and (seq[..., 3] == 1).all()
        head_y = seq[:, MP.index("nose"), 1]
        ankle_y = seq[:, [MP.index("left_ankle"), MP.index("right_ankle")], 1].mean(1)
        height = (head_y - ankle_y).mean()
        assert 0.9 < height < 1.9                       # metres, y up; a sitting person is shorter
        torso = np.linalg.norm(seq[:, MP.index("left_shoulder"), :3] - seq[:, MP.index("left_hip"), :3], axis=1)
        wrist = seq[:, MP.index("right_wrist"), :3]
        assert np.ptp(wrist, axis=0).max() < 0.5 * torso.mean()   # still: the hand moves less than half a torso
        assert (seq[:, MP.index("left_shoulder"), 0] < seq[:, MP.index("right_shoulder"), 0]).mean() > 0.5 or \
            sitting  # facing the camera (within ±70°) the person's left is at smaller x, as in the Kinect datasets


def test_idle_stream_is_a_person_the_recognizer_judges():
    s = idle_stream(10.0, seed=1)
    assert s.shape == (300, 33, 3) and np.isfinite(s).all() and (0 <= s[..., 2]).all() and (s[..., 2] <= 1).all()
    assert np.mean([frame_has_person(f, "mediapipe33") for f in s]) > 0.8
    assert not np.array_equal(s[0, :, :2], s[1, :, :2])          # MediaPipe-like jitter, not a frozen frame
    np.testing.assert_array_equal(s, idle_stream(10.0, seed=1))   # seeded


def test_transitions_hold_still_and_let_the_action_fill_at_most_the_share():
    rng = np.random.default_rng(0)
    clip = rng.normal(size=(50, 13, 3)).astype(np.float32)
    clip[..., 2] = 1.0
    out = transition_clips([(clip, "penn13", 30.0, "c1")] * 20, PRE, seed=0, share=0.2)
    span = int(np.ceil(PRE.window / PRE.fps * 30.0))
    for c in out:
        assert c.last_window and c.source == "transition" and len(c.data) == span + 1
        moving = np.flatnonzero(np.abs(np.diff(c.data[..., :2], axis=0)).sum((1, 2)) > 0)
        held = span - len(moving)
        assert held >= 0.8 * span - 1
    assert {c.id.split(":")[1] for c in out} == {"start", "end"}


def test_dataset_sources_on_fixtures_leave_out_penn_actions(tmp_path):
    ucla = tmp_path / "ucla"
    ucla.mkdir()
    body = np.stack([standing_body(t=i / 10)[:20] for i in range(30)])
    write_ucla_json(ucla / "a01_s01_e00_v01.json", body, 1)
    write_ucla_json(ucla / "a11_s02_e01_v03.json", body, 9)
    clips = dataset_clips("nw_ucla", ucla)
    assert [c.action for c in clips] == ["pick up with one hand", "throw"] and clips[0].layout == "kinect20"
    ntu = tmp_path / "ntu"
    write_ntu_skeleton(ntu / "S001C001P001R001A001.skeleton", [[ntu_body(1, standing_body(t=i / 10))]
                                                                for i in range(20)])
    (c,) = dataset_clips("ntu", ntu)
    assert c.action == "drink water" and c.data.shape == (20, 25, 4)
    utd = tmp_path / "utd"
    utd.mkdir()
    write_utd_clip(utd, 3)
    write_utd_clip(utd, 14)                                           # baseball swing: a Penn action
    assert 14 in penn_overlap("utd_mhad")
    (u,) = dataset_clips("utd_mhad", utd)
    assert u.action == "wave" and u.data.shape == (40, 20, 4) and u.layout == "kinect20"
    (k,) = dataset_clips("utd_mhad", utd, penn_actions=True)     # the opposite: known actions, Penn names
    assert k.action == "baseball_swing" and dataset_clips("nw_ucla", ucla, penn_actions=True) == []
    # UTD order (head first) → kinect20 (hip_center first): the head is the highest joint
    k20 = get_layout("kinect20")
    assert u.data[0, k20.index("head"), 1] == u.data[0, :, 1].max()


def test_negative_windows_for_training_and_evaluation():
    clips = idle_clips(4, seed=0, seconds=3.0)
    rng = np.random.default_rng(0)
    known = rng.normal(100, 20, size=(40, 13, 3)).astype(np.float32)
    known[..., 2] = 1
    clips += transition_clips([(known, "penn13", 30.0, "k")] * 3, PRE, seed=0)
    deg = DegradeConfig.from_calibration().scaled(3)
    neg = NegativeWindows(clips, PRE, deg, seed=0, weights={"idle": 1.0, "transition": 0.0})
    x = neg.epoch_windows(0, 10)
    assert x.shape == (10, PRE.in_channels, PRE.window, 13) and np.isfinite(x).all()
    np.testing.assert_array_equal(x, neg.epoch_windows(0, 10))
    assert not np.array_equal(x, neg.epoch_windows(1, 10))
    xa = neg.epoch_windows_all(3)
    assert xa.shape == (len(clips), PRE.in_channels, PRE.window, 13)
    xe, owner = neg.eval_windows()
    assert len(xe) == len(owner) and set(owner) == set(range(len(clips)))
    assert (np.bincount(owner)[4:] == 1).all()                     # a transition is one window: its last
    stream, ts = neg.stream()
    assert len(stream) == len(ts) == sum(len(neg.view(i, 0)) for i in range(len(clips)))
    assert (np.diff(ts) > 0).all()
    with pytest.raises(ValueError, match="positive weight"):
        NegativeWindows(clips, PRE, deg, seed=0, weights={"pool": 1.0})
    with pytest.raises(ValueError):
        NegativeWindows([], PRE, deg, seed=0)


def test_already_low_quality_clips_are_not_degraded_again():
    data = np.random.default_rng(0).uniform(0, 1, size=(30, 33, 3)).astype(np.float32)
    neg = NegativeWindows([NegativeClip(data, "mediapipe33", 30.0, "pool", "p", lq=True)], PRE,
                          DegradeConfig.from_calibration(), seed=0)
    from partkd_stream.convert import convert
    np.testing.assert_array_equal(neg.view(0, 0), convert(data, "mediapipe33", "penn13"))
