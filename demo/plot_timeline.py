"""Plot a run's action-probability timeline from its JSON Lines to a PNG.

    partkd-stream --skeletons demo/demo_skeletons.jsonl --out runs/demo.jsonl
    python demo/plot_timeline.py runs/demo.jsonl --out runs/demo_timeline.png

The averaged probability of each class that appears in a prediction's top-k, over time, with the threshold line
(the run mode's default 0.5 unless ``--threshold`` says what the run used); shaded spans are the recognised
actions (start/end events); grey spans have no person in view. The title keeps that caption after the file name.
"""
from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

from partkd_stream.recognizer import DEFAULT_THRESHOLD

CAPTION = "action probabilities (shaded: recognised actions; grey: no person; hatched: warming up)"


def load_run(path: str) -> tuple[list[dict], list[dict]]:
    preds, events = [], []
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError as e:
                raise ValueError(f"{path}:{lineno}: not JSON ({e.msg})") from None
            if not isinstance(rec, dict) or not ("event" in rec or {"t", "topk", "person_present"} <= set(rec)):
                raise ValueError(f"{path}:{lineno}: not a prediction or event record of a partkd-stream run")
            (events if "event" in rec else preds).append(rec)
    if not preds:
        raise ValueError(f"{path}: no prediction records; is this the --out file of a partkd-stream run?")
    return preds, events


def plot(preds: list[dict], events: list[dict], out: str, threshold: float | None = None, title: str = "") -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    series: dict[str, list[tuple[float, float]]] = defaultdict(list)
    labels = sorted({label for p in preds for label, _ in p["topk"]})
    for p in preds:  # a prediction without a person breaks every line (NaN) rather than bridging the gap
        scores = dict(p["topk"]) if p["person_present"] else {}
        for label in labels:
            series[label].append((p["t"], scores.get(label, float("nan"))))
    fig, ax = plt.subplots(figsize=(12, 4))
    t_end = preds[-1]["t"]
    for p0, p1 in zip(preds, preds[1:] + [None]):
        why = p0.get("reason", None if p0["person_present"] else "no_person")   # runs before `reason` existed
        if why == "no_person":
            ax.axvspan(p0["t"], p1["t"] if p1 else t_end, color="0.85", lw=0)
        elif why == "warming_up":
            ax.axvspan(p0["t"], p1["t"] if p1 else t_end, facecolor="none", edgecolor="0.75", hatch="///", lw=0)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    color_of = {lab: colors[i % len(colors)] for i, lab in enumerate(sorted(series))}
    open_at: dict[str, float] = {}
    for e in events:
        if e["event"] == "start":
            open_at[e["label"]] = e["t"]
        elif e["label"] in open_at:
            ax.axvspan(open_at.pop(e["label"]), e["t"], color=color_of.get(e["label"], "C0"), alpha=0.15, lw=0)
    for label, pts in sorted(series.items()):
        ts, ss = zip(*pts)
        ax.plot(ts, ss, ".-", ms=3, lw=1, label=label, color=color_of[label])
    if threshold is not None:
        ax.axhline(threshold, color="k", ls="--", lw=0.8, label=f"threshold {threshold:g}")
    ax.set_xlim(0, max(t_end, 1e-3))
    ax.set_ylim(0, 1)
    ax.set_xlabel("time (s)")
    ax.set_ylabel("averaged probability (top-k)")
    ax.set_title(f"{title}: {CAPTION}" if title else CAPTION)
    if ax.get_legend_handles_labels()[0]:   # a run without a person has no curve (and maybe no threshold line)
        ax.legend(loc="upper left", bbox_to_anchor=(1.005, 1.0), fontsize=8, borderaxespad=0)
    fig.tight_layout()
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Plot a partkd-stream run's action-probability timeline (PNG).")
    ap.add_argument("run", help="the run's JSON Lines (partkd-stream --out)")
    ap.add_argument("--out", help="PNG path (default: RUN with .png)")
    ap.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD,
                    help="the run's --threshold, drawn as a line (default %(default)s, the run mode's default)")
    ap.add_argument("--no-threshold", action="store_true", help="draw no threshold line")
    args = ap.parse_args(argv)
    try:
        preds, events = load_run(args.run)
    except (OSError, ValueError) as e:
        print(f"plot_timeline: error: {e}", file=sys.stderr)
        return 1
    out = args.out or str(Path(args.run).with_suffix(".png"))
    plot(preds, events, out, None if args.no_threshold else args.threshold, title=Path(args.run).name)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
