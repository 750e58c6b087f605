"""Two synthetic people with known, different actions who swap places midway: the multi-person test stream.

Person A does jumping jacks, person B (a little further back: smaller) jumps rope — the procedural figure of
``make_demo_input.py`` twice, side by side in a 1280×480 image, in MediaPipe's layout (pixels, visibility):

    0 … 4 s    A on the left, B on the right
    4 … 6 s    they walk past each other (A in front); while their bodies overlap, B is hidden: the pose
               estimator sees only A, as a real one would
    6 … 10 s   A on the right, B on the left

Each frame lists the people seen in a seeded random order, so nothing but tracking can tell who is who; the
truth (which entry is A) travels beside it. A tracker that follows positions (not identities) swaps the labels
at the crossing — the failure this stream exists to catch.

    python demo/make_two_people.py --out runs/two_people.jsonl   # "people" lines, entries in random order
    python demo/make_two_people.py --out runs/two_people.npz     # [2, T, 33, 3] person-major, score 0 = absent
    partkd-stream --skeletons runs/two_people.jsonl --max-people 2 --out runs/two_people_preds.jsonl

Both are ``partkd_stream.skeleton_io`` formats; only the ``.jsonl`` keeps the random order of each frame's entries
(an ``.npz`` holds people on its M axis).
"""
from __future__ import annotations

import argparse
import importlib.util
import io
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

FPS = 30.0
WIDTH, HEIGHT = 1280, 480
ACTIONS = ("jumping_jacks", "jump_rope")     # person A, person B (Penn Action class names)
SCALES = (1.0, 0.85)
_PHASES = ((0.0, 4.0), (4.0, 6.0), (6.0, 10.0))
_LEFT, _RIGHT = 360.0, 920.0


def _figure():
    """``demo/make_demo_input.py``'s ``pose_frame`` (the single-person figure), loaded from beside this file."""
    spec = importlib.util.spec_from_file_location("make_demo_input", Path(__file__).with_name("make_demo_input.py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.pose_frame


@dataclass
class TwoPersonStream:
    """``frames[k] = (t, [skeleton [33, 3], …])`` in random order; ``who[k][i]`` = 0 (A) or 1 (B) for entry i."""

    frames: list[tuple[float, list[np.ndarray]]]
    who: list[list[int]]
    actions: tuple[str, str] = ACTIONS
    fps: float = FPS

    def person_major(self) -> np.ndarray:
        """``[2, T, 33, 3]``: A then B, all zeros (score 0) where that person is not seen."""
        out = np.zeros((2, len(self.frames), 33, 3), np.float32)
        for k, ((_, people), who) in enumerate(zip(self.frames, self.who)):
            for kp, p in zip(people, who):
                out[p, k] = kp
        return out


def centre_x(person: int, t: float) -> float:
    """Where person 0 (A) or 1 (B) stands at time ``t``: left/right, crossing linearly in the middle phase."""
    start, end = (_LEFT, _RIGHT) if person == 0 else (_RIGHT, _LEFT)
    (_, a), (b0, b1), _ = _PHASES
    if t <= a:
        return start
    if t >= b1:
        return end
    return start + (end - start) * (t - b0) / (b1 - b0)


def make_stream(seed: int = 0, duration: float = _PHASES[-1][1]) -> TwoPersonStream:
    pose_frame = _figure()
    rng = np.random.default_rng(seed)
    frames, who = [], []
    for k in range(int(round(duration * FPS))):
        t = k / FPS
        people = []
        for p in (0, 1):
            xy = pose_frame(ACTIONS[p], t + 0.37 * p)             # own phase: the two never move in step
            xy = (xy - [320.0, 300.0]) * SCALES[p] + [centre_x(p, t), 300.0 + 40.0 * (1 - SCALES[p])]
            xy = xy + rng.normal(0, 1.5 * SCALES[p], size=(33, 2))
            vis = np.clip(rng.normal(0.95, 0.03, size=(33, 1)), 0, 1)
            people.append(np.concatenate([xy, vis], 1).astype(np.float32))
        overlap = abs(centre_x(0, t) - centre_x(1, t)) < 110.0       # B is behind A
        order = [0] if overlap else list(rng.permutation(2))
        frames.append((t, [people[p] for p in order]))
        who.append([int(p) for p in order])
    return TwoPersonStream(frames=frames, who=who)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True, help="output .jsonl (a stream of 'people' lines) or .npz (a sequence "
                                                 "[2, T, 33, 3]); see partkd_stream/skeleton_io.py")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from partkd_stream.skeleton_io import (SkeletonSequence, atomic_write_bytes, people_record, save_sequence,
                                           write_stream_header)

    s = make_stream(args.seed)
    suffix = Path(args.out).suffix.lower()
    if suffix == ".npz":
        save_sequence(args.out, SkeletonSequence(data=s.person_major(), layout="mediapipe33", fps=FPS,
                                                 timestamps=np.array([t for t, _ in s.frames]), id="two_people",
                                                 meta={"actions": list(s.actions), "persons": ["A", "B"]}))
    elif suffix == ".jsonl":
        def write(f) -> None:
            text = io.StringIO()
            write_stream_header(text, "mediapipe33", FPS)
            for k, (t, people) in enumerate(s.frames):
                text.write(people_record(t, k, people) + "\n")
            f.write(text.getvalue().encode("utf-8"))

        atomic_write_bytes(args.out, write)
    else:
        print(f"make_two_people: error: --out {args.out}: give a .jsonl or .npz file name", file=sys.stderr)
        return 2
    print(f"wrote {args.out}: {len(s.frames)} frames, 2 people ({', '.join(s.actions)}), swap at 4-6 s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
