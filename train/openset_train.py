"""Train and validate the open-set Penn student: Penn's actions plus a ``background`` class of negative windows.

    python -m train.openset_train train --variant bg_look_kin [--epochs 60] [--seed 0] [--root PENN] [--shared DATA]
        [--pool no_person_pool.npz] [--out runs/openset] [--device auto] [--set share=0.3 look=true …]
    python -m train.openset_train validate --model runs/openset/bg_look_kin/student.pt [--root …] [--shared …]
    python -m train.openset_train sweep --variants all --jobs 8 --out DIR [--root PENN.npz] [--shared DATA]

``train`` trains one variant (``train.lib.openset_training``: the splits, the negatives, the options) and validates
it: ``<out>/<name>/student.pt`` (the background offset folded in, the card's reject in its meta) and
``validation.json``; SIGTERM or Ctrl-C keeps the last finished epoch and ``--resume`` continues. ``validate``
measures a checkpoint on validation again. ``sweep`` trains variants in parallel processes and writes ``summary.md``
(the validation table) and ``openset_sweep.tar.gz`` (per variant ``student.pt``, ``validation.json`` and its log) to
``--out``. ``--root`` defaults to Penn Action's labels and ``--shared`` to the shared data folder
(``PARTKD_SHARED_DATA``).
"""
from __future__ import annotations

if __package__ in (None, ""):  # run as a file: the same as `python -m train.openset_train`
    import _bootstrap  # noqa: F401  (train/_bootstrap.py)

import argparse
import json
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import torch

from partkd_stream.signals import exit_code, terminate_as_interrupt
from train.lib.config import DEVICES, ConfigError
from train.lib.loops import interrupted_message
from train.lib.openset_training import (VARIANTS, brief, openset_config, penn_config, summary_table, train_variant,
                                        validate_checkpoint)
from train.lib.paths import shared_data
from train.lib.processes import Job, child_env, run_jobs


def train(args: argparse.Namespace) -> int:
    oc = openset_config(args.variant, args.set)
    cfg = penn_config(args.root, args.epochs, args.device, args.threads)
    if cfg.train.threads:
        torch.set_num_threads(cfg.train.threads)
    name = args.name or args.variant
    train_variant(oc, cfg, args.seed, Path(args.shared), Path(args.out) / name, name, args.variant, args.pool,
                  args.resume)
    return 0


def validate(args: argparse.Namespace) -> int:
    """Validate a trained checkpoint again (e.g. a phase-1 model); writes ``validation.json`` beside it."""
    torch.set_num_threads(1)
    res = validate_checkpoint(args.model, args.root, Path(args.shared))
    out = Path(args.out) if args.out else Path(args.model).with_name("validation.json")
    out.write_text(json.dumps(res, indent=2) + "\n")
    print(json.dumps(brief(res)))
    return 0


def sweep(args: argparse.Namespace) -> int:
    """Train variants in parallel processes (runs in ``--work``; the scheduler: ``train.lib.processes``), then write
    two files to ``--out``: the validation table ``summary.md`` and ``openset_sweep.tar.gz`` (per variant
    ``student.pt``, ``validation.json``, its log). At ``--deadline`` running variants get SIGTERM (they checkpoint;
    the same command with the same ``--work`` continues them) and what finished is packed."""
    names = list(VARIANTS) if args.variants == "all" else [v.strip() for v in args.variants.split(",") if v.strip()]
    unknown = [n for n in names if n not in VARIANTS]
    if unknown:
        raise ConfigError(f"unknown variant(s) {unknown}; choose from {', '.join(VARIANTS)} or all")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    runs = Path(args.work) if args.work else Path(tempfile.mkdtemp(prefix="openset_sweep_"))
    runs.mkdir(parents=True, exist_ok=True)
    common = ["--root", args.root, "--shared", args.shared, "--epochs", str(args.epochs), "--seed", str(args.seed),
              "--out", str(runs), "--device", args.device, "--threads", str(args.threads), "--resume"]
    if args.pool:
        common += ["--pool", args.pool]
    jobs = [Job(n, ["-m", "train.openset_train", "train", "--variant", n, *common], log=runs / f"{n}.log")
            for n in names]
    t0 = time.time()

    def finished(job: Job, returncode: int) -> None:
        print(f"sweep: {job.key} exited {returncode} at {time.time() - t0:.0f} s", flush=True)

    outcome = run_jobs(jobs, args.jobs, env=child_env(OMP_NUM_THREADS=str(args.threads)),
                       deadline_s=args.deadline or None, on_exit=finished)
    for n in outcome.stopped:
        print(f"sweep: {n} stopped at the {args.deadline:g} s deadline (checkpointed)", flush=True)
    status = {j.key: (j.proc.returncode if j.proc else None) for j in jobs}
    table = summary_table(names, runs, status)
    (out / "summary.md").write_text(table)
    print(table)
    with tarfile.open(out / "openset_sweep.tar.gz", "w:gz") as tar:
        for n in names:
            for f in (runs / n / "student.pt", runs / n / "validation.json", runs / f"{n}.log"):
                if f.exists():
                    tar.add(f, arcname=str(f.relative_to(runs)))
    return 0 if outcome.ok else 1


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m train.openset_train", description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)

    def data_args(q: argparse.ArgumentParser) -> None:
        q.add_argument("--root", default=str(shared_data() / "penn_action" / "labels"),
                       help="Penn Action labels folder or its train.prepare cache (.npz)")
        q.add_argument("--shared", default=str(shared_data()), help="folder holding nw_ucla/, ntu/, utd_mhad/")

    def run_args(q: argparse.ArgumentParser) -> None:
        data_args(q)
        q.add_argument("--epochs", type=int, default=60)
        q.add_argument("--seed", type=int, default=0)
        q.add_argument("--out", default="runs/openset")
        q.add_argument("--pool", metavar="NPZ",
                       help="MediaPipe skeletons of no_person_pool.mp4 (partkd-stream extract)")
        q.add_argument("--device", default="auto", choices=DEVICES)
        q.add_argument("--threads", type=int, default=1, help="torch threads per process (default 1)")

    t = sub.add_parser("train", help="train one variant, then validate it")
    t.add_argument("--variant", required=True, choices=list(VARIANTS))
    t.add_argument("--name", help="run folder name (default: the variant)")
    t.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="OpensetConfig overrides")
    t.add_argument("--resume", action="store_true", help="keep a finished student, continue an interrupted one")
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
    with terminate_as_interrupt():   # SIGTERM (kill, a sweep's deadline) ends a run as Ctrl-C does: checkpointed
        try:
            return {"train": train, "validate": validate, "sweep": sweep}[args.cmd](args)
        except (ConfigError, ValueError, FileNotFoundError) as e:
            print(f"openset_train: error: {str(e).splitlines()[0] if str(e) else repr(e)}", file=sys.stderr)
            return 2
        except KeyboardInterrupt as e:
            print(interrupted_message("openset_train", e), file=sys.stderr)
            return exit_code(e)


if __name__ == "__main__":
    sys.exit(main())
