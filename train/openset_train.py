"""Train and validate the open-set student: Penn's actions plus a ``background`` class of negative windows.

    python -m train.openset_train train --variant bg_look_kin [--epochs 60] [--seed 0] [--root PENN] [--shared DATA]
        [--pool no_person_pool.npz] [--out runs/openset] [--device auto] [--set share=0.3 look=true …]
    python -m train.openset_train validate --model runs/openset/bg_look_kin/student.pt [--root …] [--shared …]
    python -m train.openset_train sweep --variants all --jobs 8 --out DIR [--root PENN.npz] [--shared DATA]

**Splits (honest by construction).** Penn's official training clips lose a stratified, seeded 15 %: the
*validation* clips, never trained on. Negative sources come in two families and a model is evaluated
(``train.reject_study measure``) only on the family it did not train on — ``a``: NW-UCLA + generated idle people +
transitions + MediaPipe's poses on the empty pool (train), UTD-MHAD and NTU held out; ``b``: the reverse. Within the
training family, NW-UCLA's subjects 9 and 10 (family b: UTD-MHAD's subject 8) are held out too, as *validation*
negatives, with idle people of another seed and transitions of the validation clips. Everything a run chooses —
variant, background offset — is chosen on validation; never on the Penn test set or the held-out family.

**Training**: the Penn benchmark's LQ student (``penn_default.yaml``: full-window training, 60 epochs,
cross-entropy only — distillation adds nothing measurable on Penn and has no teacher target for background
windows) through ``train.loops.train_stage`` (with ``lq_views`` and ``extra_windows``): every epoch each
known clip gives one window, as for the shipped model, and ``share`` × as many negative windows (label K) come *on
top*, so the known windows get the same optimiser steps. Options (``OpensetConfig``, named ``VARIANTS``): the
negative family and share, UTD-MHAD's Penn actions of odd subjects as extra known clips (``kinect_knowns``: known
actions in a Kinect look), and ``look`` (``train.dataset_look``: missing joints and body proportions made useless
as a dataset cue).

**Validation** (``validate``, also at the end of ``train``): the background logit gets the smallest offset (from
0 in steps of 0.25, folded into the classifier's bias, so the ONNX model carries it) that leaves at most
1 − ``known_recall`` of the known validation windows — as annotated and with hidden joints shown — called
background; then validation top-1, background rates and, per validation negative set, AUROC / FPR at 95 % recall
and the share accepted. ``validation.json`` beside the checkpoint; ``sweep`` tabulates them.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import tarfile
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np
import torch

from partkd_stream.checkpoint import load_checkpoint, save_checkpoint
from partkd_stream.layouts import get_layout
from partkd_stream.preprocess import clip_windows

from . import rng
from .config import ConfigError, _Checked, load_config
from .data import Benchmark, centre_ends, load_benchmark, lq_train_views, windows
from .dataset_look import Look, clean_2d, reveal_hidden
from .degrade import corrupt, degrade, sample_rng
from .evaluation import evaluate
from .loops import summarize, train_stage
from .negatives import (NegativeClip, NegativeWindows, action_number, dataset_clips, extracted_clips, idle_clips,
                        source_root, transition_clips)
from .openset import BACKGROUND, Reject, fpr_at_recall, roc_auc, score_logits
from .stages import STAGES

CONFIG = Path(__file__).resolve().parent / "configs" / "penn_default.yaml"
VAL_SHARE = 0.15
SPLIT_SEED = 0
VAL_DEGRADE_SEED = 20240430   # fixes the validation clips' degradation (the Penn configs' test_seed + 1)
VAL_NEG_SEED = 2000           # validation idle people and transitions (held-out evaluation uses 1000)
FAMILIES = {"a": {"train": ("nw_ucla",), "eval": ("utd_mhad", "ntu")},
            "b": {"train": ("utd_mhad", "ntu"), "eval": ("nw_ucla",)},
            "c": {"train": ("nw_ucla", "utd_mhad", "ntu"), "eval": ("nw_ucla", "utd_mhad", "ntu")}}
"""Negative families. ``a`` and ``b`` split by dataset; ``c`` by action: every dataset, its first half of actions
(``SPLIT_ACTIONS``) to train on, the second half held out — all three looks in training, unseen actions judged."""
SPLIT_ACTIONS = {"nw_ucla": 6, "utd_mhad": 13, "ntu": 7}   # family c trains on action numbers ≤ these
VAL_SUBJECTS = {"nw_ucla": {9, 10}, "utd_mhad": {8}}   # training-family subjects kept for validation
SOURCE_WEIGHTS = {"dataset": 0.4, "idle": 0.25, "transition": 0.25, "pool": 0.1}
REVEAL = 13                   # rng salt: which known clips show their hidden joints in an epoch (look)
OFFSETS = np.arange(0.0, 8.01, 0.25)


@dataclass
class OpensetConfig(_Checked):
    """What a run adds to the Penn student (``--set key=value`` overrides a variant)."""

    _where: ClassVar[str] = "openset"
    negatives: Literal["none", "a", "b", "c"] = "a"   # negative family trained on (none: closed-set control)
    share: float = 0.4            # negative windows per known window, each epoch, on top of the known ones
    look: bool = False            # take the dataset look away (train.dataset_look)
    look_share: float = 0.5       # chance of a borrowed mask (other looks) / shown hidden joints (known look)
    kinect_knowns: bool = False   # UTD-MHAD's Penn actions of odd subjects as extra known clips
    kinect_repeat: int = 1        # windows per Kinect known clip per epoch
    known_recall: float = 0.98    # validation: known windows not called background, at least

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.share < 0 or not 0 <= self.look_share <= 1 or not 0 < self.known_recall <= 1 or self.kinect_repeat < 1:
            raise ConfigError(f"openset: share ≥ 0, look_share in [0, 1], known_recall in (0, 1] and kinect_repeat "
                              f"≥ 1, got {self}")


VARIANTS: dict[str, dict[str, Any]] = {
    "control": {"negatives": "none"},
    "bg": {"negatives": "a", "share": 0.4},
    "bg_kin": {"negatives": "a", "share": 0.4, "kinect_knowns": True},
    "bg_look": {"negatives": "a", "share": 0.4, "look": True},
    "bg_look_s20": {"negatives": "a", "share": 0.2, "look": True},
    "bg_look_kin": {"negatives": "a", "share": 0.4, "look": True, "kinect_knowns": True},
    "bg_look_kin_s20": {"negatives": "a", "share": 0.2, "look": True, "kinect_knowns": True},
    "bg_look_kin3": {"negatives": "a", "share": 0.4, "look": True, "kinect_knowns": True, "kinect_repeat": 3},
}


# --- data ----------------------------------------------------------------------------------------------------------
def split_validation(bench: Benchmark, share: float = VAL_SHARE, seed: int = SPLIT_SEED) -> tuple[Benchmark, dict]:
    """Carve a stratified validation split out of the training clips → (training benchmark, validation set)."""
    r = np.random.default_rng([seed, 15])
    val = np.zeros(len(bench.train_ids), bool)
    for k in np.unique(bench.train_labels):
        idx = np.flatnonzero(bench.train_labels == k)
        val[r.permutation(idx)[: max(1, int(round(share * len(idx))))]] = True
    keep = np.flatnonzero(~val)
    train = dataclasses.replace(
        bench, train_ids=[bench.train_ids[i] for i in keep], train_labels=bench.train_labels[keep],
        train_fps=bench.train_fps[keep], train_hq=[bench.train_hq[i] for i in keep],
        train_src=[bench.train_src[i] for i in keep], paired=bench.paired[keep], labelled=bench.labelled[keep],
        cache={})
    vi = np.flatnonzero(val)
    lq = [degrade(*bench.train_src[i], bench.lq_pre.layout, bench.degradation,
                  sample_rng(VAL_DEGRADE_SEED, bench.train_ids[i])) for i in vi]
    return train, {"ids": [bench.train_ids[i] for i in vi], "labels": bench.train_labels[vi],
                   "fps": bench.train_fps[vi], "lq": lq, "src": [bench.train_src[i] for i in vi]}


def subject(source: str, clip_id: str) -> int:
    """``a01_s03_e00_v01`` (NW-UCLA), ``a12_s3_t2`` (UTD-MHAD) → 3; NTU ``S001C001P003…`` → 3."""
    if source == "ntu":
        return int(clip_id[clip_id.index("P") + 1:][:3])
    return int(clip_id.split("_")[1][1:])


def family_clips(family: str, role: str, shared: Path, part: Literal["train", "val", "all"] = "all"
                 ) -> list[NegativeClip]:
    """The dataset clips of ``family``'s ``role`` (train/eval) sources; ``part`` splits off ``VAL_SUBJECTS``."""
    clips: list[NegativeClip] = []
    for src in FAMILIES[family][role]:
        for c in dataset_clips(src, source_root(shared, src)):
            if family == "c" and (action_number(src, c.id) <= SPLIT_ACTIONS[src]) != (role == "train"):
                continue
            held = subject(src, c.id) in VAL_SUBJECTS.get(src, set())
            if part == "all" or (part == "val") == held:
                clips.append(c)
    return clips


def known_clips(bench_like: Any) -> list[tuple[np.ndarray, str, float, str]]:
    """``(sequence, layout, fps, id)`` of a benchmark's training clips (for transitions)."""
    return [(s, lay, f, i) for (s, lay), f, i in zip(bench_like.train_src, bench_like.train_fps, bench_like.train_ids)]


def training_negatives(family: str, shared: Path, bench: Benchmark, seed: int, pool: str | None) -> list[NegativeClip]:
    """The training negatives of ``family``: its datasets (validation subjects out), idle people, transitions of the
    training clips and, if given, the extracted ``pool`` video (``partkd-stream extract no_person_pool.mp4``)."""
    clips = family_clips(family, "train", shared, part="train")
    clips += idle_clips(240, seed=seed)
    clips += transition_clips(known_clips(bench), bench.lq_pre, seed=seed)
    if pool:
        clips += extracted_clips(pool)
    return clips


def validation_negatives(family: str, shared: Path, val: dict, pre: Any) -> dict[str, list[NegativeClip]]:
    """Validation negatives: the training family's validation subjects, idle people and transitions (other seed)."""
    vk = [(s, lay, f, i) for (s, lay), f, i in zip(val["src"], val["fps"], val["ids"])]
    sets = {f"{src}_val": [c for c in family_clips(family, "train", shared, part="val") if c.source == src]
            for src in FAMILIES[family]["train"]}
    sets = {k: v for k, v in sets.items() if v}
    sets["idle"] = idle_clips(40, seed=VAL_NEG_SEED, seconds=10.0)
    sets["transition"] = transition_clips(vk, pre, seed=VAL_NEG_SEED)
    return sets


def kinect_known_clips(shared: Path, classes: list[str]) -> tuple[list[NegativeClip], np.ndarray]:
    """UTD-MHAD's Penn actions of the odd subjects (training); the even ones stay for the shortcut check."""
    utd = [c for c in dataset_clips("utd_mhad", source_root(shared, "utd_mhad"), penn_actions=True)
           if subject("utd_mhad", c.id) % 2 == 1]
    return utd, np.array([classes.index(c.action) for c in utd])


def source_weights(sources: list[str]) -> dict[str, float]:
    """``SOURCE_WEIGHTS`` per source; the datasets present share the "dataset" weight equally."""
    datasets = [s for s in sources if s not in SOURCE_WEIGHTS]
    return {s: (SOURCE_WEIGHTS["dataset"] / len(datasets) if s in datasets else SOURCE_WEIGHTS[s]) for s in sources}


def known_views(bench: Benchmark, seed: int, epoch: int, look: Look | None) -> list[np.ndarray]:
    """This epoch's degraded known training clips; with a look, some show their hidden joints (``look_share``)."""
    pre, deg = bench.lq_pre, bench.degradation
    if look is None:
        return lq_train_views(bench, seed, epoch)
    idx = np.flatnonzero(bench.labelled)
    reveal = rng.stream(REVEAL, seed, epoch).random(len(idx)) < look.share
    out = []
    for i, r in zip(idx, reveal):
        (s, lay), sid = bench.train_src[i], bench.train_ids[i]
        clean = clean_2d(s, lay, pre.layout, deg)
        g = sample_rng(seed, sid, epoch=epoch + 1)
        hidden = clean[..., -1] <= 0
        out.append(reveal_hidden(clean, hidden, deg, pre.layout, g) if r and hidden.any()
                   else corrupt(clean, pre.layout, deg, g))
    return out


def revealed(clips: dict, pre: Any, deg: Any, seed: int = VAL_DEGRADE_SEED) -> list[np.ndarray]:
    """Clips (``src``, ``ids``) degraded with every hidden joint shown, scored like an occluded joint — the
    runtime's look: MediaPipe reports all joints."""
    out = []
    for (s, lay), sid in zip(clips["src"], clips["ids"]):
        clean = clean_2d(s, lay, pre.layout, deg)
        out.append(reveal_hidden(clean, clean[..., -1] <= 0, deg, pre.layout, sample_rng(seed, sid)))
    return out


# --- training ------------------------------------------------------------------------------------------------------
def load_config_for(root: str, epochs: int, device: str, threads: int):
    return load_config(CONFIG, [f"data.root={root}", f"train.epochs_student={epochs}", f"train.device={device}",
                                f"train.threads={threads}"])


def train(args: argparse.Namespace) -> int:
    oc = openset_config(args.variant, args.set)
    cfg = load_config_for(args.root, args.epochs, args.device, args.threads)
    if cfg.train.threads:
        torch.set_num_threads(cfg.train.threads)
    seed, shared = args.seed, Path(args.shared)
    name = args.name or args.variant
    out = Path(args.out) / name
    out.mkdir(parents=True, exist_ok=True)
    t_start = time.time()
    bench, val = split_validation(load_benchmark(cfg.data, seed))
    pre, deg = bench.lq_pre, bench.degradation
    look = Look.of_known(bench.train_src, pre.layout, deg, oc.look_share) if oc.look else None
    classes = list(bench.classes)
    neg = None
    if oc.negatives != "none":
        clips = training_negatives(oc.negatives, shared, bench, seed, args.pool)
        neg = NegativeWindows(clips, pre, deg, seed, weights=source_weights(sorted({c.source for c in clips})),
                              look=look)
        classes.append(BACKGROUND)
        print(f"{name}: {len(clips)} negative clips from {neg.sources}", flush=True)
    kin = None
    if oc.kinect_knowns:
        kc, kl = kinect_known_clips(shared, bench.classes)
        kin = (NegativeWindows(kc, pre, deg, seed, look=look), kl)
        print(f"{name}: {len(kc)} extra known clips (UTD-MHAD Penn actions, odd subjects)", flush=True)

    bench_k = dataclasses.replace(bench, classes=classes, cache={})
    k_bg = len(classes) - 1

    def extra_windows(epoch: int, n_known: int) -> tuple[np.ndarray, np.ndarray]:
        """Kinect known windows, then ``share`` × ``n_known`` negative windows (label K): on top of the known."""
        xs = [np.zeros((0, pre.in_channels, pre.window, get_layout(pre.layout).num_joints), np.float32)]
        ys = [np.zeros(0, int)]
        if kin is not None:
            for rep in range(oc.kinect_repeat):
                xs.append(kin[0].epoch_windows_all(epoch * oc.kinect_repeat + rep))
                ys.append(kin[1])
        if neg is not None:
            xs.append(neg.epoch_windows(epoch, int(round(oc.share * n_known))))
            ys.append(np.full(len(xs[-1]), k_bg))
        return np.concatenate(xs), np.concatenate(ys)

    # train.loops' own stage loop (resumable checkpoint each epoch, progress, DDP, CUDA): CE on this epoch's known
    # views (the look taken away) with the extra windows on top; its checkpoint becomes student.pt below
    model, _ = train_stage(STAGES["baseline"], cfg, bench_k, seed, out,
                           extra_windows=extra_windows if (kin is not None or neg is not None) else None,
                           lq_views=lambda epoch: known_views(bench, seed, epoch, look),
                           log=lambda line: print(f"{name} {line}", flush=True))
    model = model.cpu().eval()
    meta = {"stage": "openset", "title": f"LQ student, CE{' + background' if neg else ''}", "seed": seed,
            "dataset": "penn_action", "variant": args.variant, "openset": dataclasses.asdict(oc),
            "negatives": oc.negatives, "negative_sources": neg.sources if neg else [], "validation_ids": val["ids"],
            "known_extra_ids": [c.id for c in kin[0].clips] if kin else [],
            "data": dataclasses.asdict(cfg.data), "train": dataclasses.asdict(cfg.train),
            "minutes": round((time.time() - t_start) / 60, 1)}
    res = validate_model(model, classes, meta, bench, val, oc, shared, look)   # folds the background offset
    (out / "validation.json").write_text(json.dumps(res, indent=2) + "\n")
    test = evaluate(model, bench.test_lq, bench.test_fps, bench.test_labels, pre)   # reported, never chosen on
    meta["metrics"] = summarize({"test": test})
    calibrated = {"background_offset": res["background_offset"], "reject": res["reject"]} if "reject" in res else {}
    save_checkpoint(out / "student.pt", model, classes, meta={**meta, "validation": _brief(res), **calibrated})
    (out / "baseline.pt").unlink(missing_ok=True)   # train_stage's, before the offset: student.pt is the model
    print(f"{name}: test clip top-1 {100 * test['top1']:.1f}%, streaming {100 * test['stream_top1']:.1f}% "
          f"(background counted wrong) | validation "
          f"{json.dumps(_brief(res))} ({meta['minutes']} min) → {out / 'student.pt'}", flush=True)
    return 0


def openset_config(variant: str, overrides: list[str]) -> OpensetConfig:
    if variant not in VARIANTS:
        raise ConfigError(f"unknown variant {variant!r}; choose one of {', '.join(VARIANTS)}")
    d = dict(VARIANTS[variant])
    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep or key not in OpensetConfig.__dataclass_fields__:
            raise ConfigError(f"--set {item!r}: expected KEY=VALUE with KEY one of "
                              f"{', '.join(f for f in OpensetConfig.__dataclass_fields__)}")
        import yaml

        d[key] = yaml.safe_load(value)
    return OpensetConfig(**d)


# --- validation ----------------------------------------------------------------------------------------------------
@torch.no_grad()
def logits(model: Any, x: np.ndarray, batch: int = 512) -> np.ndarray:
    model.eval()
    out = [model(torch.from_numpy(x[i:i + batch])).numpy() for i in range(0, len(x), batch)]
    return np.concatenate(out) if out else np.zeros((0, model.cfg.num_classes), np.float32)


def sliding(seqs: list[np.ndarray], fps: np.ndarray, pre: Any) -> tuple[np.ndarray, np.ndarray]:
    per = [clip_windows(s, f, pre) for s, f in zip(seqs, fps)]
    return np.concatenate(per), np.repeat(np.arange(len(seqs)), [len(w) for w in per])


def stream_top1(z: np.ndarray, owner: np.ndarray, labels: np.ndarray) -> float:
    """Streaming top-1 as the recognizer averages: window probabilities averaged per clip (background included:
    a clip whose average tops at background is wrong)."""
    p = np.exp(z - z.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    mean = np.zeros((len(labels), p.shape[1]))
    np.add.at(mean, owner, p)
    return float((mean.argmax(1) == labels).mean())


def background_offset(z_known: np.ndarray, recall: float) -> float:
    """The smallest offset (``OFFSETS``) subtracted from the background logit that leaves at most 1 − ``recall``
    of the known windows with background on top."""
    for b in OFFSETS:
        if ((z_known[:, -1] - b) > z_known[:, :-1].max(1)).mean() <= 1 - recall + 1e-12:
            return float(b)
    return float(OFFSETS[-1])


def fold_offset(model: Any, offset: float) -> None:
    """Subtract ``offset`` from the last (background) logit inside the classifier, so every export carries it."""
    with torch.no_grad():
        model.fc.bias[-1] -= offset


def validate_model(model: Any, classes: list[str], meta: dict, bench: Benchmark, val: dict, oc: OpensetConfig,
                   shared: Path, look: Look | None, calibrate: bool = True) -> dict[str, Any]:
    """Calibrate the background offset on validation (folded into ``model``; ``calibrate=False``: the model's is
    kept) and measure on validation only."""
    pre, deg = bench.lq_pre, bench.degradation
    has_bg = classes[-1] == BACKGROUND
    y = val["labels"]
    lengths = np.array([len(s) for s in val["lq"]])
    zc = logits(model, windows(val["lq"], val["fps"], centre_ends(lengths, val["fps"], pre), pre))
    xv, ov = sliding(val["lq"], val["fps"], pre)
    xr, orv = sliding(revealed(val, pre, deg), val["fps"], pre)
    zv, zr = logits(model, xv), logits(model, xr)
    res: dict[str, Any] = {"variant": meta.get("variant"), "openset": meta.get("openset"), "classes": len(classes),
                           "validation": {"clips": len(y), "windows": len(xv)}}
    family = oc.negatives if oc.negatives != "none" else "a"
    nsets = validation_negatives(family, shared, val, pre)
    zn = {k: logits(model, NegativeWindows(v, pre, deg, VAL_NEG_SEED, look=look).eval_windows()[0])
          for k, v in nsets.items()}
    if has_bg:
        b = background_offset(np.concatenate([zv, zr]), oc.known_recall) if calibrate else 0.0
        fold_offset(model, b)
        for z in (zc, zv, zr, *zn.values()):
            z[:, -1] -= b
        res["background_offset"] = b
    k = len(classes) - 1 if has_bg else len(classes)
    res["known"] = {"clip_top1": float((zc.argmax(1) == y).mean()), "clip_top1_actions": float(
        (zc[:, :k].argmax(1) == y).mean()), "stream_top1": stream_top1(zv, ov, y),
        "stream_top1_revealed": stream_top1(zr, orv, y)}
    score = "not_background" if has_bg else "energy"
    s_known = score_logits(np.concatenate([zv, zr]), score, classes)
    res["score"] = score
    if has_bg:
        res["known"]["background_windows"] = float((zv.argmax(1) == k).mean())
        res["known"]["background_windows_revealed"] = float((zr.argmax(1) == k).mean())
    res["negatives"] = {}
    for name, z in zn.items():
        s = score_logits(z, score, classes)
        row = {"windows": len(z), "auroc": roc_auc(s_known, s), "fpr_at_95": fpr_at_recall(s_known, s, 0.95)}
        if has_bg:
            row["accepted"] = float((z.argmax(1) != k).mean())
        res["negatives"][name] = row
    if has_bg:
        res["reject"] = Reject(method="background", score="not_background", threshold=0.0,
                               target_recall=oc.known_recall,
                               calibrated_on=f"Penn Action validation clips ({len(y)}, held out), {len(xv)} windows "
                                             f"as annotated + {len(xr)} with hidden joints shown; background logit "
                                             f"offset {b:g} folded into the classifier").to_dict()
    return res


def _brief(res: dict[str, Any]) -> dict[str, Any]:
    out = {k: round(v, 4) for k, v in res["known"].items()}
    for name, row in res["negatives"].items():
        out[f"{name}_auroc"] = round(row["auroc"], 4)
        if "accepted" in row:
            out[f"{name}_accepted"] = round(row["accepted"], 4)
    if "background_offset" in res:
        out["offset"] = res["background_offset"]
    return out


def validate(args: argparse.Namespace) -> int:
    """Validate a trained checkpoint again (e.g. a phase-1 model); writes ``validation.json`` beside it."""
    torch.set_num_threads(1)
    ck = load_checkpoint(args.model)
    model, classes = ck.build_model(), list(ck.classes)
    oc = OpensetConfig(**ck.meta["openset"]) if "openset" in ck.meta else OpensetConfig(
        negatives=ck.meta.get("negatives") if ck.meta.get("negatives") in FAMILIES else "none")
    cfg = load_config_for(args.root, 1, "cpu", 1)
    bench, val = split_validation(load_benchmark(cfg.data, int(ck.meta.get("seed", 0))))
    look = Look.of_known(bench.train_src, bench.lq_pre.layout, bench.degradation, oc.look_share) if oc.look else None
    res = validate_model(model, classes, dict(ck.meta), bench, val, oc, Path(args.shared), look,
                         calibrate="background_offset" not in ck.meta)   # a calibrated model is measured as it is
    res["model"] = str(args.model)
    out = Path(args.out) if args.out else Path(args.model).with_name("validation.json")
    out.write_text(json.dumps(res, indent=2) + "\n")
    print(json.dumps(_brief(res)))
    return 0


# --- the parallel sweep (one command for a many-core machine) --------------------------------------------------------
def sweep(args: argparse.Namespace) -> int:
    """Train variants in parallel processes (runs in ``--work``), then write two files to ``--out``: the validation
    table ``summary.md`` and ``openset_sweep.tar.gz`` (per variant ``student.pt``, ``validation.json``, its log)."""
    names = list(VARIANTS) if args.variants == "all" else [v.strip() for v in args.variants.split(",") if v.strip()]
    unknown = [n for n in names if n not in VARIANTS]
    if unknown:
        raise ConfigError(f"unknown variant(s) {unknown}; choose from {', '.join(VARIANTS)} or all")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    runs = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="openset_sweep_"))
    runs.mkdir(parents=True, exist_ok=True)
    common = ["--root", args.root, "--shared", args.shared, "--epochs", str(args.epochs), "--seed", str(args.seed),
              "--out", str(runs), "--device", args.device, "--threads", str(args.threads)]
    if args.pool:
        common += ["--pool", args.pool]
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "PARTKD_PROGRESS": "0"}
    pending, running, status = list(names), {}, {}
    t0 = time.time()
    while pending or running:
        if args.deadline and time.time() - t0 > args.deadline:   # pack what finished rather than lose it all
            for n, (p, log) in running.items():
                p.kill()
                p.wait()
                log.close()
                status[n] = -9
                print(f"sweep: {n} stopped at the {args.deadline:g} s deadline", flush=True)
            running, pending = {}, []
            break
        while pending and len(running) < args.jobs:
            n = pending.pop(0)
            log = open(runs / f"{n}.log", "w")
            running[n] = (subprocess.Popen([sys.executable, "-m", "train.openset_train", "train", "--variant", n,
                                            *common], stdout=log, stderr=subprocess.STDOUT, env=env), log)
        time.sleep(1.0)
        for n, (p, log) in list(running.items()):
            if p.poll() is not None:
                log.close()
                status[n] = p.returncode
                del running[n]
                print(f"sweep: {n} exited {p.returncode} at {time.time() - t0:.0f} s", flush=True)
    table = summary_table(names, runs, status)
    (out / "summary.md").write_text(table)
    print(table)
    with tarfile.open(out / "openset_sweep.tar.gz", "w:gz") as tar:
        for n in names:
            for f in (runs / n / "student.pt", runs / n / "validation.json", runs / f"{n}.log"):
                if f.exists():
                    tar.add(f, arcname=str(f.relative_to(runs)))
    return 0 if all(c == 0 for c in status.values()) else 1


def summary_table(names: list[str], runs: Path, status: dict[str, int]) -> str:
    cols = ["clip_top1", "clip_top1_actions", "stream_top1", "stream_top1_revealed", "background_windows",
            "background_windows_revealed", "offset"]
    rows, neg_cols = [], []
    for n in names:
        f = runs / n / "validation.json"
        if not f.exists():
            rows.append((n, None))
            continue
        res = json.loads(f.read_text())
        for k in res["negatives"]:
            if k not in neg_cols:
                neg_cols.append(k)
        rows.append((n, res))
    head = ["variant", *cols, *[f"{k} auroc / accepted" for k in neg_cols]]
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for n, res in rows:
        if res is None:
            lines.append(f"| {n} | failed (exit {status.get(n)}) |")
            continue
        known = {**res["known"], "offset": res.get("background_offset", "")}
        cells = [f"{known[c]:.3f}" if isinstance(known.get(c), float) else str(known.get(c, "")) for c in cols]
        for k in neg_cols:
            m = res["negatives"].get(k)
            cells.append("" if m is None else f"{m['auroc']:.3f} / {m.get('accepted', float('nan')):.3f}")
        lines.append(f"| {n} | " + " | ".join(cells) + " |")
    return "Validation only (Penn validation clips and the training family's validation negatives):\n\n" \
        + "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m train.openset_train", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)

    def data_args(q: argparse.ArgumentParser) -> None:
        q.add_argument("--root", default="../shared/data/penn_action/labels",
                       help="Penn Action labels folder or its train.prepare cache (.npz)")
        q.add_argument("--shared", default="../shared/data", help="folder holding nw_ucla/, ntu/, utd_mhad/")

    def run_args(q: argparse.ArgumentParser) -> None:
        data_args(q)
        q.add_argument("--epochs", type=int, default=60)
        q.add_argument("--seed", type=int, default=0)
        q.add_argument("--out", default="runs/openset")
        q.add_argument("--pool", metavar="NPZ",
                       help="MediaPipe skeletons of no_person_pool.mp4 (partkd-stream extract)")
        q.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
        q.add_argument("--threads", type=int, default=1, help="torch threads per process (default 1)")

    t = sub.add_parser("train", help="train one variant, then validate it")
    t.add_argument("--variant", required=True, choices=list(VARIANTS))
    t.add_argument("--name", help="run folder name (default: the variant)")
    t.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="OpensetConfig overrides")
    run_args(t)
    v = sub.add_parser("validate", help="validate a trained checkpoint (background offset, validation metrics)")
    v.add_argument("--model", required=True)
    v.add_argument("--out", help="validation JSON (default: validation.json beside the model)")
    data_args(v)
    s = sub.add_parser("sweep", help="train variants in parallel processes; tabulate validation; pack results")
    s.add_argument("--variants", default="all", help=f"comma-separated, or all: {', '.join(VARIANTS)}")
    s.add_argument("--jobs", type=int, default=8)
    s.add_argument("--work", help="folder for the runs (default: a new temporary folder)")
    s.add_argument("--deadline", type=float, default=0.0,
                   help="seconds after which unfinished variants are stopped and the finished ones packed (0: none)")
    run_args(s)
    args = p.parse_args(argv)
    try:
        return {"train": train, "validate": validate, "sweep": sweep}[args.cmd](args)
    except (ConfigError, ValueError, FileNotFoundError) as e:
        print(f"openset_train: error: {str(e).splitlines()[0] if str(e) else repr(e)}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
