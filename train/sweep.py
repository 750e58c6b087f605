"""The label-efficiency sweep: teachers once per seed, then students on a share of the LQ training clips.

    python -m train.sweep --config train/configs/penn_action.yaml --config train/configs/nw_ucla.yaml \\
        --fractions 0.1,1 --seeds 0,1,2,3,4 --stages baseline,control,kd --jobs 16 --out runs/sweep \\
        [--data runs/cache] [--set KEY=VALUE ...] [--deadline-minutes 8.5] [--split-stages]

Work units, each one ``python -m train.distill`` process (one thread; the scheduler: ``train.lib.processes``): a
teacher per (config, seed), in ``<out>/<name>/seed<k>``; a group of students per (config, fraction, seed), in
``<out>/<name>_f<pct>/seed<k>``, trained one after another in one process so that they share each epoch's degraded
windows (``loops.epoch_data``); they distil from that seed's teacher (``teacher: <out>/<name>/seed{seed}/teacher.pt``)
and start once it is trained. Students train ``train.student_steps`` optimiser steps whatever their share of the
clips (set in the configs), so a 10 % student is trained to convergence as long as a 100 % one. Units run seed by
seed, so a sweep stopped early (``--deadline-minutes``: running units are stopped with SIGTERM, which checkpoints
them, and reruns of the same command continue) still holds complete seeds. ``--split-stages`` makes every student
stage its own unit (each process degrades its own windows: more CPU in all, but no stage waits for another) and
orders them stage by stage over the seeds — for a machine with more cores than groups (UTD-MHAD: 5 seeds, one
fraction, many stages), where a deadline then keeps the first stages on every seed. The summary
(``train.lib.sweeps``) is rewritten after every unit: ``<out>/sweep.md`` (tables: mean ± std per fraction and stage,
and same-seed differences kd − baseline, kd − control, control − baseline), ``sweep.json``, ``sweep.csv`` and
``label_efficiency_<name>.png``. Exit code 3: the deadline stopped units.
"""
from __future__ import annotations

if __package__ in (None, ""):  # run as a file: the same as `python -m train.sweep`
    import _bootstrap  # noqa: F401  (train/_bootstrap.py)

import argparse
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from partkd_stream.signals import exit_code, terminate_as_interrupt
from train.lib.config import ConfigError, load_config
from train.lib.processes import Job, run_jobs
from train.lib.stages import STAGES
from train.lib.sweeps import summarise


@dataclass
class Unit:
    """One ``distill.py`` process: a teacher, or the students of one (config, fraction, seed)."""

    config: str
    name: str                  # the run's name (run folder under --out)
    seed: int
    stages: list[str]
    sets: list[str]
    fraction: float | None = None           # None: the teacher unit
    after: tuple[str, int] | None = None    # (config, seed) whose teacher must be trained first

    @property
    def label(self) -> str:
        return f"{self.name} seed {self.seed} [{','.join(self.stages)}]"

    @property
    def key(self) -> tuple:
        """What other units wait for (a teacher: its (config, seed)) and what a failure is recorded as."""
        return (self.config, self.seed) if self.fraction is None else (self.config, self.seed, self.name,
                                                                       tuple(self.stages))

    @property
    def log_name(self) -> str:
        if self.fraction is None:
            return f"{self.name}_seed{self.seed}_teacher.log"
        return f"{self.name}_seed{self.seed}{'_' + self.stages[0] if len(self.stages) == 1 else ''}.log"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m train.sweep", description=__doc__.split("\n\n")[0])
    p.add_argument("--config", action="append", required=True, help="a benchmark config (repeatable)")
    p.add_argument("--fractions", default="0.1,1", help="shares of the LQ training clips, e.g. 0.1,0.25,1")
    p.add_argument("--seeds", default="0,1,2,3,4", help="comma-separated seeds")
    p.add_argument("--stages", default="baseline,control,kd", help="student stages trained per fraction and seed")
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="units at once (default: all cores)")
    p.add_argument("--out", default="runs/sweep", help="output folder")
    p.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="config overrides for every unit")
    p.add_argument("--data", help="folder of dataset caches named <config name>.npz (python -m train.prepare): "
                                  "each config's data.root")
    p.add_argument("--deadline-minutes", type=float, help="stop running units (SIGTERM) after this long, summarise")
    p.add_argument("--split-stages", action="store_true",
                   help="one unit per student stage (ordered stage by stage over the seeds) instead of one per group")
    return p.parse_args(argv)


def _floats(text: str, what: str) -> list[float]:
    try:
        vals = [float(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise ConfigError(f"--{what} {text!r}: expected comma-separated numbers") from None
    if not vals:
        raise ConfigError(f"--{what} {text!r}: name at least one")
    return vals


def plan(args: argparse.Namespace) -> list[Unit]:
    """Teachers first (every student group waits for its seed's), then student groups seed by seed."""
    fractions = _floats(args.fractions, "fractions")
    if any(not 0 < f <= 1 for f in fractions):
        raise ConfigError(f"--fractions {args.fractions}: each must be in (0, 1]")
    seeds = [int(s) for s in _floats(args.seeds, "seeds")]
    stages = [s.strip() for s in args.stages.split(",") if s.strip()]
    unknown = [s for s in stages if s not in STAGES or STAGES[s].teacher]
    if unknown:
        raise ConfigError(f"--stages: {unknown} are not student stages; choose from "
                          + ", ".join(n for n, s in STAGES.items() if not s.teacher))
    out = Path(args.out).resolve()
    teachers, students = [], []
    needs_teacher = any(STAGES[s].needs_teacher for s in stages)
    for config in args.config:
        common = list(args.set)
        if args.data:
            name = load_config(config, args.set).name
            root = Path(args.data).resolve() / f"{name}.npz"
            if not root.is_file():
                raise ConfigError(f"--data {args.data}: no {root.name} there; make it with python -m train.prepare "
                                  f"--dataset … --out {root}")
            common.append(f"data.root={root}")
        cfg = load_config(config, common)  # checks the config and the overrides before anything starts
        if needs_teacher:
            teachers += [Unit(config, cfg.name, seed, ["teacher"], common) for seed in seeds]
        groups = [[s] for s in stages] if args.split_stages else [stages]
        for seed in seeds:
            for f in fractions:
                name = f"{cfg.name}_f{round(100 * f):03d}"
                sets = [*common, f"name={name}", f"data.lq_fraction={f}",
                        f"teacher={out / cfg.name / 'seed{seed}' / 'teacher.pt'}"]
                for group in groups:
                    waits = any(STAGES[s].needs_teacher for s in group)
                    students.append(Unit(config, name, seed, group, sets, f, (config, seed) if waits else None))
    first = (lambda u: stages.index(u.stages[0])) if args.split_stages else (lambda u: 0)
    students.sort(key=lambda u: (first(u), u.seed, args.config.index(u.config), u.fraction))
    return teachers + students


def _command(unit: Unit, out: Path) -> list[str]:
    return ["-m", "train.distill", "--config", unit.config, "--seed", str(unit.seed),
            "--stage", ",".join(unit.stages), "--out", str(out), "--resume", "--no-summary",
            "--set", *unit.sets]


def run(args: argparse.Namespace) -> int:
    units = plan(args)
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    logs = out / "logs"
    logs.mkdir(exist_ok=True)
    by_key = {u.key: u for u in units}
    jobs = [Job(u.key, _command(u, out), log=logs / u.log_name, after=u.after) for u in units]
    t0 = time.time()
    print(f"sweep: {len(units)} units ({sum(u.fraction is None for u in units)} teachers), {args.jobs} at a time; "
          f"logs in {logs}", flush=True)

    def finished(job: Job, returncode: int) -> None:
        unit = by_key[job.key]
        print(f"sweep: {'done' if returncode == 0 else 'FAILED'} {unit.label} in "
              f"{(time.time() - job.started) / 60:.1f} min (t = {(time.time() - t0) / 60:.1f} min)", flush=True)
        if unit.fraction is not None:
            summarise(out, args.config, args.set)

    deadline = 60 * args.deadline_minutes if args.deadline_minutes else None
    try:
        outcome = run_jobs(jobs, args.jobs, deadline_s=deadline, grace_s=60.0, on_exit=finished)
    except KeyboardInterrupt as e:
        summarise(out, args.config, args.set)
        print("sweep: interrupted; rerun the same command to continue (finished units are kept)", file=sys.stderr)
        return exit_code(e)
    if outcome.stopped or outcome.not_started:
        print(f"sweep: deadline of {args.deadline_minutes} min reached; stopped {len(outcome.stopped)} units "
              f"(checkpointed), {len(outcome.not_started)} not started", flush=True)
    summarise(out, args.config, args.set, seconds=time.time() - t0)
    print(f"sweep: {(time.time() - t0) / 60:.1f} min; summary in {out / 'sweep.md'}", flush=True)
    if outcome.failed:
        print(f"sweep: error: {len(outcome.failed)} units failed or skipped (see {logs})", file=sys.stderr)
        return 1
    return 3 if outcome.stopped or outcome.not_started else 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    with terminate_as_interrupt():
        try:
            if args.jobs < 1:
                raise ConfigError(f"--jobs {args.jobs}: must be at least 1")
            return run(args)
        except ConfigError as e:
            print(f"sweep: error: {e}", file=sys.stderr)
            return 2


if __name__ == "__main__":
    sys.exit(main())
