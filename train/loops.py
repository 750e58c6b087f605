"""Training and evaluation loops for the teacher, the LQ baseline, the distilled student and the ablations.

Run hygiene lives here: per-epoch atomic checkpoints (``<stage>.last.pt``, with optimiser state) loaded with
``weights_only=True``; ``resume`` continues from them; Ctrl-C saves the current epoch's state and re-raises;
under ``torchrun`` the model is wrapped in DDP (gloo on CPU, NCCL on GPU) and each rank trains on its shard.
"""
from __future__ import annotations

import dataclasses
import json
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from partkd_stream.checkpoint import load_checkpoint, load_extra, save_checkpoint
from partkd_stream.model import ModelConfig, PartGCN
from partkd_stream.preprocess import PreprocessConfig, clip_windows

from .config import ConfigError, ExperimentConfig
from .data import Benchmark, centre_ends, lq_train_views, random_ends, random_yaw, windows
from .losses import ClassQueue, logit_kd_loss, part_contrastive_loss, supervised_part_contrastive


@dataclass(frozen=True)
class Stage:
    name: str
    title: str
    teacher: bool = False
    part_loss: str | None = None      # None, "multi" (multi-sample) or "single" (paired-only)
    uniform_parts: bool = False
    logit_kd: str | None = None       # None, "beta" (config beta) or "ablation" (config beta_ablation)


STAGES: dict[str, Stage] = {s.name: s for s in (
    Stage("teacher", "HQ teacher", teacher=True),
    Stage("baseline", "LQ student, CE only"),
    Stage("kd", "LQ student + part-level multi-sample KD (ours)", part_loss="multi", logit_kd="beta"),
    Stage("kd_uniform", "ablation: part KD, uniform part weights", part_loss="multi", uniform_parts=True),
    Stage("kd_paired", "ablation: paired-only single-sample part KD", part_loss="single"),
    Stage("logit_kd", "ablation: logit KD only (paired)", logit_kd="ablation"),
)}


# --- distributed helpers ---------------------------------------------------------------------------------------
def dist_info() -> tuple[int, int]:
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def init_distributed() -> None:
    """Join the process group when launched by ``torchrun`` (WORLD_SIZE > 1)."""
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and not dist.is_initialized():
        dist.init_process_group(backend="nccl" if torch.cuda.is_available() else "gloo")


class _PartsView(nn.Module):
    """Makes ``forward_parts`` the module's forward, so DDP synchronises the gradients it produces."""

    def __init__(self, model: PartGCN) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        return self.model.forward_parts(x)


# --- models ------------------------------------------------------------------------------------------------------
def build_model(cfg: ExperimentConfig, bench: Benchmark, teacher: bool) -> PartGCN:
    pre = bench.hq_pre if teacher else bench.lq_pre
    common = dict(preprocess=pre, num_classes=len(bench.classes), parts=cfg.model.parts)
    role = "teacher" if teacher else "student"
    try:
        if teacher:
            return PartGCN(ModelConfig.teacher(**{**common, **cfg.model.teacher}))
        return PartGCN(ModelConfig.student(**{**common, **cfg.model.student}))
    except TypeError as e:  # an unknown key in model.teacher / model.student
        raise ConfigError(f"model.{role}: {e}; see partkd_stream.model.ModelConfig for the options") from None


# --- evaluation --------------------------------------------------------------------------------------------------
@torch.no_grad()
def predict_windows(model: PartGCN, x: np.ndarray, batch: int = 512) -> np.ndarray:
    model.eval()
    out = [torch.softmax(model(torch.from_numpy(x[i:i + batch])), 1).numpy() for i in range(0, len(x), batch)]
    return np.concatenate(out) if out else np.zeros((0, model.cfg.num_classes), np.float32)


def evaluate(model: PartGCN, seqs: list[np.ndarray], fps: np.ndarray, labels: np.ndarray, pre: PreprocessConfig,
             streaming: bool = True, stride: int | None = None) -> dict[str, Any]:
    """Clip accuracy (one centred window; top-1/top-5) and streaming accuracy (sliding windows, scores averaged)."""
    lengths = np.array([len(s) for s in seqs])
    probs = predict_windows(model, windows(seqs, fps, centre_ends(lengths, fps, pre), pre))
    top5 = np.argsort(-probs, 1)[:, :5]
    res: dict[str, Any] = {"top1": float((top5[:, 0] == labels).mean()),
                           "top5": float((top5 == labels[:, None]).any(1).mean()),
                           "pred": top5[:, 0].tolist()}
    if streaming:  # all clips' windows in one pass: fixed batch shapes keep oneDNN from re-planning per clip
        per_clip = [clip_windows(s, f, pre, stride) for s, f in zip(seqs, fps)]
        owner = np.repeat(np.arange(len(seqs)), [len(w) for w in per_clip])
        p = predict_windows(model, np.concatenate(per_clip))
        mean = np.zeros((len(seqs), p.shape[1]))
        np.add.at(mean, owner, p)
        stream_pred = mean.argmax(1)
        res["stream_top1"] = float((stream_pred == labels).mean())
        res["window_top1"] = float((p.argmax(1) == labels[owner]).mean())
        res["stream_pred"] = stream_pred.tolist()
    return res


# --- training ----------------------------------------------------------------------------------------------------
def _lr_at(epoch: int, step: int, steps: int, epochs: int, base: float) -> float:
    progress = (epoch + step / max(steps, 1)) / max(epochs, 1)
    warm = min(1.0, (epoch * steps + step + 1) / max(steps, 1))  # one epoch of linear warm-up
    return base * warm * 0.5 * (1 + math.cos(math.pi * progress))


def train_stage(stage: Stage, cfg: ExperimentConfig, bench: Benchmark, seed: int, out_dir: Path,
                teacher: PartGCN | None = None, resume: bool = False,
                log: Callable[[str], None] = print) -> tuple[PartGCN, dict[str, Any]]:
    """Train one stage; returns the model and its metrics (also written to ``<stage>.pt``'s meta)."""
    rank, world = dist_info()
    final_path, last_path = out_dir / f"{stage.name}.pt", out_dir / f"{stage.name}.last.pt"
    if resume and final_path.exists():
        ck = load_checkpoint(final_path)
        log(f"[{stage.name}] seed {seed}: already trained, loaded {final_path}")
        full = out_dir / f"{stage.name}.metrics.json"  # written by distill.py beside the checkpoint
        metrics = json.loads(full.read_text()) if full.exists() else ck.meta.get("metrics", {})
        return ck.build_model(), metrics

    torch.manual_seed(seed)
    model = build_model(cfg, bench, teacher=stage.teacher)
    pre = bench.hq_pre if stage.teacher else bench.lq_pre
    tc = cfg.train
    epochs = tc.epochs_teacher if stage.teacher else tc.epochs_student
    opt = torch.optim.AdamW(_param_groups(model, tc), lr=tc.lr, weight_decay=tc.weight_decay)
    history: list[dict[str, Any]] = []
    start_epoch = 0
    if resume and last_path.exists():
        ck, extra = load_checkpoint(last_path), load_extra(last_path)
        model.load_state_dict(ck.state_dict)
        opt.load_state_dict(extra["optimizer"])
        history, start_epoch = list(extra["history"]), int(extra["epoch"]) + 1
        log(f"[{stage.name}] seed {seed}: resuming at epoch {start_epoch + 1}/{epochs}")

    net = _PartsView(model)
    if world > 1:
        net = nn.parallel.DistributedDataParallel(net, find_unused_parameters=True)

    part_w = queue = None
    if stage.part_loss or stage.logit_kd:
        assert teacher is not None, f"stage {stage.name} needs a trained teacher"
        teacher.eval()
        k, p = len(bench.classes), model.num_parts
        part_w = torch.full((k, p), 1.0 / p) if stage.uniform_parts else teacher.part_weights().detach()
        if stage.part_loss:
            queue = ClassQueue(k, tc.queue_size, p, model.cfg.embed_dim)
            _fill_queue(queue, teacher, bench)

    def save_last(epoch: int) -> None:
        if rank == 0:
            save_checkpoint(last_path, model, bench.classes, meta={"stage": stage.name, "seed": seed},
                            extra={"optimizer": opt.state_dict(), "history": history, "epoch": epoch})

    epoch = start_epoch
    fixed_views: list[np.ndarray] = []
    try:
        for epoch in range(start_epoch, epochs):
            t0 = time.time()
            rng = np.random.default_rng([seed, epoch, 99])
            if stage.teacher:
                idx_pool = (np.arange(len(bench.paired)) if cfg.data.teacher_clips == "all"
                            else np.flatnonzero(bench.paired))
                seqs = [bench.train_hq[i] for i in idx_pool]
                if cfg.data.hq_rotate > 0 and pre.dims == 3:  # own RNG stream: the rest of the epoch is unchanged
                    seqs = random_yaw(seqs, cfg.data.hq_rotate, np.random.default_rng([seed, epoch, 11]))
                fps, labels = bench.train_fps[idx_pool], bench.train_labels[idx_pool]
                fill = _fill_modes(cfg, seed, epoch, len(seqs))
                x = windows(seqs, fps, random_ends(np.array([len(s) for s in seqs]), fps, pre, rng), pre, fill)
                x_hq, paired = None, np.zeros(len(x), bool)
            else:
                fixed = cfg.data.lq_train == "fixed"
                if not (fixed and fixed_views):  # a fixed LQ set is degraded once per stage
                    fixed_views = lq_train_views(bench, seed, epoch, fixed=fixed)
                seqs = fixed_views
                fps, labels, paired = bench.train_fps, bench.train_labels, bench.paired
                ends = random_ends(np.array([len(s) for s in seqs]), fps, pre, rng)
                fill = _fill_modes(cfg, seed, epoch, len(seqs))
                x = windows(seqs, fps, ends, pre, fill)
                x_hq = windows(bench.train_hq, fps, ends, bench.hq_pre, fill) if teacher is not None else None
            order = rng.permutation(len(x))[rank::world]
            steps = math.ceil(len(order) / tc.batch_size)
            model.train()
            sums: dict[str, float] = {}
            bar = tqdm(range(steps), desc=f"{stage.name} s{seed} e{epoch + 1}/{epochs}", leave=False,
                       disable=rank != 0 or not _tty())
            for step in bar:
                for g in opt.param_groups:
                    g["lr"] = _lr_at(epoch, step, steps, epochs, tc.lr) * g["lr_scale"]
                b = order[step * tc.batch_size:(step + 1) * tc.batch_size]
                yb = torch.from_numpy(labels[b]).long()
                out = net(torch.from_numpy(x[b]))
                losses = {"ce": F.cross_entropy(out["logits"], yb)}
                if stage.teacher:
                    losses["part_ce"] = tc.part_score_weight * F.cross_entropy(out["part_score"], yb)
                    if tc.supcon_weight > 0:
                        losses["supcon"] = tc.supcon_weight * supervised_part_contrastive(
                            out["part_embeddings"], yb, tc.tau)
                else:
                    losses.update(_kd_losses(stage, cfg, teacher, out, x_hq, b, yb, paired[b], queue, part_w))
                loss = sum(losses.values())
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                for name, v in losses.items():
                    sums[name] = sums.get(name, 0.0) + float(v.detach())
            row = {"epoch": epoch + 1, **{f"loss_{k}": v / max(steps, 1) for k, v in sums.items()},
                   "seconds": round(time.time() - t0, 2)}
            if rank == 0:
                if (epoch + 1) % max(tc.eval_every, 1) == 0 or epoch + 1 == epochs:  # curves only: never selects
                    test_seqs = bench.test_hq if stage.teacher else bench.test_lq
                    row["test_top1"] = evaluate(model, test_seqs, bench.test_fps, bench.test_labels, pre,
                                                streaming=False)["top1"]
                log(f"[{stage.name}] seed {seed} epoch {epoch + 1}/{epochs} "
                    + " ".join(f"{k}={v:.4f}" for k, v in row.items() if k.startswith("loss_"))
                    + (f" test_top1={row['test_top1']:.3f}" if "test_top1" in row else "")
                    + f" ({row['seconds']:.1f}s)")
            history.append(row)
            save_last(epoch)
    except KeyboardInterrupt:  # checkpoints are atomic: the last completed epoch's is intact
        if rank == 0:
            done = f"{last_path} (epoch {len(history)})" if history else "none yet"
            log(f"[{stage.name}] interrupted in epoch {epoch + 1}; resumable checkpoint: {done}")
        raise

    metrics: dict[str, Any] = {"history": history}
    if rank == 0:
        test_seqs = bench.test_hq if stage.teacher else bench.test_lq
        metrics["test"] = evaluate(model, test_seqs, bench.test_fps, bench.test_labels, pre,
                                   stride=tc.streaming_stride)
        if stage.teacher:  # how a teacher fares on low-quality input, for reference
            lq_pre = bench.lq_pre
            if lq_pre.layout == pre.layout and lq_pre.dims == pre.dims:
                metrics["test_lq"] = evaluate(model, bench.test_lq, bench.test_fps, bench.test_labels, pre,
                                              streaming=False)
        save_checkpoint(final_path, model, bench.classes,
                        meta={"stage": stage.name, "title": stage.title, "seed": seed, "dataset": cfg.data.dataset,
                              "data": dataclasses.asdict(cfg.data), "train": dataclasses.asdict(cfg.train),
                              "metrics": summarize(metrics)})
        last_path.unlink(missing_ok=True)
    if world > 1:
        dist.barrier()
    return model.eval(), metrics


def _param_groups(model: PartGCN, tc) -> list[dict[str, Any]]:
    """The part matrix learns faster and without weight decay (decay would pull it to uniform); the rest as set."""
    special = [p for n, p in model.named_parameters() if n == "part_matrix"]
    rest = [p for n, p in model.named_parameters() if n != "part_matrix"]
    groups = [{"params": rest, "lr_scale": 1.0}]
    if special:
        groups.append({"params": special, "lr_scale": tc.part_matrix_lr_scale, "weight_decay": 0.0})
    return groups


def _fill_modes(cfg: ExperimentConfig, seed: int, epoch: int, n: int) -> list[str]:
    """Per clip, what fills a window before a short clip (own RNG stream: the rest of the epoch is unchanged)."""
    return list(np.random.default_rng([seed, epoch, 5]).choice(cfg.data.fill_modes, n))


def summarize(metrics: dict[str, Any]) -> dict[str, Any]:
    """Metrics without per-clip predictions or per-epoch history: what a checkpoint and a model card carry."""
    return {split: {k: v for k, v in m.items() if not isinstance(v, list)}
            for split, m in metrics.items() if isinstance(m, dict)}


def _kd_losses(stage: Stage, cfg: ExperimentConfig, teacher: PartGCN | None, out: dict[str, torch.Tensor],
               x_hq: np.ndarray | None, b: np.ndarray, yb: torch.Tensor, paired_b: np.ndarray,
               queue: ClassQueue | None, part_w: torch.Tensor | None) -> dict[str, torch.Tensor]:
    tc = cfg.train
    losses: dict[str, torch.Tensor] = {}
    if teacher is None or not (stage.part_loss or stage.logit_kd):
        return losses
    pb = np.flatnonzero(paired_b)
    with torch.no_grad():
        t_out = teacher.forward_parts(torch.from_numpy(x_hq[b[pb]])) if len(pb) else None
    if stage.part_loss:
        q_emb, q_lab = queue.contents()
        t_emb = t_out["part_embeddings"] if t_out is not None else q_emb[:0]
        t_lab = yb[pb]
        bank, bank_lab = torch.cat([t_emb, q_emb]), torch.cat([t_lab, q_lab])
        mask = None
        if stage.part_loss == "single":  # positive = the sample's own HQ partner only
            mask = torch.zeros(len(yb), len(bank), dtype=torch.bool)
            mask[torch.from_numpy(pb), torch.arange(len(pb))] = True
        losses["part"] = tc.alpha * part_contrastive_loss(out["part_embeddings"], yb, bank, bank_lab, part_w,
                                                          tc.tau, positive_mask=mask)
        if t_out is not None:
            queue.push(t_emb, t_lab)
    beta = {"beta": tc.beta, "ablation": tc.beta_ablation, None: 0.0}[stage.logit_kd]
    if beta > 0 and t_out is not None:
        losses["logit_kd"] = beta * logit_kd_loss(out["logits"][torch.from_numpy(pb)], t_out["logits"],
                                                  tc.kd_temperature)
    return losses


@torch.no_grad()
def _fill_queue(queue: ClassQueue, teacher: PartGCN, bench: Benchmark) -> None:
    """Start the memory queue full: teacher embeddings of the paired (HQ-available) training clips."""
    idx = np.flatnonzero(bench.paired)
    if len(idx) == 0:
        return
    seqs = [bench.train_hq[i] for i in idx]
    fps = bench.train_fps[idx]
    x = windows(seqs, fps, centre_ends(np.array([len(s) for s in seqs]), fps, bench.hq_pre), bench.hq_pre)
    for i in range(0, len(x), 256):
        emb = teacher.forward_parts(torch.from_numpy(x[i:i + 256]))["part_embeddings"]
        queue.push(emb, torch.from_numpy(bench.train_labels[idx[i:i + 256]]))


def _tty() -> bool:
    """Progress bars on a terminal only, and not in ``distill.py --jobs`` children (their bars would collide)."""
    import sys
    return sys.stderr.isatty() and os.environ.get("PARTKD_PROGRESS", "1") != "0"
