"""The open-set Penn student: Penn's actions plus a ``background`` class of negative windows.

**Splits (honest by construction).** Penn's official training clips lose a stratified, seeded 15 %: the
*validation* clips, never trained on (``data.split_validation``). Negative sources come in families and a model is
evaluated (``python -m train.studies.reject_study measure``) only on the family it did not train on — ``a``:
NW-UCLA + generated idle people + transitions + MediaPipe's poses on the empty pool (train), UTD-MHAD and NTU held
out; ``b``: the reverse; ``c``: every dataset, split by action. Within the training family, NW-UCLA's subjects 9 and
10 (family b: UTD-MHAD's subject 8) are held out too, as *validation* negatives, with idle people of another seed
and transitions of the validation clips. Everything a run chooses — variant, background offset — is chosen on
validation; never on the Penn test set or the held-out family.

**Training** (``train_variant``): the Penn benchmark's LQ student (``penn_default.yaml``: full-window training, 60
epochs, cross-entropy only — distillation adds nothing measurable on Penn and has no teacher target for background
windows) through ``loops.train_stage`` (with ``lq_views`` and ``extra_windows``): every epoch each known clip gives
one window, as for the shipped model, and ``share`` × as many negative windows (label K) come *on top*, so the known
windows get the same optimiser steps. Options (``OpensetConfig``, named ``VARIANTS``): the negative family and
share, UTD-MHAD's Penn actions of odd subjects as extra known clips (``kinect_knowns``: known actions in a Kinect
look), and ``look`` (``dataset_look``: missing joints and body proportions made useless as a dataset cue).

**Validation** (``validate_model``, also at the end of training): the background offset (``background``: at most
1 − ``known_recall`` of the known validation windows — as annotated and with hidden joints shown — called
background), folded into the classifier; then validation top-1, background rates and, per validation negative set,
AUROC / FPR at 95 % recall and the share accepted. ``validation.json`` beside the checkpoint.
"""
from __future__ import annotations

import dataclasses
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Literal

import numpy as np

from partkd_stream.checkpoint import load_checkpoint, save_checkpoint
from partkd_stream.layouts import get_layout

from . import rng
from .background import KNOWN_RECALL, VAL_NEG_SEED, background_offset, background_reject, fold_offset, judge_negatives
from .config import ConfigError, ExperimentConfig, _Checked, load_config, parse_override
from .data import (VAL_DEGRADE_SEED, Benchmark, load_benchmark, lq_train_views, source_clips,
                   split_validation)
from .dataset_look import Look, clean_2d, reveal_hidden
from .degrade import corrupt, sample_rng
from .evaluation import centre_windows, evaluate, logits, sliding_windows, stream_top1
from .loops import summarize, train_stage
from .negatives import (NegativeClip, NegativeWindows, action_number, dataset_clips, extracted_clips, idle_clips,
                        source_root, transition_clips)
from .openset import BACKGROUND, score_logits
from .paths import CONFIGS
from .reporting import markdown_table
from .stages import STAGES

CONFIG = CONFIGS / "penn_default.yaml"
FAMILIES = {"a": {"train": ("nw_ucla",), "eval": ("utd_mhad", "ntu")},
            "b": {"train": ("utd_mhad", "ntu"), "eval": ("nw_ucla",)},
            "c": {"train": ("nw_ucla", "utd_mhad", "ntu"), "eval": ("nw_ucla", "utd_mhad", "ntu")}}
"""Negative families. ``a`` and ``b`` split by dataset; ``c`` by action: every dataset, its first half of actions
(``SPLIT_ACTIONS``) to train on, the second half held out — all three looks in training, unseen actions judged."""
SPLIT_ACTIONS = {"nw_ucla": 6, "utd_mhad": 13, "ntu": 7}   # family c trains on action numbers ≤ these
VAL_SUBJECTS = {"nw_ucla": {9, 10}, "utd_mhad": {8}}   # training-family subjects kept for validation
SOURCE_WEIGHTS = {"dataset": 0.4, "idle": 0.25, "transition": 0.25, "pool": 0.1}
REVEAL = 13                   # rng salt: which known clips show their hidden joints in an epoch (look)


@dataclass
class OpensetConfig(_Checked):
    """What a run adds to the Penn student (``--set key=value`` overrides a variant)."""

    _where: ClassVar[str] = "openset"
    negatives: Literal["none", "a", "b", "c"] = "a"   # negative family trained on (none: closed-set control)
    share: float = 0.4            # negative windows per known window, each epoch, on top of the known ones
    look: bool = False            # take the dataset look away (dataset_look)
    look_share: float = 0.5       # chance of a borrowed mask (other looks) / shown hidden joints (known look)
    kinect_knowns: bool = False   # UTD-MHAD's Penn actions of odd subjects as extra known clips
    kinect_repeat: int = 1        # windows per Kinect known clip per epoch
    known_recall: float = KNOWN_RECALL   # validation: known windows not called background, at least

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


def openset_config(variant: str, overrides: list[str]) -> OpensetConfig:
    """A named variant with ``KEY=VALUE`` overrides of its ``OpensetConfig`` fields."""
    if variant not in VARIANTS:
        raise ConfigError(f"unknown variant {variant!r}; choose one of {', '.join(VARIANTS)}")
    d = dict(VARIANTS[variant])
    fields = list(OpensetConfig.__dataclass_fields__)
    for item in overrides:
        key, value = parse_override(item)
        if key not in fields:
            raise ConfigError(f"--set {item!r}: expected KEY=VALUE with KEY one of {', '.join(fields)}")
        d[key] = value
    return OpensetConfig(**d)


def penn_config(root: str, epochs: int, device: str, threads: int) -> ExperimentConfig:
    """The shipped Penn student's config (``penn_default.yaml``) on the data at ``root``."""
    return load_config(CONFIG, [f"data.root={root}", f"train.epochs_student={epochs}", f"train.device={device}",
                                f"train.threads={threads}"])


# --- data ----------------------------------------------------------------------------------------------------------
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


def training_negatives(family: str, shared: Path, bench: Benchmark, seed: int, pool: str | None) -> list[NegativeClip]:
    """The training negatives of ``family``: its datasets (validation subjects out), idle people, transitions of the
    training clips and, if given, the extracted ``pool`` video (``partkd-stream extract no_person_pool.mp4``)."""
    clips = family_clips(family, "train", shared, part="train")
    clips += idle_clips(240, seed=seed)
    clips += transition_clips(source_clips(bench.train_src, bench.train_fps, bench.train_ids), bench.lq_pre, seed=seed)
    if pool:
        clips += extracted_clips(pool)
    return clips


def validation_negatives(family: str, shared: Path, val: dict, pre: Any) -> dict[str, list[NegativeClip]]:
    """Validation negatives: the training family's validation subjects, idle people and transitions (other seed)."""
    sets = {f"{src}_val": [c for c in family_clips(family, "train", shared, part="val") if c.source == src]
            for src in FAMILIES[family]["train"]}
    sets = {k: v for k, v in sets.items() if v}
    sets["idle"] = idle_clips(40, seed=VAL_NEG_SEED, seconds=10.0)
    sets["transition"] = transition_clips(source_clips(val["src"], val["fps"], val["ids"]), pre, seed=VAL_NEG_SEED)
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
def train_variant(oc: OpensetConfig, cfg: ExperimentConfig, seed: int, shared: Path, out: Path, name: str,
                  variant: str, pool: str | None = None, resume: bool = False) -> dict[str, Any]:
    """Train one open-set student into ``out`` (``student.pt``, ``validation.json``); returns the validation.
    ``resume``: a finished student is kept, an interrupted one continues from its last finished epoch."""
    if resume and (out / "student.pt").exists() and (out / "validation.json").exists():
        print(f"{name}: already trained: {out / 'student.pt'}", flush=True)
        return json.loads((out / "validation.json").read_text())
    out.mkdir(parents=True, exist_ok=True)
    t_start = time.time()
    bench, val = split_validation(load_benchmark(cfg.data, seed))
    pre, deg = bench.lq_pre, bench.degradation
    look = Look.of_known(bench.train_src, pre.layout, deg, oc.look_share) if oc.look else None
    classes = list(bench.classes)
    neg = None
    if oc.negatives != "none":
        clips = training_negatives(oc.negatives, shared, bench, seed, pool)
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

    # loops' own stage loop (resumable checkpoint each epoch, progress, DDP, CUDA): CE on this epoch's known
    # views (the look taken away) with the extra windows on top; its checkpoint becomes student.pt below
    model, _ = train_stage(STAGES["baseline"], cfg, bench_k, seed, out, resume=resume,
                           extra_windows=extra_windows if (kin is not None or neg is not None) else None,
                           lq_views=lambda epoch: known_views(bench, seed, epoch, look),
                           log=lambda line: print(f"{name} {line}", flush=True))
    model = model.cpu().eval()
    meta = {"stage": "openset", "title": f"LQ student, CE{' + background' if neg else ''}", "seed": seed,
            "dataset": "penn_action", "variant": variant, "openset": dataclasses.asdict(oc),
            "negatives": oc.negatives, "negative_sources": neg.sources if neg else [], "validation_ids": val["ids"],
            "known_extra_ids": [c.id for c in kin[0].clips] if kin else [],
            "data": dataclasses.asdict(cfg.data), "train": dataclasses.asdict(cfg.train),
            "minutes": round((time.time() - t_start) / 60, 1)}
    res = validate_model(model, classes, meta, bench, val, oc, shared, look)   # folds the background offset
    (out / "validation.json").write_text(json.dumps(res, indent=2) + "\n")
    test = evaluate(model, bench.test_lq, bench.test_fps, bench.test_labels, pre)   # reported, never chosen on
    meta["metrics"] = summarize({"test": test})
    calibrated = {"background_offset": res["background_offset"], "reject": res["reject"]} if "reject" in res else {}
    save_checkpoint(out / "student.pt", model, classes, meta={**meta, "validation": brief(res), **calibrated})
    (out / "baseline.pt").unlink(missing_ok=True)   # train_stage's, before the offset: student.pt is the model
    print(f"{name}: test clip top-1 {100 * test['top1']:.1f}%, streaming {100 * test['stream_top1']:.1f}% "
          f"(background counted wrong) | validation "
          f"{json.dumps(brief(res))} ({meta['minutes']} min) → {out / 'student.pt'}", flush=True)
    return res


# --- validation ----------------------------------------------------------------------------------------------------
def validate_model(model: Any, classes: list[str], meta: dict, bench: Benchmark, val: dict, oc: OpensetConfig,
                   shared: Path, look: Look | None, calibrate: bool = True) -> dict[str, Any]:
    """Calibrate the background offset on validation (folded into ``model``; ``calibrate=False``: the model's is
    kept) and measure on validation only."""
    pre, deg = bench.lq_pre, bench.degradation
    has_bg = classes[-1] == BACKGROUND
    y = val["labels"]
    zc = logits(model, centre_windows(val["lq"], val["fps"], pre))
    xv, ov = sliding_windows(val["lq"], val["fps"], pre)
    xr, orv = sliding_windows(revealed(val, pre, deg), val["fps"], pre)
    zv, zr = logits(model, xv), logits(model, xr)
    res: dict[str, Any] = {"variant": meta.get("variant"), "openset": meta.get("openset"), "classes": len(classes),
                           "validation": {"clips": len(y), "windows": len(xv)}}
    family = oc.negatives if oc.negatives != "none" else "a"
    nsets = validation_negatives(family, shared, val, pre)
    zn = {k: logits(model, NegativeWindows(v, pre, deg, VAL_NEG_SEED, look=look).eval_windows()[0])
          for k, v in nsets.items()}
    if has_bg:
        b = background_offset(np.concatenate([zv, zr]), oc.known_recall) if calibrate else 0.0
        fold_offset(model, b, zc, zv, zr, *zn.values())
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
    res["negatives"] = {name: judge_negatives(s_known, z, classes, score) for name, z in zn.items()}
    if has_bg:
        res["reject"] = background_reject(
            oc.known_recall, f"Penn Action validation clips ({len(y)}, held out), {len(xv)} windows as annotated + "
                             f"{len(xr)} with hidden joints shown; background logit offset {b:g} folded into the "
                             f"classifier").to_dict()
    return res


def brief(res: dict[str, Any]) -> dict[str, Any]:
    """A validation result in one line: known-window numbers, per negative set its AUROC and share accepted."""
    out = {k: round(v, 4) for k, v in res["known"].items()}
    for name, row in res["negatives"].items():
        out[f"{name}_auroc"] = round(row["auroc"], 4)
        if "accepted" in row:
            out[f"{name}_accepted"] = round(row["accepted"], 4)
    if "background_offset" in res:
        out["offset"] = res["background_offset"]
    return out


def validate_checkpoint(model_path: str, root: str, shared: Path) -> dict[str, Any]:
    """Validate a trained checkpoint again (a calibrated model is measured as it is)."""
    ck = load_checkpoint(model_path)
    model, classes = ck.build_model(), list(ck.classes)
    oc = OpensetConfig(**ck.meta["openset"]) if "openset" in ck.meta else OpensetConfig(
        negatives=ck.meta.get("negatives") if ck.meta.get("negatives") in FAMILIES else "none")
    cfg = penn_config(root, 1, "cpu", 1)
    bench, val = split_validation(load_benchmark(cfg.data, int(ck.meta.get("seed", 0))))
    look = Look.of_known(bench.train_src, bench.lq_pre.layout, bench.degradation, oc.look_share) if oc.look else None
    res = validate_model(model, classes, dict(ck.meta), bench, val, oc, shared, look,
                         calibrate="background_offset" not in ck.meta)
    res["model"] = str(model_path)
    return res


def summary_table(names: list[str], runs: Path, status: dict[str, int]) -> str:
    """The validation table of a sweep over variants (``<runs>/<variant>/validation.json``)."""
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
    body = []
    for n, res in rows:
        if res is None:
            body.append([n, f"failed (exit {status.get(n)})"])
            continue
        known = {**res["known"], "offset": res.get("background_offset", "")}
        cells = [f"{known[c]:.3f}" if isinstance(known.get(c), float) else str(known.get(c, "")) for c in cols]
        for k in neg_cols:
            m = res["negatives"].get(k)
            cells.append("" if m is None else f"{m['auroc']:.3f} / {m.get('accepted', float('nan')):.3f}")
        body.append([n, *cells])
    return "Validation only (Penn validation clips and the training family's validation negatives):\n\n" \
        + markdown_table(head, body)
