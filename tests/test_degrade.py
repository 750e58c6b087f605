"""The degradation model: determinism, the skeleton contract, layouts, statistics that match the config, and desk
framing (step 7: the lower body out of frame, as MediaPipe reports it at a desk webcam)."""
from __future__ import annotations

import json
from dataclasses import dataclass, replace

import numpy as np
import pytest

from fixtures_formats import standing_body
from partkd_stream.convert import convert, project_to_2d
from partkd_stream.layouts import get_layout
from train.lib.degrade import (DEFAULT_CALIBRATION, DegradeConfig, ar1_noise, degrade, degrade_dataset, markov_runs,
                           torso_length)

# A standing person in Kinect camera space (metres, y up, ~3 m from the camera), by ntu25 joint name.
_POSE = {
    "spine_base": (0.0, 0.0, 3.0), "spine_mid": (0.0, 0.25, 3.0), "spine_shoulder": (0.0, 0.45, 3.0),
    "neck": (0.0, 0.52, 3.0), "head": (0.0, 0.65, 3.0),
    "left_shoulder": (-0.18, 0.42, 3.0), "left_elbow": (-0.25, 0.15, 3.0), "left_wrist": (-0.28, -0.1, 3.0),
    "left_hand": (-0.29, -0.17, 3.0), "left_hand_tip": (-0.3, -0.24, 3.0), "left_thumb": (-0.26, -0.2, 3.0),
    "left_hip": (-0.1, -0.02, 3.0), "left_knee": (-0.11, -0.45, 3.0), "left_ankle": (-0.12, -0.85, 3.0),
    "left_foot": (-0.13, -0.9, 2.9),
}
_POSE.update({k.replace("left", "right"): (-x, y, z) for k, (x, y, z) in _POSE.items() if k.startswith("left")})


def ntu_clip(t: int = 60, seed: int = 0) -> np.ndarray:
    """``[T, 25, 4]`` ntu25 3D clip: the pose above with a waving arm and a little sway."""
    lay = get_layout("ntu25")
    base = np.array([_POSE[j] for j in lay.joints], dtype=np.float32)
    rng = np.random.default_rng(seed)
    ph = np.linspace(0, 4 * np.pi, t)[:, None]
    seq = np.repeat(base[None], t, 0)
    seq[:, :, 0] += 0.05 * np.sin(ph / 3)
    arm = [lay.index(j) for j in ("right_wrist", "right_hand", "right_hand_tip", "right_thumb")]
    seq[:, arm, 1] += 0.3 * np.sin(ph) + 0.01 * rng.standard_normal((t, 1))
    return np.concatenate([seq, np.ones((t, 25, 1), np.float32)], -1)


def kinect20_clip(t: int = 60) -> np.ndarray:
    return ntu_clip(t)[:, :20]  # Kinect v1 = NTU joints 1-20 (CONVENTIONS.md)


def penn_clip(t: int = 60) -> np.ndarray:
    """``[T, 13, 3]`` penn13 2D clip in pixels with one joint never annotated."""
    seq = convert(project_to_2d(ntu_clip(t), focal=500.0, principal=(320.0, 240.0)), "ntu25", "penn13")
    seq[:, 5, 2] = 0.0  # a missing joint: score 0, finite coordinates
    return seq


def only(**kw) -> DegradeConfig:
    """The identity config with some corruptions switched on."""
    return replace(DegradeConfig.zero(), **kw)


@dataclass
class _S:
    data: np.ndarray
    layout: str
    id: str


# ----- determinism and contract ---------------------------------------------------------------------------------
def test_same_seed_and_id_give_the_same_lq_sample_and_others_differ():
    cfg = DegradeConfig.from_calibration()
    samples = [_S(ntu_clip(40, seed=i), "ntu25", f"S001C001P001R001A00{i}") for i in range(3)]
    a = degrade_dataset(samples, "coco17", cfg, seed=7)
    b = degrade_dataset(list(reversed(samples)), "coco17", cfg, seed=7)[::-1]  # order does not matter
    c = degrade_dataset(samples, "coco17", cfg, seed=8)
    for x, y, z in zip(a, b, c):
        np.testing.assert_array_equal(x, y)
        assert not np.allclose(x, z)
    same_data = [_S(samples[0].data, "ntu25", "one"), _S(samples[0].data, "ntu25", "two")]
    u, v = degrade_dataset(same_data, "coco17", cfg, seed=7)
    assert not np.allclose(u, v)


@pytest.mark.parametrize("src,dst,clip", [
    ("ntu25", "coco17", ntu_clip), ("ntu25", "penn13", ntu_clip), ("kinect20", "coco17", kinect20_clip),
    ("kinect20", "penn13", kinect20_clip), ("penn13", "penn13", penn_clip), ("ntu25", "ntu25", ntu_clip),
])
def test_3d_and_2d_inputs_give_2d_lq_in_the_target_layout_honouring_the_contract(src, dst, clip):
    cfg = replace(DegradeConfig.from_calibration(), dropout=0.05, drop_frame_frac=0.1, occlusion_frac=0.2)
    out = degrade(clip(80), src, dst, cfg, np.random.default_rng(0))
    assert out.shape == (80, get_layout(dst).num_joints, 3) and out.dtype == np.float32
    assert np.isfinite(out).all()
    assert (out[..., 2] >= 0).all() and (out[..., 2] <= 1).all()
    assert (out[..., 2] == 0).any() and (out[..., 2] > 0.5).any()


def test_missing_hq_joints_stay_missing_and_missed_frames_are_empty():
    seq = penn_clip(200)
    cfg = replace(DegradeConfig.from_calibration(), swap_frac=0.0, drop_frame_frac=0.1)
    out = degrade(seq, "penn13", "penn13", cfg, np.random.default_rng(1))
    assert (out[:, 5, 2] == 0).all()
    empty = (out[..., 2] == 0).all(1)
    assert empty.any()
    assert (out[empty, :, :2] == 0).all()


def test_non_finite_input_is_sanitised():
    seq = ntu_clip(30)
    seq[3, 4, :3] = np.nan
    out = degrade(seq, "ntu25", "ntu25", DegradeConfig.zero(), np.random.default_rng(0))
    assert np.isfinite(out).all() and out[3, 4, 2] == 0


def test_zero_strength_is_the_clean_converted_input():
    seq = ntu_clip(50)
    cfg = DegradeConfig.zero()
    out = degrade(seq, "ntu25", "coco17", cfg, np.random.default_rng(3))
    clean = convert(project_to_2d(seq, focal=cfg.camera_focal, principal=cfg.camera_principal), "ntu25", "coco17")
    np.testing.assert_allclose(out, clean, atol=1e-3)
    two_d = penn_clip(50)
    np.testing.assert_allclose(degrade(two_d, "penn13", "penn13", cfg, np.random.default_rng(0)),
                               np.where(two_d[..., 2:] > 0, two_d, np.concatenate(
                                   [two_d[..., :2], np.zeros_like(two_d[..., 2:])], -1)), atol=1e-3)


def test_multi_person_input_is_degraded_per_person():
    both = np.stack([ntu_clip(20), ntu_clip(20, seed=1)])
    out = degrade(both, "ntu25", "coco17", DegradeConfig.from_calibration(), np.random.default_rng(0))
    assert out.shape == (2, 20, 17, 3)


def test_bad_input_shape_is_a_clear_error():
    with pytest.raises(ValueError, match="T, V"):
        degrade(np.zeros((5, 25)), "ntu25", "coco17", DegradeConfig.zero(), np.random.default_rng(0))


# ----- statistics match the configuration -------------------------------------------------------------------------
def _error(cfg: DegradeConfig, t: int = 3000, seed: int = 0):
    seq = penn_clip(t)
    seq[:, 5, 2] = 1.0
    clean = degrade(seq, "penn13", "penn13", DegradeConfig.zero(), np.random.default_rng(0))
    out = degrade(seq, "penn13", "penn13", cfg, np.random.default_rng(seed))
    unit = torso_length(clean, "penn13")
    return (out[..., :2] - clean[..., :2]) / unit, out, clean


def test_measured_jitter_matches_the_configured_jitter_per_joint():
    err, _, _ = _error(only(jitter=0.04, jitter_joints={"head": 0.1}))
    lay = get_layout("penn13")
    head = lay.index("head")
    others = [i for i in range(lay.num_joints) if i != head]
    assert err[:, head].std() == pytest.approx(0.1, rel=0.08)
    assert err[:, others].std() == pytest.approx(0.04, rel=0.05)
    assert abs(err.mean()) < 0.01


def test_bias_is_a_constant_offset_in_image_axes_and_aliases_reach_other_layouts():
    cfg = only(bias_joints={"head": [0.1, -0.2], "left_knee": [0.0, 0.3]})
    seq = ntu_clip(30)
    clean = degrade(seq, "ntu25", "coco17", DegradeConfig.zero(), np.random.default_rng(0))
    out = degrade(seq, "ntu25", "coco17", cfg, np.random.default_rng(0))
    unit = torso_length(clean, "coco17")
    d = (out[..., :2] - clean[..., :2]) / unit
    lay = get_layout("coco17")
    np.testing.assert_allclose(d[:, lay.index("nose")], np.tile([0.1, -0.2], (30, 1)), atol=1e-3)  # nose ← head
    np.testing.assert_allclose(d[:, lay.index("left_knee")], np.tile([0.0, 0.3], (30, 1)), atol=1e-3)
    np.testing.assert_allclose(d[:, lay.index("right_wrist")], 0.0, atol=1e-3)


def test_drift_is_smooth_with_the_configured_size_and_timescale():
    err, _, _ = _error(only(drift=0.05, drift_timescale=10.0), t=6000)
    assert err.std() == pytest.approx(0.05, rel=0.15)
    x = err[..., 0] - err[..., 0].mean(0)
    lag1 = (x[1:] * x[:-1]).mean() / (x * x).mean()
    assert lag1 == pytest.approx(np.exp(-0.1), abs=0.03)


def test_swap_rate_and_run_length_match_the_config():
    _, out, clean = _error(only(swap_frac=0.2, swap_len=4.0), t=6000)
    perm = get_layout("penn13").flip_permutation()
    swapped = np.abs(out[..., :2] - clean[:, perm, :2]).max((1, 2)) < 1e-3
    direct = np.abs(out[..., :2] - clean[..., :2]).max((1, 2)) < 1e-3
    assert (swapped ^ direct).all()
    assert swapped.mean() == pytest.approx(0.2, abs=0.03)
    starts = np.flatnonzero(np.diff(np.r_[0, swapped.astype(int)]) == 1)
    assert swapped.sum() / len(starts) == pytest.approx(4.0, rel=0.15)


def test_missed_frames_occlusion_and_dropout_rates_match_the_config():
    cfg = only(drop_frame_frac=0.1, drop_frame_len=3.0)
    _, out, _ = _error(cfg, t=6000)
    assert (out[..., 2] == 0).all(1).mean() == pytest.approx(0.1, abs=0.02)

    cfg = only(occlusion_frac=0.2, occlusion_len=10.0, occlusion_parts=("left_leg",), occluded_score=(0.0, 0.3))
    _, out, _ = _error(cfg, t=6000)
    lay = get_layout("penn13")
    leg = list(lay.parts["left_leg"])
    low = out[..., 2] <= 0.3
    assert low[:, leg].all(1).mean() == pytest.approx(0.2, abs=0.04)
    assert not low[:, [i for i in range(13) if i not in leg]].any()

    _, out, _ = _error(only(dropout=0.05), t=2000)
    assert (out[..., 2] == 0).mean() == pytest.approx(0.05, abs=0.01)


def test_scores_follow_the_per_joint_visibility_model():
    _, out, _ = _error(only(score_mean=0.8, score_std=0.05, score_joints={"head": [0.5, 0.1]}), t=2000)
    head = get_layout("penn13").index("head")
    assert out[:, head, 2].mean() == pytest.approx(0.5, abs=0.02)
    assert out[:, head, 2].std() == pytest.approx(0.1, abs=0.02)
    assert np.delete(out[..., 2], head, axis=1).mean() == pytest.approx(0.8, abs=0.01)


def test_scale_and_translation_noise_change_the_framing_only():
    seq = penn_clip(50)
    cfg = only(scale_std=0.3, translate_std=0.5)
    out = degrade(seq, "penn13", "penn13", cfg, np.random.default_rng(5))
    clean = degrade(seq, "penn13", "penn13", DegradeConfig.zero(), np.random.default_rng(0))
    ok = clean[..., 2] > 0
    a, b = clean[ok][:, :2], out[ok][:, :2]
    # out = s·clean + c for one scalar s and one 2-vector c
    design = np.concatenate([a.reshape(-1, 1), np.tile(np.eye(2), (len(a), 1))], 1)
    sol, res, *_ = np.linalg.lstsq(design, b.reshape(-1), rcond=None)
    assert not np.isclose(sol[0], 1.0) and np.abs(design @ sol - b.reshape(-1)).max() < 1e-2


def test_markov_runs_and_ar1_helpers():
    rng = np.random.default_rng(0)
    runs = markov_runs(rng, 20000, np.array([0.0, 0.3]), np.array([5.0, 5.0]))
    assert not runs[:, 0].any() and runs[:, 1].mean() == pytest.approx(0.3, abs=0.03)
    x = ar1_noise(rng, (20000, 3), 5.0)
    assert x.std() == pytest.approx(1.0, abs=0.05)
    assert ar1_noise(rng, (1, 3), 5.0).shape == (1, 3)


# ----- configuration -----------------------------------------------------------------------------------------------
def test_calibrated_config_loads_and_round_trips():
    cfg = DegradeConfig.from_calibration()
    assert DEFAULT_CALIBRATION.is_file()
    assert cfg.jitter_joints and cfg.bias_joints and 0 < cfg.score_mean <= 1
    assert DegradeConfig.from_dict(cfg.to_dict()) == cfg
    with pytest.raises(ValueError, match="unknown degradation parameters"):
        DegradeConfig.from_dict({"jiter": 0.1})


def test_unreadable_calibration_file_is_a_clear_error(tmp_path):
    bad = tmp_path / "c.json"
    bad.write_text("{not json")
    with pytest.raises(ValueError, match="python -m train.calibrate"):
        DegradeConfig.from_calibration(bad)
    with pytest.raises(ValueError, match="cannot read"):
        DegradeConfig.from_calibration(tmp_path / "missing.json")


def test_class_defaults_are_the_rounded_calibrated_values():
    default, cal = DegradeConfig(), DegradeConfig.from_calibration()
    for name in ("jitter", "drift", "drift_timescale", "score_mean", "score_std", "camera_focal"):
        assert getattr(default, name) == pytest.approx(getattr(cal, name), rel=0.2, abs=1e-3), name
    np.testing.assert_allclose(default.camera_principal, cal.camera_principal, atol=5)
    for name in ("occlusion_frac", "occlusion_len", "occlusion_noise", "occluded_score", "bias_random"):
        assert getattr(default, name) == getattr(cal, name), name  # priors: one source, copied by calibrate.py


# --- desk framing (step 7) ---------------------------------------------------------------------------------------
PENN = get_layout("penn13")
LEGS = [PENN.index(f"{s}_{j}") for s in ("left", "right") for j in ("knee", "ankle")]
HIPS = list(PENN.hips)
UPPER = [PENN.index(j) for j in ("head", "left_shoulder", "right_shoulder")]


def desk_clip(t: int = 60, kick: float = 0.0) -> np.ndarray:
    """A standing person ``[T, 25, 4]`` (ntu25, 3D); ``kick`` swings the legs (the real lower body moves)."""
    seq = np.stack([standing_body(t=0.2 * k) for k in range(t)])
    for leg, sign in (([13, 14, 15], 1), ([17, 18, 19], -1)):
        seq[:, leg, 0] += sign * kick * np.sin(0.3 * np.arange(t))[:, None]
    return np.concatenate([seq, np.ones(seq.shape[:2] + (1,))], -1).astype(np.float32)


def desk_cfg(share: float) -> DegradeConfig:
    return replace(DegradeConfig.from_calibration().scaled(3.0), lower_body_out=share)


def test_draws_come_last_so_the_rest_of_the_clip_is_unchanged():
    full = degrade(desk_clip(), "ntu25", "penn13", desk_cfg(0.0), np.random.default_rng(4))
    desk = degrade(desk_clip(), "ntu25", "penn13", desk_cfg(1.0), np.random.default_rng(4))
    np.testing.assert_array_equal(full[:, UPPER], desk[:, UPPER])
    assert not np.array_equal(full[:, LEGS], desk[:, LEGS])


def test_out_of_frame_joints_get_low_visibility_and_positions_below_the_shoulders():
    c = desk_cfg(1.0)
    out = degrade(desk_clip(), "ntu25", "penn13", c, np.random.default_rng(0))
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
    still = degrade(desk_clip(), "ntu25", "penn13", desk_cfg(1.0), np.random.default_rng(2))
    kicking = degrade(desk_clip(kick=0.3), "ntu25", "penn13", desk_cfg(1.0), np.random.default_rng(2))
    np.testing.assert_array_equal(still[:, LEGS], kicking[:, LEGS])
    full_still = degrade(desk_clip(), "ntu25", "penn13", desk_cfg(0.0), np.random.default_rng(2))
    full_kicking = degrade(desk_clip(kick=0.3), "ntu25", "penn13", desk_cfg(0.0), np.random.default_rng(2))
    assert np.abs(full_still[:, LEGS, 0] - full_kicking[:, LEGS, 0]).max() > 50, "in frame, the kick shows"


def test_missing_stays_missing_and_contract_holds():
    seq = desk_clip()
    seq[10:20, 14, 3] = 0.0  # left ankle untracked
    c = replace(desk_cfg(1.0), drop_frame_frac=0.3)
    out = degrade(seq, "ntu25", "penn13", c, np.random.default_rng(1))
    assert (out[10:20, PENN.index("left_ankle"), 2] == 0).all()
    assert np.isfinite(out).all() and out[..., 2].min() >= 0 and out[..., 2].max() <= 1
    dropped = (out[..., 2] == 0).all(1)
    assert dropped.any() and (out[dropped] == 0).all(), "missed frames stay all zero"


def test_a_zero_visibility_range_means_not_reported():
    c = replace(desk_cfg(1.0), out_hip_score=(0.0, 0.0), out_leg_score=(0.0, 0.0))
    out = degrade(desk_clip(), "ntu25", "penn13", c, np.random.default_rng(0))
    assert (out[:, HIPS + LEGS, 2] == 0).all() and (out[:, UPPER, 2] > 0).mean() > 0.8


def test_share_of_desk_framed_clips():
    low = [np.median(degrade(desk_clip(30), "ntu25", "penn13", desk_cfg(0.5), np.random.default_rng(i))[:, LEGS, 2])
           < 0.4 for i in range(60)]
    assert 0.3 < np.mean(low) < 0.7


def test_layouts_with_hip_derived_joints_are_refused():
    with pytest.raises(ValueError, match="kinect20 has hip_center, spine"):
        degrade(desk_clip(), "ntu25", "kinect20", desk_cfg(1.0), np.random.default_rng(0))


def test_desk_profile_extends_the_calibration(tmp_path):
    desk = DegradeConfig.from_calibration(DEFAULT_CALIBRATION.with_name("desk_webcam.json"))
    assert desk == replace(DegradeConfig.from_calibration(), lower_body_out=0.5)
    (tmp_path / "a.json").write_text(json.dumps({"extends": "b.json", "degrade_config": {}}))
    (tmp_path / "b.json").write_text(json.dumps({"extends": "a.json", "degrade_config": {}}))
    with pytest.raises(ValueError, match="deeper than 8 files"):
        DegradeConfig.from_calibration(tmp_path / "a.json")
