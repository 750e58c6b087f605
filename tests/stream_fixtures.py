"""Helpers for the streaming tests: a tiny random model and synthetic skeleton streams in the real formats."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from partkd_stream.synthetic import figure

REPO = Path(__file__).resolve().parents[1]
CLASSES = ["jumping_jacks", "squat", "pushup"]


def make_model(path: Path, layout: str = "penn13", dims: int = 2, window: int = 32, seed: int = 0,
               classes: list[str] | None = None, meta: dict | None = None, logits: list[float] | None = None,
               fps: float = 30.0) -> Path:
    """A randomly initialised student checkpoint (``.pt``): loads on the PyTorch backend, no export needed; its
    window is ``window`` frames at ``fps`` (30: one window step per frame of the 30 fps test streams).

    ``classes`` default ``CLASSES``; ``meta`` goes into the checkpoint (e.g. ``reject``, ``presence``); ``logits``
    makes the model answer those logits for every window (its last layer zeroed, the bias set)."""
    import torch

    from partkd_stream.checkpoint import save_checkpoint
    from partkd_stream.model import ModelConfig, PartGCN
    from partkd_stream.preprocess import PreprocessConfig

    classes = list(CLASSES if classes is None else classes)
    torch.manual_seed(seed)
    pre = PreprocessConfig(layout=layout, dims=dims, window=window, fps=fps)
    model = PartGCN(ModelConfig.student(preprocess=pre, num_classes=len(classes)))
    if logits is not None:
        with torch.no_grad():
            model.fc.weight.zero_()
            model.fc.bias.copy_(torch.tensor(logits, dtype=torch.float32))
    save_checkpoint(path, model, classes, meta=meta)
    return path


def person_frames(n: int, fps: float = 30.0, kind: str = "jumping_jacks") -> list[tuple[float, np.ndarray]]:
    """``n`` frames ``(t, [33, 3])`` of a fully visible synthetic person (pixels, visibility 0.95)."""
    out = []
    for i in range(n):
        xy = figure(kind, i / fps)
        out.append((i / fps, np.concatenate([xy, np.full((33, 1), 0.95)], 1).astype(np.float32)))
    return out


def signal_once_written(proc, path: Path, sig: int, settle: float = 0.3, timeout: float = 120) -> tuple[str, str]:
    """Wait for ``path`` to exist (a first output: the run is under way), ``settle`` seconds more, send ``sig`` to
    ``proc`` (a ``subprocess.Popen``); its (stdout, stderr). The process is killed whatever happens."""
    import time

    try:
        t_end = time.monotonic() + timeout
        while not path.exists() and proc.poll() is None:
            assert time.monotonic() < t_end, f"{path} did not appear within {timeout} s"
            time.sleep(0.05)
        time.sleep(settle)
        proc.send_signal(sig)
        return proc.communicate(timeout=60)
    finally:
        proc.kill()
