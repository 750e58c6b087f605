"""Part-level knowledge distillation, end to end (our reading of Liu et al. 2024, not their code).

    python -m train.distill --config train/configs/penn_action.yaml [--seed 0] [--epochs 20] [--out runs]
                            [--stage teacher|baseline|kd|kd_uniform|kd_paired|logit_kd|all] [--resume]
                            [--set train.alpha=0.5 ...] [--jobs 2]

Stages per seed: the HQ teacher (with the action-specific part matrix), the LQ student baseline (CE only), the
distilled student (CE + part-level multi-sample contrastive loss, + optional logit KD), and the ablations.
Writes ``<out>/<name>/seed<k>/`` (checkpoints, per-epoch CSV, metrics JSON, plots) and ``<out>/<name>/results.md``
(mean ± std over seeds). Under ``torchrun --nproc_per_node N`` training is data-parallel (DDP); ``--jobs N`` instead
trains N (seed, stage) units at once in separate processes — on a small CPU machine, where one small model cannot
use several cores well, that is the faster way to a multi-seed table.
"""
from __future__ import annotations

if __package__ in (None, ""):  # run as a file: the same as `python -m train.distill`
    import _bootstrap  # noqa: F401  (train/_bootstrap.py)

import argparse
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
import yaml

from partkd_stream.checkpoint import CheckpointError, load_checkpoint
from partkd_stream.signals import Terminated, exit_code, terminate_as_interrupt
from train.lib.config import ConfigError, ExperimentConfig, load_config, to_dict
from train.lib.data import load_benchmark
from train.lib.loops import dist_info, init_distributed, resolve_device, train_stage
from train.lib.paths import resolve_root
from train.lib.plots import plot_confusion, plot_curves, plot_part_matrix
from train.lib.reporting import results_table, write_history, write_json, write_text
from train.lib.stages import STAGES, stage_config


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


def plan_tasks(cfg: ExperimentConfig) -> list[tuple[int, str]]:
    """(seed, stage) work units in the order a free worker should take them: teachers first (every distilled
    student waits for its seed's teacher), then the students that need a teacher, then the rest."""
    order = {"teacher": 0}
    for name in cfg.stages:
        stage = STAGES[name]
        order.setdefault(name, 1 if stage.needs_teacher else 2)
    return [(seed, name) for _, name in sorted((order[n], n) for n in cfg.stages) for seed in cfg.seeds]


def run_parallel(args: argparse.Namespace, cfg: ExperimentConfig, argv: list[str]) -> int:
    """Train every (seed, stage) in up to ``args.jobs`` child processes (this script, one unit each), then summarise.

    Units, not whole seeds, are scheduled: with 3 seeds on 2 cores no core idles while the last seed trains alone.
    A student that distils waits until its seed's teacher has finished (in this run), and is skipped if it failed.
    Children share the cores: a config without ``train.threads`` gets ``cpu_count // jobs`` threads per child.
    Children run in their own sessions, so a signal reaches them once, from here: Ctrl-C or SIGTERM to this process
    is passed on to every running child, each checkpoints its last finished epoch, and ``--resume`` continues.
    """
    threads = cfg.train.threads or max(1, (os.cpu_count() or 1) // args.jobs)
    base = [sys.executable, "-m", "train.distill", *argv, "--jobs", "1", "--no-summary",
            "--set", *args.set, f"train.threads={threads}"]
    pending = plan_tasks(cfg)
    teacher_here = "teacher" in cfg.stages and not cfg.teacher
    done: set[tuple[int, str]] = set()
    failed: list[tuple[int, str]] = []
    running: list[tuple[tuple[int, str], subprocess.Popen]] = []
    t_start = time.time()

    def needs_teacher(task: tuple[int, str]) -> bool:
        stage = STAGES[task[1]]
        return teacher_here and stage.needs_teacher

    print(f"training seeds {cfg.seeds} × stages {cfg.stages}: {len(pending)} units, {args.jobs} at a time, "
          f"{threads} thread(s) each")
    try:
        while pending or running:
            for task in list(pending):
                if len(running) >= args.jobs:
                    break
                seed, name = task
                if needs_teacher(task) and (seed, "teacher") in failed:
                    pending.remove(task)
                    failed.append(task)
                    continue
                if needs_teacher(task) and (seed, "teacher") not in done:
                    continue
                pending.remove(task)
                running.append((task, subprocess.Popen([*base, "--seed", str(seed), "--stage", name],
                                                       env=_child_env(), start_new_session=True)))
            time.sleep(0.5)
            for task, proc in list(running):
                if proc.poll() is not None:
                    running.remove((task, proc))
                    (done.add(task) if proc.returncode == 0 else failed.append(task))
    except KeyboardInterrupt as e:  # Ctrl-C, or SIGTERM (Terminated): the same signal goes to every child
        _stop_children([proc for _, proc in running], signal.SIGTERM if isinstance(e, Terminated) else signal.SIGINT)
        _interrupted_message(e)
        return exit_code(e)
    write_results(Path(cfg.out) / cfg.name, time.time() - t_start)
    if failed:
        units = ", ".join(f"seed {s} {n}" for s, n in failed)
        print(f"distill.py: error: {units} failed or skipped (output above); rerun with --resume", file=sys.stderr)
        return 1
    return 0


def _stop_children(procs: list[subprocess.Popen], sig: int) -> None:
    """Send ``sig`` to each child and wait while they checkpoint; a second Ctrl-C or SIGTERM kills them."""
    for proc in procs:
        if proc.poll() is None:
            proc.send_signal(sig)
    try:
        for proc in procs:
            proc.wait()
    except KeyboardInterrupt:
        for proc in procs:
            proc.kill()
            proc.wait()


def _interrupted_message(e: KeyboardInterrupt) -> None:
    what = "terminated (SIGTERM)" if isinstance(e, Terminated) else "interrupted"
    print(f"distill.py: {what}; finished epochs are checkpointed — rerun with --resume", file=sys.stderr)


def _child_env() -> dict[str, str]:
    """A ``--jobs`` child runs ``python -m train.distill`` too: the repository root must be importable from it."""
    repo = str(Path(__file__).resolve().parents[1])
    path = os.environ.get("PYTHONPATH")
    return {**os.environ, "PARTKD_PROGRESS": "0", "PYTHONPATH": repo + (os.pathsep + path if path else "")}


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


def run(cfg: ExperimentConfig, resume: bool, summary: bool = True) -> dict:
    rank, _ = dist_info()
    log = print if rank == 0 else (lambda *_: None)
    if cfg.train.threads:
        torch.set_num_threads(cfg.train.threads)
    run_dir = Path(cfg.out) / cfg.name
    if rank == 0:
        run_dir.mkdir(parents=True, exist_ok=True)
        write_text(run_dir / "config.yaml", yaml.safe_dump(to_dict(cfg), sort_keys=False))
    t_start = time.time()
    for seed in cfg.seeds:
        bench = load_benchmark(cfg.data, seed)
        seed_dir = run_dir / f"seed{seed}"
        seed_dir.mkdir(parents=True, exist_ok=True)
        log(f"seed {seed}: {len(bench.train_ids)} training clips ({int(bench.paired.sum())} with HQ), "
            f"{len(bench.test_ids)} test clips, {len(bench.classes)} classes")
        teacher = None
        histories = {}
        for name in cfg.stages:
            stage = STAGES[name]
            if stage.needs_teacher and teacher is None:
                teacher = _load_teacher(resolve_root(cfg.teacher.format(seed=seed)) if cfg.teacher
                                        else seed_dir / "teacher.pt")
            model, metrics = train_stage(stage, cfg, bench, seed, seed_dir, teacher=teacher, resume=resume, log=log)
            if stage.teacher:
                teacher = model
            if rank != 0:
                continue
            histories[name] = metrics.get("history", [])
            write_history(seed_dir, name, histories[name])
            write_json(seed_dir / f"{name}.metrics.json", {"stage": name, "seed": seed, **metrics})
            if "pred" in metrics.get("test", {}):
                labels = bench.test_labels
                plot_confusion(seed_dir, name, labels, metrics["test"]["pred"], bench.classes)
                log(f"[{name}] seed {seed}: clip top-1 {100 * metrics['test']['top1']:.1f}%, "
                    f"top-5 {100 * metrics['test']['top5']:.1f}%, "
                    f"streaming top-1 {100 * metrics['test'].get('stream_top1', float('nan')):.1f}%")
            if stage.teacher:
                plot_part_matrix(seed_dir, model.part_weights().detach().cpu().numpy(), bench.classes, cfg.model.parts)
            elif "part_weights" in metrics and stage_config(stage, cfg).train.part_weights == "evidence" \
                    and not stage.uniform_parts:
                plot_part_matrix(seed_dir, np.array(metrics["part_weights"]["weights"]), bench.classes,
                                 cfg.model.parts, name=f"part_weights_{name}", title="part weights from per-part "
                                 "classification evidence")
        if rank == 0 and histories:
            plot_curves(seed_dir, {**_finished_histories(seed_dir), **histories})
    result = {}
    if rank == 0 and summary:
        result = write_results(run_dir, time.time() - t_start)
    return result


def _finished_histories(seed_dir: Path) -> dict[str, list]:
    """Per-epoch histories of every stage already finished in ``seed_dir`` (other runs and ``--jobs`` workers)."""
    import json
    out = {}
    for name in STAGES:
        f = seed_dir / f"{name}.metrics.json"
        if f.exists():
            out[name] = json.loads(f.read_text()).get("history", [])
    return out


def _load_teacher(path: Path):
    try:
        return load_checkpoint(path).build_model()
    except CheckpointError as e:
        raise ConfigError(f"{e}; run the teacher stage first (--stage teacher)") from None


def write_results(run_dir: Path, seconds: float) -> dict:
    """Table over every finished stage and seed found in the run folder (so partial reruns merge)."""
    import json
    results: dict[str, dict[int, dict]] = {}
    for name in STAGES:
        for f in sorted(run_dir.glob(f"seed*/{name}.metrics.json")):
            m = json.loads(f.read_text())
            results.setdefault(name, {})[int(m["seed"])] = m
    table, summary = results_table(results, {k: s.title for k, s in STAGES.items()})
    summary["wall_seconds_this_invocation"] = round(seconds, 1)
    write_text(run_dir / "results.md", table)
    write_json(run_dir / "results.json", summary)
    rows = ["stage,seed,top1,top5,stream_top1"]
    for name, per_seed in results.items():
        for seed, m in sorted(per_seed.items()):
            t = m.get("test", {})
            rows.append(f"{name},{seed},{t.get('top1', '')},{t.get('top5', '')},{t.get('stream_top1', '')}")
    write_text(run_dir / "results.csv", "\n".join(rows) + "\n")
    print("\n" + table)
    if "gap_recovered" in summary:
        print(f"distillation recovers {100 * summary['gap_recovered']:.0f}% of the teacher–baseline gap (clip top-1)")
    print(f"wall time {seconds / 60:.1f} min; results in {run_dir}/results.md")
    return summary


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
        _interrupted_message(e)
        return exit_code(e)
    finally:
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()
    return 0


if __name__ == "__main__":
    np.seterr(all="ignore")
    sys.exit(main())
