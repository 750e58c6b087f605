"""A background class's offset: chosen on held-out known windows, folded into the classifier, judged on negatives.

A model with a last ``background`` class says "no action" when that class tops the window. Trained on negative
windows, it may call too many *known* windows background; the cure is an offset subtracted from the background
logit — the smallest one (``OFFSETS``) that leaves at most 1 − ``recall`` of the known validation windows called
background. It is folded into the classifier's bias, so every export (ONNX, TensorRT) carries it, and the
checkpoint's ``meta["reject"]`` says how it was chosen (``build_engine`` writes that into the model card).
The Penn open-set model and the everyday model both use this one rule.
"""
from __future__ import annotations

from typing import Any

import numpy as np
import torch

from .config import ConfigError
from .openset import BACKGROUND, Reject, fpr_at_recall, roc_auc, score_logits

OFFSETS = np.arange(0.0, 8.01, 0.25)
KNOWN_RECALL = 0.98   # known validation windows that must stay actions
VAL_NEG_SEED = 2000   # validation negatives (idle people, transitions); held-out evaluation uses 1000


def check_background_args(share: float, validation: float, offset: float | None) -> None:
    """The background commands' shared options, checked: ``ConfigError`` (one line) for a bad combination."""
    if share <= 0:
        raise ConfigError(f"--share {share}: must be > 0")
    if not 0 <= validation < 1:
        raise ConfigError(f"--validation {validation}: must be in [0, 1)")
    if offset is not None and validation > 0:
        raise ConfigError("--offset is for the refit on every clip (--validation 0); with validation the offset "
                          "is calibrated")


def background_offset(z_known: np.ndarray, recall: float = KNOWN_RECALL) -> float:
    """The smallest offset (``OFFSETS``) subtracted from the background logit that leaves at most 1 − ``recall``
    of the known windows ``z_known`` (logits, background last) with background on top."""
    for b in OFFSETS:
        if ((z_known[:, -1] - b) > z_known[:, :-1].max(1)).mean() <= 1 - recall + 1e-12:
            return float(b)
    return float(OFFSETS[-1])


def clip_background_offset(z_known: np.ndarray, owner: np.ndarray, recall: float = KNOWN_RECALL) -> float:
    """The smallest offset (``OFFSETS``) that leaves at most 1 − ``recall`` of the known *clips* (``owner``: the clip
    of each window of ``z_known``) with background on top in most of their windows. For clips that hold still
    stretches before and after the action (KARD's people wait, then act slowly), where "no action" is the right
    answer for some windows and a per-window rule would push the offset up until idle people pass as actions."""
    n = int(owner.max()) + 1 if len(owner) else 0
    windows = np.maximum(np.bincount(owner, minlength=n), 1)
    for b in OFFSETS:
        bg = ((z_known[:, -1] - b) > z_known[:, :-1].max(1)).astype(float)
        if (np.bincount(owner, bg, n) / windows > 0.5).mean() <= 1 - recall + 1e-12:
            return float(b)
    return float(OFFSETS[-1])


def fold_offset(model: Any, offset: float, *logits: np.ndarray) -> None:
    """Subtract ``offset`` from the last (background) logit inside the classifier, so every export carries it, and
    from each of the already computed ``logits`` arrays (in place), so they read as the folded model's."""
    with torch.no_grad():
        model.fc.bias[-1] -= offset
    for z in logits:
        z[:, -1] -= offset


def background_reject(recall: float, calibrated_on: str) -> Reject:
    """The model card's reject of a background model: background on top = "no action"."""
    return Reject(method="background", score="not_background", threshold=0.0, target_recall=recall,
                  calibrated_on=calibrated_on)


def judge_negatives(s_known: np.ndarray, z_negative: np.ndarray, classes: list[str], score: str = "not_background"
                    ) -> dict[str, Any]:
    """One negative set against the known windows' scores ``s_known``: its windows, the AUROC of ``score``, the
    share accepted at 95 % known recall and, for a background model, the share of windows not called background."""
    s = score_logits(z_negative, score, classes)
    row: dict[str, Any] = {"windows": len(z_negative), "auroc": roc_auc(s_known, s),
                           "fpr_at_95": fpr_at_recall(s_known, s, 0.95)}
    if classes[-1] == BACKGROUND:
        row["accepted"] = float((z_negative.argmax(1) != len(classes) - 1).mean())
    return row
