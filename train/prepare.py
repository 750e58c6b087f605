"""Convert a raw dataset into the cached training file and print what is in it.

    python -m train.prepare --dataset penn_action --root ../shared/data/penn_action/labels --out data/penn.npz

The summary gives samples per split and per class, frame counts (min / median / max) and the share of missing
joints (score 0) in the main actor; ``--json`` prints the same summary as JSON on stdout. A bad root, no files or
a corrupt file → one line on stderr naming the path, exit code 2.
"""
from __future__ import annotations

if __package__ in (None, ""):  # run as a file: the same as `python -m train.prepare`
    import _bootstrap  # noqa: F401  (train/_bootstrap.py)

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from train.datasets import DATASETS, DatasetError, DatasetInfo, Sample, load_dataset, save_samples


def summarize(info: DatasetInfo, samples: list[Sample]) -> dict[str, Any]:
    frames = np.array([s.num_frames for s in samples])
    missing = sum(int((s.data[..., -1] <= 0).sum()) for s in samples)
    total = sum(s.data[..., -1].size for s in samples)
    per_class: dict[str, dict[str, int]] = {}
    counts = Counter((s.label, s.split) for s in samples)
    for k, name in enumerate(info.classes):
        row = {sp: counts[(k, sp)] for sp in ("train", "test") if counts[(k, sp)]}
        if row:
            per_class[name] = row
    return {
        "dataset": info.name, "layout": info.layout, "protocol": info.protocol, "fps": info.fps,
        "samples": len(samples), "classes": len(info.classes),
        "per_split": dict(sorted(Counter(s.split for s in samples).items())),
        "per_class": per_class,
        "frames": {"min": int(frames.min()), "median": float(np.median(frames)), "max": int(frames.max()),
                   "total": int(frames.sum())},
        "missing_joints": round(missing / max(total, 1), 6),
        "with_others": sum(s.others is not None for s in samples),
        **({"info": info.meta} if info.meta else {}),
    }


def format_summary(s: dict[str, Any]) -> str:
    lines = [f"{s['dataset']} ({s['layout']}, protocol {s['protocol']}, {s['fps']:g} fps): {s['samples']} samples, "
             f"{s['classes']} classes",
             "  per split: " + ", ".join(f"{k} {v}" for k, v in s["per_split"].items()),
             f"  frames: min {s['frames']['min']}, median {s['frames']['median']:g}, max {s['frames']['max']}",
             f"  missing joints: {100 * s['missing_joints']:.2f} %"]
    if s["with_others"]:
        lines.append(f"  samples with a second actor: {s['with_others']}")
    width = max((len(n) for n in s["per_class"]), default=0)
    lines.append("  per class (train / test):")
    lines += [f"    {n:<{width}}  {c.get('train', 0):>6} / {c.get('test', 0):<6}" for n, c in s["per_class"].items()]
    return "\n".join(lines)


def _error(msg: str) -> int:
    """One line on stderr, on a line of its own even if a progress bar is still drawn there (``tqdm.write`` clears
    it first)."""
    from tqdm import tqdm

    tqdm.write(f"error: {msg}", file=sys.stderr)
    return 2


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dataset", required=True, choices=DATASETS)
    ap.add_argument("--root", required=True, help="raw dataset folder (a .pkl file for pyskl)")
    ap.add_argument("--out", required=True, help="cached file to write (.npz)")
    ap.add_argument("--protocol", default=None, help="split protocol (default: the dataset's standard one)")
    ap.add_argument("--seed", type=int, default=None, help="SYSU only: seed of the random split")
    ap.add_argument("--json", action="store_true", help="print the summary as JSON on stdout")
    args = ap.parse_args(argv)
    kw = {} if args.seed is None else {"seed": args.seed}
    if kw and args.dataset != "sysu":
        return _error("--seed applies to --dataset sysu only")
    t0 = time.perf_counter()
    failure = ""
    try:
        info, samples = load_dataset(args.dataset, args.root, protocol=args.protocol, progress=True, **kw)
        if not samples:
            raise DatasetError(f"{args.root}: no usable samples found")
        save_samples(args.out, info, samples)
    except DatasetError as e:
        failure = str(e)
    except OSError as e:
        failure = f"{e.filename or args.out}: {e.strerror or e}"
    if failure:   # reported after the handler: the loader's progress bar, freed with the exception, has ended its line
        return _error(failure)
    summary = summarize(info, samples)
    summary["out"] = str(args.out)
    summary["out_bytes"] = Path(args.out).stat().st_size
    summary["seconds"] = round(time.perf_counter() - t0, 3)
    if args.json:
        print(json.dumps(summary, indent=1))
    else:
        print(format_summary(summary))
        print(f"wrote {args.out} ({summary['out_bytes'] / 1e6:.1f} MB) in {summary['seconds']:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
