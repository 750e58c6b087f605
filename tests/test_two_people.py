"""The two-person synthetic stream, and each tracked person's own action events through a swap of places — through
the Python API and through the run mode, on the shipped model."""
from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import run_demo

from partkd_stream.synthetic import two_people


def test_stream_swaps_places_hides_b_behind_a_and_shuffles_entries():
    s = two_people(seed=0)
    assert len(s.frames) == 300 and s.actions == ("jumping_jacks", "jump_rope")
    data = s.person_major()                                   # [2, T, 33, 3]
    hip_x = data[..., 23:25, 0].mean(-1)                      # [2, T]
    a_seen, b_seen = data[0, :, 0, 2] > 0, data[1, :, 0, 2] > 0
    assert a_seen.all() and 5 < (~b_seen).sum() < 20          # B hidden for a moment while crossing
    assert hip_x[0, 0] < hip_x[1, 0] and hip_x[0, -1] > hip_x[1, -1]
    firsts = [who[0] for who in s.who if len(who) == 2]
    assert 0.3 < np.mean(firsts) < 0.7                         # entry order says nothing about identity
    assert np.array_equal(two_people(seed=0).person_major(), data)


def test_writes_a_person_major_sequence_and_a_shuffled_stream(tmp_path):
    from partkd_stream.skeleton_io import load_sequence, read_stream

    assert run_demo("make_two_people.py", "--out", str(tmp_path / "two.npz")).returncode == 0
    seq = load_sequence(tmp_path / "two.npz")
    assert seq.data.shape == (2, 300, 33, 3) and seq.layout == "mediapipe33"
    assert seq.meta["actions"] == ["jumping_jacks", "jump_rope"]
    assert run_demo("make_two_people.py", "--out", str(tmp_path / "two.jsonl")).returncode == 0
    header, frames = read_stream(tmp_path / "two.jsonl", people=True)
    s = two_people(seed=0)
    got = list(frames)
    assert header == {"layout": "mediapipe33", "fps": 30.0} and len(got) == 300
    for (t, k, people), (t0, want) in zip(got, s.frames):     # the stream's own order, to the 4 decimals written
        assert t == pytest.approx(t0, abs=1e-6) and len(people) == len(want)
        np.testing.assert_allclose(np.stack(people), np.stack(want), atol=1e-4)
    bad = run_demo("make_two_people.py", "--out", str(tmp_path / "two.txt"))
    assert bad.returncode == 2 and bad.stderr.strip().endswith("give a .jsonl or .npz file name")


def _model():
    """The shipped default model (tracked in engines/: a missing one fails the test)."""
    from partkd_stream.backends import load_model

    return load_model(backend="onnxruntime", threads=1)


def _check_own_actions(on: dict[int, list[tuple[str, float]]], owner: dict[int, int], actions) -> None:
    """Each id (``on``: its predictions' ``(label, t)`` whenever an action is on): its own person's action before the
    swap (< 4 s) and after it (> 6 s), never the other's."""
    assert sorted(on) == sorted(owner) and len(owner) == 2 and sorted(owner.values()) == [0, 1]
    for pid, person in owner.items():
        own, other = actions[person], actions[1 - person]
        labels = {label for label, _ in on[pid]}
        assert other not in labels, (pid, sorted(labels))
        assert any(label == own and t < 4.0 for label, t in on[pid]), (pid, on[pid][:3])
        assert any(label == own and t > 6.0 for label, t in on[pid]), (pid, on[pid][-3:])


def test_each_tracked_person_gets_own_action_events_through_the_swap():
    from partkd_stream.recognizer import Recognizer

    s = two_people(seed=0)
    rec = Recognizer(_model())
    owner: dict[int, set[int]] = {}
    on: dict[int, list[tuple[str, float]]] = {}
    calls = []
    real = rec.model.predict
    rec.model = type("Counted", (), {"card": rec.card, "predict": lambda _, x: calls.append(len(x)) or real(x)})()
    judged = []
    for (t, people), who in zip(s.frames, s.who):
        preds = rec.update_people(people, t)
        for pred in preds:
            on.setdefault(pred.person, []).extend([(pred.label, pred.t)] if pred.label else [])
            assert all(e.person == pred.person for e in pred.events)
        n = sum(p.reason not in ("warming_up", "no_person") for p in preds)
        judged += [n] if n else []
        for pid, kp in rec.in_view:
            owner.setdefault(pid, set()).update(w for w, p in zip(who, people) if p is kp)
    ends = rec.finish()
    assert sorted(e.person for e in ends) == [1, 2] and all(e.event == "end" for e in ends)
    assert all(len(v) == 1 for v in owner.values())
    _check_own_actions(on, {pid: next(iter(v)) for pid, v in owner.items()}, s.actions)
    assert calls == judged and calls.count(2) > 40       # one model call per stride for everyone judged


@pytest.mark.parametrize("suffix", [".jsonl", ".npz"])
def test_run_mode_tracks_both_people_through_the_swap(tmp_path, suffix, capsys):
    """``partkd-stream --skeletons two_people.jsonl --max-people 2``: records and events carry each person's id;
    the summary lists actions per person. In the ``.jsonl`` each frame lists the two people in random order."""
    from partkd_stream import app

    _model()
    src = tmp_path / f"two{suffix}"
    assert run_demo("make_two_people.py", "--out", str(src)).returncode == 0
    out = tmp_path / "preds.jsonl"
    capsys.readouterr()
    assert app.main(["--skeletons", str(src), "--max-people", "2", "--out", str(out), "--backend",
                     "onnxruntime"]) == 0
    recs = [json.loads(line) for line in out.read_text().splitlines()]
    preds = [r for r in recs if "event" not in r]
    assert {r["person"] for r in preds} == {1, 2}
    assert [r["frame"] for r in preds if r["person"] == 1][:3] == [5, 11, 17]     # every stride, for each id
    on: dict[int, list[tuple[str, float]]] = {1: [], 2: []}
    for r in preds:
        on[r["person"]] += [(r["label"], r["t"])] if r["label"] else []
    starts = [r for r in recs if r.get("event") == "start"]
    jj = [r["person"] for r in starts if r["label"] == "jumping_jacks"]
    assert len(set(jj)) == 1
    _check_own_actions(on, {jj[0]: 0, 3 - jj[0]: 1}, ("jumping_jacks", "jump_rope"))
    text = capsys.readouterr().out
    assert "2 people tracked" in text and "person 1" in text and "person 2" in text


def test_one_person_mode_on_a_two_person_file_says_what_it_follows(tmp_path, capsys):
    from partkd_stream import app

    _model()
    src = tmp_path / "two.npz"
    assert run_demo("make_two_people.py", "--out", str(src)).returncode == 0
    out = tmp_path / "preds.jsonl"
    capsys.readouterr()
    assert app.main(["--skeletons", str(src), "--out", str(out), "--quiet", "--backend", "onnxruntime"]) == 0
    assert {json.loads(line)["person"] for line in out.read_text().splitlines()} == {None}
    err = capsys.readouterr().err.strip()
    assert err == (f"partkd-stream: warning: {src}: up to 2 people per frame; followed the first 1 of each frame "
                   f"(recognise everyone with --max-people 2)")


def test_a_person_the_detector_misses_every_third_frame_still_gets_their_actions(tmp_path, capsys):
    """B (jump rope) is missing from every third frame, as MediaPipe's detections of small people flicker:
    ``--max-people 2`` tracks B all the same (3 of the last 5 frames confirm a track) and gives both people their
    own actions; before, a new track needed 3 frames in a row and B was never tracked."""
    from partkd_stream import app
    from partkd_stream.skeleton_io import write_stream

    _model()
    s = two_people(seed=0)
    src = tmp_path / "flicker.jsonl"
    write_stream(src, "mediapipe33", s.fps, ((t, k, [kp for kp, w in zip(people, who) if w == 0 or k % 3 != 2])
                                            for k, ((t, people), who) in enumerate(zip(s.frames, s.who))))
    out = tmp_path / "preds.jsonl"
    assert app.main(["--skeletons", str(src), "--max-people", "2", "--out", str(out), "--quiet", "--backend",
                     "onnxruntime"]) == 0
    recs = [json.loads(line) for line in out.read_text().splitlines()]
    starts = {(r["person"], r["label"]) for r in recs if r.get("event") == "start"}
    jj = {p for p, label in starts if label == "jumping_jacks"}
    jr = {p for p, label in starts if label == "jump_rope"}
    assert len(jj) == 1 and len(jr) == 1 and jj != jr, starts
    on: dict[int, list[tuple[str, float]]] = {}
    for r in recs:
        if "event" not in r:
            on.setdefault(r["person"], []).extend([(r["label"], r["t"])] if r["label"] else [])
    _check_own_actions(on, {next(iter(jj)): 0, next(iter(jr)): 1}, s.actions)
