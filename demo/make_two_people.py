"""Two synthetic people with known, different actions who swap places midway: the multi-person test stream.

Person A does jumping jacks, person B (a little further back: smaller) jumps rope — ``partkd_stream.synthetic``'s
figure twice, side by side in a 1280×480 image, in MediaPipe's layout (pixels, visibility):

    0 … 4 s    A on the left, B on the right
    4 … 6 s    they walk past each other (A in front); while their bodies overlap, B is hidden: the pose
               estimator sees only A, as a real one would
    6 … 10 s   A on the right, B on the left

Each frame lists the people seen in a seeded random order, so nothing but tracking can tell who is who; the
truth (which entry is A) travels beside it (``synthetic.two_people``). A tracker that follows positions (not
identities) swaps the labels at the crossing — the failure this stream exists to catch.

    python demo/make_two_people.py --out runs/two_people.jsonl   # "people" lines, entries in random order
    python demo/make_two_people.py --out runs/two_people.npz     # [2, T, 33, 3] person-major, score 0 = absent
    partkd-stream --skeletons runs/two_people.jsonl --max-people 2 --out runs/two_people_preds.jsonl

Both are ``partkd_stream.skeleton_io`` formats; only the ``.jsonl`` keeps the random order of each frame's entries
(an ``.npz`` holds people on its M axis).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from partkd_stream.skeleton_io import SkeletonSequence, save_sequence, write_stream
from partkd_stream.synthetic import FPS, two_people


def main(argv: Optional[Sequence[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True, help="output .jsonl (a stream of 'people' lines) or .npz (a sequence "
                                                 "[2, T, 33, 3]); see partkd_stream/skeleton_io.py")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    s = two_people(args.seed)
    suffix = Path(args.out).suffix.lower()
    if suffix == ".npz":
        save_sequence(args.out, SkeletonSequence(data=s.person_major(), layout="mediapipe33", fps=FPS,
                                                 timestamps=np.array([t for t, _ in s.frames]), id="two_people",
                                                 meta={"actions": list(s.actions), "persons": ["A", "B"]}))
    elif suffix == ".jsonl":
        write_stream(args.out, "mediapipe33", FPS, ((t, k, people) for k, (t, people) in enumerate(s.frames)))
    else:
        print(f"make_two_people: error: --out {args.out}: give a .jsonl or .npz file name", file=sys.stderr)
        return 2
    print(f"wrote {args.out}: {len(s.frames)} frames, 2 people ({', '.join(s.actions)}), swap at 4-6 s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
