"""Write ``demo/demo_skeletons.jsonl``: a synthetic person doing jumping jacks and jumping rope, in MediaPipe's layout.

The person is ``partkd_stream.synthetic``'s figure (a front-facing 2D stick figure with MediaPipe's 33 landmarks in a
640×480 image, a little seeded jitter), so the demo needs no camera, no video and no research data:

    python demo/make_demo_input.py                      # → demo/demo_skeletons.jsonl
    partkd-stream --skeletons demo/demo_skeletons.jsonl --out runs/demo.jsonl

Timeline (30 fps): standing 1 s, jumping jacks 5 s, nobody in view 1.5 s, jumping rope 5 s.
Both actions are filmed from the front in Penn Action (the default model's data); Penn's squats are mostly
side views, which this front-facing figure cannot show.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from partkd_stream.skeleton_io import write_stream
from partkd_stream.synthetic import FPS, demo_stream


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(Path(__file__).with_name("demo_skeletons.jsonl")))
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    n = write_stream(args.out, "mediapipe33", FPS, demo_stream(args.seed))
    print(f"wrote {args.out}: {n} frames at {FPS:g} fps ({Path(args.out).stat().st_size // 1024} KB)")


if __name__ == "__main__":
    main()
