"""Desk framing (train/lib/degrade.py step 7): the lower body out of frame, as MediaPipe reports it at a desk webcam."""
from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from fixtures_formats import standing_body
from partkd_stream.layouts import get_layout
from train.lib.degrade import DEFAULT_CALIBRATION, DegradeConfig, degrade

PENN = get_layout("penn13")
LEGS = [PENN.index(f"{s}_{j}") for s in ("left", "right") for j in ("knee", "ankle")]
HIPS = list(PENN.hips)
UPPER = [PENN.index(j) for j in ("head", "left_shoulder", "right_shoulder")]


def clip(t: int = 60, kick: float = 0.0) -> np.ndarray:
    """A standing person ``[T, 25, 4]`` (ntu25, 3D); ``kick`` swings the legs (the real lower body moves)."""
    seq = np.stack([standing_body(t=0.2 * k) for k in range(t)])
    for leg, sign in (([13, 14, 15], 1), ([17, 18, 19], -1)):
        seq[:, leg, 0] += sign * kick * np.sin(0.3 * np.arange(t))[:, None]
    return np.concatenate([seq, np.ones(seq.shape[:2] + (1,))], -1).astype(np.float32)


def cfg(share: float) -> DegradeConfig:
    return replace(DegradeConfig.from_calibration().scaled(3.0), lower_body_out=share)


def test_draws_come_last_so_the_rest_of_the_clip_is_unchanged():
    full = degrade(clip(), "ntu25", "penn13", cfg(0.0), np.random.default_rng(4))
    desk = degrade(clip(), "ntu25", "penn13", cfg(1.0), np.random.default_rng(4))
    np.testing.assert_array_equal(full[:, UPPER], desk[:, UPPER])
    assert not np.array_equal(full[:, LEGS], desk[:, LEGS])


def test_out_of_frame_joints_get_low_visibility_and_positions_below_the_shoulders():
    c = cfg(1.0)
    out = degrade(clip(), "ntu25", "penn13", c, np.random.default_rng(0))
    seen = out[..., 2] > 0
    assert out[..., 2][:, LEGS][seen[:, LEGS]].max() <= c.out_leg_score[1] + 0.25
    assert np.median(out[..., 2][:, LEGS][seen[:, LEGS]]) <= c.out_leg_score[1]
    assert np.median(out[..., 2][:, HIPS][seen[:, HIPS]]) <= c.out_hip_score[1]
    assert np.median(out[..., 2][:, UPPER][seen[:, UPPER]]) > 0.8
    ls, rs = PENN.shoulders
    ok = seen[:, [ls, rs, *LEGS]].all(1)
    shoulder_y = out[ok][:, [ls, rs], 1].mean(1)
    assert (out[ok][:, LEGS, 1] > shoulder_y[:, None]).all(), "hallucinated legs hang below the shoulders"
    knees = np.sign(out[ok, PENN.index("left_knee"), 0] - out[ok, PENN.index("right_knee"), 0])
    shoulders = np.sign(out[ok, ls, 0] - out[ok, rs, 0])
    assert (knees == shoulders).mean() > 0.9, "each leg hangs on its own shoulder's side"


def test_hallucinated_legs_say_nothing_about_the_real_legs():
    still = degrade(clip(), "ntu25", "penn13", cfg(1.0), np.random.default_rng(2))
    kicking = degrade(clip(kick=0.3), "ntu25", "penn13", cfg(1.0), np.random.default_rng(2))
    np.testing.assert_array_equal(still[:, LEGS], kicking[:, LEGS])
    full_still = degrade(clip(), "ntu25", "penn13", cfg(0.0), np.random.default_rng(2))
    full_kicking = degrade(clip(kick=0.3), "ntu25", "penn13", cfg(0.0), np.random.default_rng(2))
    assert np.abs(full_still[:, LEGS, 0] - full_kicking[:, LEGS, 0]).max() > 50, "in frame, the kick shows"


def test_missing_stays_missing_and_contract_holds():
    seq = clip()
    seq[10:20, 14, 3] = 0.0  # left ankle untracked
    c = replace(cfg(1.0), drop_frame_frac=0.3)
    out = degrade(seq, "ntu25", "penn13", c, np.random.default_rng(1))
    assert (out[10:20, PENN.index("left_ankle"), 2] == 0).all()
    assert np.isfinite(out).all() and out[..., 2].min() >= 0 and out[..., 2].max() <= 1
    dropped = (out[..., 2] == 0).all(1)
    assert dropped.any() and (out[dropped] == 0).all(), "missed frames stay all zero"


def test_a_zero_visibility_range_means_not_reported():
    c = replace(cfg(1.0), out_hip_score=(0.0, 0.0), out_leg_score=(0.0, 0.0))
    out = degrade(clip(), "ntu25", "penn13", c, np.random.default_rng(0))
    assert (out[:, HIPS + LEGS, 2] == 0).all() and (out[:, UPPER, 2] > 0).mean() > 0.8


def test_share_of_desk_framed_clips():
    low = [np.median(degrade(clip(30), "ntu25", "penn13", cfg(0.5), np.random.default_rng(i))[:, LEGS, 2]) < 0.4
           for i in range(60)]
    assert 0.3 < np.mean(low) < 0.7


def test_layouts_with_hip_derived_joints_are_refused():
    with pytest.raises(ValueError, match="kinect20 has hip_center, spine"):
        degrade(clip(), "ntu25", "kinect20", cfg(1.0), np.random.default_rng(0))


def test_desk_profile_extends_the_calibration(tmp_path):
    desk = DegradeConfig.from_calibration(DEFAULT_CALIBRATION.with_name("desk_webcam.json"))
    assert desk == replace(DegradeConfig.from_calibration(), lower_body_out=0.5)
    (tmp_path / "a.json").write_text(json.dumps({"extends": "b.json", "degrade_config": {}}))
    (tmp_path / "b.json").write_text(json.dumps({"extends": "a.json", "degrade_config": {}}))
    with pytest.raises(ValueError, match="deeper than 8 files"):
        DegradeConfig.from_calibration(tmp_path / "a.json")
