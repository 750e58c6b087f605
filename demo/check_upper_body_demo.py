"""Does a model recognise the upper-body demo? Wave events in the waving segment, clap events in the clapping one.

    python demo/check_upper_body_demo.py --model runs/everyday/seed0/kd.pt [--input demo/upper_body_skeletons.jsonl]

Feeds the demo stream (``make_upper_body_demo.py``) through ``partkd_stream.recognizer.Recognizer`` and prints the
events and, per timeline segment, the labels predicted. Exit code 0 when a ``wave`` event starts inside the
waving segment and a ``clap`` event inside the clapping one, 1 otherwise.

The runtime's presence rule still asks for both hips at visibility ≥ 0.5, which a desk webcam never shows; until
the model card says which parts a model needs, this check switches the presence gate off (``--presence-score 0``)
so that it judges the model alone.
"""
from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

from make_upper_body_demo import make_stream  # the timeline the file was written with
from partkd_stream.recognizer import Recognizer
from partkd_stream.skeleton_io import read_stream
from partkd_stream.window import PresenceRule


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True, help="a checkpoint (.pt) or engine whose classes include wave and clap")
    ap.add_argument("--input", default=str(Path(__file__).with_name("upper_body_skeletons.jsonl")))
    ap.add_argument("--presence-score", type=float, default=0.0, help="PresenceRule.min_score (runtime default 0.5)")
    ap.add_argument("--threshold", type=float, default=0.5)
    args = ap.parse_args()
    rec = Recognizer.load(args.model, presence=PresenceRule(min_score=args.presence_score), threshold=args.threshold)
    header, frames = read_stream(args.input)
    _, timeline = make_stream()
    events, labels = [], {i: Counter() for i in range(len(timeline))}
    for t, index, kp in frames:
        pred = rec.update(kp, t, layout=header["layout"], frame=index)
        if pred is None:
            continue
        events += [(e.event, e.label, e.t) for e in pred.events]
        seg = next(i for i, (_, a, b) in enumerate(timeline) if a <= t < b or i == len(timeline) - 1)
        labels[seg][pred.label] += 1
    events += [(e.event, e.label, e.t) for e in rec.finish()]
    for kind, label, t in events:
        print(f"  {kind:<5} {label:<30} t={t:.2f} s")
    for i, (kind, a, b) in enumerate(timeline):
        top = ", ".join(f"{lab} {n}" for lab, n in labels[i].most_common(3))
        print(f"{kind:<5} {a:5.1f}-{b:4.1f} s: {top}")
    ok = all(any(e == "start" and lab == want and a <= t < b for e, lab, t in events)
             for want, (_, a, b) in (("wave", timeline[1]), ("clap", timeline[3])))
    print("wave and clap recognised" if ok else "FAILED: no wave event in the waving segment or no clap event in the "
          "clapping segment")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
