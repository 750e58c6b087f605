"""Reject scores, threshold calibration, AUROC / FPR (the runtime's reject itself: test_reject.py)."""
from __future__ import annotations

import itertools
import json

import numpy as np
import pytest

from partkd_stream import reject as runtime_reject
from train.lib.openset import (BACKGROUND, FeatureDistance, Reject, RejectError, calibrate, fpr_at_recall, roc_auc,
                           score_logits, threshold_for_recall)


def test_roc_auc_matches_pair_counting_with_ties():
    rng = np.random.default_rng(0)
    known, unknown = rng.integers(0, 5, 40).astype(float), rng.integers(0, 5, 30).astype(float)
    pairs = [(k > u) + 0.5 * (k == u) for k, u in itertools.product(known, unknown)]
    assert roc_auc(known, unknown) == pytest.approx(np.mean(pairs))
    assert roc_auc([2.0, 3.0], [0.0, 1.0]) == 1.0 and roc_auc([0.0], [1.0]) == 0.0


def test_threshold_keeps_the_target_recall_and_fpr_counts_accepted_unknowns():
    known = np.arange(100, dtype=float)              # 0 … 99
    thr = threshold_for_recall(known, 0.95)
    assert thr == 5.0 and (known >= thr).mean() == pytest.approx(0.95)
    assert threshold_for_recall(known, 1.0) == 0.0
    assert fpr_at_recall(known, np.array([1.0, 4.0, 6.0, 50.0]), 0.95) == 0.5
    with pytest.raises(RejectError):
        threshold_for_recall([], 0.9)


def test_scores():
    z = np.array([[4.0, 0.0, 0.0], [1.0, 1.0, 1.0]])
    msp = score_logits(z, "msp")
    assert msp[0] > msp[1] and msp[1] == pytest.approx(1 / 3)
    assert score_logits(z, "max_logit").tolist() == [4.0, 1.0]
    assert score_logits(z, "energy") == pytest.approx(np.log(np.exp(z).sum(1)))
    # with a background class: action scores ignore its logit; not_background = 1 − p(background)
    zb = np.array([[0.0, 0.0, 5.0]])
    cls = ["a", "b", BACKGROUND]
    assert score_logits(zb, "max_logit", cls) == [0.0]
    assert score_logits(zb, "not_background", cls)[0] < 0.02
    with pytest.raises(RejectError, match="not_background"):
        score_logits(z, "not_background", ["a", "b", "c"])
    with pytest.raises(RejectError, match="unknown reject score"):
        score_logits(z, "entropy")


def test_feature_distance_is_small_near_a_class_mean():
    rng = np.random.default_rng(1)
    feats = np.concatenate([rng.normal(0, 1, (200, 4)), rng.normal(10, 1, (200, 4))])
    fd = FeatureDistance(feats, np.repeat([0, 1], 200))
    near, far = fd(np.array([[0.0] * 4, [10.0] * 4])), fd(np.array([[5.0] * 4, [-10.0] * 4]))
    assert near.min() > far.max()


def test_reject_round_trip_and_errors(tmp_path):
    r = calibrate(np.random.default_rng(0).normal(size=(200, 3)), ["a", "b", "c"], "energy", 0.9, "val")
    f = tmp_path / "reject.json"
    f.write_text(json.dumps({"reject": r.to_dict()}))
    assert Reject.load(f) == r
    f.write_text(json.dumps({"score": "energy", "threshhold": 1.0}))
    with pytest.raises(RejectError, match="unknown reject fields"):
        Reject.load(f)
    with pytest.raises(RejectError, match="not found"):
        Reject.load(tmp_path / "nope.json")


def test_the_study_uses_the_runtimes_reject_not_a_copy():
    assert Reject is runtime_reject.Reject and score_logits is runtime_reject.score_logits
    assert BACKGROUND == runtime_reject.BACKGROUND
    r = calibrate(np.random.default_rng(0).normal(size=(50, 3)), ["a", "b", "c"], "energy", 0.9, "val")
    assert isinstance(r, runtime_reject.Reject) and r.target_recall == 0.9
