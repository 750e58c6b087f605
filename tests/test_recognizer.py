"""The public API on a synthetic keypoint stream, with a tiny random model."""
from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
from stream_fixtures import CLASSES, make_model, person_frames

from partkd_stream.card import CardMismatch
from partkd_stream.convert import convert
from partkd_stream.recognizer import Prediction, Recognizer
from partkd_stream.skeleton_io import SkeletonFileError
from partkd_stream.sinks import JsonlSink, RunSummary


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    """The tiny random model as ONNX + card (ONNX Runtime, one thread: fast even on a busy machine)."""
    from partkd_stream.card import export_deployable
    from partkd_stream.checkpoint import load_checkpoint

    d = tmp_path_factory.mktemp("model")
    export_deployable(load_checkpoint(make_model(d / "src.pt")), d, "tiny", save_weights=False)
    return d / "tiny.onnx"


def test_predictions_every_stride_with_the_documented_record(model_path):
    rec = Recognizer.load(str(model_path), every=5 / 30, threshold=1.0)
    preds = [(i, rec.update(kp, t)) for i, (t, kp) in enumerate(person_frames(40))]
    due = [i for i, p in preds if p is not None]
    assert due == [4, 9, 14, 19, 24, 29, 34, 39]
    # warm-up: a person in view, but no judgement until the stream holds half a model window (16 frames at 30 fps)
    warm = [q for i, q in preds if q is not None and i < 16]
    assert warm and all(q.person_present and q.label is None and q.topk == [] and q.reason == "warming_up"
                        for q in warm)
    p = preds[29][1]
    assert isinstance(p, Prediction) and p.frame == 29 and p.t == pytest.approx(29 / 30)
    assert p.person_present and p.label is None and p.reason == "below_threshold"   # threshold 1: no action
    assert len(p.topk) == 3 and {lab for lab, _ in p.topk} == set(CLASSES)
    assert sum(s for _, s in p.topk) == pytest.approx(1.0, abs=1e-3)
    d = p.to_dict()
    assert set(d) == {"t", "frame", "person", "label", "score", "topk", "person_present", "reason", "held"}
    assert d["person"] is None                                                  # one person: no track id
    assert json.loads(json.dumps(d, allow_nan=False)) == d
    assert all(not q.events for _, q in preds if q is not None)


@pytest.mark.parametrize("fps", [10, 15, 30, 60])
def test_predictions_come_every_0_2_s_of_stream_time_at_any_frame_rate(model_path, fps):
    """The cadence is in stream time: 10 predictions in 2 s at 10, 15, 30 or 60 fps, also with a jittery clock."""
    rng = np.random.default_rng(fps)
    for jitter in (0.0, 0.2 / fps):
        rec = Recognizer.load(str(model_path))
        ts = np.arange(2 * fps) / fps + rng.uniform(-jitter, jitter, 2 * fps) * (np.arange(2 * fps) > 0)
        kp = person_frames(1)[0][1]
        due = [t for t in ts if rec.update(kp, float(t)) is not None]
        assert len(due) == 10 and np.allclose(np.diff(due), 0.2, atol=1.01 / fps), (fps, jitter, due)
    with pytest.raises(ValueError, match="every must be"):
        Recognizer.load(str(model_path), every=0)


def test_start_and_end_events_and_silence_without_a_person(model_path):
    rec = Recognizer.load(str(model_path), every=3 / 30, smooth=2, threshold=0.0)
    events, preds = [], []
    frames = person_frames(90)
    for t, kp in frames:                                          # 3 s with a person
        p = rec.update(kp, t)
        if p:
            preds.append(p)
            events += p.events
    assert events and events[0].event == "start" and events[0].label in CLASSES
    assert all(p.person_present and p.label is not None for p in preds if p.t > 0.6)
    n_before = len(events)
    absent = []
    for i in range(90, 210):                                      # 4 s with nobody in view
        p = rec.update(None, i / 30.0)
        if p:
            absent.append(p)
            events += p.events
    new = events[n_before:]
    assert [e.event for e in new] == ["end"] and new[0].label == events[n_before - 1].label
    assert not absent[-1].person_present and absent[-1].label is None and absent[-1].topk == []
    assert absent[-1].reason == "no_person"
    assert rec.finish() == []


def run(rec: Recognizer, frames, layout: str = "mediapipe33") -> list[dict]:
    """Every prediction and event of a stream as records."""
    out = []
    for t, kp in frames:
        p = rec.update(kp, t, layout=layout)
        if p:
            out += [p.to_dict()] + [e.to_dict() for e in p.events]
    return out + [e.to_dict() for e in rec.finish()]


def test_other_layouts_give_the_same_predictions_and_a_3d_source_is_refused(model_path):
    """MediaPipe frames, and the same frames converted to COCO-17 or Penn-13 first, are one model input."""
    frames = person_frames(60)
    want = run(Recognizer.load(str(model_path), every=5 / 30, threshold=0.0), frames)
    assert [r for r in want if r.get("label")], "the model must judge something for the comparison to mean much"
    for layout in ("coco17", "penn13"):
        converted = [(t, convert(kp, "mediapipe33", layout)) for t, kp in frames]
        got = run(Recognizer.load(str(model_path), every=5 / 30, threshold=0.0), converted, layout=layout)
        assert _close(got, want), layout
    rec = Recognizer.load(str(model_path), every=1 / 30)
    with pytest.raises(CardMismatch, match="2D"):
        rec.update(np.ones((25, 4), np.float32), 0.2, layout="ntu25")
    with pytest.raises(SkeletonFileError, match="17 joints per frame, but layout mediapipe33 has 33"):
        rec.update(np.ones((17, 3), np.float32), 0.3)


def _close(a: list[dict], b: list[dict]) -> bool:
    """Records equal, scores to 1e-4 (the conversion reorders float sums)."""
    if len(a) != len(b):
        return False
    for x, y in zip(a, b):
        if set(x) != set(y) or any(x[k] != y[k] for k in x if k not in ("score", "topk")):
            return False
        if abs(x.get("score", 0) - y.get("score", 0)) > 1e-4:
            return False
        if [lab for lab, _ in x.get("topk", [])] != [lab for lab, _ in y.get("topk", [])]:
            return False
        if any(abs(s - u) > 1e-4 for (_, s), (_, u) in zip(x.get("topk", []), y.get("topk", []))):
            return False
    return True


def test_reset_forgets_the_stream_and_its_smoothing(model_path):
    """After ``reset`` a recognizer answers a stream exactly like a fresh one — smoothing history included
    (stride 30 > the 24-frame warm-up, so the first judgement averages with whatever history is left)."""
    first, second = person_frames(150), person_frames(120, kind="jump_rope")
    kw = dict(every=30 / 30, smooth=4, threshold=0.0, confirm=1)
    rec = Recognizer.load(str(model_path), **kw)
    for t, kp in first:               # the old stream ends with an action on
        rec.update(kp, t)
    assert rec.active() is not None and rec.frames_seen == 150
    rec.reset()
    assert rec.frames_seen == 0 and rec.dropped_frames == 0
    assert run(rec, second) == run(Recognizer.load(str(model_path), **kw), second)


def test_bad_timestamps_are_dropped_counted_and_poison_nothing(model_path):
    frames = person_frames(90)
    want = run(Recognizer.load(str(model_path), every=3 / 30, threshold=0.0), frames)
    bad = list(frames)
    kp = frames[10][1]
    bad.insert(20, (float("inf"), kp))
    bad.insert(30, (float("nan"), kp))
    bad.insert(40, (0.5, kp))                     # backwards: 0.5 s after ~1.3 s
    bad.insert(50, (bad[49][0], kp))             # the same time again
    bad.insert(60, (1e300, kp))                  # beyond any clock
    rec = Recognizer.load(str(model_path), every=3 / 30, threshold=0.0)
    got = run(rec, bad)
    assert rec.dropped_frames == 5
    assert got == want
    for t in (float("nan"), 0.1):                # the end of a stream cannot come before its last frame
        rec2 = Recognizer.load(str(model_path), every=3 / 30, threshold=0.0, confirm=1)
        for tf, kp in frames:
            rec2.update(kp, tf)
        assert [(e.event, e.t) for e in rec2.finish(t)] == [("end", frames[-1][0])]
    ends = [r["t"] for r in got if r.get("event") == "end"]
    starts = [r["t"] for r in got if r.get("event") == "start"]
    assert all(e >= s for s, e in zip(starts, ends))      # no negative-duration action


@pytest.mark.parametrize("value", [np.inf, -np.inf, np.nan, 1e300, 2e6])
def test_absurd_coordinates_are_missing_joints_without_warnings(model_path, value):
    """A joint at x = inf (or 1e300, or beyond 1e6 px) with its visibility kept is a missing joint: frames where
    every joint is so are no person, and nothing prints RuntimeWarnings."""
    rec = Recognizer.load(str(model_path), every=3 / 30, threshold=0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        recs = []
        for t, kp in person_frames(60):
            kp = kp.astype(np.float64)
            kp[:, 0] = value
            p = rec.update(kp, t)
            if p:
                recs.append(p.to_dict())
    assert recs and all(r["label"] is None and r["reason"] == "no_person" for r in recs)
    json.dumps(recs, allow_nan=False)


def test_one_absurd_joint_is_the_same_as_a_missing_one(model_path):
    frames = person_frames(60)
    missing, absurd = [], []
    for t, kp in frames:
        a, b = kp.copy(), kp.astype(np.float64)
        a[15, 2] = 0.0                                   # left wrist not seen
        b[15, 0] = 1e18                                  # left wrist at an absurd place, visibility kept
        missing.append((t, a))
        absurd.append((t, b))
    kw = dict(every=5 / 30, threshold=0.0)
    assert run(Recognizer.load(str(model_path), **kw), absurd) == run(Recognizer.load(str(model_path), **kw), missing)


def test_every_record_tells_one_story(model_path):
    """label / score / topk / held / reason follow the rule of ``partkd_stream.smoothing`` on a real stream."""
    rec = Recognizer.load(str(model_path), every=2 / 30, smooth=3, threshold=0.45, confirm=2)
    frames = person_frames(150) + [(5 + i / 30, None) for i in range(45)] + \
        [(6.5 + t, kp) for t, kp in person_frames(150, kind="jump_rope")]
    recs = [r for r in run(rec, frames) if "event" not in r]
    for r in recs:
        if r["label"] is None:
            assert r["reason"] in ("warming_up", "no_person", "below_threshold", "confirming") and not r["held"]
            if r["topk"]:
                assert r["score"] == pytest.approx(r["topk"][0][1], abs=1e-4)
                assert (r["score"] >= 0.45) == (r["reason"] == "confirming")
        else:
            assert r["reason"] is None
            top_label, top = r["topk"][0]
            assert r["held"] == (not (r["label"] == top_label and top >= 0.45))
    assert {r["reason"] for r in recs} >= {"warming_up", "no_person"}


def test_jsonl_sink_flushes_every_line_and_summary_lists_actions(tmp_path, model_path):
    path = tmp_path / "run.jsonl"
    sink = JsonlSink(path)
    rec = Recognizer.load(str(model_path), every=2 / 30, threshold=0.0, smooth=1)
    summary = RunSummary("synthetic")
    written = 0
    for t, kp in person_frames(40):
        p = rec.update(kp, t)
        if p:
            sink.prediction(p)
            sink.events(p.events)
            summary.add_events(p.events)
            written += 1 + len(p.events)
            lines = path.read_text().splitlines()               # read while the sink is still open
            assert len(lines) == written and all(json.loads(x) for x in lines)
    ends = rec.finish()
    sink.events(ends)
    summary.add_events(ends)
    sink.close()
    recs = [json.loads(x) for x in path.read_text().splitlines()]
    ev = [r for r in recs if "event" in r]
    assert [e["event"] for e in ev][0] == "start" and ev[-1]["event"] == "end"
    assert all(set(e) == {"event", "label", "t", "person"} and e["person"] is None for e in ev)
    assert summary.actions and "action(s)" in summary.text()


# --- several people --------------------------------------------------------------------------------------------
def run_people(rec: Recognizer, frames, layout: str = "mediapipe33") -> list[dict]:
    """Every prediction and event of a several-people stream ``[(t, [skeleton, …]), …]`` as records."""
    out = []
    for t, people in frames:
        for p in rec.update_people(people, t, layout=layout):
            out += [p.to_dict()] + [e.to_dict() for e in p.events]
    return out + [e.to_dict() for e in rec.finish()]


def test_one_person_through_update_people_is_what_update_gives(model_path):
    """Same frames (a short gap included), same records — only ``person`` differs: the track id against null."""
    from partkd_stream.tracking import PersonTracker

    frames = [(t, None if 40 <= i < 50 else kp) for i, (t, kp) in enumerate(person_frames(120))]
    kw = dict(every=5 / 30, threshold=0.0, confirm=1)
    want = run(Recognizer.load(str(model_path), **kw), frames)
    got = run_people(Recognizer.load(str(model_path), tracker=PersonTracker(confirm_hits=1), **kw),
                     [(t, [] if kp is None else [kp]) for t, kp in frames])
    assert [r for r in want if "event" in r] and {r["person"] for r in got} == {1}
    assert [{**r, "person": None} for r in got] == want


def test_a_person_who_leaves_gets_a_last_record_with_their_end_then_a_new_id(model_path):
    rec = Recognizer.load(str(model_path), every=3 / 30, threshold=0.0, confirm=1)
    for t, kp in person_frames(60):
        rec.update_people([kp], t)
    assert rec.people() == [1] and rec.active(1) is not None
    gone = [p for i in range(60, 90) for p in rec.update_people([], i / 30.0)]
    last = gone[-1]
    assert [p.person for p in gone] == [1] * len(gone) and rec.people() == []
    assert last.reason == "no_person" and not last.person_present and last.label is None
    assert [(e.event, e.person) for e in last.events] == [("end", 1)]
    assert 0.5 < last.t - 59 / 30 < 0.6                      # the tracker's max_missed_s after the last sighting
    assert all(not p.events for p in gone[:-1]) and all(p.reason != "no_person" for p in gone[:-1])
    back = [p for t, kp in person_frames(60) for p in rec.update_people([kp], 3.0 + t)]
    assert {p.person for p in back} == {2} and rec.windows.slots == 1      # a new id in the freed slot
    assert back[0].reason == "warming_up"                                  # its window starts empty
    ends = rec.finish()
    assert [(e.event, e.person) for e in ends] == [("end", 2)] and rec.people() == []


def test_people_each_have_their_own_window_smoother_and_events(model_path):
    """Two people far apart, one in view all along, the other arriving later: the newcomer warms up alone, and a
    frame with a bad clock is dropped for everyone."""
    from partkd_stream.synthetic import placed

    rec = Recognizer.load(str(model_path), every=2 / 30, threshold=0.0, confirm=1)
    frames = [(k / 30, [placed(300, kind="jumping_jacks", t=k / 30)]
               + ([placed(900, kind="jump_rope", t=k / 30)] if k >= 45 else [])) for k in range(120)]
    frames.insert(70, (float("nan"), frames[69][1]))
    frames.insert(80, (frames[78][0], frames[78][1]))                     # the same time again
    recs = run_people(rec, frames)
    assert rec.dropped_frames == 2
    preds = [r for r in recs if "event" not in r]
    first_of_2 = next(r for r in preds if r["person"] == 2)
    assert first_of_2["reason"] == "warming_up" and first_of_2["t"] > 45 / 30
    one_at_that_time = [r for r in preds if r["person"] == 1 and r["t"] == first_of_2["t"]]
    assert one_at_that_time and one_at_that_time[0]["reason"] is None     # person 1 is judged meanwhile
    assert {r["person"] for r in recs if r.get("event")} == {1, 2}
    with pytest.raises(ValueError, match="update_people"):
        rec.update(frames[0][1][0], 100.0)
    rec.reset()
    assert rec.update(frames[0][1][0], 0.0) is None and rec.people() == []


@pytest.mark.parametrize("value", [np.inf, np.nan, 1e300])
def test_absurd_people_are_nobody_without_warnings(model_path, value):
    """A detection whose every coordinate is absurd never becomes a person; one absurd joint costs that joint."""
    rec = Recognizer.load(str(model_path), every=3 / 30, threshold=0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        recs = []
        for t, kp in person_frames(60):
            ghost = kp.astype(np.float64)
            ghost[:, :2] = value
            hurt = kp.astype(np.float64)
            hurt[15, 0] = value
            recs += [p.to_dict() for p in rec.update_people([ghost, hurt], t)]
    assert rec.people() == [1] and {r["person"] for r in recs} == {1}
    assert recs[-1]["person_present"] and recs[-1]["reason"] is None
    json.dumps(recs, allow_nan=False)
