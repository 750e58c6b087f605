"""The public API on a synthetic keypoint stream, with a tiny random model (PyTorch backend)."""
from __future__ import annotations

import json

import numpy as np
import pytest
from stream_fixtures import CLASSES, make_model, person_frames

from partkd_stream.card import CardMismatch
from partkd_stream.recognizer import Prediction, Recognizer
from partkd_stream.sinks import JsonlSink, RunSummary


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    return make_model(tmp_path_factory.mktemp("model") / "tiny.pt")


def test_predictions_every_stride_with_the_documented_record(model_path):
    rec = Recognizer.load(str(model_path), stride=5, threshold=1.0)
    preds = [(i, rec.update(kp, t)) for i, (t, kp) in enumerate(person_frames(40))]
    due = [i for i, p in preds if p is not None]
    assert due == [4, 9, 14, 19, 24, 29, 34, 39]
    # warm-up: no judgement until the stream holds half a model window (16 frames at 30 fps)
    assert all(not q.person_present and q.topk == [] for i, q in preds[:15] if q is not None)
    p = preds[19][1]
    assert isinstance(p, Prediction) and p.frame == 19 and p.t == pytest.approx(19 / 30)
    assert p.person_present and p.label is None                 # threshold 1: always "no action"
    assert len(p.topk) == 3 and {lab for lab, _ in p.topk} == set(CLASSES)
    assert sum(s for _, s in p.topk) == pytest.approx(1.0, abs=1e-3)
    d = p.to_dict()
    assert set(d) == {"t", "frame", "label", "score", "reason", "topk", "person_present"}
    assert json.loads(json.dumps(d)) == d
    assert all(not q.events for _, q in preds if q is not None)


def test_reason_says_why_there_is_no_label(model_path):
    """warming_up until half a window (16 frames at 30 fps), then below_threshold / an action / no_person."""
    frames = person_frames(40)
    quiet = Recognizer.load(str(model_path), stride=2, threshold=1.0)
    reasons = {i: p.reason for i, (t, kp) in enumerate(frames) if (p := quiet.update(kp, t))}
    assert {reasons[i] for i in reasons if i < 15} == {"warming_up"}
    assert {reasons[i] for i in reasons if i > 17} == {"below_threshold"}
    eager = Recognizer.load(str(model_path), stride=2, threshold=0.0, confirm=1)
    preds = [p for t, kp in frames if (p := eager.update(kp, t))]
    assert preds[-1].label is not None and preds[-1].reason is None
    gone = [p for i in range(40, 140) if (p := eager.update(None, i / 30.0))]
    assert gone[-1].reason == "no_person" and gone[-1].to_dict()["reason"] == "no_person"


def test_start_and_end_events_and_silence_without_a_person(model_path):
    rec = Recognizer.load(str(model_path), stride=3, smooth=2, threshold=0.0)
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
    assert rec.finish() == []


def test_other_layouts_convert_and_a_3d_source_is_refused(model_path):
    rec = Recognizer.load(str(model_path), stride=1)
    penn = np.concatenate([np.random.default_rng(0).uniform(0, 200, (13, 2)), np.ones((13, 1))], 1)
    assert rec.update(penn, 0.0, layout="penn13") is not None
    coco = np.concatenate([np.random.default_rng(1).uniform(0, 200, (17, 2)), np.ones((17, 1))], 1)
    assert rec.update(coco, 0.1, layout="coco17") is not None
    with pytest.raises(CardMismatch, match="2D"):
        rec.update(np.ones((25, 4), np.float32), 0.2, layout="ntu25")


def test_jsonl_sink_flushes_every_line_and_summary_lists_actions(tmp_path, model_path):
    path = tmp_path / "run.jsonl"
    sink = JsonlSink(path)
    rec = Recognizer.load(str(model_path), stride=2, threshold=0.0, smooth=1)
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
    assert all(set(e) == {"event", "label", "t"} for e in ev)
    assert summary.actions and "action(s)" in summary.text()
