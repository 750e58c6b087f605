"""Teacher and student for a config: the part-GCN sized by ``model.teacher`` / ``model.student``, and its optimiser."""
from __future__ import annotations

import torch
from torch import nn

from partkd_stream.model import ModelConfig, PartGCN

from .config import ConfigError, ExperimentConfig, TrainConfig
from .data import Benchmark


def build_model(cfg: ExperimentConfig, bench: Benchmark, teacher: bool) -> PartGCN:
    pre = bench.hq_pre if teacher else bench.lq_pre
    common = dict(preprocess=pre, num_classes=len(bench.classes), parts=cfg.model.parts)
    role = "teacher" if teacher else "student"
    try:
        t = ModelConfig.teacher(**{**common, **cfg.model.teacher})
        if teacher:
            return PartGCN(_checked(t, "teacher"))
        student = {**common, **cfg.model.student}
        if cfg.train.kd_space == "features":  # its part embeddings live in the teacher's part-feature space
            student["embed_dim"] = _checked(t, "teacher").channels[t.part_block]
        return PartGCN(_checked(ModelConfig.student(**student), "student"))
    except TypeError as e:  # an unknown key in model.teacher / model.student
        raise ConfigError(f"model.{role}: {e}; see partkd_stream.model.ModelConfig for the options") from None


def _checked(mc: ModelConfig, role: str) -> ModelConfig:
    """Block indices that exist in the model (Python-style, -1 = the last)."""
    n = len(mc.channels)
    for key in ("part_block", "part_matrix_block"):
        if not -n <= getattr(mc, key) < n:
            raise ConfigError(f"model.{role}.{key}={getattr(mc, key)}: the {role} has {n} blocks "
                              f"(use 0…{n - 1} or -1 for the last)")
    return mc


def build_optimizer(model: PartGCN, tc: TrainConfig, extra: list[nn.Parameter] = ()) -> torch.optim.Optimizer:
    """AdamW; the part matrix learns faster and without weight decay (decay would pull it to uniform); ``extra``
    (the control's prototypes) as the rest, without decay (it would shrink them towards the origin)."""
    special = [p for n, p in model.named_parameters() if n == "part_matrix"]
    rest = [p for n, p in model.named_parameters() if n != "part_matrix"]
    groups = [{"params": rest, "lr_scale": 1.0}]
    if special:
        groups.append({"params": special, "lr_scale": tc.part_matrix_lr_scale, "weight_decay": 0.0})
    if extra:
        groups.append({"params": list(extra), "lr_scale": 1.0, "weight_decay": 0.0})
    return torch.optim.AdamW(groups, lr=tc.lr, weight_decay=tc.weight_decay)
