"""The everyday model with a background class: idle at a desk and the still ends of actions say "no action".

The everyday config's student (desk-webcam degradation, full-window training) trained with cross-entropy only —
the teacher has no target for background windows — and, every epoch, ``share`` × as many negative windows as known
ones on top (label ``background``, the last class; ``loops.train_stage(extra_windows=…)``, as the open-set Penn
model): generated idle people, half of them sitting (``negatives.idle_clips``), and transitions of the training
clips (the person still, the action only in the window's first or last fifth: ``negatives.transition_clips``),
degraded by the config's profile, so half of them framed from the waist up. No other dataset's actions: NW-UCLA's
and NTU's overlap UTD-MHAD's (throw, sit down, clap, wave, …). A last class named ``background`` is never an
action: the runtime says "no action" with ``reason: "unknown"`` when it wins.

As the open-set Penn model: a stratified share of the training clips is carved off as **validation**
(``data.split_validation``; never trained on) and, after training, the background logit gets the smallest offset
that leaves at most 2 % of the validation clips' streamed windows called background (``background``); it is folded
into the classifier and the checkpoint's ``meta["reject"]`` says so (``build_engine`` writes it into the card).
Validation also measures generated idle people and transitions of the validation clips, of seeds never trained on.
The refit (no validation clips) folds in the offset that such validation runs chose.
"""
from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import numpy as np

from partkd_stream.checkpoint import load_checkpoint, save_checkpoint

from .background import (KNOWN_RECALL, VAL_NEG_SEED, background_offset, background_reject, clip_background_offset,
                         fold_offset, judge_negatives)
from .config import ExperimentConfig
from .data import Benchmark, load_benchmark, source_clips, split_validation
from .evaluation import evaluate, logits, sliding_windows, stream_top1
from .loops import train_stage
from .negatives import NegativeWindows, idle_clips, transition_clips
from .openset import BACKGROUND, score_logits
from .paths import CONFIGS
from .reporting import write_json
from .stages import STAGES

CONFIG = CONFIGS / "everyday.yaml"
IDLE_CLIPS = 240


def train_everyday_background(cfg: ExperimentConfig, seed: int, share: float, validation: float,
                              offset: float | None = None, resume: bool = False) -> Path:
    """Train the everyday student with a background class into ``<out>/<name>/seed<k>/baseline.pt`` (test metrics
    after the offset; background counts as wrong); ``validation`` > 0 holds that share out to choose the offset
    (``validation.json``), 0 folds in ``offset`` (the refit on every clip). ``resume`` keeps a finished run and
    continues an interrupted one from its last finished epoch. Returns the checkpoint's path."""
    bench, val = load_benchmark(cfg.data, seed), None
    if validation > 0:
        bench, val = split_validation(bench, share=validation)
    bench = dataclasses.replace(bench, classes=[*bench.classes, BACKGROUND], cache={})
    clips = idle_clips(IDLE_CLIPS, seed=seed) + transition_clips(
        source_clips(bench.train_src, bench.train_fps, bench.train_ids), bench.lq_pre, seed=seed)
    neg = NegativeWindows(clips, bench.lq_pre, bench.degradation, seed, fill_modes=cfg.data.fill_modes,
                          weights={"idle": 1.0, "transition": 1.0})
    k_bg = len(bench.classes) - 1

    def extra_windows(epoch: int, n_known: int) -> tuple[np.ndarray, np.ndarray]:
        x = neg.epoch_windows(epoch, int(round(share * n_known)))
        return x, np.full(len(x), k_bg)

    out_dir = Path(cfg.out) / cfg.name / f"seed{seed}"
    out_dir.mkdir(parents=True, exist_ok=True)
    held = f"{len(val['ids'])} held out for validation" if val else "none held out"
    print(f"{cfg.name} seed {seed}: {len(bench.train_ids)} known training clips ({held}), {len(clips)} negative "
          f"clips ({', '.join(neg.sources)}), {share:g} negative windows per known window", flush=True)
    if resume and (out_dir / "baseline.metrics.json").exists():   # finished, its offset folded in: keep it
        print(f"{cfg.name} seed {seed}: already trained: {out_dir / 'baseline.pt'}")
        return out_dir / "baseline.pt"
    model, metrics = train_stage(STAGES["baseline"], cfg, bench, seed, out_dir, extra_windows=extra_windows,
                                 resume=resume)
    model = model.cpu().eval()
    if val is not None:
        res = validate(model, bench, val)                               # folds the background offset
        write_json(out_dir / "validation.json", res)
    else:
        res = refit(model, offset or 0.0)
    test = evaluate(model, bench.test_lq, bench.test_fps, bench.test_labels, bench.lq_pre)   # reported only
    meta = load_checkpoint(out_dir / "baseline.pt").meta           # train_stage's, before the offset
    meta["metrics"].setdefault("test", {}).update({k: v for k, v in test.items() if isinstance(v, (int, float))})
    meta.update(title="LQ student, CE + background", share=share, validation_ids=val["ids"] if val else [],
                validation=res["brief"], background_offset=res["background_offset"], reject=res["reject"])
    save_checkpoint(out_dir / "baseline.pt", model, bench.classes, meta=meta)
    write_json(out_dir / "baseline.metrics.json", {"stage": "baseline", "seed": seed, "background": True,
                                                   "share": share, **metrics, "test": meta["metrics"]["test"],
                                                   "validation": res})
    print(f"{cfg.name} seed {seed}: clip top-1 {100 * test['top1']:.1f}%, streaming top-1 "
          f"{100 * test['stream_top1']:.1f}% (background counted wrong) | validation {json.dumps(res['brief'])} "
          f"→ {out_dir / 'baseline.pt'}")
    return out_dir / "baseline.pt"


def refit(model: Any, offset: float, recipe: str = "train.everyday_background") -> dict[str, Any]:
    """No validation clips (every training clip was trained on): fold the ``offset`` that validation runs chose."""
    fold_offset(model, offset)
    reject = background_reject(KNOWN_RECALL, f"background logit offset {offset:g}, chosen by validation runs of this "
                                             f"recipe ({recipe} with a held-out validation split), "
                                             f"folded into the classifier; this model trained on every training clip")
    return {"background_offset": offset, "reject": reject.to_dict(), "brief": {"offset": offset, "refit": True}}


def validate(model: Any, bench: Benchmark, val: dict, recall: float = KNOWN_RECALL, what: str = "UTD-MHAD",
             per_clip: bool = False) -> dict[str, Any]:
    """The background offset from the validation clips' streamed windows (folded into ``model``), and validation
    numbers: known top-1, windows called background, and per negative set (idle people and transitions of the
    validation clips, seeds never trained on) the AUROC of ``not_background`` and the share accepted as an action.
    ``what``: the validation clips' datasets, in words (for the card's reject); ``per_clip``: the offset leaves
    ≤ 1 − ``recall`` of the *clips* mostly background (``clip_background_offset``), not of the windows."""
    pre, deg = bench.lq_pre, bench.degradation
    xv, ov = sliding_windows(val["lq"], val["fps"], pre)
    zv = logits(model, xv)
    b = clip_background_offset(zv, ov, recall) if per_clip else background_offset(zv, recall)
    fold_offset(model, b, zv)
    k = len(bench.classes) - 1
    y = val["labels"]
    known = {"clips": len(y), "windows": len(xv), "stream_top1": stream_top1(zv, ov, y),
             "window_top1": float((zv.argmax(1) == y[ov]).mean()),
             "background_windows": float((zv.argmax(1) == k).mean()),
             "background_clips": float((np.bincount(ov, zv.argmax(1) == k, len(y)) / np.maximum(
                 np.bincount(ov, minlength=len(y)), 1) > 0.5).mean())}
    sets = {"idle": idle_clips(IDLE_CLIPS // 2, seed=VAL_NEG_SEED),
            "transitions": transition_clips(source_clips(val["src"], val["fps"], val["ids"]), pre, seed=VAL_NEG_SEED)}
    s_known = score_logits(zv, "not_background", bench.classes)
    negatives = {}
    for name, nclips in sets.items():
        zn = logits(model, NegativeWindows(nclips, pre, deg, VAL_NEG_SEED).eval_windows()[0])   # offset folded in
        negatives[name] = {"clips": len(nclips), **judge_negatives(s_known, zn, bench.classes)}
    rule = "clips mostly background" if per_clip else "windows called background"
    reject = background_reject(recall, f"{what} validation clips ({len(y)}, held out of training), {len(xv)} "
                                       f"windows as streamed, desk profile; background logit offset {b:g} (at most "
                                       f"{100 * (1 - recall):g} % {rule}) folded into the classifier")
    brief = {"offset": b, **{k_: round(v, 4) for k_, v in known.items() if isinstance(v, float)},
             **{f"{n}_{m}": round(r[m], 4) for n, r in negatives.items() for m in ("auroc", "accepted")}}
    return {"background_offset": b, "known": known, "negatives": negatives, "reject": reject.to_dict(),
            "brief": brief}
