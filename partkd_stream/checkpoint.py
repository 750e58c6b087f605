"""Checkpoints are data, never code: a dict of tensors and plain values, loaded with ``weights_only=True``.

Layout of a checkpoint (written by ``train/``, read by ``build_engine.py`` and the PyTorch backend)::

    {"format": "partkd-stream/2", "model_config": ModelConfig.to_dict(),   # holds the PreprocessConfig
     "classes": [str, ...], "state_dict": {...}, "meta": {...}}   # meta: dataset, metrics, epoch, ... (JSON-able)

Format 1 (before the model held its preprocessing) kept ``preprocess`` beside a ``model_config`` with its own
``layout`` / ``in_channels`` / ``window``; it is converted on load.

A file that asks ``torch.load`` to import anything beyond tensors and plain containers is refused: it carries
code, and we never run it (the error names what it asked for).
"""
from __future__ import annotations

import io
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from .atomic import atomic_write_bytes
from .errors import PartkdError
from .model import ModelConfig, PartGCN
from .preprocess import PreprocessConfig, PreprocessVersionError

FORMAT = "partkd-stream/2"
FORMAT_V1 = "partkd-stream/1"


class CheckpointError(PartkdError, ValueError):
    """A checkpoint that cannot be used; the message names the file."""


@dataclass
class Checkpoint:
    model_config: ModelConfig
    classes: list[str]
    state_dict: dict[str, torch.Tensor]
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def preprocess(self) -> PreprocessConfig:
        """The model-input contract (held by the model config)."""
        return self.model_config.preprocess

    def build_model(self) -> PartGCN:
        model = PartGCN(self.model_config)
        model.load_state_dict(self.state_dict)
        return model.eval()


def save_checkpoint(path: str | os.PathLike, model: PartGCN, classes: list[str],
                    meta: dict[str, Any] | None = None, extra: dict[str, Any] | None = None) -> None:
    """Write atomically, so an interrupted save never leaves a broken file. ``extra``: optimiser state etc."""
    payload = {"format": FORMAT, "model_config": model.cfg.to_dict(), "classes": list(classes),
               "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
               "meta": dict(meta or {})}
    if extra:
        payload["extra"] = extra
    buf = io.BytesIO()
    torch.save(payload, buf)
    atomic_write_bytes(path, lambda f: f.write(buf.getvalue()))


def _torch_load(path: str | os.PathLike) -> Any:
    """``torch.load(weights_only=True)`` with every failure turned into a one-line ``CheckpointError``."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise CheckpointError(f"{path}: checkpoint not found") from None
    except IsADirectoryError:
        raise CheckpointError(f"{path}: is a folder, not a checkpoint file") from None
    except Exception as e:  # torch raises many types for corrupt, truncated or unsafe files
        unsafe = _unsafe_globals(path)
        if unsafe:
            raise CheckpointError(f"{path}: refused: the file contains code (it asks to import "
                                  f"{', '.join(unsafe[:3])}{' …' if len(unsafe) > 3 else ''}), and a checkpoint "
                                  f"must hold only tensors and plain values; do not load it, rebuild it with "
                                  f"partkd-stream's training") from None
        size = Path(path).stat().st_size if Path(path).is_file() else 0
        what = "the file is empty" if size == 0 else f"{type(e).__name__}"
        raise CheckpointError(f"{path}: not a loadable partkd-stream checkpoint ({what}); give a .pt written by "
                              f"partkd-stream's training or build_engine") from None


def _unsafe_globals(path: str | os.PathLike) -> list[str]:
    """The globals a torch file would import that ``weights_only`` loading does not allow (empty: none found)."""
    find = getattr(torch.serialization, "get_unsafe_globals_in_checkpoint", None)  # torch ≥ 2.5
    if find is None:
        return []
    try:
        return sorted(find(path))
    except Exception:  # not a torch zip file at all: nothing to name
        return []


def load_checkpoint(path: str | os.PathLike) -> Checkpoint:
    payload = _torch_load(path)
    fmt = payload.get("format") if isinstance(payload, dict) else None
    if fmt not in (FORMAT, FORMAT_V1):
        raise CheckpointError(f"{path}: not a partkd-stream checkpoint (expected format {FORMAT!r})")
    try:
        cfg = dict(payload["model_config"])
        if fmt == FORMAT_V1:
            cfg = _model_config_v1(cfg, payload["preprocess"])
        model_config = ModelConfig.from_dict(cfg)
        classes = [str(c) for c in payload["classes"]]
        state_dict, meta = payload["state_dict"], dict(payload.get("meta", {}))
        if not isinstance(state_dict, dict):
            raise TypeError("state_dict is not a mapping")
    except PreprocessVersionError as e:
        raise CheckpointError(f"{path}: {e}") from None
    except (KeyError, TypeError, ValueError) as e:
        raise CheckpointError(f"{path}: malformed checkpoint ({type(e).__name__}: {e})") from None
    if model_config.num_classes != len(classes):
        raise CheckpointError(f"{path}: the model has {model_config.num_classes} outputs but the checkpoint lists "
                              f"{len(classes)} classes")
    return Checkpoint(model_config=model_config, classes=classes, state_dict=state_dict, meta=meta)


def _model_config_v1(cfg: dict[str, Any], preprocess: dict[str, Any]) -> dict[str, Any]:
    """Format 1 → 2: the model's own ``layout`` / ``in_channels`` / ``window`` become its ``preprocess``."""
    pre = PreprocessConfig.from_dict(preprocess)
    own = {k: cfg.pop(k) for k in ("layout", "in_channels", "window") if k in cfg}
    have = {"layout": pre.layout, "in_channels": pre.in_channels, "window": pre.window}
    wrong = {k: v for k, v in own.items() if v != have[k]}
    if wrong:
        raise ValueError(f"its model config {wrong} contradicts its preprocessing {have}")
    return {**cfg, "preprocess": pre.to_dict()}


def load_extra(path: str | os.PathLike) -> dict[str, Any]:
    """The ``extra`` part (optimiser state, RNG, …) used by ``--resume``."""
    payload = _torch_load(path)
    return payload.get("extra", {}) if isinstance(payload, dict) else {}
