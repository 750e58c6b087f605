import numpy as np
import pytest

from partkd_stream.convert import CONVERSIONS, conversion_matrix, convert, project_to_2d
from partkd_stream.layouts import (FINE_PARTS, LAYOUTS, PARTS, get_layout, hop_distance, part_pool_matrix,
                                   spatial_adjacency)


@pytest.mark.parametrize("name", sorted(LAYOUTS))
def test_layout_is_a_connected_tree_with_all_parts(name):
    lay = get_layout(name)
    assert len(set(lay.joints)) == lay.num_joints
    assert len(lay.edges) == lay.num_joints - 1
    assert np.isfinite(hop_distance(lay)).all(), "edges must connect every joint"
    assert tuple(lay.parts) == PARTS and tuple(lay.fine_parts) == FINE_PARTS
    for table in (lay.parts, lay.fine_parts):
        for part, members in table.items():
            assert members, f"{name}: part {part} is empty"
    covered = set().union(*lay.parts.values())
    assert covered == set(range(lay.num_joints)), "every joint belongs to some part"


@pytest.mark.parametrize("name", sorted(LAYOUTS))
def test_sides_of_parts_and_flip(name):
    lay = get_layout(name)
    for part in ("arm", "leg"):
        assert all(lay.joints[j].startswith("left_") for j in lay.parts[f"left_{part}"])
        assert all(lay.joints[j].startswith("right_") for j in lay.parts[f"right_{part}"])
    perm = lay.flip_permutation()
    assert sorted(perm) == list(range(lay.num_joints))
    assert (perm[perm] == np.arange(lay.num_joints)).all()
    assert lay.joints[perm[lay.index("left_shoulder")]] == "right_shoulder"


def test_a_front_facing_mediapipe_person_in_penn13_has_joint_2_image_left_of_joint_3():
    """What the real Penn labels show (front-view clips: the dataset's joint 2 lies image-left of joint 3 in 85 %,
    shared/CONVENTIONS.md): a person facing the camera, as MediaPipe reports them (their right side at image
    left), converted to penn13 puts the dataset's joints 2, 4, …, 12 on the image-left side."""
    from stream_fixtures import person_frames

    mp = person_frames(1)[0][1]
    mp_lay = get_layout("mediapipe33")
    assert mp[mp_lay.index("right_shoulder"), 0] < mp[mp_lay.index("left_shoulder"), 0]   # facing the camera
    penn = convert(mp, "mediapipe33", "penn13")
    for k in range(1, 13, 2):                     # 0-based 1/2, 3/4, …: the dataset's joints 2/3, 4/5, …, 12/13
        assert penn[k, 0] < penn[k + 1, 0], get_layout("penn13").joints[k]


def test_spatial_adjacency_and_pooling_shapes():
    lay = get_layout("ntu25")
    a = spatial_adjacency(lay)
    assert a.shape == (3, 25, 25)
    np.testing.assert_allclose(a[0], np.eye(25))
    # every edge appears once in the inward and once in the outward subset
    assert (a[1] > 0).sum() == len(lay.edges) and (a[2] > 0).sum() == len(lay.edges)
    m = part_pool_matrix(lay, "fine")
    assert m.shape == (25, 10)
    np.testing.assert_allclose(m.sum(0), 1.0, rtol=1e-6)


def test_unknown_layout_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown skeleton layout 'nope'"):
        get_layout("nope")


@pytest.mark.parametrize("src,dst", sorted(CONVERSIONS))
def test_conversion_rows_are_weighted_means(src, dst):
    m = conversion_matrix(src, dst)
    assert m.shape == (get_layout(dst).num_joints, get_layout(src).num_joints)
    np.testing.assert_allclose(m.sum(1), 1.0, rtol=1e-6)


def test_mediapipe_to_ntu_synthesises_spine_and_keeps_named_joints():
    mp = get_layout("mediapipe33")
    rng = np.random.default_rng(0)
    seq = np.concatenate([rng.normal(size=(4, 33, 2)), np.ones((4, 33, 1))], -1).astype(np.float32)
    out = convert(seq, "mediapipe33", "ntu25")
    ntu = get_layout("ntu25")
    mid_hip = 0.5 * (seq[:, mp.index("left_hip"), :2] + seq[:, mp.index("right_hip"), :2])
    np.testing.assert_allclose(out[:, ntu.index("spine_base"), :2], mid_hip, atol=1e-6)
    np.testing.assert_allclose(out[:, ntu.index("left_elbow")], seq[:, mp.index("left_elbow")])
    mid_sh = 0.5 * (seq[:, mp.index("left_shoulder"), :2] + seq[:, mp.index("right_shoulder"), :2])
    np.testing.assert_allclose(out[:, ntu.index("spine_mid"), :2], 0.5 * (mid_hip + mid_sh), atol=1e-6)


def test_synthesised_joint_is_missing_when_a_source_is_missing():
    seq = np.ones((2, 33, 3), np.float32)
    seq[:, get_layout("mediapipe33").index("left_hip"), 2] = 0.0
    out = convert(seq, "mediapipe33", "kinect20")
    k = get_layout("kinect20")
    assert (out[:, k.index("hip_center"), 2] == 0).all()
    assert (out[:, k.index("left_hip"), 2] == 0).all()
    assert (out[:, k.index("right_hip"), 2] == 1).all()


def test_ntu_to_kinect20_is_a_reordering():
    seq = np.random.default_rng(1).normal(size=(3, 25, 4)).astype(np.float32)
    seq[..., 3] = 1
    out = convert(seq, "ntu25", "kinect20")
    np.testing.assert_allclose(out[:, :2], seq[:, :2])
    np.testing.assert_allclose(out[:, 2], seq[:, 20])  # shoulder_center = spine_shoulder
    np.testing.assert_allclose(out[:, 4:20], seq[:, 4:20])


def test_unknown_conversion_is_a_clear_error():
    with pytest.raises(ValueError, match="no conversion from penn13 to ntu25"):
        conversion_matrix("penn13", "ntu25")


def test_projection_pinhole_and_invalid_depth():
    seq = np.array([[[0.5, 0.25, 2.0, 1.0], [0.1, 0.1, 0.0, 1.0]]], np.float32)
    out = project_to_2d(seq, focal=100.0, principal=(10.0, 20.0))
    np.testing.assert_allclose(out[0, 0], [10 + 25.0, 20 - 12.5, 1.0])
    assert out[0, 1, 2] == 0 and np.isfinite(out).all()


def _random_seq(layout: str, t: int = 3, seed: int = 2) -> np.ndarray:
    seq = np.random.default_rng(seed).normal(size=(t, get_layout(layout).num_joints, 4)).astype(np.float32)
    seq[..., 3] = 1
    return seq


@pytest.mark.parametrize("src", ["kinect20", "ntu25"])
def test_kinect_to_openni15_builds_neck_and_torso_as_nite_does(src):
    """NITE's neck is the shoulders' midpoint and its torso halfway between neck and mid-hip; Kinect's own neck /
    shoulder_center and spine are other points and must not be used."""
    s, o = get_layout(src), get_layout("openni15")
    seq = _random_seq(src)
    out = convert(seq, src, "openni15")
    j = {name: seq[:, s.index(name), :3] for name in ("left_shoulder", "right_shoulder", "left_hip", "right_hip")}
    mid_sh, mid_hip = (j["left_shoulder"] + j["right_shoulder"]) / 2, (j["left_hip"] + j["right_hip"]) / 2
    np.testing.assert_allclose(out[:, o.index("neck"), :3], mid_sh, atol=1e-6)
    np.testing.assert_allclose(out[:, o.index("torso"), :3], (mid_sh + mid_hip) / 2, atol=1e-6)
    for name in ("head", "left_elbow", "right_hand", "left_hip", "right_knee", "left_foot"):
        np.testing.assert_array_equal(out[:, o.index(name)], seq[:, s.index(name)])
    assert (out[..., 3] == 1).all()


def test_openni15_to_penn13_places_wrist_and_ankle_between_their_neighbours():
    o, p = get_layout("openni15"), get_layout("penn13")
    seq = _random_seq("openni15")
    seq[1, o.index("left_hand"), 3] = 0.0                     # a missing hand makes the synthesised wrist missing
    out = convert(seq, "openni15", "penn13")
    for side in ("left", "right"):
        hand, elbow = seq[:, o.index(f"{side}_hand"), :3], seq[:, o.index(f"{side}_elbow"), :3]
        foot, knee = seq[:, o.index(f"{side}_foot"), :3], seq[:, o.index(f"{side}_knee"), :3]
        np.testing.assert_allclose(out[:, p.index(f"{side}_wrist"), :3], 0.77 * hand + 0.23 * elbow, atol=1e-6)
        np.testing.assert_allclose(out[:, p.index(f"{side}_ankle"), :3], 0.85 * foot + 0.15 * knee, atol=1e-6)
    np.testing.assert_array_equal(out[:, p.index("head")], seq[:, o.index("head")])
    assert out[1, p.index("left_wrist"), 3] == 0 and out[1, p.index("left_elbow"), 3] == 1
    assert out[1, p.index("right_wrist"), 3] == 1


def test_openni15_person_facing_the_camera_keeps_penn_sides():
    """Loaded OpenNI clips have x to the camera's right, so a person facing the camera shows the left shoulder on
    the image's right; converted to penn13 that is the dataset's joints 2, 4, … on the image-left side."""
    o = get_layout("openni15")
    seq = np.zeros((1, 15, 4), np.float32)
    seq[..., 2], seq[..., 3] = 3.0, 1.0
    for name in o.joints:
        seq[0, o.index(name), 0] = {"left": 0.2, "right": -0.2}.get(name.split("_")[0], 0.0)
    penn = project_to_2d(convert(seq, "openni15", "penn13"))[0]
    for k in range(1, 13, 2):
        assert penn[k, 0] < penn[k + 1, 0], get_layout("penn13").joints[k]
