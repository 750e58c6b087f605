"""Several shipped models, chosen by name (``--model penn``), listed by ``partkd-stream models``, each with the
presence rule its card gives (an upper-body model counts a person at a desk)."""
from __future__ import annotations

import json

import numpy as np
import pytest
from stream_fixtures import CLASSES, make_model, person_frames

from partkd_stream import app, cli, models
from partkd_stream.backends import ModelLoadError, load_model
from partkd_stream.card import CardMismatch, ModelCard, export_deployable
from partkd_stream.checkpoint import load_checkpoint
from partkd_stream.layouts import get_layout
from partkd_stream.recognizer import Recognizer
from partkd_stream.reject import BACKGROUND
from partkd_stream.skeleton_io import write_stream
from partkd_stream.window import PRESENCE_RULES, PresenceRule, frame_has_person

UPPER = PRESENCE_RULES["upper_body"].to_dict()
LOWER_BODY = [j for j in get_layout("mediapipe33").joints if j.split("_")[-1] in
              ("hip", "knee", "ankle", "heel", "index") and not j.endswith(("left_index", "right_index"))]


def hipless(kp: np.ndarray) -> np.ndarray:
    """A desk-webcam frame: hips, legs and feet out of view (score 0)."""
    kp = kp.copy()
    lay = get_layout("mediapipe33")
    kp[[lay.index(j) for j in LOWER_BODY], 2] = 0.0
    return kp


@pytest.fixture(scope="module")
def engines(tmp_path_factory):
    """A shipped-models folder: ``penn_student`` (full-body rule, closed set, metrics) and ``everyday``
    (upper-body rule, a background class)."""
    d = tmp_path_factory.mktemp("engines")
    penn = make_model(d / "src_penn.pt", meta={"metrics": {"test": {"top1": 0.919, "stream_top1": 0.928}}})
    export_deployable(load_checkpoint(penn), d, "penn_student", save_weights=False)
    every = make_model(d / "src_every.pt", classes=CLASSES + [BACKGROUND], logits=[0.0, 3.0, 0.0, 0.0],
                       meta={"presence": UPPER,
                             "reject": {"method": "background", "score": "not_background", "threshold": 0.0}})
    export_deployable(load_checkpoint(every), d, "everyday", save_weights=False)
    for f in d.glob("src_*.pt"):
        f.unlink()
    return d


@pytest.fixture
def shipped(engines, monkeypatch):
    monkeypatch.setattr(models, "engines_dir", lambda: engines)
    monkeypatch.delenv("PARTKD_MODEL", raising=False)
    return engines


def test_a_name_is_the_file_stem_with_or_without_student(shipped, tmp_path, monkeypatch):
    assert models.resolve_model("penn") == models.resolve_model("penn_student") == shipped / "penn_student.onnx"
    assert models.resolve_model("everyday") == shipped / "everyday.onnx"
    assert models.resolve_model(None) == shipped / "penn_student.onnx"                 # the default: penn
    assert models.resolve_model("x/m.onnx") == models.resolve_model("m.pt").parent / "x" / "m.onnx"  # paths
    monkeypatch.setenv("PARTKD_MODEL", "everyday")                                        # a name or a path
    assert models.resolve_model(None) == shipped / "everyday.onnx"
    assert models.resolve_model("penn") == shipped / "penn_student.onnx"                # a given name still wins
    monkeypatch.setenv("PARTKD_MODEL", "evryday")
    with pytest.raises(models.UnknownModel, match=r"\$PARTKD_MODEL=evryday: .*did you mean 'everyday'"):
        models.resolve_model(None)
    monkeypatch.delenv("PARTKD_MODEL")
    with pytest.raises(ModelLoadError, match="no shipped model named 'pen' in .*; did you mean 'penn'") as e:
        load_model("pen")
    assert "\n" not in str(e.value) and "everyday, penn" in str(e.value)
    assert load_model("everyday").card.name == "everyday"


def test_models_lists_the_shipped_models(shipped, capsys):
    assert cli.main(["models"]) == 0
    out = capsys.readouterr().out
    assert "penn  (default)  penn_student.onnx" in out and "everyday  everyday.onnx" in out
    assert "actions   3: jumping_jacks, squat, pushup" in out                  # background is no action
    assert "clip top-1 91.9 %, streaming top-1 92.8 %" in out and "accuracy  not in the card" in out
    assert "presence  full body: one side: 3 of shoulder/elbow/wrist/hip/knee/ankle, 1 of hip/knee/ankle ≥ 0.8" in out
    assert "presence  card: one side: shoulder, 1 of elbow/wrist ≥ 0.7; 60 % of 2 s" in out
    assert "reject    none (closed set)" in out and "reject    background class" in out
    assert cli.main(["models", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    by = {m["name"]: m for m in d["models"]}
    assert d["default"] == "penn" and set(by) == {"penn", "everyday"}
    assert by["everyday"]["classes"] == CLASSES and by["everyday"]["presence"] == UPPER
    assert by["everyday"]["reject"]["method"] == "background" and by["penn"]["reject"] is None
    assert by["penn"]["accuracy"] == {"top1": 0.919, "stream_top1": 0.928}
    assert (by["penn"]["layout"], by["penn"]["window"], by["penn"]["fps"]) == ("penn13", 32, 30.0)


def test_an_upper_body_card_counts_a_person_at_a_desk_and_the_penn_card_does_not(shipped):
    frames = [(t, hipless(kp)) for t, kp in person_frames(120)]
    assert frame_has_person(frames[0][1], "mediapipe33", PRESENCE_RULES["upper_body"])
    assert not frame_has_person(frames[0][1], "mediapipe33")
    for name, present in (("everyday", True), ("penn", False)):
        rec = Recognizer.load(name)
        assert rec.presence == (PresenceRule(**UPPER) if present else PresenceRule())
        preds = [p for t, kp in frames if (p := rec.update(kp, t)) is not None]
        assert all(p.person_present == present for p in preds), name
        judged = [p for p in preds if p.reason != "warming_up"]
        if present:
            assert [e.label for p in judged for e in p.events if e.event == "start"] == ["squat"]
        else:
            assert judged and all(p.reason == "no_person" for p in judged)


def test_model_by_name_in_the_run_mode(shipped, tmp_path, capsys):
    stream = tmp_path / "desk.jsonl"
    write_stream(stream, "mediapipe33", 30.0, ((t, i, hipless(kp)) for i, (t, kp) in enumerate(person_frames(120))))
    for name, want in (("everyday", "squat"), ("penn", None)):
        out = tmp_path / f"{name}.jsonl"
        assert app.main(["--skeletons", str(stream), "--model", name, "--out", str(out)]) == 0
        recs = [json.loads(x) for x in out.read_text().splitlines()]
        starts = [r["label"] for r in recs if r.get("event") == "start"]
        assert starts == ([want] if want else []), name
        assert any(r.get("person_present") for r in recs) == (want is not None)
    assert "states: no person 100 %" in capsys.readouterr().out   # the penn run's summary says why nothing was found
    assert app.main(["--skeletons", str(stream), "--model", "walking", "--quiet"]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("partkd-stream: error: no shipped model named 'walking'") and "\n" not in err


@pytest.mark.parametrize("presence, match", [
    ({"torso": ["left_shoulder", "left_hipp"]}, "presence joint 'left_hipp' is no joint of any layout"),
    ({"torso": "left_shoulder"}, "must be a list of joint names"),
    ({"min_score": 1.5}, "min_score must be a number in"),
    ({"min_arm_joints": 5}, "min_arm_joints must be a whole number from 0 to 4"),
    ({"colour": "red"}, "unknown presence fields"),
    ("upper_body", "presence must be an object"),
])
def test_a_bad_card_presence_is_a_one_line_card_mismatch(engines, presence, match):
    d = json.loads((engines / "penn_student.card.json").read_text())
    with pytest.raises(CardMismatch, match=match) as e:
        ModelCard.from_dict({**d, "presence": presence})
    assert "\n" not in str(e.value) and str(e.value).startswith("invalid card: ")
    assert ModelCard.from_dict({**d, "presence": UPPER}).presence_rule == PRESENCE_RULES["upper_body"]
