"""Run reports: metrics as JSON and CSV, PNG plots, and the markdown results table (mean ± std over seeds)."""
from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")  # files only; never needs a display
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from partkd_stream.layouts import part_names  # noqa: E402
from partkd_stream.skeleton_io import atomic_write_bytes  # noqa: E402

METRICS = (("top1", "clip top-1"), ("top5", "clip top-5"), ("stream_top1", "streaming top-1"))


def write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, lambda f: f.write(text.encode()))


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


def plot_curves(out_dir: Path, histories: dict[str, list[dict[str, Any]]]) -> Path:
    fig, (ax_l, ax_a) = plt.subplots(1, 2, figsize=(11, 4))
    for stage, hist in histories.items():
        ep = [r["epoch"] for r in hist]
        total = [sum(v for k, v in r.items() if k.startswith("loss_")) for r in hist]
        ax_l.plot(ep, total, label=stage)
        evaluated = [r for r in hist if r.get("test_top1") not in (None, "")]  # train.eval_every may skip epochs
        if evaluated:
            ax_a.plot([r["epoch"] for r in evaluated], [r["test_top1"] for r in evaluated], marker=".", label=stage)
    ax_l.set(xlabel="epoch", ylabel="training loss (sum of terms)", title="loss")
    ax_a.set(xlabel="epoch", ylabel="clip top-1 on test", title="accuracy (teacher: HQ test, students: LQ test)")
    for ax in (ax_l, ax_a):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    return save_figure(fig, out_dir / "curves.png")


def plot_confusion(out_dir: Path, name: str, labels: np.ndarray, pred: list[int], classes: list[str]) -> Path:
    k = len(classes)
    cm = np.zeros((k, k), int)
    np.add.at(cm, (labels, np.asarray(pred)), 1)
    norm = cm / np.maximum(cm.sum(1, keepdims=True), 1)
    size = min(0.45 * k, 14)  # NTU-120's 120 classes: a readable 14-inch square, not a 57-inch one
    fig, ax = plt.subplots(figsize=(size + 3, size + 2.5))
    im = ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    font = 7 if k <= 31 else max(2, 7 * 31 / k)
    ax.set_xticks(range(k), classes, rotation=90, fontsize=font)
    ax.set_yticks(range(k), classes, fontsize=font)
    ax.set(xlabel="predicted", ylabel="true", title=f"confusion: {name}")
    fig.colorbar(im, ax=ax, fraction=0.04)
    return save_figure(fig, out_dir / f"confusion_{name}.png")


def plot_part_matrix(out_dir: Path, weights: np.ndarray, classes: list[str], parts: str = "coarse",
                     name: str = "part_matrix", title: str = "action-specific part matrix softmax(A)") -> Path:
    """Heat-map of part weights (classes × parts): the teacher's ``softmax(A)``, or the weights a stage used."""
    names = part_names(parts)
    k = len(classes)
    fig, ax = plt.subplots(figsize=(0.7 * len(names) + 3, min(0.35 * k, 24) + 1.5))
    im = ax.imshow(weights, cmap="magma", aspect="auto")
    ax.set_xticks(range(len(names)), names, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(k), classes, fontsize=7 if k <= 60 else 4)
    if k <= 60:  # numbers in the cells while they stay legible
        for i in range(weights.shape[0]):
            for j in range(weights.shape[1]):
                ax.text(j, i, f"{weights[i, j]:.2f}", ha="center", va="center", fontsize=6,
                        color="white" if weights[i, j] < weights.max() * 0.6 else "black")
    ax.set_title(title)
    fig.colorbar(im, ax=ax, fraction=0.04)
    return save_figure(fig, out_dir / f"{name}.png")


def save_figure(fig, path: Path) -> Path:
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    atomic_write_bytes(path, lambda f: f.write(buf.getvalue()))
    return path


def results_table(results: dict[str, dict[int, dict[str, Any]]], titles: dict[str, str]) -> tuple[str, dict]:
    """Markdown table and a JSON summary: per stage, mean ± std over seeds of each metric (in %)."""
    summary: dict[str, Any] = {}
    lines = ["| stage | test data | seeds | " + " | ".join(t for _, t in METRICS) + " |",
             "| --- | --- | --- | " + " | ".join("---" for _ in METRICS) + " |"]
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
        data = "HQ" if stage == "teacher" else "LQ"
        lines.append(f"| {row['title']} | {data} | {len(per_seed)} | " + " | ".join(cells) + " |")
    lq_teacher = [100 * r["test_lq"]["top1"] for r in results.get("teacher", {}).values() if "test_lq" in r]
    if lq_teacher:
        summary["teacher_on_lq"] = {"top1": {"mean": float(np.mean(lq_teacher)), "std": float(np.std(lq_teacher))}}
        lines.append(f"| HQ teacher applied to LQ input (reference) | LQ | {len(lq_teacher)} | "
                     f"{np.mean(lq_teacher):.1f} ± {np.std(lq_teacher):.1f} | – | – |")
    gap = _gap_recovered(summary)
    if gap is not None:
        summary["gap_recovered"] = gap
    for ref in ("baseline", "control"):
        diff_lines, diffs = same_seed_differences(results, titles, ref)
        if diffs:
            summary["vs_baseline" if ref == "baseline" else f"vs_{ref}"] = diffs
            lines += ["", *diff_lines]
    return "\n".join(lines) + "\n", summary


def same_seed_differences(results: dict[str, dict[int, dict[str, Any]]], titles: dict[str, str],
                          reference: str = "baseline") -> tuple[list[str], dict[str, Any]]:
    """Each student stage minus ``reference`` (the LQ baseline, or the teacher-free control) *of the same seed*
    (clip top-1, points).

    A seed fixes the split into paired / LQ-only clips, the labelled subset, the teacher and the initialisation,
    so the per-seed difference removes what the stages share; its spread says whether an effect is larger than
    seed noise.
    """
    ref = {s: 100 * r["test"]["top1"] for s, r in results.get(reference, {}).items() if "top1" in r.get("test", {})}
    ref_title = {"baseline": "LQ baseline", "control": "teacher-free control"}.get(reference, reference)
    out: dict[str, Any] = {}
    lines = [f"| stage − {ref_title}, same seed | seeds | Δ clip top-1 | per seed | seeds better |",
             "| --- | --- | --- | --- | --- |"]
    skip = {"teacher", reference} | ({"baseline"} if reference == "control" else set())
    for stage, per_seed in results.items():
        if stage in skip:
            continue
        seeds = sorted(s for s, r in per_seed.items() if s in ref and "top1" in r.get("test", {}))
        if not seeds:
            continue
        d = np.round([100 * per_seed[s]["test"]["top1"] - ref[s] for s in seeds], 6) + 0.0  # no "-0.0"
        out[stage] = {"seeds": seeds, "diff": d.tolist(), "mean": float(d.mean()), "std": float(d.std()),
                      "better": int((d > 0).sum())}
        mean = round(float(d.mean()), 1) + 0.0
        lines.append(f"| {titles.get(stage, stage)} | {len(seeds)} | {mean:+.1f} ± {d.std():.1f} | "
                     + " / ".join(f"{round(v, 1) + 0.0:+.1f}" for v in d) + f" | {int((d > 0).sum())} of {len(seeds)} |")
    return (lines if out else []), out


def _gap_recovered(summary: dict[str, Any]) -> float | None:
    """Share of the (teacher − baseline) clip top-1 gap that the distilled student recovers."""
    try:
        t, b, k = (summary[s]["top1"]["mean"] for s in ("teacher", "baseline", "kd"))
    except KeyError:
        return None
    return float((k - b) / (t - b)) if t > b else None  # no gap (baseline ≥ teacher): nothing to recover


def write_json(path: Path, obj: Any) -> None:
    write_text(path, json.dumps(obj, indent=2, default=float) + "\n")
