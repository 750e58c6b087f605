"""Write ``demo/upper_body_skeletons.jsonl``: a person at a desk webcam waving, then clapping, in MediaPipe's layout.

The figure is ``make_demo_input.pose_frame`` (the procedural MediaPipe-layout person of the default demo), framed
as a desk webcam frames a seated person — 3 times closer, so head, shoulders and arms fill the 640×480 image and
the hips are below its bottom edge — with our own arm motions. Joints outside the image keep MediaPipe's habit,
measured on a real seated close-up (``python -m train.studies.measure_out_of_frame``): they are still reported, at the
standing figure's hallucinated positions, with a low visibility (hips ~0.3, knees ~0.12, ankles and feet ~0.06).
No camera, video or research data is needed:

    python demo/make_upper_body_demo.py                 # → demo/upper_body_skeletons.jsonl
    python -m partkd_stream.cli --skeletons demo/upper_body_skeletons.jsonl --model <everyday model> --out runs/ub.jsonl

Timeline (30 fps): idle 2 s (hands resting), waving with the right hand 4 s, idle 2 s, clapping 4 s, idle 2 s.
"""
from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np

from make_demo_input import FPS, _rot, pose_frame, write_jsonl  # the shared procedural figure (run from demo/ or by path)
from partkd_stream.layouts import get_layout

SEGMENTS = (("idle", 2.0), ("wave", 4.0), ("idle", 2.0), ("clap", 4.0), ("idle", 2.0))
WIDTH, HEIGHT = 640, 480
ZOOM, PIVOT, TARGET = 3.0, np.array([320.0, 190.0]), np.array([320.0, 270.0])  # shoulders of the figure → y 270
_MP = get_layout("mediapipe33")
# visibility of joints MediaPipe reports below the image (medians measured on the seated close-up)
OUT_OF_FRAME_VISIBILITY = {"hip": 0.3, "knee": 0.12, "ankle": 0.06, "heel": 0.06, "foot_index": 0.06}


def arm_angles(kind: str, t: float) -> dict[str, tuple[float, float, float]]:
    """Per side: upper-arm and forearm angles (radians from straight down towards the person's own side) and the
    forearm's length in the image relative to the figure's (below 1: pointing towards the camera)."""
    rest = (0.15, -0.9, 1.0)                                   # forearms forward-inwards, hands on the desk
    if kind == "wave":                                         # right forearm up, swinging ±0.4 rad at 2 Hz
        return {"left": rest, "right": (0.8, math.pi + 0.4 * math.sin(2 * math.pi * 2.0 * t), 1.0)}
    if kind == "clap":                                         # forearms towards the camera, hands meeting at
        opening = 0.5 * (1 + math.cos(2 * math.pi * 2.5 * t))  # the midline 2.5 times a second
        both = (0.05 + 0.4 * opening, -1.9 + 0.4 * opening, 0.7)
        return {"left": both, "right": both}
    return {"left": rest, "right": rest}


def desk_frame(kind: str, t: float) -> np.ndarray:
    """``[33, 2]`` pixels: the standing figure zoomed to desk framing, arms posed by ``arm_angles``."""
    p = pose_frame("stand", 0.0)
    angles = arm_angles(kind, t)
    for side, s in (("left", 1.0), ("right", -1.0)):
        i = {j: _MP.index(f"{side}_{j}") for j in ("shoulder", "elbow", "wrist", "pinky", "index", "thumb")}
        upper = np.linalg.norm(p[i["elbow"]] - p[i["shoulder"]])
        fore = np.linalg.norm(p[i["wrist"]] - p[i["elbow"]])
        hand = {j: p[i[j]] - p[i["wrist"]] for j in ("pinky", "index", "thumb")}
        a_up, a_fore, shorten = angles[side]
        elbow = p[i["shoulder"]] + upper * (_rot(a_up) * [s, 1])
        wrist = elbow + shorten * fore * (_rot(a_fore) * [s, 1])
        before, after = p[i["wrist"]] - p[i["elbow"]], wrist - elbow
        turn = math.atan2(before[0] * after[1] - before[1] * after[0], before @ after)  # the hand turns with
        rot = np.array([[math.cos(turn), -math.sin(turn)], [math.sin(turn), math.cos(turn)]])  # the forearm
        for j, off in hand.items():
            p[i[j]] = wrist + shorten * (rot @ off)
        p[i["elbow"]], p[i["wrist"]] = elbow, wrist
    return (p - PIVOT) * ZOOM + TARGET


def visibility(xy: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """MediaPipe-like visibility: ~0.95 in the image; joints below it get the measured low values."""
    vis = np.clip(rng.normal(0.95, 0.03, len(xy)), 0, 1)
    for j, name in enumerate(_MP.joints):
        inside = 0 <= xy[j, 0] < WIDTH and 0 <= xy[j, 1] < HEIGHT
        if not inside:
            kind = name.split("_", 1)[1] if name.startswith(("left_", "right_")) else name
            vis[j] = np.clip(OUT_OF_FRAME_VISIBILITY.get(kind, 0.5) + rng.normal(0, 0.03), 0, 1)
    return vis


def make_stream(seed: int = 0) -> tuple[list[tuple[float, int, np.ndarray]], list[tuple[str, float, float]]]:
    """Frames ``(t, index, keypoints [33, 3])`` and the timeline ``(kind, start, end)`` in seconds."""
    rng = np.random.default_rng(seed)
    frames, timeline, index, t0 = [], [], 0, 0.0
    for kind, dur in SEGMENTS:
        for k in range(int(round(dur * FPS))):
            xy = desk_frame(kind, k / FPS) + rng.normal(0, 2.0, size=(33, 2))
            kp = np.concatenate([np.round(xy, 1), np.round(visibility(xy, rng), 2)[:, None]], 1)
            frames.append((t0 + k / FPS, index, kp))
            index += 1
        timeline.append((kind, t0, t0 + dur))
        t0 += dur
    return frames, timeline


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(Path(__file__).with_name("upper_body_skeletons.jsonl")))
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    write_jsonl(args.out, make_stream(args.seed)[0])


if __name__ == "__main__":
    main()
