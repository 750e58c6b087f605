"""The everyday model trained to generalise: several datasets through one vocabulary, every input shift, a background.

One run (``train_everyday_multiset``) trains, on the training clips of ``multiset.datasets`` (minus the left-out one,
``multiset.leave_out``) in the everyday vocabulary (``train.lib.multiset``):

- ``teacher``: a 3D part-GCN on the clean ``openni15`` clips, each epoch under the augmentation's shifts (its HQ
  view: turned, retimed, retargeted, mirrored; ``train.lib.augment``);
- ``baseline``: the LQ student (``penn13`` 2D) with cross-entropy, or ``kd``: the same + part-level distillation
  from the teacher (``train.lib.distillation``; the paired HQ window shows the LQ window's clip under the same
  shift); both with a ``background`` class: ``share`` × as many negative windows as known ones every epoch —
  generated idle people (half sitting) and transitions of the training clips, under the same shifts and profile as
  the known clips (``augment.ShiftedNegatives``), so neither the view, the frame rate nor clean or 0/1 scores tell
  an action from none.

As the other background models (``train.lib.everyday``): a stratified ``validation`` share of the training clips is
held out, and the background logit gets the smallest offset that leaves ≤ 2 % of them called background — by the
majority of each clip's streamed windows (``background.clip_background_offset``), since KARD's and NW-UCLA's clips
hold still stretches that rightly say "no action" (``<stage>.validation.json``); ``validation=0`` (the refit on
every clip) folds in the ``offset`` such runs chose. ``recalibrate`` chooses a trained student's offset again.
The checkpoint's meta names the vocabulary, the training datasets (clips per dataset), the classes held out, the
augmentation and the ``upper_body`` presence rule, which ``build_engine`` copies into the model card.
"""
from __future__ import annotations

import dataclasses
import json
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import torch

from partkd_stream.checkpoint import load_checkpoint, save_checkpoint
from partkd_stream.window import PRESENCE_RULES

from .augment import AugmentedViews, ShiftedNegatives
from .config import ConfigError, ExperimentConfig
from .data import source_clips, split_validation
from .evaluation import evaluate
from .everyday import IDLE_CLIPS, refit, validate
from .loops import train_stage
from .multiset import Multiset, load_multiset
from .negatives import NegativeWindows, idle_clips, transition_clips
from .openset import BACKGROUND
from .paths import CONFIGS
from .reporting import write_json
from .stages import STAGES

CONFIG = CONFIGS / "everyday_multiset.yaml"
RECIPE = "train.everyday_multiset"
STUDENT_STAGES = ("baseline", "kd")
PRESENCE = "upper_body"   # a desk webcam frames the upper body: the card's presence rule (build_engine reads it)


def run_dir(cfg: ExperimentConfig, seed: int) -> Path:
    """``<out>/<name>/<all | lodo_<dataset>>/seed<k>``."""
    fold = f"lodo_{cfg.multiset.leave_out}" if cfg.multiset.leave_out else "all"
    return Path(cfg.out) / cfg.name / fold / f"seed{seed}"


def prepare(cfg: ExperimentConfig, seed: int, validation: float) -> tuple[Multiset, dict | None]:
    """The run's multi-dataset benchmark with a ``background`` class, its validation share held out."""
    mset = load_multiset(cfg, seed)
    bench, val = mset.bench, None
    if validation > 0:
        bench, val = split_validation(bench, share=validation)
        keep = set(bench.train_ids)
        idx = [i for i, cid in enumerate(mset.bench.train_ids) if cid in keep]
        mset = dataclasses.replace(mset, train_sets=mset.train_sets[idx],
                                   train_actions=[mset.train_actions[i] for i in idx])
    mset.bench = dataclasses.replace(bench, classes=[*bench.classes, BACKGROUND], cache={})
    return mset, val


def views_of(cfg: ExperimentConfig, mset: Multiset, seed: int) -> AugmentedViews | None:
    return AugmentedViews(mset, cfg.augment, seed) if cfg.augment.enabled else None


def negatives(cfg: ExperimentConfig, mset: Multiset, seed: int, views: AugmentedViews | None) -> NegativeWindows:
    """Idle people and transitions of the training clips, in the known clips' look."""
    b = mset.bench
    clips = idle_clips(IDLE_CLIPS, seed=seed) + transition_clips(source_clips(b.train_src, b.train_fps, b.train_ids),
                                                                 b.lq_pre, seed=seed)
    kw = dict(fill_modes=cfg.data.fill_modes, weights={"idle": 1.0, "transition": 1.0})
    if views is None:
        return NegativeWindows(clips, b.lq_pre, b.degradation, seed, **kw)
    return ShiftedNegatives(clips, b.lq_pre, b.degradation, seed, views.ranges, **kw)


def training_meta(cfg: ExperimentConfig, mset: Multiset) -> dict[str, Any]:
    """What the card says about the data: vocabulary, training datasets and their clips, held-out classes."""
    return {"vocabulary": Path(mset.vocab.path).name, "vocabulary_classes": list(mset.bench.classes[:-1]),
            "training_sets": dict(sorted(Counter(mset.train_sets.tolist()).items())),
            "left_out": mset.left_out, "held_out_classes": list(cfg.multiset.exclude_classes),
            "multiset": dataclasses.asdict(cfg.multiset), "augment": dataclasses.asdict(cfg.augment),
            "recipe": RECIPE}


def train_teacher(cfg: ExperimentConfig, seed: int, validation: float) -> Path:
    """The 3D teacher of a run → ``<run_dir>/teacher.pt``."""
    mset, _ = prepare(cfg, seed, validation)
    out_dir = run_dir(cfg, seed)
    out_dir.mkdir(parents=True, exist_ok=True)
    print(f"{cfg.name} {out_dir.parent.name} seed {seed}: teacher on {len(mset.bench.train_ids)} clips "
          f"({dict(Counter(mset.train_sets.tolist()))}), {len(mset.bench.classes)} classes", flush=True)
    train_stage(STAGES["teacher"], cfg, mset.bench, seed, out_dir, views=views_of(cfg, mset, seed))
    path = out_dir / "teacher.pt"
    ck = load_checkpoint(path)
    save_checkpoint(path, ck.build_model(), ck.classes, meta={**ck.meta, **training_meta(cfg, mset)})
    return path


def recalibrate(cfg: ExperimentConfig, seed: int, stage: str, validation: float) -> Path:
    """Choose the background offset of a trained ``<run_dir>/<stage>.pt`` again on its validation clips (the rule
    of ``train_student``), replacing the offset it was saved with; the weights are otherwise untouched."""
    path = run_dir(cfg, seed) / f"{stage}.pt"
    ck = load_checkpoint(path)
    mset, val = prepare(cfg, seed, validation)
    if val is None or list(val["ids"]) != list(ck.meta.get("validation_ids", [])):
        raise ConfigError(f"{path}: its validation clips are not this run's (--validation {validation:g}); "
                          f"recalibrate with the settings it was trained with")
    model = ck.build_model().eval()
    with torch.no_grad():
        model.fc.bias[-1] += float(ck.meta["background_offset"])      # unfold the offset it was saved with
    res = validate(model, mset.bench, val, what=" + ".join(sorted(set(mset.train_sets.tolist()))), per_clip=True)
    write_json(path.with_suffix(".validation.json"), res)
    meta = {**ck.meta, "validation": res["brief"], "background_offset": res["background_offset"],
            "reject": res["reject"]}
    save_checkpoint(path, model, ck.classes, meta=meta)
    print(f"{path}: background offset {ck.meta['background_offset']:g} → {res['background_offset']:g} | "
          f"validation {json.dumps(res['brief'])}", flush=True)
    return path


def train_student(cfg: ExperimentConfig, seed: int, stage: str, share: float, validation: float,
                  offset: float | None = None, teacher: str | Path | None = None) -> Path:
    """The LQ student (``baseline``: CE, ``kd``: CE + part KD from ``teacher``) with a background class →
    ``<run_dir>/<stage>.pt`` (after the offset; its in-distribution test metrics reported only)."""
    if stage not in STUDENT_STAGES:
        raise ConfigError(f"stage {stage!r}: the everyday model trains {' or '.join(STUDENT_STAGES)}")
    out_dir = run_dir(cfg, seed)
    t_path = Path(teacher) if teacher else out_dir / "teacher.pt"
    ck = load_checkpoint(t_path) if stage == "kd" else None         # a missing teacher fails before the data loads
    mset, val = prepare(cfg, seed, validation)
    bench = mset.bench
    out_dir.mkdir(parents=True, exist_ok=True)
    t_model = None
    if ck is not None:
        if list(ck.classes) != list(bench.classes):
            raise ConfigError(f"{t_path}: the teacher's classes are not this run's ({len(ck.classes)} vs "
                             f"{len(bench.classes)}); train it with the same multiset settings")
        t_model = ck.build_model()
    views = views_of(cfg, mset, seed)
    neg = negatives(cfg, mset, seed, views)
    k_bg = len(bench.classes) - 1

    def extra_windows(epoch: int, n_known: int) -> tuple[np.ndarray, np.ndarray]:
        x = neg.epoch_windows(epoch, int(round(share * n_known)))
        return x, np.full(len(x), k_bg)

    held = f"{len(val['ids'])} held out for validation" if val else "none held out"
    print(f"{cfg.name} {out_dir.parent.name} seed {seed} {stage}: {len(bench.train_ids)} known training clips "
          f"({held}; {dict(Counter(mset.train_sets.tolist()))}), {len(bench.classes) - 1} classes + background, "
          f"{len(neg.clips)} negative clips, {share:g} negative windows per known window, augmentation "
          f"{'on' if views else 'off'}", flush=True)
    model, metrics = train_stage(STAGES[stage], cfg, bench, seed, out_dir, teacher=t_model,
                                 extra_windows=extra_windows, views=views)
    model = model.cpu().eval()
    what = " + ".join(sorted(set(mset.train_sets.tolist())))
    res = validate(model, bench, val, what=what, per_clip=True) if val is not None else \
        refit(model, offset or 0.0, RECIPE)
    if val is not None:
        write_json(out_dir / f"{stage}.validation.json", res)
    test = evaluate(model, bench.test_lq, bench.test_fps, bench.test_labels, bench.lq_pre)   # reported only
    path = out_dir / f"{stage}.pt"
    meta = load_checkpoint(path).meta
    meta["metrics"].setdefault("test", {}).update({k: v for k, v in test.items() if isinstance(v, (int, float))})
    meta.update(training_meta(cfg, mset))
    meta.update(title=f"LQ student, {'CE + part KD' if stage == 'kd' else 'CE'} + background", share=share,
                presence=PRESENCE_RULES[PRESENCE].to_dict(),
                validation_ids=val["ids"] if val else [], validation=res["brief"],
                background_offset=res["background_offset"], reject=res["reject"])
    save_checkpoint(path, model, bench.classes, meta=meta)
    write_json(out_dir / f"{stage}.metrics.json", {"stage": stage, "seed": seed, "background": True, "share": share,
                                                   **metrics, "test": meta["metrics"]["test"], "validation": res})
    print(f"{cfg.name} {out_dir.parent.name} seed {seed} {stage}: in-distribution test (its training datasets' test "
          f"splits) clip top-1 {100 * test['top1']:.1f}%, streaming {100 * test['stream_top1']:.1f}% | validation "
          f"{json.dumps(res['brief'])} → {path}", flush=True)
    return path
