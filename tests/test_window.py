"""The live windows: resampling to the model's fps, bounded memory, the person-presence rule, and several people in
one buffer giving exactly what training computes from each person's frames."""
from __future__ import annotations

import numpy as np
import pytest
from stream_fixtures import person_frames

from partkd_stream.convert import convert
from partkd_stream.layouts import get_layout
from partkd_stream.preprocess import PreprocessConfig, preprocess_window, resample_indices, take_frames
from partkd_stream.window import PRESENCE_RULES, PresenceRule, TrackWindows, frame_has_person

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


FULL, UPPER = PRESENCE_RULES["full_body"], PRESENCE_RULES["upper_body"]
FRONTAL = PresenceRule.from_dict({"min_arm_joints": 2})   # the older default: both shoulders and hips, 2 arm joints
DESK_BOTH = PresenceRule(min_score=0.5, sides="both", seen=[        # the older upper-body rule: both shoulders
    [2, ["left_shoulder", "right_shoulder"]], [2, ["left_elbow", "right_elbow", "left_wrist", "right_wrist"]]])


def _side(side: str, score: float) -> dict[str, float]:
    return {f"{side}_{j}": score for j in ("shoulder", "elbow", "wrist", "hip", "knee", "ankle")}


def test_a_person_is_one_side_of_a_body_clearly_seen_whatever_the_view():
    assert frame_has_person(_frame({}, default=0.95), "mediapipe33")
    profile = _frame({**_side("left", 0.95), "nose": 0.95})            # far side occluded: score 0
    binary = np.concatenate([np.zeros((13, 2)), np.zeros((13, 1))], 1)   # penn13, visibility 0/1 as annotated
    binary[[2, 8, 10, 12], 2] = 1.0                                      # left shoulder, hip, knee, ankle
    for frame, layout in ((profile, "mediapipe33"), (binary, "penn13")):
        assert frame_has_person(frame, layout) and not frame_has_person(frame, layout, FRONTAL)
    one_leg = _frame({"right_hip": 1.0, "right_knee": 1.0, "right_ankle": 1.0})    # the rest hidden (Penn squats)
    assert frame_has_person(one_leg, "mediapipe33")
    # not a person: two joints of a side; the legs of the two sides (never 3 on one side); joints MediaPipe makes
    # up (0.3-0.6, as on the empty pool: only shoulders and face high); an upper body at a desk, for a full-body model
    assert not frame_has_person(_frame({"left_knee": 1.0, "left_ankle": 1.0, "right_knee": 1.0, "right_ankle": 1.0}),
                                "mediapipe33")
    made_up = _frame({**_side("left", 0.6), **_side("right", 0.45), "left_shoulder": 0.95, "right_shoulder": 0.95,
                      "nose": 0.99})
    assert not frame_has_person(made_up, "mediapipe33")
    desk = _frame({**_side("left", 0.95), **_side("right", 0.95), **{f"{s}_{j}": 0.3 for s in ("left", "right")
                                                                      for j in ("hip", "knee", "ankle")}})
    assert not frame_has_person(desk, "mediapipe33") and frame_has_person(desk, "mediapipe33", UPPER)
    assert not frame_has_person(None, "mediapipe33")
    # an upper-body model: a person in profile at a desk counts (one side's shoulder and arm); the empty pool's
    # made-up skeleton does not (its arms at 0.45-0.6), though the older both-shoulders rule took it
    desk_profile = _frame({"left_shoulder": 0.9, "left_elbow": 0.8, "left_wrist": 0.75, "nose": 0.9})
    assert frame_has_person(desk_profile, "mediapipe33", UPPER)
    assert not frame_has_person(desk_profile, "mediapipe33", DESK_BOTH)
    assert not frame_has_person(made_up, "mediapipe33", UPPER) and frame_has_person(made_up, "mediapipe33", DESK_BOTH)


def test_the_older_presence_form_reads_as_the_rule_it_was_written_for():
    """Cards written with ``torso`` / ``arms`` / ``min_arm_joints`` keep their rule: all torso joints and that many
    arm joints at 0.5, both sides together (the shipped everyday card says the shoulders alone)."""
    assert PresenceRule.from_dict({"torso": ["left_shoulder", "right_shoulder"]}) == DESK_BOTH
    assert FRONTAL == PresenceRule(min_score=0.5, sides="both", seen=[
        [4, ["left_shoulder", "right_shoulder", "left_hip", "right_hip"]],
        [2, ["left_elbow", "right_elbow", "left_wrist", "right_wrist"]]])
    full = _frame({}, default=0.9)
    assert frame_has_person(full, "mediapipe33", FRONTAL)
    full[MP.index("left_hip"), 2] = 0.2
    assert not frame_has_person(full, "mediapipe33", FRONTAL) and frame_has_person(full, "mediapipe33", DESK_BOTH)
    torso_only = PresenceRule.from_dict({"min_arm_joints": 0})
    assert torso_only.seen == ((4, ("left_shoulder", "right_shoulder", "left_hip", "right_hip")),)
    for rule in (FULL, UPPER, FRONTAL, DESK_BOTH):
        assert PresenceRule.from_dict(rule.to_dict()) == rule


@pytest.mark.parametrize("d,match", [
    ({"sides": "left"}, "sides must be 'both'"),
    ({"seen": [[2, ["left_hip", "right_hip"]]]}, r"the count must be a whole number from 1 to 1 \(the joints one side"),
    ({"sides": "both", "seen": [[3, ["left_hip", "right_hip"]]]}, "from 1 to 2 \\(the joints listed"),
    ({"seen": [[0.5, ["nose"]]]}, "the count must be a whole number"),
    ({"seen": [["left_hip", 1]]}, "must be a list of joint names"),
    ({"seen": ["left_hip"]}, r"must be a list of \[count, \[joint names\]\] pairs"),
    ({"seen": []}, "at least one"),
    ({"torso": ["left_hip"], "sides": "both"}, "not both"),
    ({"torso": ["left_hip"], "colour": 1}, "unknown presence fields \\['colour'\\]"),
])
def test_a_bad_presence_rule_is_one_clear_line(d, match):
    with pytest.raises(ValueError, match=match) as e:
        PresenceRule.from_dict(d)
    assert "\n" not in str(e.value)


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
    """The same frames, fed live into the window or cut from a clip by ``train.lib.data.windows`` (how training and
    evaluation pick windows), are the same model input — also before the window is full."""
    from train.lib.data import windows

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
    legs = [MP.index(f"{s}_{j}") for s in ("left", "right") for j in ("hip", "knee", "ankle")]
    kp[legs, 0] = 1e300                                         # visibility kept, place absurd
    assert win.push(kp, 1 / 30, "mediapipe33") and len(win) == 2
    _, kps, person = win.frames()
    assert not person[-1], "a frame without a usable hip, knee or ankle shows no person to a full-body rule"
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
