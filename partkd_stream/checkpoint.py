"""Checkpoints are data, never code: a dict of tensors and plain values, loaded with ``weights_only=True``.

Layout of a checkpoint (written by ``train/``, read by ``build_engine.py`` and the PyTorch backend)::

    {"format": "partkd-stream/1", "model_config": ModelConfig.to_dict(), "preprocess": PreprocessConfig.to_dict(),
     "classes": [str, ...], "state_dict": {...}, "meta": {...}}   # meta: dataset, metrics, epoch, ... (JSON-able)
"""
from __future__ import annotations

import io
import os
from dataclasses import dataclass, field
from typing import Any

import torch

from .errors import PartkdError
from .model import ModelConfig, PartGCN
from .preprocess import PreprocessConfig
from .skeleton_io import atomic_write_bytes

FORMAT = "partkd-stream/1"


class CheckpointError(PartkdError, ValueError):
    """A checkpoint that cannot be used; the message names the file."""


@dataclass
class Checkpoint:
    model_config: ModelConfig
    preprocess: PreprocessConfig
    classes: list[str]
    state_dict: dict[str, torch.Tensor]
    meta: dict[str, Any] = field(default_factory=dict)

    def build_model(self) -> PartGCN:
        model = PartGCN(self.model_config)
        model.load_state_dict(self.state_dict)
        return model.eval()


def save_checkpoint(path: str | os.PathLike, model: PartGCN, preprocess: PreprocessConfig, classes: list[str],
                    meta: dict[str, Any] | None = None, extra: dict[str, Any] | None = None) -> None:
    """Write atomically, so an interrupted save never leaves a broken file. ``extra``: optimiser state etc."""
    payload = {"format": FORMAT, "model_config": model.cfg.to_dict(), "preprocess": preprocess.to_dict(),
               "classes": list(classes), "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
               "meta": dict(meta or {})}
    if extra:
        payload["extra"] = extra
    buf = io.BytesIO()
    torch.save(payload, buf)
    atomic_write_bytes(path, lambda f: f.write(buf.getvalue()))


def load_checkpoint(path: str | os.PathLike) -> Checkpoint:
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise CheckpointError(f"{path}: checkpoint not found") from None
    except Exception as e:  # torch raises several types for corrupt or unsafe files
        raise CheckpointError(f"{path}: not a loadable partkd-stream checkpoint ({type(e).__name__}: "
                              f"{str(e).splitlines()[0][:200]})") from None
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(f"{path}: not a partkd-stream checkpoint (expected format {FORMAT!r})")
    return Checkpoint(model_config=ModelConfig.from_dict(payload["model_config"]),
                      preprocess=PreprocessConfig.from_dict(payload["preprocess"]),
                      classes=list(payload["classes"]), state_dict=payload["state_dict"],
                      meta=dict(payload.get("meta", {})))


def load_extra(path: str | os.PathLike) -> dict[str, Any]:
    """The ``extra`` part (optimiser state, RNG, …) used by ``--resume``."""
    return torch.load(path, map_location="cpu", weights_only=True).get("extra", {})
