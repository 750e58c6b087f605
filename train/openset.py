"""Saying "none of these": reject scores, their calibration to a target recall, and how a reject is judged.

A **score** says how much a window looks like one of the model's actions (higher = more known):

- ``msp``: the maximum softmax probability;
- ``max_logit``: the largest logit (Hendrycks et al. 2022: less squashed than the softmax);
- ``energy``: ``T · logsumexp(z / T)``, the negative free energy (Liu et al. 2020);
- ``not_background``: ``1 − p(background)`` for a model trained with an explicit background class (outlier
  exposure; its class list ends with ``BACKGROUND``);
- ``feature_distance`` (study only, PyTorch): minus the Mahalanobis distance of the pooled backbone feature to the
  nearest class mean (shared covariance, Lee et al. 2018). The deployed ONNX outputs logits only, so this score
  would need a second model output.

A **reject** is a score and a threshold: a window is "unknown" when its score is below the threshold. The
threshold is calibrated on *known* validation windows only — the quantile that keeps ``target_recall`` of them —
so no negative data is needed to set it and none leaks from the sets it is evaluated on.

It is judged on known test windows against negative windows (``roc_auc``, ``fpr_at_recall``) and in streams
(false events per minute, ``train.evaluate_stream``). ``RejectingModel`` applies a reject to a loaded model the
way the runtime should (see ``docs`` in the README, *Open set*): the probabilities gain one last entry, ``UNKNOWN``,
that takes all the mass of a rejected window; the smoother averages it like any class, and a state whose top is
``UNKNOWN`` (or ``BACKGROUND``) is "no action".
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Optional

import numpy as np

from partkd_stream.card import REJECT_METHODS, REJECT_SCORES
from partkd_stream.errors import PartkdError

BACKGROUND = "background"     # the class name of an explicit background class (last class of such a model)
UNKNOWN = "__unknown__"       # the extra probability slot a score-based reject adds
NON_ACTIONS = frozenset({BACKGROUND, UNKNOWN})
SCORES = REJECT_SCORES        # the card's list: what the runtime can apply


class RejectError(PartkdError, ValueError):
    """A reject specification that cannot be used; the message is one line."""


# --- scores ------------------------------------------------------------------------------------------------------
def _softmax(z: np.ndarray) -> np.ndarray:
    z = np.asarray(z, np.float64)
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def score_logits(logits: np.ndarray, score: str, classes: Optional[list[str]] = None,
                 temperature: float = 1.0) -> np.ndarray:
    """``[N, K]`` logits → ``[N]`` known-ness scores (higher = more like a known action).

    For a model with a background class, ``msp``/``max_logit``/``energy`` look at the action logits only.
    """
    z = np.asarray(logits, np.float64)
    has_bg = classes is not None and classes and classes[-1] == BACKGROUND
    if score == "not_background":
        if not has_bg:
            raise RejectError(f"score 'not_background' needs a model whose last class is {BACKGROUND!r}")
        return 1.0 - _softmax(z)[:, -1]
    if has_bg:
        z = z[:, :-1]
    if score == "msp":
        return _softmax(z).max(-1)
    if score == "max_logit":
        return z.max(-1)
    if score == "energy":
        m = (z / temperature).max(-1, keepdims=True)
        return temperature * (m[:, 0] + np.log(np.exp(z / temperature - m).sum(-1)))
    raise RejectError(f"unknown reject score {score!r}; choose one of {', '.join(SCORES)}")


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


# --- a reject, as the model card should carry it --------------------------------------------------------------------
@dataclass(frozen=True)
class Reject:
    """``{method, score, threshold, target_recall, calibrated_on}`` — the model card's ``reject`` field."""

    method: str = "score"          # "score" (threshold on a logit score) or "background" (class + optional threshold)
    score: str = "energy"
    threshold: float = float("-inf")
    target_recall: float = 0.95
    calibrated_on: str = ""
    temperature: float = 1.0

    def __post_init__(self) -> None:
        if self.score not in SCORES:
            raise RejectError(f"unknown reject score {self.score!r}; choose one of {', '.join(SCORES)}")
        if self.method not in REJECT_METHODS:
            raise RejectError(f"unknown reject method {self.method!r}; use one of {', '.join(REJECT_METHODS)}")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Reject":
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(d) - known)
        if unknown:
            raise RejectError(f"unknown reject fields {unknown}; known: {sorted(known)}")
        try:
            return cls(**d)
        except TypeError as e:
            raise RejectError(f"invalid reject ({e})") from None

    @classmethod
    def load(cls, path: str | Path) -> "Reject":
        try:
            d = json.loads(Path(path).read_text())
        except FileNotFoundError:
            raise RejectError(f"{path}: reject file not found") from None
        except ValueError as e:
            raise RejectError(f"{path}: not valid JSON ({e})") from None
        if not isinstance(d, dict):
            raise RejectError(f"{path}: a reject file holds one JSON object")
        try:
            return cls.from_dict(d.get("reject", d))
        except RejectError as e:
            raise RejectError(f"{path}: {e}") from None

    def accept(self, logits: np.ndarray, classes: list[str]) -> np.ndarray:
        """``[N]`` bool: windows the reject lets through as (possibly) known."""
        return score_logits(logits, self.score, classes, self.temperature) >= self.threshold


def calibrate(val_logits: np.ndarray, classes: list[str], score: str, target_recall: float, calibrated_on: str,
              method: str = "score", temperature: float = 1.0) -> Reject:
    """The reject whose threshold keeps ``target_recall`` of the known validation windows."""
    s = score_logits(val_logits, score, classes, temperature)
    return Reject(method=method, score=score, threshold=threshold_for_recall(s, target_recall),
                  target_recall=target_recall, calibrated_on=calibrated_on, temperature=temperature)


class RejectingModel:
    """A loaded model (``.card``, ``.predict``) whose probabilities gain a last ``UNKNOWN`` entry.

    Accepted window: ``[p_1 … p_K, 0]``; rejected window: ``[0 … 0, 1]``. For a model with a background class the
    background probability stays where it is and the reject (if any) adds on top. This is what the Recognizer is
    meant to do once the card carries ``reject`` (README, *Open set*); the harness uses it meanwhile.
    """

    def __init__(self, model: Any, reject: Optional[Reject]) -> None:
        self.model, self.reject = model, reject
        self.base_classes = list(model.card.classes)
        self.card = replace(model.card, classes=self.base_classes + [UNKNOWN])   # output shape follows the classes

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self.model.predict(x)

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        z = np.asarray(self.model.predict(x), np.float64)
        p = _softmax(z)
        ok = np.ones(len(z), bool) if self.reject is None else self.reject.accept(z, self.base_classes)
        out = np.zeros((len(z), p.shape[1] + 1), np.float32)
        out[ok, :-1] = p[ok]
        out[~ok, -1] = 1.0
        return out
