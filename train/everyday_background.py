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
Writes ``<out>/everyday_bg/seed<k>/baseline.pt`` (metrics: background predictions count as wrong).
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path
from typing import Sequence

import numpy as np

if __package__ in (None, ""):  # `python train/everyday_background.py`: train/ is a folder of modules
    sys.exit("run it as a module from the repository root: python -m train.everyday_background "
             + " ".join(sys.argv[1:]))

from partkd_stream.reject import BACKGROUND  # noqa: E402

from .config import ConfigError, load_config  # noqa: E402
from .data import load_benchmark  # noqa: E402
from .loops import train_stage  # noqa: E402
from .negatives import NegativeWindows, idle_clips, transition_clips  # noqa: E402
from .report import write_json  # noqa: E402
from .stages import STAGES  # noqa: E402

CONFIG = Path(__file__).resolve().parent / "configs" / "everyday.yaml"
IDLE_CLIPS = 240


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m train.everyday_background", description=__doc__.split("\n\n")[0])
    ap.add_argument("--config", default=str(CONFIG))
    ap.add_argument("--root", help="the dataset (raw folder or train.prepare cache) instead of the config's")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--share", type=float, default=0.4, help="negative windows per known window, each epoch")
    ap.add_argument("--out", help="output folder (default: the config's out)")
    ap.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="config overrides")
    args = ap.parse_args(argv)
    try:
        if args.share <= 0:
            raise ConfigError(f"--share {args.share}: must be > 0")
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
    bench = load_benchmark(cfg.data, seed)
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
    print(f"everyday_bg seed {seed}: {len(bench.train_ids)} known training clips, {len(clips)} negative clips "
          f"({', '.join(neg.sources)}), {args.share:g} negative windows per known window", flush=True)
    _, metrics = train_stage(STAGES["baseline"], cfg, bench, seed, out_dir, extra_windows=extra_windows)
    write_json(out_dir / "baseline.metrics.json", {"stage": "baseline", "seed": seed, "background": True,
                                                   "share": args.share, **metrics})
    test = metrics.get("test", {})
    print(f"everyday_bg seed {seed}: clip top-1 {100 * test.get('top1', float('nan')):.1f}%, streaming top-1 "
          f"{100 * test.get('stream_top1', float('nan')):.1f}% (background counted wrong) → {out_dir / 'baseline.pt'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
