"""The stream evaluation harness on synthetic labelled streams with known answers."""
from __future__ import annotations

import json

import numpy as np
import pytest
from stream_fixtures import CLASSES, make_model, person_frames

from partkd_stream.recognizer import Recognizer
from partkd_stream.skeleton_io import write_stream
from partkd_stream.smoothing import Event
from train.evaluate_stream import main
from train.lib.annotations import AnnotationError, Segment, load_annotations
from train.lib.stream_eval import StreamRun, rates, run_stream, score_stream, total

FPS = 10.0


def _run(duration: float, events: list[tuple[str, float, float]], states: list[tuple[float, str | None]] = ()):
    """A StreamRun of ``duration`` s at 10 fps with given events and (time, label) predictions."""
    ft = np.arange(int(round(duration * FPS))) / FPS
    return StreamRun(ft, np.array([t for t, _ in states], float), [lab for _, lab in states],
                     [Segment(*e) for e in events])


def test_no_segments_every_event_is_false():
    run = _run(60.0, [("squat", 10.0, 12.0), ("pushup", 30.0, 31.0)])
    c = score_stream(run, [], CLASSES)
    r = rates(c)
    assert c["segments"] == 0 and c["events"] == 2 and c["false_events"] == 2
    assert c["negative_s"] == pytest.approx(60.0)
    assert r["false_events_per_min"] == pytest.approx(2.0)
    assert r["event_precision"] == 0.0 and r["event_recall"] is None and r["delay_median_s"] is None


def test_a_quiet_stream_without_segments_is_perfect():
    run = _run(30.0, [], [(t, None) for t in np.arange(0.6, 30, 0.6)])
    r = rates(score_stream(run, [], CLASSES))
    assert r["false_events_per_min"] == 0.0 and r["frame_accuracy"] == 1.0 and r["event_precision"] is None


def test_overlapping_predictions_count_once_for_recall_and_each_for_precision():
    segs = [Segment("squat", 10.0, 20.0)]
    # two events on the same segment (the second overlapping the first), one wrong label inside it, one outside
    run = _run(40.0, [("squat", 11.0, 15.0), ("squat", 14.0, 21.0), ("pushup", 16.0, 17.0), ("squat", 30.0, 32.0)])
    c = score_stream(run, segs, CLASSES)
    assert c["segments_hit"] == 1 and c["events_correct"] == 2
    assert c["false_events"] == 1            # only the event outside every known segment
    assert c["delays_s"] == [1.0]            # first matching event's start − segment start
    r = rates(c)
    assert r["event_precision"] == pytest.approx(0.5) and r["event_recall"] == 1.0
    assert r["false_events_per_min"] == pytest.approx(1 / 0.5)   # 30 s of footage without a known action


def test_stream_that_ends_mid_action():
    segs = [Segment("jumping_jacks", 5.0, 100.0)]                # annotated past the end of the footage
    run = _run(10.0, [("jumping_jacks", 6.5, 9.9)],              # closed at the last frame by finish()
               [(t, "jumping_jacks" if t >= 6.5 else None) for t in np.arange(0.5, 10.0, 0.5)])
    c = score_stream(run, segs, CLASSES)
    assert c["segments"] == 1 and c["segments_hit"] == 1 and c["delays_s"] == [1.5]
    assert c["duration_s"] == pytest.approx(10.0) and c["negative_s"] == pytest.approx(5.0)
    # frames: 0–4.9 s none (correct), 5–6.4 s truth action but state none (wrong), 6.5–9.9 s correct
    assert c["frames"] == 100 and c["frames_correct"] == 50 + 35
    assert c["action_frames"] == 50 and c["action_frames_correct"] == 35


def test_unknown_labels_are_footage_without_a_known_action():
    segs = [Segment("hug", 0.0, 10.0), Segment("squat", 10.0, 20.0)]
    run = _run(20.0, [("jump_rope", 2.0, 4.0), ("squat", 12.0, 19.0)])
    c = score_stream(run, segs, ["squat", "jump_rope"])
    assert c["segments"] == 1 and c["false_events"] == 1 and c["negative_s"] == pytest.approx(10.0)


def test_totals_sum_counts():
    a = score_stream(_run(60.0, [("squat", 1.0, 2.0)]), [], CLASSES)
    b = score_stream(_run(60.0, []), [], CLASSES)
    assert rates(total([a, b]))["false_events_per_min"] == pytest.approx(0.5)


class _Scripted:
    """A recognizer stand-in that replays predictions: (frame, label, reason, events)."""

    def __init__(self, script):
        self.script = {f: (lab, why, evs) for f, lab, why, evs in script}
        self.t = 0.0

    def update(self, kp, t, layout="mediapipe33", frame=None):
        self.t = t
        if frame not in self.script:
            return None
        lab, why, evs = self.script[frame]
        return type("P", (), {"t": t, "label": lab, "reason": why, "events": evs, "person_present": why is None})()

    def finish(self):
        return [Event("end", "squat", self.t)]


def test_run_stream_pairs_events_and_counts_the_reasons():
    rec = _Scripted([(5, "squat", None, [Event("start", "squat", 0.5)]),
                     (10, None, "unknown", [Event("end", "squat", 1.0)]),
                     (12, None, "unknown", []),
                     (15, "squat", None, [Event("start", "squat", 1.5)])])
    run = run_stream(rec, ((i / FPS, None, "mediapipe33") for i in range(20)))
    assert run.events == [Segment("squat", 0.5, 1.0), Segment("squat", 1.5, 1.9)]
    assert run.pred_label == ["squat", None, None, "squat"] and run.reasons == {"unknown": 2}
    assert run.pred_reason == [None, "unknown", "unknown", None] and run.pred_present == [True, False, False, True]


# --- end to end: the real Recognizer on a skeleton file, through the command line ------------------------------
@pytest.fixture(scope="module")
def stream_files(tmp_path_factory):
    d = tmp_path_factory.mktemp("evalstream")
    model = make_model(d / "tiny.pt")
    write_stream(d / "person.jsonl", "mediapipe33", 30.0, ((t, i, kp) for i, (t, kp) in enumerate(person_frames(150))))
    (d / "labels.yaml").write_text("inputs:\n  - path: person.jsonl\n    segments: [[squat, 1.0, 4.0]]\n"
                                   "  - path: person.jsonl\n    name: again\n    segments: none\n")
    return d, model


def test_command_line_writes_json_and_markdown(stream_files, capsys):
    d, model = stream_files
    rc = main(["--annotations", str(d / "labels.yaml"), "--model", str(model), "--threshold", "0.0",
               "--json", str(d / "out.json"), "--markdown", str(d / "out.md")])
    assert rc == 0
    res = json.loads((d / "out.json").read_text())
    assert [i["name"] for i in res["inputs"]] == ["person", "again"]
    c = res["inputs"][0]["counts"]
    assert c["frames"] == 150 and c["segments"] == 1 and c["events"] >= 1   # threshold 0: some action is on
    assert res["total"]["counts"]["frames"] == 300
    # the same stream through the Recognizer directly gives the same events
    rec = Recognizer.load(str(model), threshold=0.0)
    run = run_stream(rec, ((t, kp, "mediapipe33") for t, kp in person_frames(150)))
    assert [[e.label, round(e.start, 4), round(e.end, 4)] for e in run.events] == c["event_list"]
    assert "| **total** |" in (d / "out.md").read_text() and "| person |" in capsys.readouterr().out


@pytest.mark.parametrize("text, needle", [
    ("inputs: []\n", "non-empty 'inputs'"),
    ("inputs:\n  - path: missing.jsonl\n", "does not exist"),
    ("inputs:\n  - path: person.jsonl\n    segments: [[squat, 3.0, 1.0]]\n", "t_start < t_end"),
    ("inputs:\n  - path: person.jsonl\n    segments: [[squat, 1.0]]\n", "[label, t_start, t_end]"),
    ("inputs: [\n", "not valid YAML"),
])
def test_bad_annotation_files_give_one_line_errors(stream_files, text, needle, capsys):
    d, model = stream_files
    f = d / "bad.yaml"
    f.write_text(text)
    with pytest.raises(AnnotationError, match=None) as e:
        load_annotations(f)
    assert needle in str(e.value) and "\n" not in str(e.value)
    assert main(["--annotations", str(f), "--model", str(model)]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("evaluate_stream: error:") and len(err.splitlines()) == 1


def test_reject_option_judges_the_model_as_the_runtime_would_with_that_card(stream_files, tmp_path, capsys):
    d, model = stream_files
    (tmp_path / "all.json").write_text(json.dumps({"reject": {"method": "score", "score": "msp", "threshold": 1.1}}))
    assert main(["--annotations", str(d / "labels.yaml"), "--model", str(model), "--threshold", "0.0",
                 "--reject", str(tmp_path / "all.json"), "--json", str(tmp_path / "out.json")]) == 0
    res = json.loads((tmp_path / "out.json").read_text())
    assert res["total"]["counts"]["events"] == 0 and res["total"]["counts"]["reasons"]["unknown"] > 0
    assert res["settings"]["reject"]["score"] == "msp" and res["settings"]["reject_from"].endswith("all.json")
    assert "reject msp ≥ 1.1 (from " in capsys.readouterr().out
    (tmp_path / "bg.json").write_text(json.dumps({"method": "background", "score": "not_background",
                                                  "threshold": 0.0}))
    assert main(["--annotations", str(d / "labels.yaml"), "--model", str(model),
                 "--reject", str(tmp_path / "bg.json")]) == 1
    err = capsys.readouterr().err.strip()
    assert "needs 'background' as the last class" in err and len(err.splitlines()) == 1
