"""Part-level knowledge distillation, end to end (our reading of Liu et al. 2024, not their code).

    python -m train.distill --config train/configs/penn_action.yaml [--seed 0] [--epochs 20] [--out runs]
                            [--stage teacher|baseline|kd|kd_uniform|kd_paired|logit_kd|all] [--resume]
                            [--set train.alpha=0.5 ...] [--jobs 2]

Stages per seed (``train.lib.stages``): the HQ teacher (with the action-specific part matrix), the LQ student
baseline (CE only), the distilled student (CE + part-level multi-sample contrastive loss, + optional logit KD), and
the ablations. Writes ``<out>/<name>/seed<k>/`` (checkpoints, per-epoch CSV, metrics JSON, plots) and
``<out>/<name>/results.md`` (mean ± std over seeds; ``train.lib.experiment``). Under ``torchrun --nproc_per_node N``
training is data-parallel (DDP); ``--jobs N`` instead trains N (seed, stage) units at once in separate processes —
on a small CPU machine, where one small model cannot use several cores well, that is the faster way to a multi-seed
table.
"""
from __future__ import annotations

if __package__ in (None, ""):  # run as a file: the same as `python -m train.distill`
    import _bootstrap  # noqa: F401  (train/_bootstrap.py)

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

from partkd_stream.checkpoint import CheckpointError
from partkd_stream.signals import exit_code, terminate_as_interrupt
from train.lib.config import ConfigError, ExperimentConfig, load_config
from train.lib.experiment import plan_tasks, run, write_results
from train.lib.loops import init_distributed, interrupted_message, resolve_device
from train.lib.processes import Job, run_jobs
from train.lib.stages import STAGES


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="distill.py", description=__doc__.split("\n\n")[0])
    p.add_argument("--config", required=True, help="YAML config, e.g. train/configs/penn_action.yaml")
    p.add_argument("--seed", type=int, action="append", help="run only these seeds (repeatable)")
    p.add_argument("--epochs", type=int, help="epochs for teacher and students (instead of train.student_steps)")
    p.add_argument("--out", help="output folder (default: the config's 'out', usually runs/)")
    p.add_argument("--stage", default="all", help="all, or a comma-separated list of: " + ", ".join(STAGES))
    p.add_argument("--root", help="dataset root or cached file (overrides data.root)")
    p.add_argument("--resume", action="store_true", help="skip finished stages, continue unfinished ones")
    p.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="config overrides, e.g. train.alpha=0.5")
    p.add_argument("--jobs", type=int, default=1, help="(seed, stage) units trained at once, each in its own process (default 1)")
    p.add_argument("--no-summary", action="store_true", help=argparse.SUPPRESS)  # a --jobs worker: parent summarises
    return p.parse_args(argv)


def resolve_config(args: argparse.Namespace) -> ExperimentConfig:
    overrides = list(args.set)
    if args.epochs is not None:
        overrides += [f"train.epochs_teacher={args.epochs}", f"train.epochs_student={args.epochs}",
                      "train.student_steps=null"]
    if args.out:
        overrides.append(f"out={args.out}")
    if args.root:
        overrides.append(f"data.root={args.root}")
    cfg = load_config(args.config, overrides)
    if args.seed:
        cfg.seeds = list(args.seed)
    if args.stage != "all":
        cfg.stages = [s.strip() for s in args.stage.split(",") if s.strip()]
    unknown = [s for s in cfg.stages if s not in STAGES]
    if unknown:
        raise ConfigError(f"unknown stage(s) {unknown}; choose from {', '.join(STAGES)} or 'all'")
    return cfg


def run_parallel(args: argparse.Namespace, cfg: ExperimentConfig, argv: list[str]) -> int:
    """Train every (seed, stage) in up to ``args.jobs`` child processes (this command, one unit each; the scheduler:
    ``train.lib.processes``), then summarise.

    Units, not whole seeds, are scheduled: with 3 seeds on 2 cores no core idles while the last seed trains alone.
    A student that distils waits until its seed's teacher has finished (in this run), and is skipped if it failed.
    Children share the cores: a config without ``train.threads`` gets ``cpu_count // jobs`` threads per child.
    Ctrl-C or SIGTERM to this process is passed on to every running child, each checkpoints its last finished
    epoch, and ``--resume`` continues.
    """
    threads = cfg.train.threads or max(1, (os.cpu_count() or 1) // args.jobs)
    base = ["-m", "train.distill", *argv, "--jobs", "1", "--no-summary", "--set", *args.set, f"train.threads={threads}"]
    teacher_here = "teacher" in cfg.stages and not cfg.teacher
    jobs = [Job((seed, name), [*base, "--seed", str(seed), "--stage", name],
                after=(seed, "teacher") if teacher_here and STAGES[name].needs_teacher else None)
            for seed, name in plan_tasks(cfg)]
    print(f"training seeds {cfg.seeds} × stages {cfg.stages}: {len(jobs)} units, {args.jobs} at a time, "
          f"{threads} thread(s) each")
    t_start = time.time()
    outcome = run_jobs(jobs, args.jobs)
    write_results(Path(cfg.out) / cfg.name, time.time() - t_start)
    if outcome.failed:
        units = ", ".join(f"seed {s} {n}" for s, n in outcome.failed)
        print(f"distill.py: error: {units} failed or skipped (output above); rerun with --resume", file=sys.stderr)
        return 1
    return 0


def _strip_jobs_args(argv: list[str]) -> list[str]:
    """The command line without --seed/--stage/--jobs/--set (the parent passes its own)."""
    out, skip = [], 0
    for i, a in enumerate(argv):
        if skip:
            skip -= 1
            continue
        if a in ("--seed", "--stage", "--jobs"):
            skip = 1
        elif a.startswith(("--seed=", "--stage=", "--jobs=")):
            continue
        elif a == "--set":  # consumes following KEY=VALUE tokens
            j = i + 1
            while j < len(argv) and not argv[j].startswith("--"):
                j += 1
            skip = j - i - 1
        else:
            out.append(a)
    return out


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parse_args(argv)
    with terminate_as_interrupt():  # SIGTERM (kill, docker stop, a --jobs parent) ends the run as Ctrl-C does
        return _main(args, argv)


def _main(args: argparse.Namespace, argv: list[str]) -> int:
    try:
        cfg = resolve_config(args)
        if args.jobs < 1:
            raise ConfigError(f"--jobs {args.jobs}: must be at least 1")
        if args.jobs > 1 and len(cfg.seeds) * len(cfg.stages) > 1:
            if int(os.environ.get("WORLD_SIZE", "1")) > 1:
                raise ConfigError("--jobs > 1 runs seeds in separate processes; do not combine it with torchrun")
            return run_parallel(args, cfg, _strip_jobs_args(argv))
        init_distributed(resolve_device(cfg.train.device))
        run(cfg, args.resume, summary=not args.no_summary)
    except (ConfigError, CheckpointError, FileNotFoundError, ValueError) as e:
        print(f"distill.py: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as e:
        print(interrupted_message("distill.py", e), file=sys.stderr)
        return exit_code(e)
    finally:
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()
    return 0


if __name__ == "__main__":
    np.seterr(all="ignore")
    sys.exit(main())
