"""Write ``demo/demo_skeletons.jsonl``: a synthetic person doing jumping jacks and jumping rope, in MediaPipe's layout.

The motion is generated procedurally (a front-facing 2D stick figure with MediaPipe's 33 landmarks in a
640×480 image, a little seeded jitter), so the demo needs no camera, no video and no research data:

    python demo/make_demo_input.py                      # → demo/demo_skeletons.jsonl
    partkd-stream --skeletons demo/demo_skeletons.jsonl --out runs/demo.jsonl

Timeline (30 fps): standing 1 s, jumping jacks 5 s, nobody in view 1.5 s, jumping rope 5 s.
Both actions are filmed from the front in Penn Action (the default model's data); Penn's squats are mostly
side views, which this front-facing figure cannot show.
"""
from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np

from partkd_stream.layouts import get_layout
from partkd_stream.skeleton_io import stream_record, write_stream_header

FPS = 30.0
SEGMENTS = (("stand", 1.0), ("jumping_jacks", 5.0), ("nobody", 1.5), ("jump_rope", 5.0))
_MP = get_layout("mediapipe33")


def _rot(angle: float) -> np.ndarray:
    """Unit vector at ``angle`` radians from straight down, towards the person's side (image x grows)."""
    return np.array([math.sin(angle), math.cos(angle)])


def pose_frame(kind: str, t: float) -> np.ndarray:
    """``[33, 2]`` image coordinates (pixels) of the figure at time ``t`` of a ``kind`` segment."""
    cx, hip_y = 320.0, 300.0
    torso, shoulder_w, hip_w = 110.0, 70.0, 40.0
    upper_arm, forearm, thigh, shin = 55.0, 50.0, 80.0, 75.0
    arm, leg, bounce = 0.15, 0.05, 0.0
    if kind == "jumping_jacks":                      # about 1.2 jacks per second
        ph = 0.5 * (1 - math.cos(2 * math.pi * 1.2 * t))
        arm, leg, bounce = 0.15 + ph * 2.7, 0.05 + ph * 0.30, -35.0 * math.sin(math.pi * ph)  # a real jump
    elif kind == "jump_rope":                        # two small hops a second, hands turning the rope at the hips
        ph = abs(math.sin(2 * math.pi * 1.0 * t))
        arm, leg, bounce = 0.45 + 0.15 * math.sin(2 * math.pi * 2.0 * t), 0.03, -18.0 * ph
    hip_y += bounce
    p: dict[str, np.ndarray] = {}
    for side, s in (("left", 1.0), ("right", -1.0)):   # facing the camera: the person's left is image right
        sh = np.array([cx + s * shoulder_w / 2, hip_y - torso])
        hip = np.array([cx + s * hip_w / 2, hip_y])
        d_arm = _rot(arm) * [s, 1]
        elbow = sh + upper_arm * d_arm
        wrist = elbow + forearm * (_rot(arm * 1.05) * [s, 1])
        knee = hip + thigh * (_rot(leg) * [s, 1])
        ankle = np.array([hip[0] + s * math.sin(leg) * (thigh + shin), hip_y + thigh + shin])
        p.update({f"{side}_shoulder": sh, f"{side}_hip": hip, f"{side}_elbow": elbow, f"{side}_wrist": wrist,
                  f"{side}_knee": knee, f"{side}_ankle": ankle,
                  f"{side}_heel": ankle + [s * 2, 8], f"{side}_foot_index": ankle + [s * 10, 12],
                  f"{side}_pinky": wrist + 10 * d_arm + [s * 4, 0], f"{side}_index": wrist + 12 * d_arm,
                  f"{side}_thumb": wrist + 8 * d_arm - [s * 4, 0]})
    head = np.array([cx, hip_y - torso - 45])
    face = {"nose": [0, 5], "left_eye_inner": [4, -4], "left_eye": [8, -5], "left_eye_outer": [12, -4],
            "right_eye_inner": [-4, -4], "right_eye": [-8, -5], "right_eye_outer": [-12, -4],
            "left_ear": [18, 0], "right_ear": [-18, 0], "mouth_left": [6, 14], "mouth_right": [-6, 14]}
    for name, off in face.items():
        p[name] = head + off
    return np.stack([p[j] for j in _MP.joints])


def make_stream(seed: int = 0) -> list[tuple[float, int, np.ndarray | None]]:
    rng = np.random.default_rng(seed)
    frames, index, t0 = [], 0, 0.0
    for kind, dur in SEGMENTS:
        for k in range(int(round(dur * FPS))):
            t = t0 + k / FPS
            if kind == "nobody":
                kp = None
            else:
                xy = pose_frame(kind, k / FPS) + rng.normal(0, 1.5, size=(33, 2))
                vis = np.clip(rng.normal(0.95, 0.03, size=(33, 1)), 0, 1)
                kp = np.concatenate([np.round(xy, 1), np.round(vis, 2)], 1)
            frames.append((t, index, kp))
            index += 1
        t0 += dur
    return frames


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(Path(__file__).with_name("demo_skeletons.jsonl")))
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    write_jsonl(args.out, make_stream(args.seed))


def write_jsonl(out: str, frames: list) -> None:
    """``frames`` ``(t, index, keypoints [33, 3])`` as a MediaPipe-layout ``.jsonl`` stream; says what it wrote."""
    with open(out, "w", encoding="utf-8") as f:
        write_stream_header(f, "mediapipe33", FPS)
        for t, i, kp in frames:
            f.write(stream_record(t, i, kp) + "\n")
    print(f"wrote {out}: {len(frames)} frames at {FPS:g} fps ({Path(out).stat().st_size // 1024} KB)")


if __name__ == "__main__":
    main()
