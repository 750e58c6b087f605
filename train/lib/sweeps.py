"""The label-efficiency sweep's summary: every finished unit's metrics → tables (mean ± std per fraction and stage,
same-seed differences), ``sweep.json``, ``sweep.csv`` and a plot per dataset; rewritten after every unit."""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import numpy as np

from .config import load_config
from .plots import plot_label_efficiency
from .reporting import difference_text, markdown_table, same_seed_difference, write_json, write_text
from .stages import STAGES

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
    parts, summary = [], {}
    for dataset in sorted({r["dataset"] for r in rows}):
        rs = [r for r in rows if r["dataset"] == dataset]
        stages = [s for s in STAGES if any(r["stage"] == s and r["fraction"] is not None for r in rs)]
        fractions = sorted({r["fraction"] for r in rs if r["fraction"] is not None})
        teacher = [r["top1"] for r in rs if r["stage"] == "teacher"]
        summary[dataset] = {"teacher_top1": teacher, "cells": {}, "differences": {}}
        body = []
        for f in fractions:
            cells = []
            for s in stages:
                vals = [r["top1"] for r in rs if r["fraction"] == f and r["stage"] == s]
                summary[dataset]["cells"][f"{f:g}/{s}"] = {"seeds": [r["seed"] for r in rs if r["fraction"] == f
                                                                     and r["stage"] == s], "top1": vals}
                cells.append(f"{_cell(vals)} (n={len(vals)})")
            body.append([f"{100 * f:g} %", *cells])
        parts += [f"### {dataset}\n\nHQ teacher, clip top-1 on HQ test: {_cell(teacher)} (seeds: {len(teacher)})\n\n"
                  "Clip top-1 on the LQ test set (mean ± std over seeds; n = seeds):\n\n"
                  + markdown_table(["LQ clips", *stages], body)]
        comparisons = [(a, b) for a, b in COMPARISONS if a in stages and b in stages]
        if comparisons:
            body = []
            for f in fractions:
                cells = []
                for a, b in comparisons:
                    d = same_seed_difference(*({r["seed"]: r["top1"] for r in rs if r["fraction"] == f and
                                                r["stage"] == st} for st in (a, b)))
                    summary[dataset]["differences"][f"{f:g}/{a}-{b}"] = d or {"seeds": [], "diff": []}
                    cells.append(difference_text(d) if d else "–")
                body.append([f"{100 * f:g} %", *cells])
            parts.append("\nSame-seed differences, clip top-1 points (mean ± std; seeds where the first is "
                         "better):\n\n" + markdown_table(["LQ clips", *(f"{a} − {b}" for a, b in comparisons)], body))
        cos = [(s, [r["part_cosine"] for r in rs if r["stage"] == s and r["fraction"] is not None]) for s in stages]
        ent = [(s, [r["part_weight_entropy"] for r in rs if r["stage"] == s and np.isfinite(r["part_weight_entropy"])])
               for s in stages]
        parts.append("\nMechanisms, all fractions: mean cosine between a test sample's part features (1 = parts "
                     "identical): " + ", ".join(f"{s} {np.nanmean(v):.2f}" for s, v in cos if v)
                     + "; part-weight entropy / maximum: " + (", ".join(f"{s} {np.mean(v):.3f}" for s, v in ent if v)
                                                              or "–") + "\n\n")
    return "".join(parts), summary
