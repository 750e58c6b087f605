"""KARD and Florence 3D on the real files (../shared/data): counts, joint order, sides, axes and frame rates —
each fact the loaders rely on, measured on the data. ``-s`` prints the frame-rate table (docs/datasets.md)."""
from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from conftest import shared_path
from partkd_stream.convert import convert, project_to_2d
from partkd_stream.layouts import get_layout
from train.datasets import load_dataset
from train.datasets.florence3d import FLORENCE_JOINTS
from train.datasets.kard import KARD_JOINTS
from train.datasets.ntu import ntu_sample, read_skeleton_file
from train.datasets.nw_ucla import ucla_sample
from train.datasets.openni import read_joint_text
from train.datasets.vocabulary import load_vocabulary

pytestmark = pytest.mark.realdata
O15 = get_layout("openni15")
J = {name: i for i, name in enumerate(O15.joints)}


def _in_openni15(info, samples):
    """``{class name: [xyz [T, 15, 3], …]}`` and the samples, every clip converted to openni15 (metres)."""
    by_class: dict[str, list[np.ndarray]] = {c: [] for c in info.classes}
    for s in samples:
        by_class[info.classes[s.label]].append(convert(s.data, s.layout, "openni15")[..., :3])
    return by_class, samples


@pytest.fixture(scope="module")
def kard():
    return load_dataset("kard", shared_path("kard", "realworld"))


@pytest.fixture(scope="module")
def florence():
    return load_dataset("florence3d", shared_path("florence3d", "clips"))


@pytest.fixture(scope="module")
def utd():
    return load_dataset("utd_mhad", shared_path("utd_mhad", "skeleton"))


@pytest.fixture(scope="module")
def clips(kard, florence, utd):
    """Clips by class in openni15 for KARD, Florence 3D, UTD-MHAD and NTU (the three timed NTU files used here)."""
    out = {"kard": _in_openni15(*kard)[0], "florence3d": _in_openni15(*florence)[0], "utd_mhad": _in_openni15(*utd)[0]}
    ntu = {}
    for action, name in ((1, "drink water"), (8, "sitting down"), (9, "standing up (from sitting position)")):
        path = shared_path("ntu", "skeletons", f"S001C001P001R001A{action:03d}.skeleton")
        ntu[name] = [convert(ntu_sample(read_skeleton_file(path)).data, "ntu25", "openni15")[..., :3]]
    out["ntu"] = ntu
    return out


def test_kard_all_clips_classes_and_subjects(kard):
    info, samples = kard
    assert len(samples) == 540 and len(info.classes) == 18
    assert Counter(s.label for s in samples) == {k: 30 for k in range(18)}
    assert Counter(s.subject for s in samples) == {s: 54 for s in range(1, 11)}
    assert Counter(s.split for s in samples) == {"train": 270, "test": 270}
    assert {s.meta["repetition"] for s in samples} == {1, 2, 3}
    frames = [s.num_frames for s in samples]
    assert (min(frames), int(np.median(frames)), max(frames)) == (42, 112, 310)


def test_florence_all_clips_classes_and_subjects(florence):
    info, samples = florence
    assert len(samples) == 215 and len(info.classes) == 9
    assert Counter(info.classes[s.label] for s in samples) == {
        "wave": 24, "drink": 21, "answer_phone": 22, "clap": 29, "tie_lace": 26, "sit_down": 20, "stand_up": 20,
        "read_watch": 23, "bow": 30}
    assert set(Counter(s.subject for s in samples)) == set(range(1, 11))
    assert sorted(s.meta["clip"] for s in samples) == list(range(1, 216))
    assert Counter(s.split for s in samples) == {"train": 109, "test": 106}
    frames = [s.num_frames for s in samples]
    assert (min(frames), int(np.median(frames)), max(frames)) == (7, 17, 34)


@pytest.mark.parametrize("dataset", ["kard", "florence3d"])
def test_joint_order_head_on_top_bones_rigid_and_nite_neck_and_torso(dataset, kard, florence):
    _, samples = kard if dataset == "kard" else florence
    xyz = np.concatenate([s.data[..., :3] for s in samples])
    assert (xyz[..., 1].argmax(1) == J["head"]).mean() > 0.85            # the head is the highest joint
    mid = lambda a, b: (xyz[:, J[a]] + xyz[:, J[b]]) / 2                 # noqa: E731
    assert np.abs(xyz[:, J["neck"]] - mid("left_shoulder", "right_shoulder")).max() < 1e-3   # NITE: mid-shoulder
    torso = (xyz[:, J["neck"]] + mid("left_hip", "right_hip")) / 2
    assert np.abs(xyz[:, J["torso"]] - torso).max() < 2e-3
    length = {(a, b): np.linalg.norm(xyz[:, a] - xyz[:, b], axis=-1) for a, b in O15.edges}
    for (a, b), d in length.items():                                    # every bone keeps its length …
        assert np.percentile(d, 90) / np.percentile(d, 10) < 1.6, (O15.joints[a], O15.joints[b])
    hand_foot = np.linalg.norm(xyz[:, J["left_hand"]] - xyz[:, J["left_foot"]], axis=-1)
    assert np.percentile(hand_foot, 90) / np.percentile(hand_foot, 10) > 1.6   # … which a non-bone does not
    for a, b in (("shoulder", "elbow"), ("elbow", "hand"), ("hip", "knee"), ("knee", "foot")):
        left = np.median(length[(J[f"left_{a}"], J[f"left_{b}"])])
        right = np.median(length[(J[f"right_{a}"], J[f"right_{b}"])])
        assert abs(left / right - 1) < 0.08, (a, b)                       # left and right limbs match


def test_openni_joints_against_kinects_and_the_penn13_weights(kard, florence, utd):
    """OpenNI forearm and shin lengths match Kinect's elbow–hand and knee–foot, not elbow–wrist / knee–ankle; the
    weights of openni15 → penn13 put the wrist and ankle where Kinect has them; the bodies still differ."""
    k20 = get_layout("kinect20")
    kinect = [s.data[..., :3] for s in utd[1]]
    kinect += [ucla_sample(p).data[..., :3] for p in sorted(shared_path("nw_ucla", "all_sqe").glob("*.json"))[::5]]
    kx = np.concatenate(kinect)

    def bone(x, a, b, lay):
        return np.median(np.linalg.norm(x[:, lay.index(a)] - x[:, lay.index(b)], axis=-1))

    def along(x, a, b, c):   # where b lies on the way from a to c (0 = a, 1 = c), median over frames
        v = x[:, k20.index(c)] - x[:, k20.index(a)]
        return np.median(((x[:, k20.index(b)] - x[:, k20.index(a)]) * v).sum(-1) / (v * v).sum(-1))

    for _, samples in (kard, florence):
        ox = np.concatenate([s.data[..., :3] for s in samples])
        forearm, shin = bone(ox, "left_elbow", "left_hand", O15), bone(ox, "left_knee", "left_foot", O15)
        assert abs(forearm - bone(kx, "left_elbow", "left_hand", k20)) < abs(
            forearm - bone(kx, "left_elbow", "left_wrist", k20))
        assert abs(shin - bone(kx, "left_knee", "left_foot", k20)) < abs(
            shin - bone(kx, "left_knee", "left_ankle", k20))
    assert along(kx, "left_elbow", "left_wrist", "left_hand") == pytest.approx(0.77, abs=0.02)
    assert along(kx, "left_knee", "left_ankle", "left_foot") == pytest.approx(0.85, abs=0.02)
    # Kinect's shoulder_center is no NITE neck (~10 cm above mid-shoulder); its hips are narrower than OpenNI's.
    mid_shoulder = (kx[:, k20.index("left_shoulder")] + kx[:, k20.index("right_shoulder")]) / 2
    assert 0.08 < np.median(kx[:, k20.index("shoulder_center"), 1] - mid_shoulder[:, 1]) < 0.12
    assert bone(kx, "left_hip", "right_hip", k20) < 0.16
    for _, samples in (kard, florence):
        ox = np.concatenate([s.data[..., :3] for s in samples])
        assert 0.19 < bone(ox, "left_hip", "right_hip", O15) < 0.21


def _path(clip: np.ndarray, joint: str) -> float:
    """How far a joint travels relative to the torso (metres)."""
    return float(np.linalg.norm(np.diff(clip[:, J[joint]] - clip[:, J["torso"]], axis=0), axis=-1).sum())


def _right_share(clips: list[np.ndarray], part: str = "hand") -> float:
    return float(np.mean([_path(c, f"right_{part}") > _path(c, f"left_{part}") for c in clips]))


def test_kard_right_is_the_persons_right(clips):
    k = clips["kard"]
    for action in ("horizontal_arm_wave", "high_arm_wave", "high_throw", "draw_x", "draw_tick", "phone_call",
                   "drink"):
        assert _right_share(k[action]) == 1.0, action
    for action in ("catch_cap", "take_umbrella"):                          # scripted left-handed
        assert _right_share(k[action]) == 0.0, action
    for action in ("forward_kick", "side_kick"):
        assert _right_share(k[action], "foot") == 1.0, action
    # A drawn tick's long up-stroke goes to the drawer's right — true for left-handed people too.
    towards_right = []
    for c in k["draw_tick"]:
        side = (c[:, J["right_shoulder"]] - c[:, J["left_shoulder"]]).mean(0)
        side[1] = 0
        hand = c[:, J["right_hand"]] - c[:, J["torso"]]
        raised = np.flatnonzero(hand[:, 1] > 0)
        seg = slice(raised[0], raised[-1] + 1)
        low = seg.start + np.argmin(hand[seg, 1])
        top = low + np.argmax(hand[low:seg.stop, 1])
        towards_right.append((hand[top] - hand[low]) @ side > 0)
    assert np.mean(towards_right) >= 0.85                                   # 26 of 30 clips


def test_florence_right_is_the_persons_right(florence):
    info, samples = florence
    for action, first_right in (("wave", 10), ("drink", 10), ("answer_phone", 8)):
        first = {}
        for s in samples:
            if info.classes[s.label] == action and s.meta["repetition"] == 1:
                first[s.subject] = s.data[..., :3]
        assert len(first) == 10
        assert sum(_path(c, "right_hand") > _path(c, "left_hand") for c in first.values()) == first_right, action


def test_axes_kard_x_to_the_cameras_right_florence_to_its_left_y_up_people_facing_the_sensor(kard, florence):
    """(KARD's walk is left out: its people turn round, the back to the sensor for part of 20 of the 30 clips.)"""
    for root, rows, dataset in ((shared_path("kard", "realworld"), KARD_JOINTS, "kard"),
                                (shared_path("florence3d", "clips"), FLORENCE_JOINTS, "florence3d")):
        files = [p for p in sorted(root.glob("*.txt"))[::4] if not p.name.startswith("a14_s")]
        raw = np.concatenate([read_joint_text(p) for p in files])
        r = {j: raw[:, rows.index(j)] for j in rows}
        left_smaller_x = (r["left_shoulder"][:, 0] < r["right_shoulder"][:, 0]).mean()
        assert left_smaller_x > 0.99 if dataset == "florence3d" else left_smaller_x < 0.01
        assert (r["head"][:, 1] > r["left_foot"][:, 1]).all()                # y up
        reaching = r["right_hand"][:, 1] > r["right_shoulder"][:, 1]          # a raised hand comes nearer the sensor
        assert np.median(r["right_hand"][reaching, 2] - r["torso"][reaching, 2]) < -100
    for info, samples in (kard, florence):                                    # loaded: as an unmirrored webcam
        uv = np.concatenate([project_to_2d(s.data) for s in samples if info.classes[s.label] != "walk"])
        assert (uv[:, J["left_shoulder"], 0] > uv[:, J["right_shoulder"], 0]).mean() > 0.999


def test_a_right_hand_wave_is_the_right_hand_on_the_images_left_in_all_three_datasets(clips):
    for dataset, action in (("utd_mhad", "wave"), ("kard", "high_arm_wave"), ("florence3d", "wave")):
        waves = clips[dataset][action]
        assert _right_share(waves) >= 0.75, dataset
        right = [c for c in waves if _path(c, "right_hand") > _path(c, "left_hand")]
        on_left = [np.median(c[:, J["right_hand"], 0] - c[:, J["torso"], 0]) < 0 for c in right]
        assert np.mean(on_left) >= 0.95, dataset


# --- frame rates -------------------------------------------------------------------------------------------------
def _transition_frames(y: np.ndarray, lo: float = 0.2, hi: float = 0.8, min_gain: float = 0.1) -> float | None:
    """Frames (sub-frame, interpolated) the first rise of ``y`` takes from ``lo`` to ``hi`` of the way from its
    starting level to its highest point; ``None`` when it rises less than ``min_gain`` metres."""
    y = np.convolve(np.r_[y[0], y, y[-1]], np.ones(3) / 3, "valid")
    start, top = np.median(y[:3]), int(np.argmax(y))
    gain = y[top] - start
    if gain < min_gain:
        return None
    f = (y[:top + 1] - start) / gain
    t_hi = int(np.argmax(f >= hi))
    t_lo = t_hi - int(np.argmax(f[:t_hi + 1][::-1] <= lo)) + 1

    def crossing(t: int, level: float) -> float:
        return t - 1 + (level - f[t - 1]) / (f[t] - f[t - 1])

    return crossing(t_hi, hi) - crossing(t_lo, lo)


MOVEMENTS = {  # movement → (what rises, {dataset: its class})
    "hand raised: wave": ("hand", {"florence3d": "wave", "kard": "high_arm_wave", "utd_mhad": "wave"}),
    "hand raised: drink": ("hand", {"florence3d": "drink", "kard": "drink", "ntu": "drink water"}),
    "hand raised: phone": ("hand", {"florence3d": "answer_phone", "kard": "phone_call"}),
    "hips drop: sit down": ("hips_down", {"florence3d": "sit_down", "kard": "sit_down", "utd_mhad": "stand_to_sit",
                                          "ntu": "sitting down"}),
    "hips rise: stand up": ("hips_up", {"florence3d": "stand_up", "kard": "stand_up", "utd_mhad": "sit_to_stand",
                                        "ntu": "standing up (from sitting position)"}),
    "head drops: bow / bend": ("head_down", {"florence3d": "bow", "kard": "bend"}),
}


def _rising(c: np.ndarray, what: str) -> np.ndarray:
    hips = (c[:, J["left_hip"], 1] + c[:, J["right_hip"], 1]) / 2
    if what == "hand":
        side = "right" if _path(c, "right_hand") > _path(c, "left_hand") else "left"
        return c[:, J[f"{side}_hand"], 1] - c[:, J["torso"], 1]
    return {"hips_down": -hips, "hips_up": hips, "head_down": hips - c[:, J["head"], 1]}[what]


def test_florence_frame_rate_from_motion_speeds_and_kards_30_fps(clips, florence):
    """Florence's fps = 30 × (its frames for a movement / a 30 fps dataset's frames for the same movement), per
    movement and reference; KARD's 30 fps is plausible if its movements are no faster than the others'."""
    rows, estimates, kard_vs = [], {}, []
    for movement, (what, classes) in MOVEMENTS.items():
        frames = {d: np.median([f for c in clips[d][cls] if (f := _transition_frames(_rising(c, what))) is not None])
                  for d, cls in classes.items()}
        est = {ref: 30 * frames["florence3d"] / frames[ref] for ref in frames if ref != "florence3d"}
        estimates[movement] = est
        kard_vs += [frames["kard"] / frames[ref] for ref in ("utd_mhad", "ntu") if ref in frames]
        rows.append(f"{movement:24s} " + "  ".join(f"{d} {v:4.1f}" for d, v in frames.items())
                    + "   → Florence fps " + ", ".join(f"vs {r} {v:4.1f}" for r, v in est.items()))
    values = np.array([v for est in estimates.values() for v in est.values()])
    print("\nframes from 20 % to 80 % of the movement (median over clips):\n" + "\n".join(rows))
    print(f"Florence fps: median {np.median(values):.1f}, range {values.min():.1f}-{values.max():.1f}, "
          f"vs KARD {np.median([e['kard'] for e in estimates.values()]):.1f}, "
          f"vs UTD-MHAD {np.median([e['utd_mhad'] for e in estimates.values() if 'utd_mhad' in e]):.1f}, "
          f"vs NTU {np.median([e['ntu'] for e in estimates.values() if 'ntu' in e]):.1f}; "
          f"KARD takes {min(kard_vs):.1f}-{max(kard_vs):.1f}x (median {np.median(kard_vs):.1f}x) the frames of "
          f"UTD-MHAD / NTU")
    assert 7 < values.min() and values.max() < 22                           # far from 30 fps in every comparison
    assert values.min() < florence[0].fps < values.max()
    assert 10 <= np.median(values) <= 14
    assert min(kard_vs) > 1.0                                               # KARD's people are slower, never faster


def test_one_sided_actions_in_the_vocabulary_match_the_data(clips):
    """Every action whose one hand (or foot) travels twice as far as the other in the median clip, either hand, is
    listed as one-sided; no action left off the list (clap, two-hand wave, bow, …) comes near that. (0.3 m added
    to both paths keeps a still hand's jitter from counting.)"""
    vocab = load_vocabulary()

    def lopsided(c: np.ndarray) -> float:
        return max(abs(np.log2((_path(c, f"right_{p}") + 0.3) / (_path(c, f"left_{p}") + 0.3)))
                   for p in ("hand", "foot"))

    for dataset in ("utd_mhad", "kard", "florence3d"):
        for action, cs in clips[dataset].items():
            value = np.median([lopsided(c) for c in cs])
            if value >= 1:
                assert action in vocab.one_sided[dataset], (dataset, action, value)
            if action not in vocab.one_sided[dataset]:
                assert value < 0.6, (dataset, action, value)
