"""Training and evaluation loops for the teacher, the LQ baseline, the distilled student and the ablations.

One stage is ``train_stage``: build the model and optimiser → resume → per epoch: that epoch's windows
(``epoch_data``), training steps (``train_step``), a test point for the curves, a checkpoint → final evaluation and
save. Run hygiene: per-epoch atomic checkpoints (``<stage>.last.pt``) hold everything that shapes the rest of the
run — weights, optimiser, torch RNG states (dropout), the KD memory queue, the epoch — so ``resume`` continues
bit for bit (numpy draws come from named per-(seed, epoch) streams, ``train.rng``, so they need no saving);
loaded with ``weights_only=True``. Ctrl-C (and SIGTERM, via ``distill.py``) keeps the last finished epoch's
checkpoint and re-raises. ``train.device`` puts model, teacher, queue and batches on CUDA when present; under
``torchrun`` the model is wrapped in DDP (NCCL on GPU, gloo on CPU) and each rank trains on its shard.
"""
from __future__ import annotations

import dataclasses
import json
import math
import os
import sys
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

from . import rng
from .config import ConfigError, ExperimentConfig, TrainConfig
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

    @property
    def distils(self) -> bool:
        """Needs a trained teacher (and the HQ windows of its paired clips)."""
        return bool(self.part_loss or self.logit_kd)


STAGES: dict[str, Stage] = {s.name: s for s in (
    Stage("teacher", "HQ teacher", teacher=True),
    Stage("baseline", "LQ student, CE only"),
    Stage("kd", "LQ student + part-level multi-sample KD (ours)", part_loss="multi", logit_kd="beta"),
    Stage("kd_uniform", "ablation: part KD, uniform part weights", part_loss="multi", uniform_parts=True),
    Stage("kd_paired", "ablation: paired-only single-sample part KD", part_loss="single"),
    Stage("logit_kd", "ablation: logit KD only (paired)", logit_kd="ablation"),
)}


# --- device and distributed ---------------------------------------------------------------------------------------
def resolve_device(name: str) -> torch.device:
    """``train.device``: ``auto`` = CUDA when present, else CPU; ``cuda`` insists (under torchrun: cuda:LOCAL_RANK)."""
    if name == "cpu" or (name == "auto" and not torch.cuda.is_available()):
        return torch.device("cpu")
    if not torch.cuda.is_available():
        raise ConfigError(f"train.device={name}: no CUDA device is available to torch {torch.__version__}; "
                          f"use train.device=auto or cpu")
    device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    torch.cuda.set_device(device)
    return device


def dist_info() -> tuple[int, int]:
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def init_distributed(device: torch.device) -> None:
    """Join the process group when launched by ``torchrun`` (WORLD_SIZE > 1): NCCL on GPU, gloo on CPU."""
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")


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


def build_optimizer(model: PartGCN, tc: TrainConfig) -> torch.optim.Optimizer:
    """AdamW; the part matrix learns faster and without weight decay (decay would pull it to uniform)."""
    special = [p for n, p in model.named_parameters() if n == "part_matrix"]
    rest = [p for n, p in model.named_parameters() if n != "part_matrix"]
    groups = [{"params": rest, "lr_scale": 1.0}]
    if special:
        groups.append({"params": special, "lr_scale": tc.part_matrix_lr_scale, "weight_decay": 0.0})
    return torch.optim.AdamW(groups, lr=tc.lr, weight_decay=tc.weight_decay)


def _model_device(model: nn.Module) -> torch.device:
    return next(model.parameters()).device


# --- evaluation --------------------------------------------------------------------------------------------------
@torch.no_grad()
def predict_windows(model: PartGCN, x: np.ndarray, batch: int = 512) -> np.ndarray:
    model.eval()
    device = _model_device(model)
    out = [torch.softmax(model(torch.from_numpy(x[i:i + batch]).to(device)), 1).cpu().numpy()
           for i in range(0, len(x), batch)]
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


# --- one epoch's data --------------------------------------------------------------------------------------------
@dataclass
class EpochData:
    """One epoch's training windows. ``hq_index[i]`` is the row of window i's HQ partner in ``x_hq``, or -1.

    Extra labelled windows (another dataset's clips, a background class of negative windows) join with ``add``;
    they have no HQ partner, so they train through every loss that needs no teacher view of their own clip.
    """

    x: np.ndarray                 # [N, C_in, T, V] model inputs
    labels: np.ndarray            # [N] class indices
    hq_index: np.ndarray          # [N] row in x_hq, -1 = no HQ partner
    x_hq: np.ndarray | None = None  # [M, C_hq, T, V] HQ windows of the paired clips (stages that distil only)

    def add(self, x: np.ndarray, labels: np.ndarray) -> "EpochData":
        return EpochData(np.concatenate([self.x, x]), np.concatenate([self.labels, labels]),
                         np.concatenate([self.hq_index, np.full(len(x), -1)]), self.x_hq)


def epoch_data(stage: Stage, cfg: ExperimentConfig, bench: Benchmark, seed: int, epoch: int,
               lq_views: Callable[[], list[np.ndarray]]) -> tuple[EpochData, np.random.Generator]:
    """The windows one epoch trains on, and the epoch's order stream (it also shuffles the batches).

    Teacher: HQ clips (all, or only the paired ones), randomly turned when ``data.hq_rotate``. Students: this
    epoch's LQ views; stages that distil also get the HQ window of each paired clip, cut at the same place.
    """
    order_rng = rng.stream(rng.EPOCH_ORDER, seed, epoch)
    if stage.teacher:
        pre = bench.hq_pre
        idx = np.arange(len(bench.paired)) if cfg.data.teacher_clips == "all" else np.flatnonzero(bench.paired)
        seqs = [bench.train_hq[i] for i in idx]
        if cfg.data.hq_rotate > 0 and pre.dims == 3:
            seqs = random_yaw(seqs, cfg.data.hq_rotate, rng.stream(rng.HQ_ROTATION, seed, epoch))
    else:
        pre = bench.lq_pre
        idx = np.arange(len(bench.paired))
        seqs = lq_views()
    fps = bench.train_fps[idx]
    ends = random_ends(np.array([len(s) for s in seqs]), fps, pre, order_rng)
    fill = _fill_modes(cfg, seed, epoch, len(seqs))
    x = windows(seqs, fps, ends, pre, fill)
    paired = np.zeros(len(idx), bool) if stage.teacher else bench.paired[idx]
    hq_index = np.where(paired, np.cumsum(paired) - 1, -1)
    x_hq = None
    if stage.distils:
        p = np.flatnonzero(paired)
        x_hq = windows([bench.train_hq[idx[i]] for i in p], fps[p], ends[p], bench.hq_pre, [fill[i] for i in p])
    return EpochData(x, bench.train_labels[idx], hq_index, x_hq), order_rng


def _fill_modes(cfg: ExperimentConfig, seed: int, epoch: int, n: int) -> list[str]:
    """Per clip, what fills a window before a short clip."""
    return list(rng.stream(rng.FILL_MODES, seed, epoch).choice(cfg.data.fill_modes, n))


# --- one training step --------------------------------------------------------------------------------------------
@dataclass
class Distillation:
    """What a distilling stage needs besides its student: the frozen teacher, part weights, the memory queue."""

    teacher: PartGCN
    part_w: torch.Tensor            # [K, P] frozen part weights (teacher's softmax(A), or uniform)
    queue: ClassQueue | None        # teacher part embeddings per class (part-loss stages)


def train_step(stage: Stage, tc: TrainConfig, net: nn.Module, opt: torch.optim.Optimizer, data: EpochData,
               b: np.ndarray, device: torch.device, kd: Distillation | None) -> dict[str, float]:
    """One optimiser step on the windows ``b`` of ``data``; returns each loss term's value."""
    yb = torch.from_numpy(data.labels[b]).long().to(device)
    out = net(torch.from_numpy(data.x[b]).to(device))
    losses = {"ce": F.cross_entropy(out["logits"], yb)}
    if stage.teacher:
        losses["part_ce"] = tc.part_score_weight * F.cross_entropy(out["part_score"], yb)
        if tc.supcon_weight > 0:
            losses["supcon"] = tc.supcon_weight * supervised_part_contrastive(out["part_embeddings"], yb, tc.tau)
    elif kd is not None:
        losses.update(_kd_losses(stage, tc, kd, out, data, b, yb, device))
    loss = sum(losses.values())
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return {name: float(v.detach()) for name, v in losses.items()}


def _kd_losses(stage: Stage, tc: TrainConfig, kd: Distillation, out: dict[str, torch.Tensor], data: EpochData,
               b: np.ndarray, yb: torch.Tensor, device: torch.device) -> dict[str, torch.Tensor]:
    losses: dict[str, torch.Tensor] = {}
    hq_rows = data.hq_index[b]
    pb = np.flatnonzero(hq_rows >= 0)                      # batch positions with an HQ partner
    with torch.no_grad():
        t_out = (kd.teacher.forward_parts(torch.from_numpy(data.x_hq[hq_rows[pb]]).to(device))
                 if len(pb) else None)
    pb_t = torch.from_numpy(pb).to(device)
    if stage.part_loss:
        q_emb, q_lab = kd.queue.contents()
        t_emb = t_out["part_embeddings"] if t_out is not None else q_emb[:0]
        t_lab = yb[pb_t]
        bank, bank_lab = torch.cat([t_emb, q_emb]), torch.cat([t_lab, q_lab])
        mask = None
        if stage.part_loss == "single":  # positive = the sample's own HQ partner only
            mask = torch.zeros(len(yb), len(bank), dtype=torch.bool, device=device)
            mask[pb_t, torch.arange(len(pb), device=device)] = True
        losses["part"] = tc.alpha * part_contrastive_loss(out["part_embeddings"], yb, bank, bank_lab, kd.part_w,
                                                          tc.tau, positive_mask=mask)
        if t_out is not None:
            kd.queue.push(t_emb, t_lab)
    beta = {"beta": tc.beta, "ablation": tc.beta_ablation, None: 0.0}[stage.logit_kd]
    if beta > 0 and t_out is not None:
        losses["logit_kd"] = beta * logit_kd_loss(out["logits"][pb_t], t_out["logits"], tc.kd_temperature)
    return losses


def build_distillation(stage: Stage, cfg: ExperimentConfig, bench: Benchmark, teacher: PartGCN | None,
                       student: PartGCN, device: torch.device) -> Distillation | None:
    """The frozen teacher on ``device``, its part weights and (part-loss stages) a queue started full."""
    if not stage.distils:
        return None
    if teacher is None:
        raise ConfigError(f"stage {stage.name} needs a trained teacher: run the teacher stage first")
    teacher = teacher.to(device).eval()
    k, p = len(bench.classes), student.num_parts
    part_w = (torch.full((k, p), 1.0 / p, device=device) if stage.uniform_parts
              else teacher.part_weights().detach())
    queue = None
    if stage.part_loss:
        queue = ClassQueue(k, cfg.train.queue_size, p, student.cfg.embed_dim, device=device)
        _fill_queue(queue, teacher, bench)
    return Distillation(teacher, part_w, queue)


@torch.no_grad()
def _fill_queue(queue: ClassQueue, teacher: PartGCN, bench: Benchmark) -> None:
    """Start the memory queue full: teacher embeddings of the paired (HQ-available) training clips."""
    idx = np.flatnonzero(bench.paired)
    if len(idx) == 0:
        return
    seqs = [bench.train_hq[i] for i in idx]
    fps = bench.train_fps[idx]
    x = windows(seqs, fps, centre_ends(np.array([len(s) for s in seqs]), fps, bench.hq_pre), bench.hq_pre)
    device = _model_device(teacher)
    for i in range(0, len(x), 256):
        emb = teacher.forward_parts(torch.from_numpy(x[i:i + 256]).to(device))["part_embeddings"]
        queue.push(emb, torch.from_numpy(bench.train_labels[idx[i:i + 256]]))


# --- resumable state ---------------------------------------------------------------------------------------------
def _rng_state(device: torch.device) -> dict[str, Any]:
    state = {"torch": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def _set_rng_state(state: dict[str, Any], device: torch.device) -> None:
    torch.set_rng_state(state["torch"])
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"], device)


def save_resumable(path: Path, stage: Stage, seed: int, model: PartGCN, classes: list[str],
                   opt: torch.optim.Optimizer, history: list[dict[str, Any]], epoch: int, device: torch.device,
                   kd: Distillation | None) -> None:
    """After epoch ``epoch``: everything that shapes the rest of the run (atomic write)."""
    extra = {"optimizer": opt.state_dict(), "history": history, "epoch": epoch, "rng": _rng_state(device)}
    if kd is not None and kd.queue is not None:
        extra["queue"] = kd.queue.state_dict()
    save_checkpoint(path, model, classes, meta={"stage": stage.name, "seed": seed}, extra=extra)


def restore_resumable(path: Path, model: PartGCN, opt: torch.optim.Optimizer, device: torch.device,
                      kd: Distillation | None) -> tuple[list[dict[str, Any]], int]:
    """Load a ``save_resumable`` checkpoint into model, optimiser, RNGs and queue; returns (history, next epoch)."""
    ck, extra = load_checkpoint(path), load_extra(path)
    model.load_state_dict(ck.state_dict)
    opt.load_state_dict(extra["optimizer"])
    if "rng" in extra:  # checkpoints written before RNG states were saved resume, but not bit for bit
        _set_rng_state(extra["rng"], device)
    if kd is not None and kd.queue is not None and "queue" in extra:
        kd.queue.load_state_dict(extra["queue"])
    return list(extra["history"]), int(extra["epoch"]) + 1


# --- a stage, end to end -----------------------------------------------------------------------------------------
def _lr_at(epoch: int, step: int, steps: int, epochs: int, base: float) -> float:
    progress = (epoch + step / max(steps, 1)) / max(epochs, 1)
    warm = min(1.0, (epoch * steps + step + 1) / max(steps, 1))  # one epoch of linear warm-up
    return base * warm * 0.5 * (1 + math.cos(math.pi * progress))


def train_stage(stage: Stage, cfg: ExperimentConfig, bench: Benchmark, seed: int, out_dir: Path,
                teacher: PartGCN | None = None, resume: bool = False,
                log: Callable[[str], None] = print) -> tuple[PartGCN, dict[str, Any]]:
    """Train one stage; returns the model (on the training device) and its metrics (also in ``<stage>.pt``'s meta)."""
    rank, world = dist_info()
    device = resolve_device(cfg.train.device)
    final_path, last_path = out_dir / f"{stage.name}.pt", out_dir / f"{stage.name}.last.pt"
    if resume and final_path.exists():
        return _load_finished(stage, seed, final_path, out_dir, device, log)

    torch.manual_seed(seed)
    model = build_model(cfg, bench, teacher=stage.teacher).to(device)
    pre = bench.hq_pre if stage.teacher else bench.lq_pre
    tc = cfg.train
    epochs = tc.epochs_teacher if stage.teacher else tc.epochs_student
    opt = build_optimizer(model, tc)
    kd = build_distillation(stage, cfg, bench, teacher, model, device)
    history: list[dict[str, Any]] = []
    start_epoch = 0
    if resume and last_path.exists():
        history, start_epoch = restore_resumable(last_path, model, opt, device, kd)
        log(f"[{stage.name}] seed {seed}: resuming at epoch {start_epoch + 1}/{epochs}")

    net: nn.Module = _PartsView(model)
    if world > 1:
        net = nn.parallel.DistributedDataParallel(net, device_ids=[device.index] if device.type == "cuda" else None,
                                                  find_unused_parameters=True)
    lq_views = _lq_view_source(cfg, bench, seed)
    epoch = start_epoch
    try:
        for epoch in range(start_epoch, epochs):
            t0 = time.time()
            data, order_rng = epoch_data(stage, cfg, bench, seed, epoch, lambda: lq_views(epoch))
            order = order_rng.permutation(len(data.x))[rank::world]
            steps = math.ceil(len(order) / tc.batch_size)
            model.train()
            sums: dict[str, float] = {}
            bar = tqdm(range(steps), desc=f"{stage.name} s{seed} e{epoch + 1}/{epochs}", leave=False,
                       disable=rank != 0 or not _tty())
            for step in bar:
                for g in opt.param_groups:
                    g["lr"] = _lr_at(epoch, step, steps, epochs, tc.lr) * g["lr_scale"]
                b = order[step * tc.batch_size:(step + 1) * tc.batch_size]
                for name, v in train_step(stage, tc, net, opt, data, b, device, kd).items():
                    sums[name] = sums.get(name, 0.0) + v
            row = {"epoch": epoch + 1, **{f"loss_{k}": v / max(steps, 1) for k, v in sums.items()},
                   "seconds": round(time.time() - t0, 2)}
            if rank == 0:
                if (epoch + 1) % tc.eval_every == 0 or epoch + 1 == epochs:  # curves only: never selects
                    row["test_top1"] = _test(stage, model, bench, pre, streaming=False)["top1"]
                log(f"[{stage.name}] seed {seed} epoch {epoch + 1}/{epochs} "
                    + " ".join(f"{k}={v:.4f}" for k, v in row.items() if k.startswith("loss_"))
                    + (f" test_top1={row['test_top1']:.3f}" if "test_top1" in row else "")
                    + f" ({row['seconds']:.1f}s)")
            history.append(row)
            if rank == 0:
                save_resumable(last_path, stage, seed, model, bench.classes, opt, history, epoch, device, kd)
    except KeyboardInterrupt:  # checkpoints are atomic: the last completed epoch's is intact
        if rank == 0:
            done = f"{last_path} (epoch {len(history)})" if history else "none yet"
            log(f"[{stage.name}] interrupted in epoch {epoch + 1}; resumable checkpoint: {done}")
        raise
    metrics = _finish(stage, cfg, bench, seed, model, pre, history, final_path, last_path) if rank == 0 else {}
    if world > 1:
        dist.barrier()
    return model.eval(), {"history": history, **metrics}


def _lq_view_source(cfg: ExperimentConfig, bench: Benchmark, seed: int) -> Callable[[int], list[np.ndarray]]:
    """Per epoch, the degraded training clips: fresh each epoch, or (``data.lq_train: fixed``) one draw, kept."""
    fixed = cfg.data.lq_train == "fixed"
    kept: list[list[np.ndarray]] = []

    def views(epoch: int) -> list[np.ndarray]:
        if not fixed:
            return lq_train_views(bench, seed, epoch)
        if not kept:  # a fixed LQ set is the same draw whatever the epoch: recomputed the same after a resume
            kept.append(lq_train_views(bench, seed, epoch, fixed=True))
        return kept[0]
    return views


def _test(stage: Stage, model: PartGCN, bench: Benchmark, pre: PreprocessConfig, **kw: Any) -> dict[str, Any]:
    test_seqs = bench.test_hq if stage.teacher else bench.test_lq
    return evaluate(model, test_seqs, bench.test_fps, bench.test_labels, pre, **kw)


def _finish(stage: Stage, cfg: ExperimentConfig, bench: Benchmark, seed: int, model: PartGCN,
            pre: PreprocessConfig, history: list[dict[str, Any]], final_path: Path, last_path: Path
            ) -> dict[str, Any]:
    """Final evaluation (clip and streaming), the stage's checkpoint with its metrics; the resumable one goes."""
    metrics: dict[str, Any] = {"test": _test(stage, model, bench, pre, stride=cfg.train.streaming_stride)}
    if stage.teacher:  # how a teacher fares on low-quality input, for reference
        lq_pre = bench.lq_pre
        if lq_pre.layout == pre.layout and lq_pre.dims == pre.dims:
            metrics["test_lq"] = evaluate(model, bench.test_lq, bench.test_fps, bench.test_labels, pre,
                                          streaming=False)
    save_checkpoint(final_path, model, bench.classes,
                    meta={"stage": stage.name, "title": stage.title, "seed": seed, "dataset": cfg.data.dataset,
                          "data": dataclasses.asdict(cfg.data), "train": dataclasses.asdict(cfg.train),
                          "metrics": summarize({"history": history, **metrics})})
    last_path.unlink(missing_ok=True)
    return metrics


def _load_finished(stage: Stage, seed: int, final_path: Path, out_dir: Path, device: torch.device,
                   log: Callable[[str], None]) -> tuple[PartGCN, dict[str, Any]]:
    ck = load_checkpoint(final_path)
    log(f"[{stage.name}] seed {seed}: already trained, loaded {final_path}")
    full = out_dir / f"{stage.name}.metrics.json"  # written by distill.py beside the checkpoint
    metrics = json.loads(full.read_text()) if full.exists() else ck.meta.get("metrics", {})
    return ck.build_model().to(device), metrics


def summarize(metrics: dict[str, Any]) -> dict[str, Any]:
    """Metrics without per-clip predictions or per-epoch history: what a checkpoint and a model card carry."""
    return {split: {k: v for k, v in m.items() if not isinstance(v, list)}
            for split, m in metrics.items() if isinstance(m, dict)}


def _tty() -> bool:
    """Progress bars on a terminal only, and not in ``distill.py --jobs`` children (their bars would collide)."""
    return sys.stderr.isatty() and os.environ.get("PARTKD_PROGRESS", "1") != "0"
