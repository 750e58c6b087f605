"""Test-set evaluation: clip accuracy (one centred window per clip), streaming accuracy (sliding windows at the
clip's frame rate, scores averaged — as the stream uses the model), and the mean cosine between part features."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from partkd_stream.model import PartGCN
from partkd_stream.preprocess import PreprocessConfig, clip_windows

from .data import centre_ends, windows


def model_device(model: nn.Module) -> torch.device:
    return next(model.parameters()).device


@torch.no_grad()
def predict_windows(model: PartGCN, x: np.ndarray, batch: int = 512) -> np.ndarray:
    model.eval()
    device = model_device(model)
    out = [torch.softmax(model(torch.from_numpy(x[i:i + batch]).to(device)), 1).cpu().numpy()
           for i in range(0, len(x), batch)]
    return np.concatenate(out) if out else np.zeros((0, model.cfg.num_classes), np.float32)


@dataclass
class EvalInputs:
    """A test set as model inputs: one centred window per clip, and (streaming) every sliding window."""

    clip: np.ndarray                  # [N, C_in, T, V]
    labels: np.ndarray                # [N]
    stream: np.ndarray | None = None  # [W, C_in, T, V], all clips' sliding windows
    owner: np.ndarray | None = None   # [W] clip of each sliding window


def eval_inputs(seqs: list[np.ndarray], fps: np.ndarray, labels: np.ndarray, pre: PreprocessConfig,
                streaming: bool = True, stride: int | None = None) -> EvalInputs:
    lengths = np.array([len(s) for s in seqs])
    res = EvalInputs(windows(seqs, fps, centre_ends(lengths, fps, pre), pre), labels)
    if streaming:
        per_clip = [clip_windows(s, f, pre, stride) for s, f in zip(seqs, fps)]
        res.owner = np.repeat(np.arange(len(seqs)), [len(w) for w in per_clip])
        res.stream = np.concatenate(per_clip)
    return res


def score(model: PartGCN, inputs: EvalInputs) -> dict[str, Any]:
    """Clip accuracy (top-1/top-5) and, with sliding windows, streaming accuracy (scores averaged per clip)."""
    labels = inputs.labels
    top5 = np.argsort(-predict_windows(model, inputs.clip), 1)[:, :5]
    res: dict[str, Any] = {"top1": float((top5[:, 0] == labels).mean()),
                           "top5": float((top5 == labels[:, None]).any(1).mean()),
                           "pred": top5[:, 0].tolist()}
    if inputs.stream is not None:  # all clips' windows in one pass: fixed batch shapes keep oneDNN from re-planning
        p = predict_windows(model, inputs.stream)
        mean = np.zeros((len(labels), p.shape[1]))
        np.add.at(mean, inputs.owner, p)
        stream_pred = mean.argmax(1)
        res["stream_top1"] = float((stream_pred == labels).mean())
        res["window_top1"] = float((p.argmax(1) == labels[inputs.owner]).mean())
        res["stream_pred"] = stream_pred.tolist()
    return res


def evaluate(model: PartGCN, seqs: list[np.ndarray], fps: np.ndarray, labels: np.ndarray, pre: PreprocessConfig,
             streaming: bool = True, stride: int | None = None) -> dict[str, Any]:
    """Clip accuracy (one centred window; top-1/top-5) and streaming accuracy (sliding windows, scores averaged)."""
    return score(model, eval_inputs(seqs, fps, labels, pre, streaming, stride))


@torch.no_grad()
def part_cosine(model: PartGCN, x: np.ndarray, batch: int = 512) -> float:
    """Mean cosine between a sample's P part features (pairs of different parts): 1 = the parts say the same."""
    model.eval()
    device, sims = model_device(model), []
    for i in range(0, len(x), batch):
        f = F.normalize(model.forward_parts(torch.from_numpy(x[i:i + batch]).to(device))["part_features"], dim=-1)
        sim = f @ f.transpose(1, 2)                                                   # [N, P, P]
        p = sim.shape[1]
        sims.append(((sim.sum((1, 2)) - sim.diagonal(dim1=1, dim2=2).sum(1)) / (p * (p - 1))).cpu())
    return float(torch.cat(sims).mean()) if sims else float("nan")
