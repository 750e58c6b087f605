"""Train the everyday model with a background class: idle at a desk and the still ends of actions say "no action".

    python -m train.everyday_background [--config train/configs/everyday.yaml] [--root runs/data/utd_mhad.npz]
        [--seed 0] [--share 0.4] [--validation 0.15 | --validation 0 --offset B] [--out runs] [--set KEY=VALUE ...]

What it trains and how the background offset is chosen: ``train.lib.everyday``. By default a stratified
``--validation`` share (15 %) of the training clips is held out to choose the offset (``validation.json``);
``--validation 0 --offset B`` is the refit on every training clip with the offset ``B`` chosen by such validation
runs (the shipped model: ``--validation 0 --offset 0``). Writes ``<out>/everyday_bg/seed<k>/baseline.pt``.
"""
from __future__ import annotations

if __package__ in (None, ""):  # run as a file: the same as `python -m train.everyday_background`
    import _bootstrap  # noqa: F401  (train/_bootstrap.py)

import argparse
import sys
from typing import Sequence

from partkd_stream.signals import exit_code, terminate_as_interrupt
from train.lib.background import check_background_args
from train.lib.config import ConfigError, load_config
from train.lib.everyday import CONFIG, train_everyday_background
from train.lib.loops import interrupted_message


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
    ap.add_argument("--resume", action="store_true", help="continue an interrupted run from its last finished epoch")
    args = ap.parse_args(argv)
    try:
        check_background_args(args.share, args.validation, args.offset)
        sets = [*args.set, "name=everyday_bg"] + ([f"data.root={args.root}"] if args.root else []) \
            + ([f"out={args.out}"] if args.out else [])
        cfg = load_config(args.config, sets)
    except ConfigError as e:
        print(f"everyday_background: error: {e}", file=sys.stderr)
        return 2
    if cfg.train.threads:
        import torch

        torch.set_num_threads(cfg.train.threads)
    with terminate_as_interrupt():   # SIGTERM ends the run as Ctrl-C does: the last finished epoch is checkpointed
        try:
            train_everyday_background(cfg, args.seed, args.share, args.validation, args.offset, args.resume)
        except KeyboardInterrupt as e:
            print(interrupted_message("everyday_background", e), file=sys.stderr)
            return exit_code(e)
    return 0


if __name__ == "__main__":
    sys.exit(main())
