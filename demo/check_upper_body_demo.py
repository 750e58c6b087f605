"""Does a model recognise the upper-body demo? Wave events in the waving segment, clap events in the clapping one.

    python demo/check_upper_body_demo.py --model everyday [--input demo/upper_body_skeletons.jsonl]
    python demo/check_upper_body_demo.py --model runs/everyday/seed0/kd.pt --presence upper_body   # a checkpoint

Feeds the demo stream (``make_upper_body_demo.py``) through ``partkd_stream.recognizer.Recognizer`` and prints the
events and, per timeline segment, the labels predicted. Exit code 0 when a ``wave`` event starts inside the
waving segment and a ``clap`` event inside the clapping one, and the person counts as present in every
prediction; 1 otherwise.

Who counts as a person is the model card's presence rule (the shipped ``everyday`` model: both shoulders, no hips
— a desk webcam never shows them); a training checkpoint has no card rule, so give it one with ``--presence``
(a preset such as ``upper_body``, or a JSON object, as ``python -m train.build_engine --presence`` takes).
"""
from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

from make_upper_body_demo import make_stream  # the timeline the file was written with
from partkd_stream.recognizer import Recognizer
from partkd_stream.skeleton_io import read_stream
from partkd_stream.window import presence_rule


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True, help="a shipped model's name, or a model file (.onnx, .pt) whose "
                                                    "classes include wave and clap")
    ap.add_argument("--input", default=str(Path(__file__).with_name("upper_body_skeletons.jsonl")))
    ap.add_argument("--presence", help="presence rule instead of the card's: upper_body, full_body or JSON")
    ap.add_argument("--threshold", type=float, default=0.5)
    args = ap.parse_args()
    rec = Recognizer.load(args.model, presence=presence_rule(args.presence) if args.presence else None,
                          threshold=args.threshold)
    header, frames = read_stream(args.input)
    _, timeline = make_stream()
    events, labels, present = [], {i: Counter() for i in range(len(timeline))}, []
    for t, index, kp in frames:
        pred = rec.update(kp, t, layout=header["layout"], frame=index)
        if pred is None:
            continue
        events += [(e.event, e.label, e.t) for e in pred.events]
        present.append(pred.person_present)
        seg = next(i for i, (_, a, b) in enumerate(timeline) if a <= t < b or i == len(timeline) - 1)
        labels[seg][pred.label] += 1
    events += [(e.event, e.label, e.t) for e in rec.finish()]
    for kind, label, t in events:
        print(f"  {kind:<5} {label:<30} t={t:.2f} s")
    for i, (kind, a, b) in enumerate(timeline):
        top = ", ".join(f"{lab} {n}" for lab, n in labels[i].most_common(3))
        print(f"{kind:<5} {a:5.1f}-{b:4.1f} s: {top}")
    print(f"person present in {sum(present)} of {len(present)} predictions")
    ok = all(present) and all(any(e == "start" and lab == want and a <= t < b for e, lab, t in events)
             for want, (_, a, b) in (("wave", timeline[1]), ("clap", timeline[3])))
    print("wave and clap recognised, the person present throughout" if ok else "FAILED: no wave event in the waving "
          "segment, no clap event in the clapping one, or the person not present throughout")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
