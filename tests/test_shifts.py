"""train/lib/shifts.py: each input shift on clips read from fixtures in the real file formats."""
from __future__ import annotations

import numpy as np
import pytest

from fixtures_formats import KARD_ROWS, openni_frames, utd_d_skel, write_kard_txt, write_penn_mat, write_utd_mat
from partkd_stream.layouts import get_layout
from train.datasets.kard import kard_sample
from train.datasets.penn_action import penn_sample
from train.datasets.sample import read_class_names
from train.datasets.utd_mhad import utd_sample
from train.datasets.vocabulary import load_vocabulary, mirror_sequence
from train.lib.degrade import DegradeConfig, degrade, sample_rng
from train.lib.shifts import (KINECT_V2_COLOUR, Camera, Shift, ShiftRanges, all_scores_one, apply_shift,
                              binary_scores, body_centre, hide_far_side, measure_proportions, place, project,
                              random_shift, retarget, retime, rotate)

K20 = get_layout("kinect20")


@pytest.fixture(scope="module")
def utd(tmp_path_factory):
    """A UTD-MHAD clip (a2 = swipe right) of a person waving the right hand, through the real loader: kinect20 3D."""
    path = write_utd_mat(tmp_path_factory.mktemp("utd") / "a2_s2_t1_skeleton.mat", utd_d_skel(40, wave=0.25))
    return utd_sample(path, "test")


@pytest.fixture(scope="module")
def kard(tmp_path_factory):
    path = write_kard_txt(tmp_path_factory.mktemp("kard") / "a02_s02_e01_realworld.txt",
                          openni_frames(30, wave=0.25, rows=KARD_ROWS))
    return kard_sample(path, "test")


def bone_lengths(seq: np.ndarray, layout=K20) -> np.ndarray:
    """``[T, E]`` length of every edge of the layout."""
    a, b = np.array(layout.edges).T
    return np.linalg.norm(seq[:, a, :3] - seq[:, b, :3], axis=-1)


def test_rotation_keeps_every_bone_length_and_the_body_centre(utd):
    for yaw, pitch in ((30, 0), (-90, 0), (0, 20), (60, -20)):
        turned = rotate(utd.data, yaw, pitch)
        assert np.allclose(bone_lengths(turned), bone_lengths(utd.data), atol=1e-5)
        assert np.allclose(body_centre(turned), body_centre(utd.data), atol=1e-5)
        assert not np.allclose(turned[..., :3], utd.data[..., :3])


def test_yaw_zero_is_identity_and_angles_turn_the_way_the_docstring_says(utd):
    assert np.array_equal(rotate(utd.data, 0.0, 0.0), utd.data)
    assert np.allclose(rotate(utd.data, 360.0), utd.data, atol=1e-5)
    ls, rs = K20.shoulders
    left_side = rotate(utd.data, 90.0)                     # the left side towards the camera
    assert (left_side[:, ls, 2] < left_side[:, rs, 2] - 0.2).all()
    head, feet = K20.index("head"), [K20.index("left_foot"), K20.index("right_foot")]
    from_above = rotate(utd.data, pitch=20.0)              # a camera above looking down: the head comes nearer
    assert (from_above[:, head, 2] < from_above[:, feet, 2].mean(1) - 0.3).all()


def test_hide_far_side_hides_the_far_limbs_in_profile_and_nothing_facing_the_camera(utd):
    assert np.array_equal(hide_far_side(utd.data, K20), utd.data)
    profile = hide_far_side(rotate(utd.data, 90.0), K20)   # left side near: the right arm and leg are hidden
    far = list(K20.parts["right_arm"]) + list(K20.parts["right_leg"])
    near = [i for i in range(K20.num_joints) if i not in far]
    assert (profile[:, far, 3] == 0).all() and (profile[:, near, 3] == 1).all()
    assert (hide_far_side(rotate(utd.data, -90.0), K20)[:, K20.parts["left_arm"], 3] == 0).all()


def test_retime_to_the_same_rate_is_identity_and_half_the_rate_takes_every_other_frame(utd):
    seq = utd.data
    assert np.array_equal(retime(seq, 30.0, 30.0), seq)
    half = retime(seq, 30.0, 15.0)
    assert len(half) == len(seq) // 2 and np.array_equal(half, seq[::2])
    assert np.array_equal(retime(seq, 30.0, 30.0, speed=2.0), seq[::2])        # twice as fast, same camera
    double = retime(seq, 30.0, 60.0)                                           # new frames between the old ones
    assert len(double) == 2 * len(seq) - 1 and np.array_equal(double[::2], seq)
    assert np.allclose(double[1::2], (seq[:-1] + seq[1:]) / 2, atol=1e-6)
    assert len(retime(seq, 30.0, 30.0, speed=0.5)) == 2 * len(seq) - 1          # slower: more frames


def test_retime_takes_a_joint_missing_in_one_neighbour_from_the_nearer_frame():
    seq = np.zeros((3, 2, 3), np.float32)
    seq[..., 2] = 1.0
    seq[:, 0, 0] = [0.0, 10.0, 20.0]
    seq[1, 1] = (5.0, 5.0, 0.0)                 # joint 1 missing in frame 1
    out = retime(seq, 10.0, 40.0)               # positions 0, .25, .5, .75, 1, …
    assert np.allclose(out[:5, 0, 0], [0.0, 2.5, 5.0, 7.5, 10.0])
    assert out[1, 1, 2] == 1.0 and out[3, 1, 2] == 0.0    # frame 0.25 nearer frame 0, 0.75 nearer the missing one


def test_place_moves_the_body_along_its_ray_and_project_crops_what_leaves_the_image(utd):
    near = place(utd.data, 1.2)
    assert np.isclose(body_centre(near)[2], 1.2, atol=1e-4)
    c0 = project(np.append(body_centre(utd.data), 1.0)[None, None], KINECT_V2_COLOUR)
    c1 = project(np.append(body_centre(near), 1.0)[None, None], KINECT_V2_COLOUR)
    assert np.allclose(c0[..., :2], c1[..., :2], atol=1e-2)     # the same spot of the image
    assert np.allclose(bone_lengths(near), bone_lengths(utd.data), atol=1e-5)
    small = Camera(500.0, (320.0, 240.0), 640, 480)
    full, cut = project(utd.data, small), project(near, small, crop=True)
    assert (full[..., 2] == 1).all()
    assert 0 < (cut[..., 2] == 0).mean() < 1                    # near a small camera: part of the body out of frame


def test_retarget_to_the_same_layout_gives_exactly_the_target_bone_lengths_and_keeps_the_motion(utd):
    other = utd.data.copy()
    other[..., :3] *= 1.3                                       # a bigger person
    target = measure_proportions([other], "kinect20", "bigger")
    out = retarget(utd.data, "kinect20", target)
    med = np.median(bone_lengths(out), 0)
    assert np.allclose(med, np.median(bone_lengths(other), 0), rtol=1e-5)
    a, b = np.array(K20.edges).T
    d0, d1 = utd.data[:, b, :3] - utd.data[:, a, :3], out[:, b, :3] - out[:, a, :3]
    cos = (d0 * d1).sum(-1) / np.linalg.norm(d0, axis=-1) / np.linalg.norm(d1, axis=-1)
    assert np.allclose(cos, 1.0, atol=1e-5)                     # every bone keeps its direction in every frame
    assert np.allclose(retarget(utd.data, "kinect20", measure_proportions([utd.data], "kinect20")), utd.data,
                       atol=1e-6)                               # its own proportions: nothing changes


def test_retarget_takes_another_layouts_proportions_by_joint_names(utd, kard):
    target = measure_proportions([kard.data], "openni15", "kard")
    out = retarget(utd.data, "kinect20", target)
    got = measure_proportions([out], "kinect20")
    for a, b in (("left_shoulder", "left_elbow"), ("right_elbow", "right_hand"), ("left_hip", "left_knee")):
        assert np.isclose(got.distance(a, b), target.distance(a, b), rtol=0.02), (a, b)


def test_mirror_twice_is_identity_and_the_label_map_swaps_direction_named_classes(utd):
    once = mirror_sequence(utd.data, "kinect20")
    assert not np.allclose(once, utd.data)
    assert np.allclose(mirror_sequence(once, "kinect20"), utd.data, atol=1e-6)
    names = read_class_names("utd_mhad_classes.txt")
    m = load_vocabulary().mirror_names(names, "utd_mhad")
    assert m["swipe_left"] == "swipe_right" and m["draw_circle_clockwise"] == "draw_circle_counter_clockwise"
    assert m["wave"] == "wave" and all(m[m[n]] == n for n in names)
    assert load_vocabulary().mirror_names(["swipe_left", "wave"])["swipe_left"] is None   # its mirror not there


def test_score_profiles_clean_and_binary(tmp_path):
    x = np.tile(np.linspace(100, 200, 13), (5, 1))
    vis = np.ones((5, 13))
    vis[:, [3, 5]] = 0                                          # annotated as hidden, positions kept
    s = penn_sample(write_penn_mat(tmp_path / "0001.mat", x, x + 50, vis, "squat", -1),
                    read_class_names("penn_action_classes.txt"))
    assert (s.data[:, [3, 5], 2] == 0).all()
    assert (all_scores_one(s.data)[..., 2] == 1).all()          # hidden joints shown
    noisy = s.data.copy()
    noisy[..., 2] = np.linspace(0.1, 0.9, 13)
    assert set(np.unique(binary_scores(noisy)[..., 2])) == {0.0, 1.0}
    assert np.array_equal(binary_scores(noisy)[..., :2], noisy[..., :2])


def test_apply_shift_without_a_shift_is_the_benchmarks_lq_clip_and_refuses_3d_shifts_on_2d(utd):
    prof = DegradeConfig.from_calibration().scaled(3.0)
    expect = degrade(utd.data, "kinect20", "penn13", prof, sample_rng(7, utd.id))
    got, fps = apply_shift(utd.data, "kinect20", 30.0, Shift(), "penn13", prof, sample_rng(7, utd.id))
    assert fps == 30.0 and np.array_equal(got, expect)
    clean, _ = apply_shift(utd.data, "kinect20", 30.0, Shift(degrade=False), "penn13", prof, sample_rng(7, utd.id))
    assert (clean[..., 2] == 1).all()
    slow, fps = apply_shift(utd.data, "kinect20", 30.0, Shift(fps=15.0, mirror=True), "penn13", prof,
                            sample_rng(7, utd.id))
    assert fps == 15.0 and len(slow) == len(utd.data) // 2
    with pytest.raises(ValueError, match="3D"):
        apply_shift(clean, "penn13", 30.0, Shift(yaw=30.0), "penn13", prof, sample_rng(7, utd.id))


def test_random_shift_is_seeded_and_stays_in_its_ranges():
    ranges = ShiftRanges()
    a = [random_shift(np.random.default_rng(s), ranges) for s in range(50)]
    assert a == [random_shift(np.random.default_rng(s), ranges) for s in range(50)]
    assert all(abs(s.yaw) <= 90 and abs(s.pitch) <= 20 and 0.6 <= s.speed <= 1.6 for s in a)
    assert {s.mirror for s in a} == {True, False} and any(not s.degrade for s in a)
    flat = random_shift(np.random.default_rng(0), ranges, three_d=False)
    assert not flat.needs_3d()
