"""Write ``demo/upper_body_skeletons.jsonl``: a person at a desk webcam waving, then clapping, in MediaPipe's layout.

The person is ``partkd_stream.synthetic``'s figure (the default demo's), framed as a desk webcam frames a seated
person — 3 times closer, so head, shoulders and arms fill the 640×480 image and the hips are below its bottom edge —
with its own arm motions (``synthetic.upper_body_stream``). Joints outside the image keep MediaPipe's habit,
measured on a real seated close-up (``python -m train.studies.measure_out_of_frame``): they are still reported, at
the standing figure's hallucinated positions, with a low visibility (hips ~0.3, knees ~0.12, ankles and feet ~0.06).
No camera, video or research data is needed:

    python demo/make_upper_body_demo.py                 # → demo/upper_body_skeletons.jsonl
    partkd-stream --model everyday --skeletons demo/upper_body_skeletons.jsonl --out runs/ub.jsonl
    python demo/make_upper_body_demo.py --check everyday    # does a model recognise it?

Timeline (30 fps): idle 2 s (hands resting), waving with the right hand 4 s, idle 2 s, clapping 4 s, idle 2 s.

``--check MODEL`` feeds the file through ``partkd_stream.recognizer.Recognizer`` and prints the events and, per
timeline segment, the labels predicted. Exit code 0 when a ``wave`` event starts inside the waving segment and a
``clap`` event inside the clapping one, and the person counts as present in every prediction; 1 otherwise. Who
counts as a person is the model card's presence rule (the shipped ``everyday`` model: both shoulders, no hips — a
desk webcam never shows them); a training checkpoint has no card rule, so give it one with ``--presence`` (a preset
such as ``upper_body``, or a JSON object, as ``python -m train.build_engine --presence`` takes).
"""
from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path
from typing import Optional, Sequence

from partkd_stream.skeleton_io import write_stream
from partkd_stream.synthetic import FPS, upper_body_stream

DEFAULT = Path(__file__).with_name("upper_body_skeletons.jsonl")


def check(model: str, path: str, presence: Optional[str], threshold: float) -> int:
    """Run ``model`` on the stream at ``path``; 0 when wave and clap are recognised in their segments."""
    from partkd_stream.recognizer import Recognizer
    from partkd_stream.skeleton_io import read_stream
    from partkd_stream.window import presence_rule

    rec = Recognizer.load(model, presence=presence_rule(presence) if presence else None, threshold=threshold)
    header, frames = read_stream(path)
    _, timeline = upper_body_stream()
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


def main(argv: Optional[Sequence[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(DEFAULT), help="where to write the stream (default: %(default)s)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--check", metavar="MODEL", help="instead of writing: does MODEL (a shipped model's name or a "
                                                     "model file whose classes include wave and clap) recognise it?")
    ap.add_argument("--input", default=str(DEFAULT), help="with --check: the stream to check (default: %(default)s)")
    ap.add_argument("--presence", help="with --check: presence rule instead of the card's: upper_body, full_body or "
                                       "JSON")
    ap.add_argument("--threshold", type=float, default=0.5, help="with --check (default %(default)s)")
    args = ap.parse_args(argv)
    if args.check:
        return check(args.check, args.input, args.presence, args.threshold)
    n = write_stream(args.out, "mediapipe33", FPS, upper_body_stream(args.seed)[0])
    print(f"wrote {args.out}: {n} frames at {FPS:g} fps ({Path(args.out).stat().st_size // 1024} KB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
