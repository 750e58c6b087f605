"""Run plots (PNG, written atomically): loss and accuracy curves, confusion matrices, part-weight heat-maps."""
from __future__ import annotations

import io
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from partkd_stream.atomic import atomic_write_bytes
from partkd_stream.layouts import part_names

from .stages import STAGES


@lru_cache(maxsize=None)
def pyplot():
    """``matplotlib.pyplot`` on the file-only backend (never needs a display), loaded at the first plot."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_curves(out_dir: Path, histories: dict[str, list[dict[str, Any]]]) -> Path:
    fig, (ax_l, ax_a) = pyplot().subplots(1, 2, figsize=(11, 4))
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
    fig, ax = pyplot().subplots(figsize=(size + 3, size + 2.5))
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
    fig, ax = pyplot().subplots(figsize=(0.7 * len(names) + 3, min(0.35 * k, 24) + 1.5))
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
    pyplot().close(fig)
    atomic_write_bytes(path, lambda f: f.write(buf.getvalue()))
    return path


def plot_label_efficiency(path: Path, dataset: str, rows: list[dict]) -> None:
    """Fraction of labelled LQ clips → clip top-1 (mean ± std over seeds), one line per stage."""
    fig, ax = pyplot().subplots(figsize=(6, 4))
    for stage in [s for s in STAGES if any(r["stage"] == s for r in rows)]:
        fr = sorted({r["fraction"] for r in rows if r["stage"] == stage})
        vals = [[r["top1"] for r in rows if r["stage"] == stage and r["fraction"] == f] for f in fr]
        n = sorted({len(v) for v in vals})
        ax.errorbar([100 * f for f in fr], [np.mean(v) for v in vals], yerr=[np.std(v) for v in vals],
                    marker="o", capsize=3, label=f"{stage} (seeds: {'–'.join(map(str, n[::max(len(n) - 1, 1)]))})")
    ax.set_xscale("log")
    shares = sorted({100 * r["fraction"] for r in rows})
    ax.set_xticks(shares, [f"{v:g}" for v in shares])
    ax.minorticks_off()
    ax.set(xlabel="LQ training clips used (%)", ylabel="clip top-1 on LQ test (%)", title=f"label efficiency: {dataset}")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    save_figure(fig, path)
