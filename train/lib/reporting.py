"""Run reports: metrics as JSON and CSV files (written atomically), and markdown tables — the one table writer —
with the results of a run (mean ± std over seeds) and same-seed differences between stages."""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from partkd_stream.atomic import atomic_write_bytes

METRICS = (("top1", "clip top-1"), ("top5", "clip top-5"), ("stream_top1", "streaming top-1"))


def write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, lambda f: f.write(text.encode()))


def markdown_table(head: Sequence[str], rows: Sequence[Sequence[Any]], align: Sequence[str] | None = None) -> str:
    """A markdown table: a header row, the separator (``align`` per column: ``---``, ``---:``, …) and ``rows``,
    each cell written with ``str``; one line each, ending in a newline."""
    sep = align or ["---"] * len(head)
    lines = ["| " + " | ".join(map(str, head)) + " |", "| " + " | ".join(sep) + " |"]
    lines += ["| " + " | ".join(map(str, row)) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def write_history(out_dir: Path, stage: str, history: list[dict[str, Any]]) -> None:
    """``<stage>.history.csv``: one row per epoch (losses, test accuracy, seconds)."""
    if not history:
        return
    keys = sorted({k for row in history for k in row}, key=lambda k: (k != "epoch", k))
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=keys)
    w.writeheader()
    w.writerows(history)
    write_text(out_dir / f"{stage}.history.csv", buf.getvalue())


def results_table(results: dict[str, dict[int, dict[str, Any]]], titles: dict[str, str]) -> tuple[str, dict]:
    """Markdown table and a JSON summary: per stage, mean ± std over seeds of each metric (in %)."""
    summary: dict[str, Any] = {}
    body = []
    for stage, per_seed in results.items():
        row = {"title": titles.get(stage, stage), "seeds": sorted(per_seed)}
        cells = []
        for key, _ in METRICS:
            vals = [100 * r["test"][key] for r in per_seed.values() if key in r.get("test", {})]
            if vals:
                row[key] = {"mean": float(np.mean(vals)), "std": float(np.std(vals)), "values": vals}
                cells.append(f"{np.mean(vals):.1f} ± {np.std(vals):.1f}")
            else:
                cells.append("–")
        summary[stage] = row
        body.append([row["title"], "HQ" if stage == "teacher" else "LQ", len(per_seed), *cells])
    lq_teacher = [100 * r["test_lq"]["top1"] for r in results.get("teacher", {}).values() if "test_lq" in r]
    if lq_teacher:
        summary["teacher_on_lq"] = {"top1": {"mean": float(np.mean(lq_teacher)), "std": float(np.std(lq_teacher))}}
        body.append(["HQ teacher applied to LQ input (reference)", "LQ", len(lq_teacher),
                     f"{np.mean(lq_teacher):.1f} ± {np.std(lq_teacher):.1f}", "–", "–"])
    text = markdown_table(["stage", "test data", "seeds", *(t for _, t in METRICS)], body)
    gap = _gap_recovered(summary)
    if gap is not None:
        summary["gap_recovered"] = gap
    for ref in ("baseline", "control"):
        table, diffs = same_seed_differences(results, titles, ref)
        if diffs:
            summary["vs_baseline" if ref == "baseline" else f"vs_{ref}"] = diffs
            text += "\n" + table
    return text, summary


def same_seed_difference(a: dict[int, float], b: dict[int, float]) -> dict[str, Any] | None:
    """``a − b`` seed by seed (values keyed by seed), over the seeds both have: ``seeds``, ``diff``, ``mean``,
    ``std`` (population) and ``better`` (seeds where ``a`` is higher); None when they share no seed.

    A seed fixes the split into paired / LQ-only clips, the labelled subset, the teacher and the initialisation,
    so the per-seed difference removes what two stages share; its spread says whether an effect is larger than
    seed noise.
    """
    seeds = sorted(set(a) & set(b))
    if not seeds:
        return None
    d = np.round([a[s] - b[s] for s in seeds], 6) + 0.0  # no "-0.0"
    return {"seeds": seeds, "diff": d.tolist(), "mean": float(d.mean()), "std": float(d.std()),
            "better": int((d > 0).sum())}


def difference_text(d: dict[str, Any]) -> str:
    """A ``same_seed_difference`` in a cell: ``+0.5 ± 1.7 (3 of 5)``."""
    return f"{round(d['mean'], 1) + 0.0:+.1f} ± {d['std']:.1f} ({d['better']} of {len(d['seeds'])})"


def same_seed_differences(results: dict[str, dict[int, dict[str, Any]]], titles: dict[str, str],
                          reference: str = "baseline") -> tuple[str, dict[str, Any]]:
    """Each student stage minus ``reference`` (the LQ baseline, or the teacher-free control) of the same seed, clip
    top-1 in points: a markdown table (empty when no stage shares a seed with the reference) and the numbers."""
    def top1(per_seed: dict[int, dict[str, Any]]) -> dict[int, float]:
        return {s: 100 * r["test"]["top1"] for s, r in per_seed.items() if "top1" in r.get("test", {})}

    ref = top1(results.get(reference, {}))
    ref_title = {"baseline": "LQ baseline", "control": "teacher-free control"}.get(reference, reference)
    skip = {"teacher", reference} | ({"baseline"} if reference == "control" else set())
    out: dict[str, Any] = {}
    body = []
    for stage, per_seed in results.items():
        d = None if stage in skip else same_seed_difference(top1(per_seed), ref)
        if d is None:
            continue
        out[stage] = d
        body.append([titles.get(stage, stage), len(d["seeds"]), f"{round(d['mean'], 1) + 0.0:+.1f} ± {d['std']:.1f}",
                     " / ".join(f"{round(v, 1) + 0.0:+.1f}" for v in d["diff"]), f"{d['better']} of {len(d['seeds'])}"])
    head = [f"stage − {ref_title}, same seed", "seeds", "Δ clip top-1", "per seed", "seeds better"]
    return (markdown_table(head, body) if out else ""), out


def _gap_recovered(summary: dict[str, Any]) -> float | None:
    """Share of the (teacher − baseline) clip top-1 gap that the distilled student recovers."""
    try:
        t, b, k = (summary[s]["top1"]["mean"] for s in ("teacher", "baseline", "kd"))
    except KeyError:
        return None
    return float((k - b) / (t - b)) if t > b else None  # no gap (baseline ≥ teacher): nothing to recover


def write_json(path: Path, obj: Any) -> None:
    write_text(path, json.dumps(obj, indent=2, default=float) + "\n")
