"""Taking a dataset's look away: body proportions retargeted, missing-joint masks lent and hidden joints shown."""
from __future__ import annotations

import numpy as np
import pytest

from partkd_stream.layouts import get_layout
from train.lib.dataset_look import Look, MaskBank, clean_2d, median_proportions, proportions, retarget, reveal_hidden
from train.lib.degrade import DegradeConfig

PENN = get_layout("penn13")
DEG = DegradeConfig.from_calibration()


def body(t: int = 20, thigh: float = 1.2, head: float = 0.9, seed: int = 0) -> np.ndarray:
    """A moving 2D penn13 person (pixels, y down) whose torso is 100 px: thighs ``thigh`` and head ``head`` torsos."""
    j = {n: i for i, n in enumerate(PENN.joints)}
    r = np.random.default_rng(seed)
    seq = np.zeros((t, 13, 3), np.float32)
    for k in range(t):
        o = np.array([300.0, 200.0]) + r.normal(0, 5, 2)
        pts = {"right_shoulder": (-40, 0), "left_shoulder": (40, 0), "right_hip": (-25, 100), "left_hip": (25, 100),
               "head": (0, -100 * head), "right_elbow": (-50, 45), "left_elbow": (50, 45), "right_wrist": (-55, 90),
               "left_wrist": (55, 90), "right_knee": (-25, 100 + 100 * thigh), "left_knee": (25, 100 + 100 * thigh),
               "right_ankle": (-25, 100 + 100 * thigh + 80), "left_ankle": (25, 100 + 100 * thigh + 80)}
        for n, (x, y) in pts.items():
            seq[k, j[n]] = (o[0] + x, o[1] + y, 1.0)
    return seq


def test_proportions_are_per_torso_length():
    p = proportions(body(thigh=1.2, head=0.9), "penn13")
    assert p["thigh"] == pytest.approx(1.2, abs=1e-3) and p["head"] == pytest.approx(0.9, abs=1e-3)
    assert p["shoulder_width"] == pytest.approx(0.8, abs=1e-3) and p["hip_width"] == pytest.approx(0.5, abs=1e-3)


def test_retarget_reaches_the_target_proportions_and_keeps_the_torso():
    src = body(thigh=1.2, head=0.9)
    target = {**proportions(src, "penn13"), "thigh": 0.8, "head": 0.5, "hip_width": 0.6}
    source = proportions(src, "penn13")
    out = retarget(src, "penn13", {k: target[k] / source[k] for k in source})
    got = proportions(out, "penn13")
    for k in target:
        assert got[k] == pytest.approx(target[k], abs=1e-3), k
    sh = [PENN.index("left_shoulder"), PENN.index("right_shoulder")]
    hp = [PENN.index("left_hip"), PENN.index("right_hip")]
    np.testing.assert_allclose(out[:, sh].mean(1), src[:, sh].mean(1), atol=1e-4)   # mid-shoulder and mid-hip stay
    np.testing.assert_allclose(out[:, hp].mean(1), src[:, hp].mean(1), atol=1e-4)
    np.testing.assert_array_equal(out[..., 2], src[..., 2])


def test_a_lent_mask_hides_what_the_known_clip_hid_looped_over_time():
    m = np.zeros((4, 13), bool)
    m[1, 3] = m[3, 5] = True
    bank = MaskBank([m])
    out = bank.apply(body(t=10), np.random.default_rng(0))
    hidden = out[..., 2] == 0
    r = np.random.default_rng(0)
    r.integers(1)
    start = int(r.integers(4))
    np.testing.assert_array_equal(hidden, m[(start + np.arange(10)) % 4])   # the mask, looped from its start
    assert bank.hidden_share == pytest.approx(2 / 52)


def test_hidden_joints_shown_are_present_with_an_occluded_score():
    clean = body(t=30)
    hidden = np.zeros(clean.shape[:2], bool)
    hidden[:, PENN.index("left_wrist")] = True
    clean[hidden, 2] = 0.0                              # annotated invisible, coordinates kept
    out = reveal_hidden(clean, hidden, DEG, "penn13", np.random.default_rng(1))
    frames = out[..., 2].max(1) > 0                     # not a missed frame
    lw = out[frames, PENN.index("left_wrist"), 2]
    assert (lw > 0).mean() > 0.7 and lw.max() <= DEG.occluded_score[1]
    assert (out[frames][:, [PENN.index("head")], 2] > 0.4).mean() > 0.5   # the rest scored as seen


def test_look_is_symmetric_between_known_and_other_clips():
    known = [body(t=30, thigh=0.8, head=0.5, seed=i) for i in range(6)]
    for k in known[:3]:
        k[:, PENN.index("right_elbow"), 2] = 0.0       # known clips hide joints
    look = Look.of_known([(k, "penn13") for k in known], "penn13", DEG, share=1.0)
    assert look.target["thigh"] == pytest.approx(0.8, abs=1e-3)
    other = body(t=30, thigh=1.2, head=0.9, seed=9)
    factors = look.factors(median_proportions([other], "penn13"))
    v = look.view(other, "penn13", known_look=False, factors=factors, deg=DEG, rng=np.random.default_rng(0))
    assert v.shape == other.shape
    # the clean retarget reaches the known proportions; the mask came from a known clip (share 1)
    assert proportions(retarget(other, "penn13", factors), "penn13")["thigh"] == pytest.approx(0.8, abs=1e-3)
    kv = look.view(known[0], "penn13", known_look=True, factors=None, deg=DEG, rng=np.random.default_rng(0))
    shown = kv[:, PENN.index("right_elbow"), 2]
    assert (shown > 0).any() and shown.max() <= DEG.occluded_score[1]   # share 1: the hidden elbow is shown


def test_clean_view_projects_3d_and_converts():
    seq3d = np.zeros((5, 20, 4), np.float32)
    seq3d[..., 2] = 3.0
    seq3d[..., 3] = 1.0
    seq3d[..., 0] = np.linspace(-0.5, 0.5, 20)
    out = clean_2d(seq3d, "kinect20", "penn13", DEG)
    assert out.shape == (5, 13, 3) and np.isfinite(out).all()


def test_look_table_prints_missing_joints_and_proportions_per_source(tmp_path, capsys):
    from fixtures_formats import write_ntu_tree, write_penn_tree, write_ucla_tree, write_utd_clip

    from train.datasets import load_dataset
    from train.datasets.cache import save_samples
    from train.studies.reject_study import main as study_main

    info, samples = load_dataset("penn_action", write_penn_tree(tmp_path / "penn"))
    save_samples(tmp_path / "penn.npz", info, samples)
    write_ucla_tree(tmp_path / "nw_ucla" / "all_sqe")
    write_ntu_tree(tmp_path / "ntu" / "skeletons")
    (tmp_path / "utd_mhad" / "skeleton").mkdir(parents=True)
    write_utd_clip(tmp_path / "utd_mhad" / "skeleton", 1)
    assert study_main(["look", "--root", str(tmp_path / "penn.npz"), "--shared", str(tmp_path)]) == 0
    rows = {line.split("|")[1].strip(): line for line in capsys.readouterr().out.splitlines()[2:]}
    assert set(rows) == {"penn_action", "nw_ucla", "ntu", "utd_mhad", "idle (generated)"}
    assert float(rows["penn_action"].split("|")[3]) > 5.0        # the fixture hides ~10 % of Penn joints
    assert float(rows["utd_mhad"].split("|")[3]) == 0.0
