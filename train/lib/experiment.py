"""A distillation run: every stage of every seed into a run folder, then the run's results table.

``<out>/<name>/seed<k>/`` holds each stage's checkpoint, per-epoch CSV, metrics JSON and plots;
``<out>/<name>/results.md`` (``results.json``, ``results.csv``) the table over every finished stage and seed found
there — mean ± std over seeds and same-seed differences — so partial reruns and parallel workers merge.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import torch
import yaml

from partkd_stream.checkpoint import CheckpointError, load_checkpoint

from .config import ConfigError, ExperimentConfig, to_dict
from .data import load_benchmark
from .loops import dist_info, train_stage
from .paths import resolve_root
from .plots import plot_confusion, plot_curves, plot_part_matrix
from .reporting import results_table, write_history, write_json, write_text
from .stages import STAGES, stage_config


def plan_tasks(cfg: ExperimentConfig) -> list[tuple[int, str]]:
    """(seed, stage) work units in the order a free worker should take them: teachers first (every distilled
    student waits for its seed's teacher), then the students that need a teacher, then the rest."""
    order = {"teacher": 0}
    for name in cfg.stages:
        stage = STAGES[name]
        order.setdefault(name, 1 if stage.needs_teacher else 2)
    return [(seed, name) for _, name in sorted((order[n], n) for n in cfg.stages) for seed in cfg.seeds]


def run(cfg: ExperimentConfig, resume: bool, summary: bool = True) -> dict:
    """Train ``cfg.stages`` for every seed (a distilling stage after its seed's teacher); with ``summary``, write
    the results table. Under ``torchrun`` every rank trains; rank 0 writes."""
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
