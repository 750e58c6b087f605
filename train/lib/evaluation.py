"""Scoring a model on clips: batched logits, sliding windows, clip accuracy (one centred window per clip), streaming
accuracy (every sliding window at the clip's frame rate, probabilities averaged per clip — as the stream uses the
model), and the mean cosine between part features. The one home of these for training, validation and studies."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from partkd_stream.layouts import get_layout
from partkd_stream.model import PartGCN
from partkd_stream.preprocess import PreprocessConfig, clip_windows

from .data import centre_ends, windows


def model_device(model: nn.Module) -> torch.device:
    return next(model.parameters()).device


@torch.no_grad()
def logits(model: PartGCN, x: np.ndarray, batch: int = 512) -> np.ndarray:
    """The model's logits ``[N, K]`` for windows ``x`` ``[N, C_in, T, V]``, in batches, on the model's device."""
    model.eval()
    device = model_device(model)
    out = [model(torch.from_numpy(x[i:i + batch]).to(device)).cpu().numpy() for i in range(0, len(x), batch)]
    return np.concatenate(out) if out else np.zeros((0, model.cfg.num_classes), np.float32)


def predict_windows(model: PartGCN, x: np.ndarray, batch: int = 512) -> np.ndarray:
    """Class probabilities ``[N, K]`` for windows ``x``."""
    return torch.softmax(torch.from_numpy(logits(model, x, batch)), 1).numpy()


@torch.no_grad()
def logits_and_features(model: PartGCN, x: np.ndarray, batch: int = 512) -> tuple[np.ndarray, np.ndarray]:
    """Logits and pooled backbone features (the input of the classifier) of windows ``x``."""
    model.eval()
    device = model_device(model)
    zs, fs = [], []
    for i in range(0, len(x), batch):
        f = model.backbone(torch.from_numpy(x[i:i + batch]).to(device)).mean(dim=(2, 3))
        zs.append(model.fc(f).cpu().numpy())
        fs.append(f.cpu().numpy())
    return (np.concatenate(zs), np.concatenate(fs)) if zs else (np.zeros((0, 0)), np.zeros((0, 0)))


def sliding_windows(seqs: list[np.ndarray], fps: np.ndarray, pre: PreprocessConfig, stride: int | None = None
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Every sliding window of every clip, as the stream makes them → ``(x [W, C_in, T, V], clip of each window)``."""
    per_clip = [clip_windows(s, f, pre, stride) for s, f in zip(seqs, fps)]
    if not per_clip:
        return (np.zeros((0, pre.in_channels, pre.window, get_layout(pre.layout).num_joints), np.float32),
                np.zeros(0, int))
    return np.concatenate(per_clip), np.repeat(np.arange(len(seqs)), [len(w) for w in per_clip])


def clip_average(p: np.ndarray, owner: np.ndarray, clips: int) -> np.ndarray:
    """Per clip, the mean of its windows' rows of ``p`` ``[W, K]`` → ``[clips, K]`` (the stream's averaging)."""
    mean = np.zeros((clips, p.shape[1]))
    np.add.at(mean, owner, p)
    return mean


def softmax(z: np.ndarray) -> np.ndarray:
    p = np.exp(z - z.max(1, keepdims=True))
    return p / p.sum(1, keepdims=True)


def stream_top1(z: np.ndarray, owner: np.ndarray, labels: np.ndarray, accept: np.ndarray | None = None) -> float:
    """Streaming top-1 from window logits ``z``, as the recognizer averages: window probabilities averaged per clip,
    correct when the clip's label tops the average (a last ``background`` class included: a clip whose average tops
    at background is wrong). ``accept``: per window, whether a reject let it through; a rejected window's mass goes
    to an extra "unknown" slot."""
    p = softmax(z)
    if accept is not None:
        p = np.concatenate([p * accept[:, None], (~accept)[:, None].astype(float)], 1)
    return float((clip_average(p, owner, len(labels)).argmax(1) == labels).mean())


@dataclass
class EvalInputs:
    """A test set as model inputs: one centred window per clip, and (streaming) every sliding window."""

    clip: np.ndarray                  # [N, C_in, T, V]
    labels: np.ndarray                # [N]
    stream: np.ndarray | None = None  # [W, C_in, T, V], all clips' sliding windows
    owner: np.ndarray | None = None   # [W] clip of each sliding window


def centre_windows(seqs: list[np.ndarray], fps: np.ndarray, pre: PreprocessConfig) -> np.ndarray:
    """One window per clip, centred on it (clip accuracy's input)."""
    return windows(seqs, fps, centre_ends(np.array([len(s) for s in seqs]), fps, pre), pre)


def eval_inputs(seqs: list[np.ndarray], fps: np.ndarray, labels: np.ndarray, pre: PreprocessConfig,
                streaming: bool = True, stride: int | None = None) -> EvalInputs:
    res = EvalInputs(centre_windows(seqs, fps, pre), labels)
    if streaming:
        res.stream, res.owner = sliding_windows(seqs, fps, pre, stride)
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
        stream_pred = clip_average(p, inputs.owner, len(labels)).argmax(1)
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
