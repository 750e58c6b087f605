"""The label-efficiency sweep: teachers once per seed, then students on a share of the LQ training clips.

    python -m train.sweep --config train/configs/penn_action.yaml --config train/configs/nw_ucla.yaml \\
        --fractions 0.1,1 --seeds 0,1,2,3,4 --stages baseline,control,kd --jobs 16 --out runs/sweep \\
        [--data runs/cache] [--set KEY=VALUE ...] [--deadline-minutes 8.5] [--split-stages]

Work units, each one ``python -m train.distill`` process (one thread): a teacher per (config, seed), in
``<out>/<name>/seed<k>``; a group of students per (config, fraction, seed), in ``<out>/<name>_f<pct>/seed<k>``,
trained one after another in one process so that they share each epoch's degraded windows (``loops.epoch_data``);
they distil from that seed's teacher (``teacher: <out>/<name>/seed{seed}/teacher.pt``) and start once it is
trained. Students train ``train.student_steps`` optimiser steps whatever their share of the clips (set in the
configs), so a 10 % student is trained to convergence as long as a 100 % one. Units run seed by seed, so a
sweep stopped early (``--deadline-minutes``: running units are stopped with SIGTERM, which checkpoints them, and
``--resume``-style reruns continue) still holds complete seeds. The summary is rewritten after every unit:
``--split-stages`` makes every student stage its own unit (each process degrades its own windows: more CPU in all,
but no stage waits for another) and orders them stage by stage over the seeds — for a machine with more cores than
groups (UTD-MHAD: 5 seeds, one fraction, many stages), where a deadline then keeps the first stages on every seed.
The summary is rewritten after every unit: ``<out>/sweep.md`` (tables: mean ± std per fraction and stage, and same-seed differences kd − baseline,
kd − control, control − baseline), ``sweep.json``, ``sweep.csv`` and ``label_efficiency_<name>.png``.
"""
from __future__ import annotations

if __package__ in (None, ""):  # run as a file: the same as `python -m train.sweep`
    import _bootstrap  # noqa: F401  (train/_bootstrap.py)

import argparse
import csv
import io
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from partkd_stream.signals import Terminated, exit_code, terminate_as_interrupt

from train.lib.config import ConfigError, load_config
from train.lib.plots import plot_label_efficiency
from train.lib.paths import REPO
from train.lib.reporting import write_json, write_text
from train.lib.stages import STAGES


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
    proc: subprocess.Popen | None = field(default=None, repr=False)
    started: float = 0.0

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
    return [sys.executable, "-m", "train.distill", "--config", unit.config, "--seed", str(unit.seed),
            "--stage", ",".join(unit.stages), "--out", str(out), "--resume", "--no-summary",
            "--set", *unit.sets]


def run(args: argparse.Namespace) -> int:
    units = plan(args)
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    logs = out / "logs"
    logs.mkdir(exist_ok=True)
    deadline = time.time() + 60 * args.deadline_minutes if args.deadline_minutes else None
    pending, running, done, failed = list(units), [], set(), []
    env = {**os.environ, "PARTKD_PROGRESS": "0", "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    t0 = time.time()
    print(f"sweep: {len(units)} units ({sum(u.fraction is None for u in units)} teachers), {args.jobs} at a time; "
          f"logs in {logs}", flush=True)
    stopped = False
    try:
        while pending or running:
            if deadline and time.time() > deadline:
                print(f"sweep: deadline of {args.deadline_minutes} min reached; stopping {len(running)} units, "
                      f"{len(pending)} not started", flush=True)
                _stop(running, signal.SIGTERM)
                stopped = True
                break
            for unit in list(pending):
                if len(running) >= args.jobs:
                    break
                if unit.after and unit.after in failed:
                    pending.remove(unit)
                    failed.append(unit.key)
                    continue
                if unit.after and unit.after not in done:
                    continue
                pending.remove(unit)
                log = open(logs / unit.log_name, "w")
                unit.proc = subprocess.Popen(_command(unit, out), cwd=REPO, env=env, stdout=log,
                                             stderr=subprocess.STDOUT, start_new_session=True)
                log.close()
                unit.started = time.time()
                running.append(unit)
            time.sleep(0.5)
            for unit in list(running):
                if unit.proc.poll() is None:
                    continue
                running.remove(unit)
                ok = unit.proc.returncode == 0
                (done.add(unit.key) if ok else failed.append(unit.key))
                print(f"sweep: {'done' if ok else 'FAILED'} {unit.label} in {(time.time() - unit.started) / 60:.1f} "
                      f"min (t = {(time.time() - t0) / 60:.1f} min)", flush=True)
                if unit.fraction is not None:
                    summarise(out, args.config, args.set)
    except KeyboardInterrupt as e:
        _stop(running, signal.SIGTERM if isinstance(e, Terminated) else signal.SIGINT)
        summarise(out, args.config, args.set)
        print("sweep: interrupted; rerun the same command to continue (finished units are kept)", file=sys.stderr)
        return exit_code(e)
    summarise(out, args.config, args.set, seconds=time.time() - t0)
    print(f"sweep: {(time.time() - t0) / 60:.1f} min; summary in {out / 'sweep.md'}", flush=True)
    if failed:
        print(f"sweep: error: {len(failed)} units failed or skipped (see {logs})", file=sys.stderr)
        return 1
    return 3 if stopped else 0


def _stop(running: list[Unit], sig: int) -> None:
    for unit in running:
        if unit.proc.poll() is None:
            unit.proc.send_signal(sig)
    for unit in running:
        try:
            unit.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            unit.proc.kill()


# --- summary -----------------------------------------------------------------------------------------------------
COMPARISONS = (("kd", "baseline"), ("kd", "control"), ("control", "baseline"),
               ("kd_clip", "baseline"), ("kd_clip", "control_clip"), ("kd_evidence", "kd"), ("kd_parts", "kd"),
               ("kd_uniform", "baseline"), ("kd_paired", "baseline"), ("logit_kd", "baseline"))


def collect(out: Path, configs: list[str], sets: list[str]) -> list[dict]:
    """One row per finished (dataset, fraction, stage, seed): clip top-1/5, streaming top-1, part cosine."""
    rows = []
    for config in configs:
        name = load_config(config, sets).name
        for run in sorted(out.glob(f"{name}_f[0-9][0-9][0-9]")) + [out / name]:
            fraction = int(run.name[-3:]) / 100 if run.name != name else None
            for f in sorted(run.glob("seed*/*.metrics.json")):
                m = json.loads(f.read_text())
                if (m["stage"] == "teacher") != (fraction is None):
                    continue
                t = m.get("test", {})
                rows.append({"dataset": name, "fraction": fraction, "stage": m["stage"], "seed": int(m["seed"]),
                             "top1": 100 * t.get("top1", np.nan), "top5": 100 * t.get("top5", np.nan),
                             "stream_top1": 100 * t.get("stream_top1", np.nan),
                             "part_cosine": t.get("part_cosine", np.nan),
                             "part_weight_entropy": m.get("part_weights", {}).get("entropy_ratio", np.nan)})
    return rows


def summarise(out: Path, configs: list[str], sets: list[str], seconds: float | None = None) -> dict:
    rows = collect(out, configs, sets)
    md, summary = tables(rows)
    if seconds is not None:
        summary["wall_seconds"] = round(seconds, 1)
        md += f"\nWall time of the sweep: {seconds / 60:.1f} min.\n"
    write_text(out / "sweep.md", md)
    write_json(out / "sweep.json", summary)
    buf = io.StringIO()
    fields = ["dataset", "fraction", "stage", "seed", "top1", "top5", "stream_top1", "part_cosine",
              "part_weight_entropy"]
    w = csv.DictWriter(buf, fieldnames=fields)
    w.writeheader()
    w.writerows(rows)
    write_text(out / "sweep.csv", buf.getvalue())
    for dataset in sorted({r["dataset"] for r in rows}):
        plot_label_efficiency(out / f"label_efficiency_{dataset}.png", dataset,
                              [r for r in rows if r["dataset"] == dataset and r["fraction"] is not None])
    return summary


def _cell(vals: list[float]) -> str:
    return f"{np.mean(vals):.1f} ± {np.std(vals):.1f}" if vals else "–"


def tables(rows: list[dict]) -> tuple[str, dict]:
    """Markdown: per dataset, clip top-1 (mean ± std over seeds, population std) per fraction and stage, then
    same-seed differences; the teacher on HQ for reference. JSON: the same numbers."""
    lines, summary = [], {}
    for dataset in sorted({r["dataset"] for r in rows}):
        rs = [r for r in rows if r["dataset"] == dataset]
        stages = [s for s in STAGES if any(r["stage"] == s and r["fraction"] is not None for r in rs)]
        fractions = sorted({r["fraction"] for r in rs if r["fraction"] is not None})
        teacher = [r["top1"] for r in rs if r["stage"] == "teacher"]
        summary[dataset] = {"teacher_top1": teacher, "cells": {}, "differences": {}}
        lines += [f"### {dataset}", "", f"HQ teacher, clip top-1 on HQ test: {_cell(teacher)} (seeds: {len(teacher)})",
                  "", "Clip top-1 on the LQ test set (mean ± std over seeds; n = seeds):", "",
                  "| LQ clips | " + " | ".join(stages) + " |", "| --- | " + " | ".join("---" for _ in stages) + " |"]
        for f in fractions:
            cells = []
            for s in stages:
                vals = [r["top1"] for r in rs if r["fraction"] == f and r["stage"] == s]
                summary[dataset]["cells"][f"{f:g}/{s}"] = {"seeds": [r["seed"] for r in rs if r["fraction"] == f
                                                                     and r["stage"] == s], "top1": vals}
                cells.append(f"{_cell(vals)} (n={len(vals)})")
            lines.append(f"| {100 * f:g} % | " + " | ".join(cells) + " |")
        comparisons = [(a, b) for a, b in COMPARISONS if a in stages and b in stages]
        if comparisons:
            lines += ["", "Same-seed differences, clip top-1 points (mean ± std; seeds where the first is better):",
                      "", "| LQ clips | " + " | ".join(f"{a} − {b}" for a, b in comparisons) + " |",
                      "| --- | " + " | ".join("---" for _ in comparisons) + " |"]
            for f in fractions:
                cells = []
                for a, b in comparisons:
                    va = {r["seed"]: r["top1"] for r in rs if r["fraction"] == f and r["stage"] == a}
                    vb = {r["seed"]: r["top1"] for r in rs if r["fraction"] == f and r["stage"] == b}
                    seeds = sorted(set(va) & set(vb))
                    d = np.array([va[s] - vb[s] for s in seeds])
                    summary[dataset]["differences"][f"{f:g}/{a}-{b}"] = {"seeds": seeds, "diff": d.tolist()}
                    cells.append(f"{d.mean():+.1f} ± {d.std():.1f} ({int((d > 0).sum())} of {len(d)})" if len(d)
                                 else "–")
                lines.append(f"| {100 * f:g} % | " + " | ".join(cells) + " |")
        cos = [(s, [r["part_cosine"] for r in rs if r["stage"] == s and r["fraction"] is not None]) for s in stages]
        ent = [(s, [r["part_weight_entropy"] for r in rs if r["stage"] == s and np.isfinite(r["part_weight_entropy"])])
               for s in stages]
        lines += ["", "Mechanisms, all fractions: mean cosine between a test sample's part features (1 = parts "
                  "identical): " + ", ".join(f"{s} {np.nanmean(v):.2f}" for s, v in cos if v)
                  + "; part-weight entropy / maximum: " + (", ".join(f"{s} {np.mean(v):.3f}" for s, v in ent if v)
                                                            or "–"), ""]
    return "\n".join(lines) + "\n", summary


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
