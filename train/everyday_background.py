"""The everyday model with a background class: idle at a desk and the still ends of actions say "no action".

    python -m train.everyday_background [--config train/configs/everyday.yaml] [--root runs/data/utd_mhad.npz]
        [--seed 0] [--share 0.4] [--out runs] [--set KEY=VALUE ...]

The everyday config's student (desk-webcam degradation, full-window training) trained with cross-entropy only —
the teacher has no target for background windows — and, every epoch, ``share`` × as many negative windows as known
ones on top (label ``background``, the last class; ``train.loops.train_stage(extra_windows=…)``, as the open-set
Penn model): generated idle people, half of them sitting (``negatives.idle_clips``), and transitions of the
training clips (the person still, the action only in the window's first or last fifth:
``negatives.transition_clips``), degraded by the config's profile, so half of them framed from the waist up. No
other dataset's actions: NW-UCLA's and NTU's overlap UTD-MHAD's (throw, sit down, clap, wave, …). A last class
named ``background`` is never an action: the runtime says "no action" with ``reason: "unknown"`` when it wins.

As the open-set Penn model: a stratified ``--validation`` share (15 %) of the training clips is carved off as
**validation** (``openset_train.split_validation``; never trained on) and, after training, the background logit gets
the smallest offset that leaves at most 2 % of the validation clips' streamed windows called background; it is
folded into the classifier and the checkpoint's ``meta["reject"]`` says so (``build_engine`` writes it into the
card). Validation also measures generated idle people and transitions of the validation clips, of seeds never
trained on (``validation.json``). ``--validation 0 --offset B``: the refit — every training clip, the offset ``B``
chosen by such validation runs folded in as given. Writes ``<out>/everyday_bg/seed<k>/baseline.pt`` (test metrics
after the offset; background counts as wrong).
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from pathlib import Path
from typing import Sequence

import numpy as np

if __package__ in (None, ""):  # `python train/everyday_background.py`: train/ is a folder of modules
    sys.exit("run it as a module from the repository root: python -m train.everyday_background "
             + " ".join(sys.argv[1:]))

from partkd_stream.checkpoint import load_checkpoint, save_checkpoint  # noqa: E402

from .config import ConfigError, load_config  # noqa: E402
from .data import Benchmark, load_benchmark  # noqa: E402
from .evaluation import evaluate  # noqa: E402
from .loops import train_stage  # noqa: E402
from .negatives import NegativeWindows, idle_clips, transition_clips  # noqa: E402
from .openset import BACKGROUND, Reject, roc_auc, score_logits  # noqa: E402
from .openset_train import (VAL_NEG_SEED, background_offset, fold_offset, logits, sliding,  # noqa: E402
                            split_validation, stream_top1)
from .report import write_json  # noqa: E402
from .stages import STAGES  # noqa: E402

CONFIG = Path(__file__).resolve().parent / "configs" / "everyday.yaml"
IDLE_CLIPS = 240
KNOWN_RECALL = 0.98   # validation windows of known actions that must stay actions (as the Penn model)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m train.everyday_background", description=__doc__.split("\n\n")[0])
    ap.add_argument("--config", default=str(CONFIG))
    ap.add_argument("--root", help="the dataset (raw folder or train.prepare cache) instead of the config's")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--share", type=float, default=0.4, help="negative windows per known window, each epoch")
    ap.add_argument("--validation", type=float, default=0.15,
                    help="share of the training clips held out to calibrate the background offset (0: train on all)")
    ap.add_argument("--offset", type=float,
                    help="with --validation 0: the background offset chosen by validation runs (default 0)")
    ap.add_argument("--out", help="output folder (default: the config's out)")
    ap.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="config overrides")
    args = ap.parse_args(argv)
    try:
        if args.share <= 0:
            raise ConfigError(f"--share {args.share}: must be > 0")
        if not 0 <= args.validation < 1:
            raise ConfigError(f"--validation {args.validation}: must be in [0, 1)")
        if args.offset is not None and args.validation > 0:
            raise ConfigError("--offset is for the refit on every clip (--validation 0); with validation the offset "
                              "is calibrated")
        sets = [*args.set, "name=everyday_bg"] + ([f"data.root={args.root}"] if args.root else []) \
            + ([f"out={args.out}"] if args.out else [])
        cfg = load_config(args.config, sets)
    except ConfigError as e:
        print(f"everyday_background: error: {e}", file=sys.stderr)
        return 2
    if cfg.train.threads:
        import torch

        torch.set_num_threads(cfg.train.threads)
    seed = args.seed
    bench, val = load_benchmark(cfg.data, seed), None
    if args.validation > 0:
        bench, val = split_validation(bench, share=args.validation)
    bench = dataclasses.replace(bench, classes=[*bench.classes, BACKGROUND], cache={})
    known = [(s, lay, f, i) for (s, lay), f, i in zip(bench.train_src, bench.train_fps, bench.train_ids)]
    clips = idle_clips(IDLE_CLIPS, seed=seed) + transition_clips(known, bench.lq_pre, seed=seed)
    neg = NegativeWindows(clips, bench.lq_pre, bench.degradation, seed, fill_modes=cfg.data.fill_modes,
                          weights={"idle": 1.0, "transition": 1.0})
    k_bg = len(bench.classes) - 1

    def extra_windows(epoch: int, n_known: int) -> tuple[np.ndarray, np.ndarray]:
        x = neg.epoch_windows(epoch, int(round(args.share * n_known)))
        return x, np.full(len(x), k_bg)

    out_dir = Path(cfg.out) / cfg.name / f"seed{seed}"
    out_dir.mkdir(parents=True, exist_ok=True)
    held = f"{len(val['ids'])} held out for validation" if val else "none held out"
    print(f"everyday_bg seed {seed}: {len(bench.train_ids)} known training clips ({held}), {len(clips)} negative "
          f"clips ({', '.join(neg.sources)}), {args.share:g} negative windows per known window", flush=True)
    model, metrics = train_stage(STAGES["baseline"], cfg, bench, seed, out_dir, extra_windows=extra_windows)
    model = model.cpu().eval()
    if val is not None:
        res = calibrate(model, bench, val)                               # folds the background offset
        write_json(out_dir / "validation.json", res)
    else:
        res = refit(model, args.offset or 0.0)
    test = evaluate(model, bench.test_lq, bench.test_fps, bench.test_labels, bench.lq_pre)   # reported only
    meta = load_checkpoint(out_dir / "baseline.pt").meta           # train_stage's, before the offset
    meta["metrics"].setdefault("test", {}).update({k: v for k, v in test.items() if isinstance(v, (int, float))})
    meta.update(title="LQ student, CE + background", share=args.share, validation_ids=val["ids"] if val else [],
                validation=res["brief"], background_offset=res["background_offset"], reject=res["reject"])
    save_checkpoint(out_dir / "baseline.pt", model, bench.classes, meta=meta)
    write_json(out_dir / "baseline.metrics.json", {"stage": "baseline", "seed": seed, "background": True,
                                                   "share": args.share, **metrics, "test": meta["metrics"]["test"],
                                                   "validation": res})
    print(f"everyday_bg seed {seed}: clip top-1 {100 * test['top1']:.1f}%, streaming top-1 "
          f"{100 * test['stream_top1']:.1f}% (background counted wrong) | validation {json.dumps(res['brief'])} "
          f"→ {out_dir / 'baseline.pt'}")
    return 0


def refit(model, offset: float) -> dict:
    """No validation clips (every training clip was trained on): fold the ``offset`` that validation runs chose."""
    fold_offset(model, offset)
    reject = Reject(method="background", score="not_background", threshold=0.0, target_recall=KNOWN_RECALL,
                    calibrated_on=f"background logit offset {offset:g}, chosen by validation runs of this recipe "
                                  f"(train.everyday_background with a held-out validation split), folded into the "
                                  f"classifier; this model trained on every training clip")
    return {"background_offset": offset, "reject": reject.to_dict(), "brief": {"offset": offset, "refit": True}}


def calibrate(model, bench: Benchmark, val: dict, recall: float = KNOWN_RECALL) -> dict:
    """The background offset from the validation clips' streamed windows (folded into ``model``), and validation
    numbers: known top-1, windows called background, and per negative set (idle people and transitions of the
    validation clips, seeds never trained on) the AUROC of ``not_background`` and the share accepted as an action."""
    pre, deg = bench.lq_pre, bench.degradation
    xv, ov = sliding(val["lq"], val["fps"], pre)
    zv = logits(model, xv)
    b = background_offset(zv, recall)
    fold_offset(model, b)
    zv[:, -1] -= b
    k = len(bench.classes) - 1
    y = val["labels"]
    known = {"clips": len(y), "windows": len(xv), "stream_top1": stream_top1(zv, ov, y),
             "window_top1": float((zv.argmax(1) == y[ov]).mean()),
             "background_windows": float((zv.argmax(1) == k).mean())}
    vclips = [(s, lay, f, i) for (s, lay), f, i in zip(val["src"], val["fps"], val["ids"])]
    sets = {"idle": idle_clips(IDLE_CLIPS // 2, seed=VAL_NEG_SEED),
            "transitions": transition_clips(vclips, pre, seed=VAL_NEG_SEED)}
    s_known = score_logits(zv, "not_background", bench.classes)
    negatives = {}
    for name, nclips in sets.items():
        zn = logits(model, NegativeWindows(nclips, pre, deg, VAL_NEG_SEED).eval_windows()[0])
        zn[:, -1] -= b
        negatives[name] = {"clips": len(nclips), "windows": len(zn),
                           "auroc": roc_auc(s_known, score_logits(zn, "not_background", bench.classes)),
                           "accepted": float((zn.argmax(1) != k).mean())}
    reject = Reject(method="background", score="not_background", threshold=0.0, target_recall=recall,
                    calibrated_on=f"UTD-MHAD validation clips ({len(y)}, held out of training), {len(xv)} windows as "
                                  f"streamed, desk profile; background logit offset {b:g} folded into the classifier")
    brief = {"offset": b, **{k_: round(v, 4) for k_, v in known.items() if isinstance(v, float)},
             **{f"{n}_{m}": round(r[m], 4) for n, r in negatives.items() for m in ("auroc", "accepted")}}
    return {"background_offset": b, "known": known, "negatives": negatives, "reject": reject.to_dict(),
            "brief": brief}


if __name__ == "__main__":
    sys.exit(main())
