"""Train the everyday model to generalise: UTD-MHAD, KARD, Florence 3D and NW-UCLA, every input shift, a background.

    python -m train.everyday_multiset --stage teacher|baseline|kd [--config train/configs/everyday_multiset.yaml]
        [--seed 0] [--leave-out DATASET] [--share 0.4] [--validation 0.15 | --validation 0 --offset B]
        [--teacher PATH] [--recalibrate] [--out runs] [--set KEY=VALUE ...]

What each stage trains, the augmentation and the background offset: ``train.lib.everyday_multiset``. Writes
``<out>/<name>/<all | lodo_DATASET>/seed<k>/<stage>.pt`` (``kd`` distils from ``teacher.pt`` there unless
``--teacher``). ``--leave-out`` trains on the other datasets (leave one dataset out; judge the result with
``python -m train.generalise --model …/baseline.pt --lodo DATASET``).
"""
from __future__ import annotations

if __package__ in (None, ""):  # run as a file: the same as `python -m train.everyday_multiset`
    import _bootstrap  # noqa: F401  (train/_bootstrap.py)

import argparse
import sys
from typing import Sequence

from partkd_stream.checkpoint import CheckpointError
from train.datasets import DatasetError
from train.lib.background import check_background_args
from train.lib.config import ConfigError, load_config
from train.lib.everyday_multiset import CONFIG, STUDENT_STAGES, recalibrate, train_student, train_teacher


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m train.everyday_multiset", description=__doc__.split("\n\n")[0])
    ap.add_argument("--config", default=str(CONFIG))
    ap.add_argument("--stage", required=True, choices=("teacher", *STUDENT_STAGES))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--leave-out", metavar="DATASET", help="train on the other datasets (multiset.leave_out)")
    ap.add_argument("--share", type=float, default=0.4, help="negative windows per known window, each epoch")
    ap.add_argument("--validation", type=float, default=0.15,
                    help="share of the training clips held out to calibrate the background offset (0: train on all)")
    ap.add_argument("--offset", type=float, help="with --validation 0: the background offset chosen by validation "
                                                 "runs (default 0)")
    ap.add_argument("--teacher", help="kd: the teacher checkpoint (default: teacher.pt of the same run)")
    ap.add_argument("--recalibrate", action="store_true", help="baseline / kd: choose the trained student's background "
                                                               "offset again on its validation clips; no training")
    ap.add_argument("--out", help="output folder (default: the config's out)")
    ap.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="config overrides")
    args = ap.parse_args(argv)
    try:
        check_background_args(args.share, args.validation, args.offset)
        sets = [*args.set] + ([f"multiset.leave_out={args.leave_out}"] if args.leave_out else []) \
            + ([f"out={args.out}"] if args.out else [])
        cfg = load_config(args.config, sets)
        if cfg.train.threads:
            import torch

            torch.set_num_threads(cfg.train.threads)
        if args.recalibrate:
            if args.stage == "teacher":
                raise ConfigError("--recalibrate is for a student (--stage baseline or kd)")
            recalibrate(cfg, args.seed, args.stage, args.validation)
        elif args.stage == "teacher":
            train_teacher(cfg, args.seed, args.validation)
        else:
            train_student(cfg, args.seed, args.stage, args.share, args.validation, args.offset, args.teacher)
    except (ConfigError, DatasetError, CheckpointError, FileNotFoundError) as e:
        print(f"everyday_multiset: error: {str(e).splitlines()[0]}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
