"""Studying rejects: known-ness scores, their calibration to a target recall, and how a reject is judged.

The reject itself — the scores, ``Reject`` (the model card's ``reject`` field) and what the runtime does with it
(``OpenSet.probs``: the actions' probabilities plus an unknown share) — lives in ``partkd_stream.reject``, the one
implementation the recognizer, the stream harness (``train.evaluate_stream``) and this module share; its names are
re-exported here. This module adds what only the research side needs:

- ``feature_distance`` (study only, PyTorch): minus the Mahalanobis distance of the pooled backbone feature to the
  nearest class mean (shared covariance, Lee et al. 2018). The deployed ONNX outputs logits only, so this score
  would need a second model output;
- ``calibrate``: a threshold is set on *known* validation windows only — the quantile that keeps ``target_recall``
  of them — so no negative data is needed to set it and none leaks from the sets it is evaluated on;
- judging: on known test windows against negative windows (``roc_auc``, ``fpr_at_recall``), and in streams (false
  events per minute, ``train.evaluate_stream``).
"""
from __future__ import annotations

import numpy as np

from partkd_stream.reject import BACKGROUND, SCORES, Reject, RejectError, score_logits

__all__ = ["BACKGROUND", "SCORES", "Reject", "RejectError", "score_logits", "FeatureDistance", "roc_auc",
           "threshold_for_recall", "fpr_at_recall", "calibrate"]


class FeatureDistance:
    """Minus the Mahalanobis distance to the nearest class mean of pooled backbone features (shared covariance)."""

    def __init__(self, feats: np.ndarray, labels: np.ndarray, shrink: float = 1e-3) -> None:
        feats = np.asarray(feats, np.float64)
        self.classes = np.unique(labels)
        self.means = np.stack([feats[labels == k].mean(0) for k in self.classes])
        centred = feats - self.means[np.searchsorted(self.classes, labels)]
        cov = centred.T @ centred / max(len(feats) - 1, 1)
        cov += shrink * np.trace(cov) / cov.shape[0] * np.eye(cov.shape[0])
        self.precision = np.linalg.inv(cov)

    def __call__(self, feats: np.ndarray) -> np.ndarray:
        d = np.asarray(feats, np.float64)[:, None, :] - self.means[None]       # [N, K, C]
        m = np.einsum("nkc,cd,nkd->nk", d, self.precision, d)
        return -np.sqrt(np.maximum(m.min(1), 0.0))


# --- judging a score -----------------------------------------------------------------------------------------------
def roc_auc(known: np.ndarray, unknown: np.ndarray) -> float:
    """P(score of a random known window > that of a random unknown one), ties counted half (Mann–Whitney U)."""
    known, unknown = np.asarray(known, np.float64), np.asarray(unknown, np.float64)
    if not len(known) or not len(unknown):
        return float("nan")
    allv = np.concatenate([known, unknown])
    order = allv.argsort(kind="mergesort")
    ranks = np.empty(len(allv))
    sv = allv[order]
    # average ranks for ties
    idx = np.flatnonzero(np.r_[True, sv[1:] != sv[:-1], True])
    for a, b in zip(idx[:-1], idx[1:]):
        ranks[order[a:b]] = 0.5 * (a + b - 1) + 1
    r_known = ranks[: len(known)].sum()
    return float((r_known - len(known) * (len(known) + 1) / 2) / (len(known) * len(unknown)))


def threshold_for_recall(known: np.ndarray, recall: float) -> float:
    """The largest threshold that keeps at least ``recall`` of ``known`` scores (score ≥ threshold = accepted)."""
    known = np.sort(np.asarray(known, np.float64))
    if not len(known):
        raise RejectError("no known scores to calibrate a threshold on")
    if not 0.0 < recall <= 1.0:
        raise RejectError(f"target recall must be in (0, 1], got {recall}")
    k = int(np.floor((1.0 - recall) * len(known) + 1e-9))   # how many known windows may fall below
    return float(known[min(k, len(known) - 1)])


def fpr_at_recall(known: np.ndarray, unknown: np.ndarray, recall: float = 0.95) -> float:
    """Share of unknown windows accepted at the threshold that keeps ``recall`` of the known ones."""
    thr = threshold_for_recall(known, recall)
    return float((np.asarray(unknown) >= thr).mean()) if len(unknown) else float("nan")


def calibrate(val_logits: np.ndarray, classes: list[str], score: str, target_recall: float, calibrated_on: str,
              method: str = "score", temperature: float = 1.0) -> Reject:
    """The reject whose threshold keeps ``target_recall`` of the known validation windows."""
    s = score_logits(val_logits, score, classes, temperature)
    return Reject(method=method, score=score, threshold=threshold_for_recall(s, target_recall),
                  target_recall=target_recall, calibrated_on=calibrated_on, temperature=temperature)
