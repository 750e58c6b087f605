"""A crowd through the run mode: N people per frame for T frames, its wall time and memory against one person.

    partkd-stream bench crowd [--people 500] [--frames 300] [--json FILE]

Writes a ``.jsonl`` stream (``partkd_stream.skeleton_io``) of the demo figure (``synthetic.figure``) repeated on a grid — each person
jumping in place in their own phase, listed in a shuffled order every frame — and runs the run mode on it
(``partkd-stream --skeletons STREAM --max-people N --out … --quiet --backend onnxruntime``) in a fresh process,
once with N people per frame and once with one. The child reads its own resident memory (``VmRSS``) every 50
frames. Prints the wall time of the whole process (start-up included, as a user waits for it), the time in the
frames, the RSS at the first and the last sample (flat memory: the same), and the ratio of the wall times.
Numbers depend on the machine and its load; this prints them, it asserts nothing.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from ..synthetic import FPS, placed
from . import child_env


def crowd_frames(people: int, frames: int, fps: float = FPS, seed: int = 0):
    """``(t, [skeleton [33, 3], …])`` per frame: ``people`` demo figures on a grid, 60 px apart, each a quarter of
    the demo's size, jumping in place in its own phase; entries shuffled every frame."""
    rng = np.random.default_rng(seed)
    cols = int(np.ceil(np.sqrt(people)))
    origin = np.array([[(k % cols) * 60.0, (k // cols) * 120.0] for k in range(people)])
    phase = rng.uniform(0, 2, people)
    for i in range(frames):
        t = i / fps
        sk = [placed(x + 30.0, y + 80.0, 0.25, "jumping_jacks", t + phase[k]) for k, (x, y) in enumerate(origin)]
        yield t, [sk[k] for k in rng.permutation(people)]


def write_crowd(path: Path, people: int, frames: int) -> Path:
    from ..skeleton_io import write_stream

    write_stream(path, "mediapipe33", FPS, ((t, k, sk) for k, (t, sk) in enumerate(crowd_frames(people, frames))))
    return path


def _rss_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def child(stream: Path, max_people: int, out: Path) -> int:
    """In the fresh process: the run mode in-process, with RSS samples every 50 frames, printed as JSON."""
    from .. import app

    samples: list[tuple[int, float]] = []
    step = app.Run.step

    def sampled(self, frame, people):   # the run mode's own frame step, plus a look at memory
        if frame.index % 50 == 49:
            samples.append((frame.index + 1, round(_rss_mb(), 1)))
        return step(self, frame, people)

    app.Run.step = sampled
    t0 = time.perf_counter()
    code = app.main(["--skeletons", str(stream), "--max-people", str(max_people), "--out", str(out), "--no-display",
                     "--quiet", "--backend", "onnxruntime"])
    print(json.dumps({"code": code, "frames_s": round(time.perf_counter() - t0, 2), "rss_mb": samples}))
    return code


def run(stream: Path, max_people: int, out: Path) -> dict[str, Any]:
    """``child`` in a fresh interpreter: its wall time (imports included) and what it reports."""
    env = dict(child_env(), DISPLAY="", WAYLAND_DISPLAY="")
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", __name__, "--child", str(stream), str(max_people), str(out)],
                       env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if r.returncode != 0:
        raise SystemExit(f"partkd-stream bench crowd: error: the run failed ({r.returncode}): "
                         f"{r.stderr.strip()[-500:]}")
    got = json.loads(r.stdout.strip().splitlines()[-1])
    rss = [mb for _, mb in got["rss_mb"]]
    records = sum(1 for _ in open(out, encoding="utf-8"))
    return {"max_people": max_people, "wall_s": round(wall, 2), "frames_s": got["frames_s"],
            "rss_first_mb": rss[0] if rss else None, "rss_last_mb": rss[-1] if rss else None,
            "rss_samples": got["rss_mb"], "records": records}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="partkd-stream bench crowd", description=__doc__.splitlines()[0])
    ap.add_argument("--people", type=int, default=500)
    ap.add_argument("--frames", type=int, default=300)
    ap.add_argument("--json", metavar="FILE", help="also write the numbers as JSON")
    ap.add_argument("--child", nargs=3, metavar=("STREAM", "N", "OUT"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        return child(Path(args.child[0]), int(args.child[1]), Path(args.child[2]))
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        crowd = write_crowd(work / "crowd.jsonl", args.people, args.frames)
        one = write_crowd(work / "one.jsonl", 1, args.frames)
        result = {"people": args.people, "frames": args.frames,
                  "crowd": run(crowd, args.people, work / "crowd_out.jsonl"),
                  "one": run(one, 1, work / "one_out.jsonl")}
    result["ratio"] = round(result["crowd"]["wall_s"] / result["one"]["wall_s"], 1)
    for key in ("crowd", "one"):
        r = result[key]
        n = args.people if key == "crowd" else 1
        print(f"{n:4d} people × {args.frames} frames: {r['wall_s']:.1f} s ({r['frames_s']:.1f} s in the run mode), "
              f"RSS {r['rss_first_mb']} MB at frame 50 → {r['rss_last_mb']} MB at the end, {r['records']} records")
    print(f"ratio {result['ratio']}×")
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
