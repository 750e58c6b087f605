"""Person tracking: ids that persist through crossings, hugs and short misses; new ids for new people."""
from __future__ import annotations

import numpy as np
import pytest

from partkd_stream.synthetic import placed, two_people
from partkd_stream.tracking import PersonTracker, skeleton_distance

FPS = 30.0


def _run(tracker: PersonTracker, frames):
    """Feed ``[(t, [skeleton, …]), …]``; return the updates."""
    return [tracker.update(people, t) for t, people in frames]


def test_two_people_who_swap_places_keep_their_ids():
    s = two_people(seed=3)
    tracker = PersonTracker()
    owner: dict[int, set[int]] = {}
    for (t, people), who in zip(s.frames, s.who):
        upd = tracker.update(people, t)
        for pid, kp in upd.people:
            truth = [w for w, p in zip(who, people) if p is kp]
            owner.setdefault(pid, set()).update(truth)
    assert owner == {1: {0}, 2: {1}} or owner == {1: {1}, 2: {0}}
    assert tracker.finish() == [1, 2]


def test_hidden_person_is_missing_not_ended_and_keeps_its_id():
    s = two_people(seed=0)
    tracker = PersonTracker()
    missing_frames, ended = 0, []
    for t, people in s.frames:
        upd = tracker.update(people, t)
        missing_frames += bool(upd.missing)
        ended += upd.ended
    assert missing_frames > 5          # B is hidden behind A while they cross …
    assert ended == []                 # … for less than max_missed_s


def test_a_person_gone_too_long_ends_once_and_a_returning_one_gets_a_new_id():
    tracker = PersonTracker(max_missed_s=0.5, confirm_hits=3)
    walk = [(k / FPS, [placed(200 + 2 * k)]) for k in range(10)]
    ups = _run(tracker, walk)
    assert ups[2].started == [1] and [u.people[0][0] for u in ups[2:]] == [1] * 8
    assert ups[0].people == [] and ups[1].people == []            # tentative for the first two frames
    gap = [(10 / FPS + k / FPS, []) for k in range(20)]
    ups = _run(tracker, gap)
    ended = [u.ended for u in ups if u.ended]
    assert ended == [[1]]                                          # exactly once, after 0.5 s
    assert all(u.missing == [1] for u in ups[:14]) and ups[-1].missing == []
    back = [(30 / FPS + k / FPS, [placed(260)]) for k in range(5)]
    ups = _run(tracker, back)
    assert ups[2].started == [2] and ups[-1].people[0][0] == 2     # ids are never reused


def test_short_miss_keeps_the_id_and_predicts_along_the_motion():
    tracker = PersonTracker(max_missed_s=0.5)
    frames = [(k / FPS, [placed(100 + 6 * k)]) for k in range(12)]          # walks right, 180 px/s
    frames += [(k / FPS, []) for k in range(12, 20)]                       # hidden 8 frames (0.27 s)
    frames += [(k / FPS, [placed(100 + 6 * k)]) for k in range(20, 30)]    # reappears 48 px further on
    ups = _run(tracker, frames)
    assert {pid for u in ups for pid, _ in u.people} == {1}
    assert all(u.ended == [] for u in ups)


def test_one_frame_ghosts_never_get_an_id():
    tracker = PersonTracker(confirm_hits=3)
    frames = []
    for k in range(30):
        people = [placed(300)]
        if k % 4 == 0:                                          # a ghost somewhere else, one frame at a time
            people.append(placed(900 + 13 * k, scale=0.5))
        frames.append((k / FPS, people))
    ups = _run(tracker, frames)
    assert {pid for u in ups for pid, _ in u.people} == {1}
    assert sum(len(u.started) for u in ups) == 1


def test_two_people_hugging_side_by_side_do_not_swap():
    # boxes overlap heavily; the joints do not
    tracker = PersonTracker()
    rng = np.random.default_rng(0)
    seen: dict[int, list[float]] = {}
    for k in range(60):
        a = placed(400 + 10 * np.sin(k / 5), kind="jumping_jacks", t=k / FPS)
        b = placed(470 - 10 * np.sin(k / 5), kind="jump_rope", t=k / FPS, scale=0.95)
        people = [a, b] if rng.random() < 0.5 else [b, a]
        for pid, kp in tracker.update(people, k / FPS).people:
            seen.setdefault(pid, []).append(float(kp[23:25, 0].mean()))
    assert sorted(seen) == [1, 2]
    left, right = (1, 2) if np.mean(seen[1]) < np.mean(seen[2]) else (2, 1)
    assert max(seen[left]) < min(seen[right])


def test_many_people_and_empty_frames():
    tracker = PersonTracker(confirm_hits=1)
    people = [placed(150 + 250 * i, scale=0.6) for i in range(5)]
    upd = tracker.update(people, 0.0)
    assert upd.started == [1, 2, 3, 4, 5] and [p for p, _ in upd.people] == [1, 2, 3, 4, 5]
    upd = tracker.update(list(reversed(people)), 1 / FPS)
    by_id = {pid: float(kp[23:25, 0].mean()) for pid, kp in upd.people}
    assert [by_id[i] for i in range(1, 6)] == sorted(by_id.values())   # the same person keeps the same id
    upd = tracker.update([], 2 / FPS)
    assert upd.people == [] and upd.missing == [1, 2, 3, 4, 5]
    assert tracker.finish() == [1, 2, 3, 4, 5]


def test_skeleton_without_seen_joints_never_matches():
    tracker = PersonTracker(confirm_hits=1)
    tracker.update([placed(300)], 0.0)
    blind = placed(300, score=0.0)
    upd = tracker.update([blind], 1 / FPS)
    assert upd.missing == [1]
    a = placed(300)
    seen = a[:, 2] > 0.3
    assert skeleton_distance(a[:, :2], seen, a[:, :2], np.zeros(33, bool)) >= 1e6


def test_repeated_timestamps_are_nudged_and_bad_settings_refused():
    tracker = PersonTracker(confirm_hits=1)
    tracker.update([placed(300)], 1.0)
    upd = tracker.update([placed(302)], 1.0)
    assert upd.people[0][0] == 1 and tracker.last_t > 1.0
    with pytest.raises(ValueError):
        PersonTracker(confirm_hits=0)


def test_a_person_missed_every_third_frame_is_tracked_and_one_frame_ghosts_are_not():
    """3 of the last 5 frames confirm a track: small people flicker so in MediaPipe's detections. Ghosts seen in one
    frame each (elsewhere every time) never get an id; with the old rule (3 frames in a row) the flickering person
    never did either."""
    frames = []
    for k in range(30):
        people = [placed(300 + 2 * k)] if k % 3 != 2 else []
        if k % 4 == 1:
            people.append(placed(900 + 40 * k, scale=0.5))
        frames.append((k / FPS, people))
    ups = _run(PersonTracker(), frames)
    assert [u.started for u in ups[:5]] == [[], [], [], [1], []]          # seen in frames 0, 1, 3: confirmed at 3
    assert {pid for u in ups for pid, _ in u.people} == {1} and all(u.ended == [] for u in ups)
    assert all(u.missing == [1] for u in ups[5::3])                         # a missed frame: missing, not ended
    old_rule = _run(PersonTracker(confirm_hits=3, confirm_frames=3), frames)
    assert all(u.started == [] for u in old_rule)
    with pytest.raises(ValueError):
        PersonTracker(confirm_hits=3, confirm_frames=2)


def test_assignment_per_group_equals_one_global_assignment():
    """``assign`` solves each connected group of possible pairs alone; the matches are as many and as cheap as one
    ``linear_sum_assignment`` over the whole matrix with the other pairs unmatchable."""
    from scipy.optimize import linear_sum_assignment

    from partkd_stream.tracking import assign

    rng = np.random.default_rng(0)
    for _ in range(200):
        n, d = rng.integers(0, 25, size=2)                      # beyond 64 pairs: solved per group
        cost = np.where(rng.random((n, d)) < 0.12, rng.random((n, d)), 1e6)
        rows, cols = np.nonzero(cost < 1e6)
        r, c = assign(int(n), int(d), rows, cols, cost[rows, cols])
        gr, gc = linear_sum_assignment(cost) if n and d else (np.zeros(0, int), np.zeros(0, int))
        keep = cost[gr, gc] < 1e6
        assert len(r) == keep.sum() and len(set(r.tolist())) == len(r) and len(set(c.tolist())) == len(c)
        assert cost[r, c].sum() == pytest.approx(cost[gr[keep], gc[keep]].sum())


def test_a_crowd_keeps_every_id_and_measures_only_neighbours(monkeypatch):
    """300 people on a grid, listed in a new order every frame: each keeps its id, and only pairs whose boxes are
    within reach are measured — a few per person, not 300 × 300."""
    from partkd_stream import tracking

    measured = []
    pair_distances = tracking.pair_distances
    monkeypatch.setattr(tracking, "pair_distances", lambda *a, **k: measured.append(len(a[4])) or pair_distances(
        *a, **k))
    rng = np.random.default_rng(1)
    grid = [(60 + 70 * (i % 20), 150 + 160 * (i // 20)) for i in range(300)]
    tracker = PersonTracker(confirm_hits=1)
    where: dict[int, tuple[float, float]] = {}
    for k in range(6):
        order = rng.permutation(300)
        pose = placed(0.0, 0.0, scale=0.3, kind="jumping_jacks", t=k / FPS)
        people = [pose + np.float32([grid[i][0], grid[i][1], 0]) for i in order]
        upd = tracker.update(people, k / FPS)
        assert len(upd.people) == 300
        for pid, kp in upd.people:
            hip = tuple(np.round(kp[23:25, :2].mean(0), -1))
            assert where.setdefault(pid, hip) == pytest.approx(hip, abs=20)
    assert sorted(where) == list(range(1, 301))
    assert max(measured) < 300 * 10
