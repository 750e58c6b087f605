"""Saying "none of these": a model's reject (the card's ``reject`` field) and the open-set probabilities it gives.

A closed-set softmax names one of its classes for anything. An open-set model adds a way to say "unknown":

- ``method: background`` — the model was trained with an explicit last class ``background`` (other actions, idle
  people, transitions); its probability is the window's *unknown* share;
- ``method: score`` — a threshold on a known-ness ``score`` of the logits: ``msp`` (the largest softmax
  probability), ``max_logit``, ``energy`` (``T · logsumexp(z / T)``), or ``not_background`` (1 − p(background));
  a window whose score is below ``threshold`` is rejected as a whole.

Both combine: a background model may also carry a score threshold (``threshold: 0`` with ``not_background`` = the
class alone decides). A last class named ``background`` is never an action, with or without a ``reject`` field.

``OpenSet.probs`` is the ONE implementation of what the runtime (``Recognizer``) and the research side
(``train.evaluate_stream``, ``train.lib.openset``) do with a window's logits: probabilities over the *actions* plus one
last **unknown** slot — ``[p_1 … p_A, p(background)]`` for an accepted window (``0`` in the slot without a
background class), ``[0 … 0, 1]`` for a rejected one. The smoother averages those vectors (``smoothing.py``).

Thresholds are calibrated on known validation windows only (``train.lib.openset.calibrate``).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np

from . import json_input
from .errors import PartkdError
from .preprocess import is_number
from .spec import check_object

BACKGROUND = "background"   # the class name of an explicit background class (the last class of such a model)
METHODS = ("score", "background")
SCORES = ("msp", "max_logit", "energy", "not_background")


class RejectError(PartkdError, ValueError):
    """A reject specification that cannot be used; the message is one line."""


def softmax(z: np.ndarray) -> np.ndarray:
    """Row-wise softmax in float64 (``[N, K]``)."""
    z = np.asarray(z, np.float64)
    e = np.exp(z - z.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def has_background(classes: Sequence[str]) -> bool:
    return bool(classes) and classes[-1] == BACKGROUND


def score_logits(logits: np.ndarray, score: str, classes: Optional[Sequence[str]] = None,
                 temperature: float = 1.0) -> np.ndarray:
    """``[N, K]`` logits → ``[N]`` known-ness scores (higher = more like a known action).

    For a model with a background class, ``msp`` / ``max_logit`` / ``energy`` look at the action logits only."""
    z = np.asarray(logits, np.float64)
    bg = classes is not None and has_background(classes)
    if score == "not_background":
        if not bg:
            raise RejectError(f"score 'not_background' needs a model whose last class is {BACKGROUND!r}")
        return 1.0 - softmax(z)[:, -1]
    if bg:
        z = z[:, :-1]
    if score == "msp":
        return softmax(z).max(-1)
    if score == "max_logit":
        return z.max(-1)
    if score == "energy":
        # T·logsumexp(z/T) = max z + T·log Σ exp((z − max z)/T): finite for any T > 0, however small (z/T itself
        # overflows for T = 1e-300, and inf − inf made every window unknown)
        m = z.max(-1)
        with np.errstate(over="ignore", under="ignore", invalid="ignore"):
            return m + temperature * np.log(np.exp((z - m[:, None]) / temperature).sum(-1))
    raise RejectError(f"unknown reject score {score!r}; choose one of {', '.join(SCORES)}")


@dataclass(frozen=True)
class Reject:
    """The card's ``reject``: ``{method, score, threshold, target_recall, calibrated_on, temperature}``.

    A window is rejected when ``score_logits(…, score) < threshold``. ``target_recall`` and ``calibrated_on`` say
    how the threshold was set (the share of known validation windows it keeps, and which windows)."""

    method: str = "score"
    score: str = "energy"
    threshold: float = 0.0
    target_recall: Optional[float] = None
    calibrated_on: str = ""
    temperature: float = 1.0

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise RejectError(f"unknown reject method {self.method!r}; use one of {', '.join(METHODS)}")
        if self.score not in SCORES:
            raise RejectError(f"unknown reject score {self.score!r}; choose one of {', '.join(SCORES)}")
        if not (is_number(self.threshold) and math.isfinite(self.threshold)):
            raise RejectError(f"reject threshold must be a finite number, got {self.threshold!r}")
        if not (is_number(self.temperature) and math.isfinite(self.temperature) and self.temperature > 0):
            raise RejectError(f"reject temperature must be a number > 0, got {self.temperature!r}")
        if self.target_recall is not None and not (is_number(self.target_recall)
                                                   and 0.0 < self.target_recall <= 1.0):
            raise RejectError(f"reject target_recall must be in (0, 1], got {self.target_recall!r}")
        if not isinstance(self.calibrated_on, str):
            raise RejectError(f"reject calibrated_on must be a text, got {self.calibrated_on!r}")

    def check_classes(self, classes: Sequence[str]) -> None:
        """Refuse a reject the model's classes cannot carry (``background`` / ``not_background`` need that class)."""
        if (self.method == "background" or self.score == "not_background") and not has_background(classes):
            raise RejectError(f"reject method {self.method!r} with score {self.score!r} needs {BACKGROUND!r} as the "
                              f"last class, but the last class is {classes[-1] if classes else None!r}")

    def accept(self, logits: np.ndarray, classes: Sequence[str]) -> np.ndarray:
        """``[N]`` bool: the windows the reject lets through as (possibly) known."""
        return score_logits(logits, self.score, classes, self.temperature) >= self.threshold

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: Any) -> "Reject":
        return cls(**check_object(cls, d, "reject", RejectError, required=("method", "score", "threshold")))

    @classmethod
    def load(cls, path: str | Path) -> "Reject":
        """A reject file: the object itself or ``{"reject": {…}}`` (as ``train.studies.reject_study measure`` writes)."""
        try:
            d = json_input.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise RejectError(f"{path}: reject file not found") from None
        except (OSError, UnicodeDecodeError) as e:
            raise RejectError(f"{path}: cannot read the reject file ({type(e).__name__})") from None
        except ValueError as e:
            raise RejectError(f"{path}: not valid JSON ({e})") from None
        try:
            return cls.from_dict(d.get("reject", d) if isinstance(d, dict) else d)
        except RejectError as e:
            raise RejectError(f"{path}: {e}") from None

    def describe(self) -> str:
        """One short phrase, e.g. ``background class`` or ``energy ≥ 3.2 (95 % recall)``."""
        if self.method == "background" and self.score == "not_background" and self.threshold <= 0:
            return "background class"
        head = "background class + " if self.method == "background" else ""
        recall = f" ({100 * self.target_recall:.0f} % recall)" if self.target_recall else ""
        return f"{head}{self.score} ≥ {self.threshold:.4g}{recall}"


class OpenSet:
    """A model's classes and reject → per-window probabilities over its actions plus the unknown slot."""

    def __init__(self, classes: Sequence[str], reject: Optional[Reject] = None) -> None:
        classes = list(classes)
        if reject is not None:
            reject.check_classes(classes)
        self.classes, self.reject = classes, reject
        self.background = has_background(classes)
        self.actions = classes[:-1] if self.background else classes

    @property
    def closed(self) -> bool:
        """True when the model can never say "unknown" (no background class, no reject)."""
        return self.reject is None and not self.background

    def probs(self, logits: np.ndarray) -> np.ndarray:
        """``[N, K]`` logits → ``[N, A + 1]`` float64: the action probabilities and, last, the unknown share (see the
        module docstring); each row sums to 1."""
        z = np.asarray(logits, np.float64)
        p = softmax(z)
        out = p if self.background else np.concatenate([p, np.zeros((len(p), 1))], axis=1)
        if self.reject is not None:
            rejected = ~self.reject.accept(z, self.classes)
            out[rejected] = 0.0
            out[rejected, -1] = 1.0
        return out
