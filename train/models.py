"""Teacher and student for a config: the part-GCN sized by ``model.teacher`` / ``model.student``, and its optimiser."""
from __future__ import annotations

import torch
from torch import nn

from partkd_stream.model import ModelConfig, PartGCN

from .config import ConfigError, ExperimentConfig, TrainConfig
from .data import Benchmark


def build_model(cfg: ExperimentConfig, bench: Benchmark, teacher: bool) -> PartGCN:
    pre = bench.hq_pre if teacher else bench.lq_pre
    common = dict(layout=pre.layout, in_channels=pre.in_channels, num_classes=len(bench.classes), window=pre.window,
                  parts=cfg.model.parts)
    role = "teacher" if teacher else "student"
    try:
        if teacher:
            return PartGCN(ModelConfig.teacher(**{**common, **cfg.model.teacher}))
        student = {**common, **cfg.model.student}
        if cfg.train.kd_space == "features":  # its part embeddings live in the teacher's part-feature space
            t = ModelConfig.teacher(**{**common, **cfg.model.teacher})
            student["embed_dim"] = t.channels[t.part_block]
        return PartGCN(ModelConfig.student(**student))
    except TypeError as e:  # an unknown key in model.teacher / model.student
        raise ConfigError(f"model.{role}: {e}; see partkd_stream.model.ModelConfig for the options") from None


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
