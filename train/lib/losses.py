"""Distillation losses: our reading of Liu et al. 2024 (the paper's formulas were not available to us).

Part-level multi-sample contrastive loss, for an LQ sample i with label y_i and body part p::

    L_i = Σ_p w[y_i, p] · ( −1/|Pos_i| Σ_{j∈Pos_i} log( exp(s_ip·t_jp/τ) / Σ_{k∈Bank} exp(s_ip·t_kp/τ) ) )

``s_ip`` is the student's L2-normalised part-p embedding, ``t_jp`` a teacher part-p embedding of an HQ sample j;
the bank holds the HQ samples of the current batch plus a per-class memory queue; positives are all bank
entries of class y_i. ``w = softmax(A)`` is the teacher's frozen action-specific part matrix (uniform weights for
the ablation). No paired HQ sample is needed, so unpaired LQ samples train too. The *single-sample* ablation
keeps only the sample's own HQ partner as positive and skips unpaired samples.
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


class ClassQueue:
    """FIFO memory of teacher part embeddings, ``size`` per class: ``[K, size, P, d]`` plus a fill mask."""

    def __init__(self, num_classes: int, size: int, num_parts: int, dim: int,
                 device: torch.device | str = "cpu") -> None:
        self.emb = torch.zeros(num_classes, size, num_parts, dim, device=device)
        self.full = torch.zeros(num_classes, size, dtype=torch.bool, device=device)
        self.ptr = np.zeros(num_classes, dtype=np.int64)
        self.size = size

    @torch.no_grad()
    def push(self, emb: torch.Tensor, labels: torch.Tensor) -> None:
        """Append in order; per class, the oldest entries are overwritten first."""
        if self.size == 0 or len(labels) == 0:
            return
        lab = labels.cpu().numpy()
        rank = np.zeros(len(lab), np.int64)  # position of each sample among its class's samples in this batch
        for k in np.unique(lab):
            at = np.flatnonzero(lab == k)
            rank[at] = np.arange(len(at))
        count = np.bincount(lab, minlength=len(self.ptr))
        keep = rank >= count[lab] - self.size  # more than `size` of a class at once: only its last `size` stay
        slot = (self.ptr[lab] + rank) % self.size
        k_idx = torch.from_numpy(lab[keep]).to(self.emb.device)
        s_idx = torch.from_numpy(slot[keep]).to(self.emb.device)
        self.emb[k_idx, s_idx] = emb.detach()[torch.from_numpy(np.flatnonzero(keep)).to(emb.device)].to(self.emb)
        self.full[k_idx, s_idx] = True
        self.ptr = (self.ptr + count) % self.size

    def contents(self) -> tuple[torch.Tensor, torch.Tensor]:
        """All stored embeddings ``[M, P, d]`` and their labels ``[M]``."""
        k_idx, s_idx = self.full.nonzero(as_tuple=True)
        return self.emb[k_idx, s_idx], k_idx

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {"emb": self.emb.cpu(), "full": self.full.cpu(), "ptr": torch.from_numpy(self.ptr.copy())}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        self.emb.copy_(state["emb"])
        self.full.copy_(state["full"])
        self.ptr = state["ptr"].numpy().copy()


def part_contrastive_loss(student: torch.Tensor, labels: torch.Tensor, bank: torch.Tensor,
                          bank_labels: torch.Tensor, part_weights: torch.Tensor, tau: float = 0.1,
                          positive_mask: torch.Tensor | None = None, exclude: torch.Tensor | None = None
                          ) -> torch.Tensor:
    """Weighted part-level multi-positive InfoNCE.

    student ``[N, P, d]``, labels ``[N]``, bank ``[M, P, d]`` with ``bank_labels [M]``, part_weights ``[K, P]``
    (rows sum to 1). ``positive_mask [N, M]`` overrides the class-based positives (single-sample ablation);
    ``exclude [N, M]`` removes pairs from numerator and denominator (a sample and itself, in supervised
    contrastive training of the teacher's heads). Samples without any positive in the bank contribute 0.
    """
    if bank.shape[0] == 0 or student.shape[0] == 0:
        return student.sum() * 0.0
    sim = torch.matmul(student.transpose(0, 1), bank.permute(1, 2, 0)) / tau          # [P, N, M]
    pos = (labels[:, None] == bank_labels[None, :]) if positive_mask is None else positive_mask
    if exclude is not None:
        sim = sim.masked_fill(exclude[None], float("-inf"))
        pos = pos & ~exclude
    log_prob = F.log_softmax(sim, dim=-1).masked_fill(~torch.isfinite(sim), 0.0)
    pos = pos.to(log_prob.dtype)                                                       # [N, M]
    n_pos = pos.sum(1)                                                                 # [N]
    per_part = -(log_prob * pos[None]).sum(-1) / n_pos.clamp(min=1)[None]              # [P, N]
    weighted = (per_part.t() * part_weights[labels]).sum(1)                            # [N]
    has_pos = (n_pos > 0).to(weighted.dtype)
    return (weighted * has_pos).sum() / has_pos.sum().clamp(min=1)


def supervised_part_contrastive(emb: torch.Tensor, labels: torch.Tensor, tau: float = 0.1) -> torch.Tensor:
    """Teacher side: supervised contrastive loss over a batch, per part, uniform part weights.

    Trains the teacher's projection heads so that its part embeddings cluster by class — the targets the
    student's part embeddings are later pulled towards. Each sample's positives are the *other* samples of its
    class in the batch.
    """
    n, p = emb.shape[0], emb.shape[1]
    weights = torch.full((int(labels.max()) + 1, p), 1.0 / p, device=emb.device)
    eye = torch.eye(n, dtype=torch.bool, device=emb.device)
    return part_contrastive_loss(emb, labels, emb, labels, weights, tau, exclude=eye)


def logit_kd_loss(student_logits: torch.Tensor, teacher_logits: torch.Tensor, temperature: float = 4.0
                  ) -> torch.Tensor:
    """Hinton's KD: KL(teacher ‖ student) at temperature T, scaled by T² so its gradient size matches CE."""
    if student_logits.shape[0] == 0:
        return student_logits.sum() * 0.0
    t = temperature
    return F.kl_div(F.log_softmax(student_logits / t, 1), F.log_softmax(teacher_logits / t, 1),
                    reduction="batchmean", log_target=True) * t * t
