"""The open-set reject in the runtime: the card's ``reject`` field, the unknown share, and what a record says."""
from __future__ import annotations

import json

import numpy as np
import pytest
from stream_fixtures import CLASSES, make_model, person_frames

from partkd_stream.backends import ModelLoadError, load_model
from partkd_stream.card import CardMismatch, ModelCard, export_deployable
from partkd_stream.checkpoint import load_checkpoint
from partkd_stream.recognizer import Recognizer
from partkd_stream.reject import BACKGROUND, OpenSet, Reject, RejectError
from partkd_stream.sinks import RunSummary

BG = CLASSES + [BACKGROUND]
ENERGY = {"method": "score", "score": "energy", "threshold": 3.0, "target_recall": 0.95,
          "calibrated_on": "validation windows", "temperature": 1.0}


def one_line(e: BaseException) -> str:
    msg = str(e)
    assert msg and "\n" not in msg and "Traceback" not in msg
    return msg


# --- the probabilities ---------------------------------------------------------------------------------------------
def test_a_closed_set_model_gets_an_empty_unknown_share():
    z = np.array([[2.0, 0.0, -1.0], [0.0, 0.0, 0.0]])
    p = OpenSet(CLASSES).probs(z)
    assert p.shape == (2, 4) and np.allclose(p.sum(1), 1) and (p[:, -1] == 0).all()
    assert OpenSet(CLASSES).closed and OpenSet(CLASSES).actions == CLASSES


def test_a_background_class_is_the_unknown_share_and_never_an_action():
    os_ = OpenSet(BG)
    assert os_.actions == CLASSES and not os_.closed
    p = os_.probs(np.array([[0.0, 0.0, 0.0, 3.0]]))
    assert p.shape == (1, 4) and p[0, -1] > 0.8 and np.isclose(p.sum(), 1)


def test_a_rejected_window_gives_all_its_mass_to_unknown():
    z = np.array([[5.0, 0.0, 0.0], [0.2, 0.1, 0.0]])            # confident, and nearly uniform
    p = OpenSet(CLASSES, Reject(method="score", score="msp", threshold=0.5)).probs(z)
    assert p[0, -1] == 0 and p[0, 0] > 0.9
    assert p[1].tolist() == [0, 0, 0, 1]
    # a background model with a threshold on top: the class share, and all of it for a rejected window
    zb = np.array([[4.0, 0.0, 0.0, 1.0], [0.5, 0.0, 0.0, 2.0]])
    pb = OpenSet(BG, Reject(method="background", score="not_background", threshold=0.5)).probs(zb)
    assert 0 < pb[0, -1] < 0.1 and pb[1].tolist() == [0, 0, 0, 1]


@pytest.mark.parametrize("spec, match", [
    ({**ENERGY, "threshold": float("inf")}, "threshold must be a finite number"),
    ({**ENERGY, "threshold": "3"}, "threshold must be a finite number"),
    ({**ENERGY, "method": "vote"}, "unknown reject method 'vote'"),
    ({**ENERGY, "score": "entropy"}, "unknown reject score 'entropy'"),
    ({**ENERGY, "target_recall": 1.5}, "target_recall must be in"),
    ({**ENERGY, "temperature": 0}, "temperature must be a number > 0"),
    ({**ENERGY, "colour": 1}, "unknown reject fields"),
    ({"method": "score", "score": "energy"}, "lacks threshold"),
    ("energy", "reject must be an object"),
])
def test_a_bad_reject_is_one_line(spec, match):
    with pytest.raises(RejectError, match=match) as e:
        Reject.from_dict(spec)
    one_line(e.value)


@pytest.mark.parametrize("temperature", [1e-300, 1e-308, 5e-324, 1e300])
def test_energy_is_finite_and_warning_free_at_any_temperature(temperature):
    """T·logsumexp(z / T) computed as max z + T·log Σ exp((z − max z) / T): with T = 1e-308 the old form overflowed
    in z / T (RuntimeWarnings) and made inf − inf, a NaN score, so every window was unknown; the limit T → 0 is the
    largest logit."""
    import warnings

    from partkd_stream.reject import score_logits

    z = np.array([[3.0, 1.0, -2.0], [0.5, 0.4, 0.3]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        e = score_logits(z, "energy", temperature=temperature)
        accepted = Reject(**{**ENERGY, "temperature": temperature, "threshold": 1.0}).accept(z, CLASSES)
    assert np.isfinite(e).all()
    if temperature < 1:
        assert e.tolist() == [3.0, 0.5] and accepted.tolist() == [True, False]
    else:
        assert (e > 1e300).all() and accepted.all()
    assert np.allclose(score_logits(z, "energy", temperature=1.0), np.log(np.exp(z).sum(-1)))


def test_reject_files_load_in_both_shapes(tmp_path):
    (tmp_path / "a.json").write_text(json.dumps({"reject": ENERGY}))
    (tmp_path / "b.json").write_text(json.dumps(ENERGY))
    assert Reject.load(tmp_path / "a.json") == Reject.load(tmp_path / "b.json") == Reject(**ENERGY)
    with pytest.raises(RejectError, match="not found"):
        Reject.load(tmp_path / "nope.json")
    (tmp_path / "c.json").write_text("{")
    with pytest.raises(RejectError, match="c.json: not valid JSON") as e:
        Reject.load(tmp_path / "c.json")
    one_line(e.value)


# --- the card ------------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def card_dict(tmp_path_factory):
    d = tmp_path_factory.mktemp("card")
    export_deployable(load_checkpoint(make_model(d / "src.pt")), d, "m", save_weights=False)
    return json.loads((d / "m.card.json").read_text())


def test_old_cards_load_unchanged_and_a_reject_round_trips(card_dict):
    assert "reject" not in card_dict and "presence" not in card_dict     # none given: the card reads as an old one
    card = ModelCard.from_dict(card_dict)
    assert card.reject is None and card.open_set.closed
    with_reject = ModelCard.from_dict({**card_dict, "reject": ENERGY})
    assert with_reject.reject == Reject(**ENERGY)
    assert ModelCard.from_json(with_reject.to_json()).reject == Reject(**ENERGY)
    assert json.loads(with_reject.to_json())["reject"] == ENERGY


@pytest.mark.parametrize("reject, match", [
    ({**ENERGY, "threshold": None}, "threshold must be a finite number"),
    ({**ENERGY, "method": "background", "score": "not_background"}, "needs 'background' as the last class"),
    ({**ENERGY, "score": "not_background"}, "needs 'background' as the last class"),
    ([1, 2], "reject must be an object"),
])
def test_a_bad_card_reject_is_a_one_line_card_mismatch(card_dict, reject, match):
    with pytest.raises(CardMismatch, match=match) as e:
        ModelCard.from_dict({**card_dict, "reject": reject})
    assert one_line(e.value).startswith("invalid card: ")


def test_a_checkpoints_meta_reject_reaches_its_card_and_the_exported_files(tmp_path):
    bg = {"method": "background", "score": "not_background", "threshold": 0.0}
    src = make_model(tmp_path / "bg.pt", classes=BG, meta={"reject": bg})
    assert load_model(src).card.reject == Reject(**bg)                 # a .pt carries its own card
    card = export_deployable(load_checkpoint(src), tmp_path / "out", "bg")
    assert card.reject == Reject(**bg) and "reject" not in card.training
    assert ModelCard.load(tmp_path / "out" / "bg.card.json").reject == Reject(**bg)
    assert load_checkpoint(tmp_path / "out" / "bg.pt").meta["reject"] == Reject(**bg).to_dict()
    bad = make_model(tmp_path / "bad.pt", meta={"reject": bg})          # background reject without the class
    with pytest.raises(ModelLoadError, match="bad.pt: invalid card: .*needs 'background'") as e:
        load_model(bad)
    one_line(e.value)


# --- the recognizer ------------------------------------------------------------------------------------------------
def _run(model_path, n=150, **kw):
    rec = Recognizer.load(str(model_path), **kw)
    preds = [p for t, kp in person_frames(n) if (p := rec.update(kp, t)) is not None]
    return rec, preds, rec.finish()


def test_a_reject_that_fires_makes_no_action_with_reason_unknown(tmp_path):
    always = make_model(tmp_path / "r.pt", meta={"reject": {"method": "score", "score": "msp", "threshold": 1.1}})
    rec, preds, ends = _run(always, threshold=0.0)
    judged = [p for p in preds if p.reason not in ("warming_up",)]
    assert judged and all(p.label is None and p.reason == "unknown" and not p.events for p in judged)
    assert all(p.score == 1.0 and [lab for lab, _ in p.topk] and {lab for lab, _ in p.topk} <= set(CLASSES)
               for p in judged)                       # score: the unknown share; topk: actions only
    assert ends == [] and rec.classes == CLASSES
    d = judged[-1].to_dict()
    assert d["label"] is None and d["reason"] == "unknown"
    s = RunSummary("x")
    for p in preds:
        s.add_prediction(p)
    assert "unknown action" in s.text() and "no action recognised" in s.text()
    never = make_model(tmp_path / "n.pt", meta={"reject": {"method": "score", "score": "msp", "threshold": 0.0}})
    _, preds, _ = _run(never, threshold=0.0)
    assert any(p.label in CLASSES for p in preds) and not any(p.reason == "unknown" for p in preds)


def test_a_background_model_never_announces_background(tmp_path):
    bg_wins = make_model(tmp_path / "bg.pt", classes=BG, logits=[0.0, 0.0, 0.0, 4.0])
    _, preds, _ = _run(bg_wins, threshold=0.0)
    judged = [p for p in preds if p.reason != "warming_up"]
    assert judged and all(p.label is None and p.reason == "unknown" for p in judged)
    assert all(BACKGROUND not in [lab for lab, _ in p.topk] for p in judged)
    action_wins = make_model(tmp_path / "act.pt", classes=BG, logits=[0.0, 4.0, 0.0, 1.0])
    _, preds, ends = _run(action_wins)
    assert {p.label for p in preds if p.label} == {"squat"} and [e.label for e in ends] == ["squat"]
    assert all(len(p.topk) == 3 and BACKGROUND not in dict(p.topk) for p in preds if p.topk)
