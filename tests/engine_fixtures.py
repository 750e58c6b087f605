"""Tiny deployable models for the engine tests: a random student checkpoint with non-trivial batch-norm
statistics (so parity checks mean something), exported the way build_engine.py exports it."""
from __future__ import annotations

from pathlib import Path

import torch

from partkd_stream.checkpoint import save_checkpoint
from partkd_stream.model import ModelConfig, PartGCN
from partkd_stream.preprocess import PreprocessConfig

CLASSES = [f"action_{i}" for i in range(15)]


def make_checkpoint(path: Path, seed: int = 0, window: int = 64, fps: float = 30.0) -> Path:
    torch.manual_seed(seed)
    model = PartGCN(ModelConfig.student(preprocess=PreprocessConfig(window=window, fps=fps))).eval()
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
                m.running_mean.uniform_(-0.5, 0.5)
                m.running_var.uniform_(0.5, 2.0)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
        for mod in model.modules():  # the learned adjacency refinement B starts at 0; make it matter
            if hasattr(mod, "B"):
                mod.B.uniform_(-0.1, 0.1)
    save_checkpoint(path, model, CLASSES,
                    meta={"dataset": "synthetic", "metrics": {"top1": 0.5}, "extra_note": "test"})
    return path
