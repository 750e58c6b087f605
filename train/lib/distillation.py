"""Where a distilling stage's targets come from and the losses it adds to cross-entropy (our reading of Liu et al.).

The teacher's part embeddings of the paired HQ clips (in the batch, and a per-class memory queue) are the bank;
``kd_losses`` pulls the student's part embeddings towards the positives among them — every entry of the class
(``class``), or the clip's own HQ partner / its nearest same-class entries (``clip``) — in the teacher heads'
space or its part-feature space, weighted per part (the teacher's learned matrix, per-part evidence, uniform).
The teacher-free control keeps the loss and replaces the teacher: learned class prototypes, or a randomly
initialised teacher-size network.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from partkd_stream.model import PartGCN

from . import rng
from .config import ConfigError, ExperimentConfig, TrainConfig
from .data import Benchmark, EpochData, centre_ends, windows
from .evaluation import model_device
from .losses import ClassQueue, logit_kd_loss, part_contrastive_loss
from .models import build_model
from .stages import Stage


def control_network(cfg: ExperimentConfig, bench: Benchmark, seed: int) -> PartGCN:
    """The control's stand-in teacher (``train.control: random_teacher``): the teacher's architecture, randomly
    initialised and never trained — same data, same loss, same architecture; only the learning is missing."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed + rng.CONTROL_TEACHER)
        return build_model(cfg, bench, teacher=True).eval()



@dataclass
class Distillation:
    """What a distilling stage needs besides its student: where its targets come from and how they are weighed.

    ``teacher`` is the trained teacher, or for the control the frozen random network (``control: random_teacher``)
    or None (``control: prototypes``: learned class prototypes, a parameter of the stage's ``_PartsView``).
    """

    teacher: PartGCN | None
    part_w: torch.Tensor            # [K, P] frozen part weights (teacher's softmax(A), evidence, or uniform)
    queue: ClassQueue | None        # target part embeddings per class (part-loss stages with a network)
    space: str = "heads"            # "heads" (projection-head embeddings) or "features" (normalised part features)
    positives: str = "class"        # "class" or "clip" (train.kd_positives)
    knn: int = 5

    def targets(self, out: dict[str, torch.Tensor]) -> torch.Tensor:
        """A network's part targets ``[N, P, d]`` in this stage's space."""
        if self.space == "features":
            return F.normalize(out["part_features"], dim=-1)
        return out["part_embeddings"]


def kd_losses(stage: Stage, tc: TrainConfig, kd: Distillation, out: dict[str, torch.Tensor], data: EpochData,
               b: np.ndarray, yb: torch.Tensor, device: torch.device) -> dict[str, torch.Tensor]:
    losses: dict[str, torch.Tensor] = {}
    student = out["part_embeddings"]
    if kd.teacher is None:  # the control with learned prototypes: the bank is one learned centre per class
        protos = out["prototypes"]
        losses["part"] = tc.alpha * part_contrastive_loss(student, yb, protos, torch.arange(len(protos), device=device),
                                                          kd.part_w, tc.tau)
        return losses
    hq_rows = data.hq_index[b]
    pb = np.flatnonzero(hq_rows >= 0)                      # batch positions with an HQ partner
    with torch.no_grad():
        t_out = (kd.teacher.forward_parts(torch.from_numpy(data.x_hq[hq_rows[pb]]).to(device))
                 if len(pb) else None)
    pb_t = torch.from_numpy(pb).to(device)
    if stage.part_loss:
        q_emb, q_lab = kd.queue.contents()
        t_emb = kd.targets(t_out) if t_out is not None else q_emb[:0]
        t_lab = yb[pb_t]
        bank, bank_lab = torch.cat([t_emb, q_emb]), torch.cat([t_lab, q_lab])
        mask = None
        if stage.part_loss == "single":  # positive = the sample's own HQ partner only
            mask = torch.zeros(len(yb), len(bank), dtype=torch.bool, device=device)
            mask[pb_t, torch.arange(len(pb), device=device)] = True
        elif kd.positives == "clip":
            mask = clip_positives(student.detach(), yb, pb_t, bank, bank_lab, kd.part_w, kd.knn)
        losses["part"] = tc.alpha * part_contrastive_loss(student, yb, bank, bank_lab, kd.part_w, tc.tau,
                                                          positive_mask=mask)
        if t_out is not None:
            kd.queue.push(t_emb, t_lab)
    beta = {"beta": tc.beta, "ablation": tc.beta_ablation, None: 0.0}[stage.logit_kd]
    if beta > 0 and t_out is not None:
        losses["logit_kd"] = beta * logit_kd_loss(out["logits"][pb_t], t_out["logits"], tc.kd_temperature)
    return losses


def clip_positives(student: torch.Tensor, labels: torch.Tensor, paired_rows: torch.Tensor, bank: torch.Tensor,
                   bank_labels: torch.Tensor, part_w: torch.Tensor, k: int) -> torch.Tensor:
    """Clip-level positives ``[N, M]`` (weights, rows sum to 1): a paired sample's own HQ partner (bank row i for
    the i-th paired sample of the batch); an unpaired sample's ``k`` same-class bank entries nearest to it (cosine
    in the target space, part-weighted) — so the target depends on the clip, not only on its class."""
    n, m = len(labels), len(bank)
    sim = torch.einsum("npd,mpd->nmp", student, bank)                               # [N, M, P]
    sim = (sim * part_w[labels][:, None, :]).sum(-1)                                 # [N, M]
    same = labels[:, None] == bank_labels[None, :]
    sim = sim.masked_fill(~same, float("-inf"))
    k = min(k, m) if m else 0
    pos = torch.zeros(n, m, device=student.device)
    if k:
        top = sim.topk(k, dim=1)
        w = torch.isfinite(top.values).to(pos.dtype)
        pos.scatter_(1, top.indices, w)
    pos[paired_rows] = 0.0
    pos[paired_rows, torch.arange(len(paired_rows), device=student.device)] = 1.0
    return pos / pos.sum(1, keepdim=True).clamp(min=1e-12)


def build_distillation(stage: Stage, cfg: ExperimentConfig, bench: Benchmark, teacher: PartGCN | None,
                       student: PartGCN, device: torch.device, seed: int = 0) -> Distillation | None:
    """Where a distilling stage's targets come from, on ``device``: the frozen teacher (or the control's random
    network, or nothing for learned prototypes), the part weights, and a target queue started full."""
    if not stage.distils:
        return None
    tc = cfg.train
    k, p = len(bench.classes), student.num_parts
    uniform = torch.full((k, p), 1.0 / p, device=device)
    if stage.teacher_free:
        teacher = control_network(cfg, bench, seed) if tc.control == "random_teacher" else None
    elif teacher is None:
        raise ConfigError(f"stage {stage.name} needs a trained teacher: run the teacher stage first")
    if teacher is None:
        return Distillation(None, uniform, None)
    teacher = teacher.to(device).eval()
    if stage.uniform_parts or tc.part_weights == "uniform":
        part_w = uniform
    elif tc.part_weights == "evidence":
        part_w = part_evidence(teacher, bench, tc.evidence_temperature).to(device)
    else:
        part_w = teacher.part_weights().detach()
    kd = Distillation(teacher, part_w, None, tc.kd_space, tc.kd_positives, tc.kd_knn)
    if stage.part_loss:
        kd.queue = ClassQueue(k, tc.queue_size, p, student.cfg.embed_dim, device=device)
        fill_queue(kd, bench)
    return kd


def paired_hq_windows(bench: Benchmark) -> tuple[np.ndarray, np.ndarray]:
    """Centred HQ windows of the paired training clips and their labels (made once per seed)."""
    if "paired_hq" not in bench.cache:
        idx = np.flatnonzero(bench.paired)
        seqs, fps = [bench.train_hq[i] for i in idx], bench.train_fps[idx]
        x = (windows(seqs, fps, centre_ends(np.array([len(s) for s in seqs]), fps, bench.hq_pre), bench.hq_pre)
             if len(idx) else np.zeros((0,), np.float32))
        bench.cache["paired_hq"] = (x, bench.train_labels[idx])
    return bench.cache["paired_hq"]


@torch.no_grad()
def fill_queue(kd: Distillation, bench: Benchmark) -> None:
    """Start the memory queue full: target embeddings of the paired (HQ-available) training clips."""
    x, labels = paired_hq_windows(bench)
    device = model_device(kd.teacher)
    for i in range(0, len(x), 256):
        out = kd.teacher.forward_parts(torch.from_numpy(x[i:i + 256]).to(device))
        kd.queue.push(kd.targets(out), torch.from_numpy(labels[i:i + 256]))


@torch.no_grad()
def part_evidence(teacher: PartGCN, bench: Benchmark, temperature: float) -> torch.Tensor:
    """Part weights ``[K, P]`` from per-part classification evidence: for class k and part p, the mean
    log-probability the teacher's part-p classifier gives class k on the class-k paired HQ training clips;
    ``softmax`` over parts at ``temperature``. A part that recognises an action well weighs more for it."""
    if not teacher.cfg.part_matrix:
        raise ConfigError("train.part_weights=evidence needs a teacher with per-part classifiers (part_matrix)")
    x, labels = paired_hq_windows(bench)
    device, logp = model_device(teacher), []
    for i in range(0, len(x), 256):
        z = teacher.forward_parts(torch.from_numpy(x[i:i + 256]).to(device))["part_logits"]        # [n, P, K]
        y = torch.from_numpy(labels[i:i + 256]).long().to(device)
        logp.append(F.log_softmax(z, -1).gather(2, y[:, None, None].expand(-1, z.shape[1], 1))[..., 0].cpu())
    logp_t, y_all = torch.cat(logp), torch.from_numpy(labels).long()                             # [N, P], [N]
    k = teacher.cfg.num_classes
    mean = torch.zeros(k, logp_t.shape[1]).index_add_(0, y_all, logp_t)
    count = torch.bincount(y_all, minlength=k).clamp(min=1)[:, None]
    return torch.softmax(mean / count / temperature, dim=1)
