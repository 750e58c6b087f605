"""The part-GCN, readable top to bottom: ``TemporalConv → GraphConv → Block → PartGCN``.

Teacher and student are the same classes with different sizes (``ModelConfig.teacher`` / ``.student``).
Written with ``matmul`` / ``conv`` only (no ``einsum``) and static shapes except the batch, so the exported ONNX
graph is plain enough for TensorRT.

What the model adds to an ST-GCN (our reading of Liu et al., *Enhancing Action Recognition from Low-Quality
Skeleton Data via Part-Level Knowledge Distillation*, 2024; the formulas are ours):

- **part pooling**: backbone features ``[N, C, T', V]`` are averaged over time and over each body part's joints
  (``layouts.part_pool_matrix``) → part features ``[N, P, C]``; every layout has the same P parts, so teacher
  and student parts correspond even when their joints do not;
- **per-part projection heads** to L2-normalised embeddings ``[N, P, d]`` for the part-level contrastive loss;
- **action-specific part matrix** (teacher): logits ``A ∈ R^{K×P}``; ``softmax(A[k])`` weighs how much part p
  matters for action k. Per-part classifiers give part logits ``z_p``; the part score
  ``s_k = Σ_p softmax(A[k])_p · z_p[k]`` is trained with cross-entropy beside the global head.

Only ``forward`` (logits) is exported and deployed; ``forward_parts`` serves training.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .layouts import get_layout, part_pool_matrix, spatial_adjacency
from .preprocess import PreprocessConfig


@dataclass(frozen=True)
class ModelConfig:
    """Architecture of a part-GCN. Its input (layout, window, feature channels) is ``preprocess``: the one
    model-input contract, so a model and the preprocessing that feeds it cannot disagree."""

    preprocess: PreprocessConfig = PreprocessConfig()
    num_classes: int = 15
    channels: tuple[int, ...] = (32, 48, 64, 96)
    strides: tuple[int, ...] = (2, 2, 1, 2)
    temporal_kernel: int = 5
    parts: str = "coarse"
    embed_dim: int = 128
    dropout: float = 0.0
    part_matrix: bool = False
    part_matrix_block: int = -1   # block whose features feed the per-part classifiers (-1: the last)
    part_block: int = -1          # block whose features are pooled into the part features and embeddings
                                  # (-1: the last; a shallower block keeps the parts distinct)

    @property
    def layout(self) -> str:
        return self.preprocess.layout

    @property
    def window(self) -> int:
        return self.preprocess.window

    @property
    def in_channels(self) -> int:
        return self.preprocess.in_channels

    @classmethod
    def student(cls, **kw: Any) -> "ModelConfig":
        return cls(**kw)

    @classmethod
    def teacher(cls, **kw: Any) -> "ModelConfig":
        base = dict(channels=(64, 64, 64, 128, 128, 128, 256, 256), strides=(1, 1, 1, 2, 1, 1, 2, 1),
                    temporal_kernel=9, dropout=0.1, part_matrix=True)
        base.update(kw)
        return cls(**base)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["preprocess"] = self.preprocess.to_dict()
        d["channels"], d["strides"] = list(self.channels), list(self.strides)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "ModelConfig":
        """Inverse of ``to_dict``. Dicts written before the model held its preprocessing (``layout``,
        ``in_channels``, ``window`` at the top) are converted by ``checkpoint.load_checkpoint``, which has the
        preprocessing they were saved beside."""
        d = dict(d)
        d["preprocess"] = PreprocessConfig.from_dict(d["preprocess"])
        for k in ("channels", "strides"):
            if k in d:
                d[k] = tuple(d[k])
        return cls(**d)


class TemporalConv(nn.Module):
    """Convolution over time only (kernel ``k × 1``), with batch norm."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int = 1) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, (kernel, 1), stride=(stride, 1), padding=((kernel - 1) // 2, 0))
        self.bn = nn.BatchNorm2d(cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(self.conv(x))


class GraphConv(nn.Module):
    """Spatial graph convolution: ``x @ (A_k + B_k)`` for each adjacency subset k, concatenated, then a 1×1 conv.

    ``A`` is the fixed ST-GCN spatial partition of the layout; ``B`` a learned refinement initialised at 0.
    """

    def __init__(self, cin: int, cout: int, adjacency: np.ndarray) -> None:
        super().__init__()
        self.register_buffer("A", torch.as_tensor(adjacency, dtype=torch.float32))
        self.B = nn.Parameter(torch.zeros_like(self.A))
        self.conv = nn.Conv2d(cin * adjacency.shape[0], cout, 1)
        self.bn = nn.BatchNorm2d(cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:  # [N, C, T, V]
        a = self.A + self.B
        z = torch.cat([torch.matmul(x, a[k]) for k in range(a.shape[0])], dim=1)
        return self.bn(self.conv(z))


class Block(nn.Module):
    """Graph conv → ReLU → temporal conv, with a residual connection."""

    def __init__(self, cin: int, cout: int, adjacency: np.ndarray, kernel: int, stride: int,
                 residual: bool = True) -> None:
        super().__init__()
        self.gcn = GraphConv(cin, cout, adjacency)
        self.tcn = TemporalConv(cout, cout, kernel, stride)
        if not residual:
            self.res = None
        elif cin == cout and stride == 1:
            self.res = nn.Identity()
        else:
            self.res = TemporalConv(cin, cout, 1, stride)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.tcn(F.relu(self.gcn(x)))
        if self.res is not None:
            y = y + self.res(x)
        return F.relu(y)


class PartGCN(nn.Module):
    """ST-GCN backbone + part pooling + global classifier (+ part heads and part matrix for training)."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        self.cfg = cfg
        layout = get_layout(cfg.layout)
        adjacency = spatial_adjacency(layout)
        v = layout.num_joints
        self.data_bn = nn.BatchNorm1d(cfg.in_channels * v)
        blocks, cin = [], cfg.in_channels
        for i, (cout, stride) in enumerate(zip(cfg.channels, cfg.strides)):
            blocks.append(Block(cin, cout, adjacency, cfg.temporal_kernel, stride, residual=i > 0))
            cin = cout
        self.blocks = nn.Sequential(*blocks)
        self.register_buffer("part_pool", torch.as_tensor(part_pool_matrix(layout, cfg.parts)))
        self.num_parts = self.part_pool.shape[1]
        self.dropout = nn.Dropout(cfg.dropout)
        self.fc = nn.Linear(cin, cfg.num_classes)

        p, c, d, k = self.num_parts, cfg.channels[cfg.part_block], cfg.embed_dim, cfg.num_classes
        # per-part 2-layer projection heads, stored as batched weights [P, in, out]
        self.proj_w1 = nn.Parameter(torch.randn(p, c, c) / c ** 0.5)
        self.proj_b1 = nn.Parameter(torch.zeros(p, 1, c))
        self.proj_w2 = nn.Parameter(torch.randn(p, c, d) / c ** 0.5)
        if cfg.part_matrix:
            c = cfg.channels[cfg.part_matrix_block]
            self.part_cls_w = nn.Parameter(torch.randn(p, c, k) / c ** 0.5)
            self.part_cls_b = nn.Parameter(torch.zeros(p, 1, k))
            self.part_matrix = nn.Parameter(torch.zeros(k, p))  # logits; softmax over parts

    def backbone(self, x: torch.Tensor, tap: int | None = None) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """``[N, C_in, T, V]`` → last block's features ``[N, C, T', V]`` (and block ``tap``'s, when given)."""
        if tap is None:
            return self.backbone_taps(x, ())[0]
        f, tapped = self.backbone_taps(x, (tap,))
        return f, tapped[tap % len(self.blocks)]

    def backbone_taps(self, x: torch.Tensor, taps: tuple[int, ...]) -> tuple[torch.Tensor, dict[int, torch.Tensor]]:
        """Last block's features and those of the blocks in ``taps`` (keys: non-negative block indices)."""
        n, c, t, v = x.shape
        x = self.data_bn(x.permute(0, 3, 1, 2).reshape(n, v * c, t))
        f = x.reshape(n, v, c, t).permute(0, 2, 3, 1)
        want = {i % len(self.blocks) for i in taps}
        tapped = {}
        for i, block in enumerate(self.blocks):
            f = block(f)
            if i in want:
                tapped[i] = f
        return f, tapped

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``[N, C_in, T, V]`` → class logits ``[N, K]``; the deployed path."""
        f = self.backbone(x)
        return self.fc(self.dropout(f.mean(dim=(2, 3))))

    def part_weights(self) -> torch.Tensor:
        """``softmax(A)`` ``[K, P]``: how much each part matters for each action."""
        if not self.cfg.part_matrix:
            raise RuntimeError("this model has no action-specific part matrix (ModelConfig.part_matrix=False)")
        return torch.softmax(self.part_matrix, dim=1)

    def forward_parts(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Training view: logits, part features ``[N,P,C]``, part embeddings ``[N,P,d]`` (+ part logits/score)."""
        last = len(self.blocks) - 1
        part_block, matrix_block = self.cfg.part_block % (last + 1), self.cfg.part_matrix_block % (last + 1)
        taps = tuple({part_block, matrix_block if self.cfg.part_matrix else last} - {last})
        f, tapped = self.backbone_taps(x, taps) if taps else (self.backbone(x), {})
        tapped[last] = f
        logits = self.fc(self.dropout(f.mean(dim=(2, 3))))
        parts = torch.matmul(tapped[part_block].mean(dim=2), self.part_pool).transpose(1, 2)  # [N, P, C_part]
        h = F.relu(torch.matmul(parts.unsqueeze(2), self.proj_w1) + self.proj_b1)  # [N, P, 1, C]
        emb = F.normalize(torch.matmul(h, self.proj_w2).squeeze(2), dim=-1)       # [N, P, d]
        out = {"logits": logits, "part_features": parts, "part_embeddings": emb}
        if self.cfg.part_matrix:
            # part logits from a shallow block: there a part's feature still mostly sees its own joints; after
            # the whole backbone every part sees the whole body, all parts classify equally and A stays uniform
            local = torch.matmul(tapped[matrix_block].mean(dim=2), self.part_pool).transpose(1, 2)  # [N, P, C_tap]
            z = (torch.matmul(local.unsqueeze(2), self.part_cls_w) + self.part_cls_b).squeeze(2)  # [N, P, K]
            out["part_logits"] = z
            out["part_score"] = (z * self.part_weights().t().unsqueeze(0)).sum(1)               # [N, K]
        return out


def count_parameters(model: nn.Module, deployed_only: bool = False) -> int:
    """Parameters of the model; ``deployed_only`` leaves out training-only heads (projections, part matrix)."""
    skip = ("proj_", "part_cls_", "part_matrix") if deployed_only else ()
    return sum(p.numel() for n, p in model.named_parameters() if not n.startswith(skip))


def export_onnx(model: PartGCN, path: str, opset: int = 17, input_name: str = "skeleton",
                output_name: str = "logits") -> None:
    """Export the deployed path (logits) with a dynamic batch axis."""
    model = model.eval()
    cfg = model.cfg
    dummy = torch.zeros(1, cfg.in_channels, cfg.window, get_layout(cfg.layout).num_joints)
    torch.onnx.export(model, (dummy,), path, input_names=[input_name], output_names=[output_name],
                      dynamic_axes={input_name: {0: "batch"}, output_name: {0: "batch"}},
                      opset_version=opset, dynamo=False)
