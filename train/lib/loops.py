"""Training and evaluation loops for the teacher, the LQ baseline, the distilled student and the ablations.

One stage is ``train_stage``: build the model and optimiser → resume → per epoch: that epoch's windows
(``epoch_data``), training steps (``train_step``), a test point for the curves, a checkpoint → final evaluation and
save. Run hygiene: per-epoch atomic checkpoints (``<stage>.last.pt``) hold everything that shapes the rest of the
run — weights, optimiser, torch RNG states (dropout), the KD memory queue, the epoch — so ``resume`` continues
bit for bit (numpy draws come from named per-(seed, epoch) streams, ``train.lib.rng``, so they need no saving);
loaded with ``weights_only=True``. Ctrl-C (and SIGTERM, via ``distill.py``) keeps the last finished epoch's
checkpoint and re-raises. ``train.device`` puts model, teacher, queue and batches on CUDA when present; under
``torchrun`` the model is wrapped in DDP (NCCL on GPU, gloo on CPU) and each rank trains on its shard.
"""
from __future__ import annotations

import copy
import dataclasses
import json
import math
import os
import sys
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from partkd_stream.checkpoint import load_checkpoint, load_extra, save_checkpoint
from partkd_stream.model import PartGCN
from partkd_stream.preprocess import PreprocessConfig
from partkd_stream.signals import Terminated

from . import rng
from .config import ConfigError, ExperimentConfig, TrainConfig
from .data import Benchmark, EpochData, EpochViews, lq_train_views, random_ends, random_yaw, windows
from .distillation import Distillation, build_distillation, kd_losses
from .evaluation import EvalInputs, eval_inputs, evaluate, part_cosine, score
from .losses import supervised_part_contrastive
from .models import build_model, build_optimizer
from .stages import STAGES, Stage, needs_hq_windows, stage_config

__all__ = ["STAGES", "EpochData", "build_model", "evaluate", "epoch_data", "train_stage", "train_step"]


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
    """Makes ``forward_parts`` the module's forward, so DDP synchronises the gradients it produces — also those of
    the control's learned prototypes, which therefore live here, beside (not inside) the deployable model."""

    def __init__(self, model: PartGCN, prototypes: nn.Parameter | None = None) -> None:
        super().__init__()
        self.model = model
        self.prototypes = prototypes

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        out = self.model.forward_parts(x)
        if self.prototypes is not None:
            out["prototypes"] = F.normalize(self.prototypes, dim=-1)
        return out


# --- one epoch's data --------------------------------------------------------------------------------------------
ExtraWindows = Callable[[int, int], tuple[np.ndarray, np.ndarray]]  # (epoch, clip windows) -> (x, labels)


def epoch_data(stage: Stage, cfg: ExperimentConfig, bench: Benchmark, seed: int, epoch: int,
               lq_views: Callable[[], list[np.ndarray]], extra_windows: ExtraWindows | None = None,
               views: Callable[[bool], EpochViews] | None = None) -> EpochData:
    """The windows one epoch trains on, shuffled by the epoch's order stream.

    Teacher: HQ clips (all, or only the paired ones), randomly turned when ``data.hq_rotate``. Students: this
    epoch's LQ views of the labelled clips (``data.lq_fraction``); stages that distil also get the HQ window of
    each paired clip, cut at the same place. Every student stage of a seed sees the same windows, so they are
    made once per process and kept (``bench.cache``; ~1.5 MB per Penn epoch) — a run of baseline, control and KD
    degrades each epoch's clips once, not three times. ``views(with_lq)``: the epoch's augmented clips
    (``EpochViews``: their own frame rates, labels and HQ views) instead of the benchmark's and ``lq_views``'.
    """
    if stage.teacher:
        return _teacher_epoch(cfg, bench, seed, epoch, views)
    key = ("student", seed, epoch)
    data, made = bench.cache.get(key) or _student_epoch(cfg, bench, seed, epoch,
                                                        (lambda: views(True)) if views else lq_views)
    if extra_windows is None:
        bench.cache[key] = (data, made)
    if needs_hq_windows(stage, cfg) and data.x_hq is None:
        idx, ends, fill, _, fps, hq = made
        p = np.flatnonzero(data.hq_index >= 0)
        data.x_hq = windows([hq[i] for i in p], fps[p], ends[p], bench.hq_pre, [fill[i] for i in p])
    if extra_windows is not None:
        extra = data.add(*extra_windows(epoch, len(data.x)))
        extra.order = copy.deepcopy(made[3]).permutation(len(extra.x))
        return extra
    return data


def _teacher_epoch(cfg: ExperimentConfig, bench: Benchmark, seed: int, epoch: int,
                   views: Callable[[bool], EpochViews] | None = None) -> EpochData:
    pre = bench.hq_pre
    order_rng = rng.stream(rng.EPOCH_ORDER, seed, epoch)
    idx = np.arange(len(bench.paired)) if cfg.data.teacher_clips == "all" else np.flatnonzero(bench.paired)
    if views is not None:
        v = views(False)
        seqs, fps, labels = [v.hq[i] for i in idx], v.fps[idx], v.labels[idx]
    else:
        seqs, fps, labels = [bench.train_hq[i] for i in idx], bench.train_fps[idx], bench.train_labels[idx]
    if cfg.data.hq_rotate > 0 and pre.dims == 3:
        seqs = random_yaw(seqs, cfg.data.hq_rotate, rng.stream(rng.HQ_ROTATION, seed, epoch))
    ends = random_ends(np.array([len(s) for s in seqs]), fps, pre, order_rng)
    x = windows(seqs, fps, ends, pre, _fill_modes(cfg, seed, epoch, len(seqs)))
    return EpochData(x, labels, np.full(len(x), -1), order=order_rng.permutation(len(x)))


def _student_epoch(cfg: ExperimentConfig, bench: Benchmark, seed: int, epoch: int,
                   lq_views: Callable[[], list[np.ndarray] | EpochViews]) -> tuple[EpochData, tuple]:
    pre = bench.lq_pre
    order_rng = rng.stream(rng.EPOCH_ORDER, seed, epoch)
    idx = np.flatnonzero(bench.labelled)
    views = lq_views()
    if isinstance(views, EpochViews):   # every training clip, augmented: keep the labelled ones
        seqs, fps, labels = [views.lq[i] for i in idx], views.fps[idx], views.labels[idx]
        hq = [views.hq[i] for i in idx]
    else:
        seqs, fps, labels = views, bench.train_fps[idx], bench.train_labels[idx]
        hq = [bench.train_hq[i] for i in idx]
    ends = random_ends(np.array([len(s) for s in seqs]), fps, pre, order_rng)
    after_ends = copy.deepcopy(order_rng)  # extra windows: their order is drawn from here over all windows
    fill = _fill_modes(cfg, seed, epoch, len(seqs))
    x = windows(seqs, fps, ends, pre, fill)
    paired = bench.paired[idx]
    data = EpochData(x, labels, np.where(paired, np.cumsum(paired) - 1, -1),
                     order=order_rng.permutation(len(x)))
    return data, (idx, ends, fill, after_ends, fps, hq)


def _fill_modes(cfg: ExperimentConfig, seed: int, epoch: int, n: int) -> list[str]:
    """Per clip, what fills a window before a short clip."""
    return list(rng.stream(rng.FILL_MODES, seed, epoch).choice(cfg.data.fill_modes, n))


# --- one training step --------------------------------------------------------------------------------------------
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
        losses.update(kd_losses(stage, tc, kd, out, data, b, yb, device))
    loss = sum(losses.values())
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return {name: float(v.detach()) for name, v in losses.items()}


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
                   kd: Distillation | None, prototypes: nn.Parameter | None = None) -> None:
    """After epoch ``epoch``: everything that shapes the rest of the run (atomic write)."""
    extra = {"optimizer": opt.state_dict(), "history": history, "epoch": epoch, "rng": _rng_state(device)}
    if kd is not None and kd.queue is not None:
        extra["queue"] = kd.queue.state_dict()
    if prototypes is not None:
        extra["prototypes"] = prototypes.detach().cpu()
    save_checkpoint(path, model, classes, meta={"stage": stage.name, "seed": seed}, extra=extra)


def restore_resumable(path: Path, model: PartGCN, opt: torch.optim.Optimizer, device: torch.device,
                      kd: Distillation | None, prototypes: nn.Parameter | None = None
                      ) -> tuple[list[dict[str, Any]], int]:
    """Load a ``save_resumable`` checkpoint into model, optimiser, RNGs, queue (and the control's prototypes);
    returns (history, next epoch)."""
    ck, extra = load_checkpoint(path), load_extra(path)
    model.load_state_dict(ck.state_dict)
    if prototypes is not None:
        with torch.no_grad():
            prototypes.copy_(extra["prototypes"])
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


def stage_epochs(stage: Stage, cfg: ExperimentConfig, bench: Benchmark, world: int = 1) -> int:
    """Epochs of a stage: the config's, or for students with ``train.student_steps`` as many as give that many
    optimiser steps on the labelled clips (a student on 10 % of the clips trains as long as one on all)."""
    tc = cfg.train
    if stage.teacher:
        return tc.epochs_teacher
    if tc.student_steps is None:
        return tc.epochs_student
    per_epoch = math.ceil(math.ceil(int(bench.labelled.sum()) / world) / tc.batch_size)
    return math.ceil(tc.student_steps / per_epoch)


def train_stage(stage: Stage, cfg: ExperimentConfig, bench: Benchmark, seed: int, out_dir: Path,
                teacher: PartGCN | None = None, resume: bool = False, log: Callable[[str], None] = print,
                extra_windows: ExtraWindows | None = None,
                lq_views: Callable[[int], list[np.ndarray]] | None = None,
                views: Callable[[int, bool], EpochViews] | None = None) -> tuple[PartGCN, dict[str, Any]]:
    """Train one stage; returns the model (on the training device) and its metrics (also in ``<stage>.pt``'s meta).

    ``extra_windows(epoch, n)`` → ``(x, labels)``: more labelled windows for a student's epoch (``n`` = the epoch's
    clip windows), e.g. a background class of negative windows; the model's classes are ``bench.classes``.
    ``lq_views(epoch)``: the degraded labelled training clips of an epoch, instead of ``data.lq_train``'s (e.g. the
    open-set model's, with the dataset look taken away). ``views(epoch, with_lq)``: the epoch's augmented clips
    (``data.EpochViews``) for the teacher and the students alike — each view with its own frame rate and label.
    """
    rank, world = dist_info()
    cfg = stage_config(stage, cfg)
    device = resolve_device(cfg.train.device)
    final_path, last_path = out_dir / f"{stage.name}.pt", out_dir / f"{stage.name}.last.pt"
    if resume and final_path.exists():
        return _load_finished(stage, seed, final_path, out_dir, device, log)

    torch.manual_seed(seed)
    model = build_model(cfg, bench, teacher=stage.teacher).to(device)
    pre = bench.hq_pre if stage.teacher else bench.lq_pre
    tc = cfg.train
    epochs = stage_epochs(stage, cfg, bench, world)
    kd = build_distillation(stage, cfg, bench, teacher, model, device, seed)
    prototypes = None
    if kd is not None and kd.teacher is None:  # the control's learned class centres, one per class and part
        prototypes = nn.Parameter(F.normalize(torch.randn(len(bench.classes), model.num_parts, model.cfg.embed_dim),
                                              dim=-1).to(device))
    opt = build_optimizer(model, tc, [prototypes] if prototypes is not None else [])
    history: list[dict[str, Any]] = []
    start_epoch = 0
    if resume and last_path.exists():
        history, start_epoch = restore_resumable(last_path, model, opt, device, kd, prototypes)
        log(f"[{stage.name}] seed {seed}: resuming at epoch {start_epoch + 1}/{epochs}")

    net: nn.Module = _PartsView(model, prototypes)
    if world > 1:
        net = nn.parallel.DistributedDataParallel(net, device_ids=[device.index] if device.type == "cuda" else None,
                                                  find_unused_parameters=True)
    lq_views = lq_views or _lq_view_source(cfg, bench, seed)
    epoch = start_epoch
    try:
        for epoch in range(start_epoch, epochs):
            t0 = time.time()
            data = epoch_data(stage, cfg, bench, seed, epoch, lambda: lq_views(epoch), extra_windows,
                              (lambda with_lq: views(epoch, with_lq)) if views else None)
            order = data.order[rank::world]
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
                save_resumable(last_path, stage, seed, model, bench.classes, opt, history, epoch, device, kd,
                               prototypes)
    except KeyboardInterrupt:  # checkpoints are atomic: the last completed epoch's is intact
        if rank == 0:
            done = f"{last_path} (epoch {len(history)})" if history else "none yet"
            log(f"[{stage.name}] interrupted in epoch {epoch + 1}; resumable checkpoint: {done}")
        raise
    metrics = _finish(stage, cfg, bench, seed, model, pre, history, final_path, last_path, kd) if rank == 0 else {}
    if world > 1:
        dist.barrier()
    return model.eval(), {"history": history, **metrics}


def _lq_view_source(cfg: ExperimentConfig, bench: Benchmark, seed: int) -> Callable[[int], list[np.ndarray]]:
    """Per epoch, the degraded training clips: fresh each epoch, or (``data.lq_train: fixed``) one draw, kept."""
    fixed = cfg.data.lq_train == "fixed"
    kept: list[list[np.ndarray]] = []

    idx = np.flatnonzero(bench.labelled)

    def views(epoch: int) -> list[np.ndarray]:
        if not fixed:
            return lq_train_views(bench, seed, epoch, idx=idx)
        if not kept:  # a fixed LQ set is the same draw whatever the epoch: recomputed the same after a resume
            kept.append(lq_train_views(bench, seed, epoch, fixed=True, idx=idx))
        return kept[0]
    return views


def _test_inputs(stage: Stage, bench: Benchmark, pre: PreprocessConfig, streaming: bool = True,
                 stride: int | None = None) -> EvalInputs:
    """The stage's test set as model inputs, made once per process (every student stage tests on the same)."""
    key = ("test", stage.teacher, pre, streaming, stride)
    if key not in bench.cache:
        seqs = bench.test_hq if stage.teacher else bench.test_lq
        bench.cache[key] = eval_inputs(seqs, bench.test_fps, bench.test_labels, pre, streaming, stride)
    return bench.cache[key]


def _test(stage: Stage, model: PartGCN, bench: Benchmark, pre: PreprocessConfig, streaming: bool = True,
          stride: int | None = None) -> dict[str, Any]:
    return score(model, _test_inputs(stage, bench, pre, streaming, stride))


def _finish(stage: Stage, cfg: ExperimentConfig, bench: Benchmark, seed: int, model: PartGCN,
            pre: PreprocessConfig, history: list[dict[str, Any]], final_path: Path, last_path: Path,
            kd: Distillation | None = None) -> dict[str, Any]:
    """Final evaluation (clip and streaming), the stage's checkpoint with its metrics; the resumable one goes.

    Also what the research needs to see the mechanisms: the mean cosine between a test sample's part features
    (are the parts distinct?) and, for distilling stages, the part weights used (are they uniform?)."""
    metrics: dict[str, Any] = {"test": _test(stage, model, bench, pre, stride=cfg.train.streaming_stride)}
    metrics["test"]["part_cosine"] = part_cosine(model, _test_inputs(stage, bench, pre, streaming=False).clip)
    if stage.teacher:  # how a teacher fares on low-quality input, for reference
        lq_pre = bench.lq_pre
        if lq_pre.layout == pre.layout and lq_pre.dims == pre.dims:
            metrics["test_lq"] = evaluate(model, bench.test_lq, bench.test_fps, bench.test_labels, pre,
                                          streaming=False)
    if kd is not None:
        w = kd.part_w.detach().cpu()
        entropy = -(w * w.clamp(min=1e-12).log()).sum(1) / math.log(w.shape[1])
        metrics["part_weights"] = {"weights": w.tolist(), "entropy_ratio": float(entropy.mean()),
                                   "min": float(w.min()), "max": float(w.max())}
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


def interrupted_message(prog: str, e: KeyboardInterrupt) -> str:
    """What a training command says when Ctrl-C or SIGTERM (``partkd_stream.signals.Terminated``) stopped it."""
    what = "terminated (SIGTERM)" if isinstance(e, Terminated) else "interrupted"
    return f"{prog}: {what}; finished epochs are checkpointed — rerun with --resume"


def _tty() -> bool:
    """Progress bars on a terminal only, and not in ``distill.py --jobs`` children (their bars would collide)."""
    return sys.stderr.isatty() and os.environ.get("PARTKD_PROGRESS", "1") != "0"
