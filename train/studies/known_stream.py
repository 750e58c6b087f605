"""Known actions as a labelled stream for the harness: a benchmark's LQ test clips back to back.

    python -m train.studies.known_stream --config train/configs/penn_action.yaml --out runs/known/penn_test \
        [--min-seconds 4] [--gap 0]
    python -m train.evaluate_stream --annotations runs/known/penn_test.yaml [--model M] [--reject R.json]

Writes ``<out>.npz`` (one skeleton sequence in the benchmark's LQ layout, ``partkd_stream.skeleton_io``) and
``<out>.yaml`` (its annotation: one segment ``[label, start, end]`` per clip). Every test clip is degraded as the
benchmark's fixed LQ test set is (same seed), in a seeded random order with no two clips of one action in a row
(while others are left: one long event cannot cover several clips), streamed at its own frame rate, repeated whole until it lasts
``min_seconds`` (a person who keeps doing the action: most Penn clips are shorter than the 2 s the presence rule
looks at), then the next clip follows — after ``gap`` seconds of nobody (every joint's score 0) if asked, which ends
the action and clears the recognizer's averages. The harness then says what a reject costs on *known* actions as a
stream: event recall (clips whose action was announced), event precision, and how many events a clip got (a reject
firing on some of a clip's windows and not others splits its event).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Optional, Sequence

if __package__ in (None, ""):  # run as a file: the same as `python -m train.studies.known_stream`
    sys.path[0] = str(Path(__file__).resolve().parents[1])   # train/, which holds _bootstrap
    import _bootstrap  # noqa: F401  (train/_bootstrap.py)

import numpy as np

from partkd_stream.errors import PartkdError
from partkd_stream.skeleton_io import SkeletonSequence, save_sequence
from train.lib.annotations import write_annotations
from train.lib.config import load_config
from train.lib.data import load_benchmark


def known_stream(clips: Sequence[np.ndarray], fps: Sequence[float], labels: Sequence[str], layout: str,
                 min_seconds: float = 4.0, gap_s: float = 0.0) -> tuple[SkeletonSequence, list[tuple[str, float, float]]]:
    """Clips ``[T, V, C]`` back to back, each repeated to ``min_seconds`` and followed by ``gap_s`` of nobody; and
    one segment per clip."""
    parts, times, segments, t0 = [], [], [], 0.0
    for clip, f, label in zip(clips, fps, labels):
        step = 1.0 / float(f)
        clip = np.asarray(clip, np.float32)
        clip = np.concatenate([clip] * max(1, int(np.ceil(min_seconds * f / len(clip)))))
        n_gap = int(round(gap_s * f))
        parts += [clip, np.zeros((n_gap,) + clip.shape[1:], np.float32)]
        times.append(t0 + step * np.arange(len(clip) + n_gap))
        segments.append((label, round(t0, 4), round(t0 + step * len(clip), 4)))
        t0 += step * (len(clip) + n_gap)
    ts = np.concatenate(times)
    seq = SkeletonSequence(data=np.concatenate(parts), layout=layout, fps=float(np.median(fps)), timestamps=ts)
    return seq, segments


def mixed_order(labels: Sequence[int], seed: int = 0) -> np.ndarray:
    """A seeded random order of the clips in which neighbours rarely share a label: each next clip's label is drawn
    in proportion to the clips it has left, never the last one's while another is left."""
    rng = np.random.default_rng([seed, 7])
    left = {int(k): list(rng.permutation(np.flatnonzero(np.asarray(labels) == k))) for k in np.unique(labels)}
    order, last = [], None
    while any(left.values()):
        options = [k for k, v in left.items() if v and k != last] or [k for k, v in left.items() if v]
        weights = np.array([len(left[k]) for k in options], float)
        last = options[int(rng.choice(len(options), p=weights / weights.sum()))]
        order.append(left[last].pop())
    return np.array(order, int)


def main(argv: Optional[Sequence[str]] = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m train.studies.known_stream", description=__doc__.split("\n\n")[0])
    ap.add_argument("--config", required=True, help="an experiment config (its data section: dataset, LQ layout)")
    ap.add_argument("--out", required=True, help="output path without suffix: writes OUT.npz and OUT.yaml")
    ap.add_argument("--min-seconds", type=float, default=4.0,
                    help="repeat each clip whole until it lasts this long (default %(default)s)")
    ap.add_argument("--gap", type=float, default=0.0, help="seconds of nobody after each clip (default %(default)s)")
    ap.add_argument("--clips", type=int, default=0, help="the first N test clips only (default: all)")
    ap.add_argument("--seed", type=int, default=0, help="benchmark seed (default %(default)s)")
    ap.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE", help="config overrides, e.g. data.root=…")
    args = ap.parse_args(list(sys.argv[1:] if argv is None else argv))
    try:
        if args.gap < 0 or args.min_seconds < 0:
            raise ValueError(f"--gap and --min-seconds must be ≥ 0, got {args.gap} and {args.min_seconds}")
        cfg = load_config(args.config, args.set)
        bench = load_benchmark(cfg.data, args.seed)
    except (PartkdError, OSError, ValueError) as e:
        print(f"known_stream: error: {str(e).splitlines()[0]}", file=sys.stderr)
        return 2
    order = mixed_order(bench.test_labels, args.seed)
    if args.clips > 0:
        order = order[:args.clips]
    labels = [bench.classes[bench.test_labels[i]] for i in order]
    seq, segments = known_stream([bench.test_lq[i] for i in order], bench.test_fps[order], labels,
                                 bench.lq_pre.layout, args.min_seconds, args.gap)
    n = len(order)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    save_sequence(out.with_suffix(".npz"), seq)
    write_annotations(out.with_suffix(".yaml"), [(out.with_suffix(".npz").name, segments)],
                      f"{n} known test clips back to back (python -m train.studies.known_stream)")
    print(f"wrote {out.with_suffix('.npz')} ({n} clips, {len(seq.data)} frames, {seq.timestamps[-1] / 60:.1f} min) "
          f"and {out.with_suffix('.yaml')}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
