"""Synthetic people in MediaPipe's layout, for the demos, the benchmarks and the tests: no camera, no video, no data.

One figure, ``figure(kind, t)``: a front-facing 2D stick person with MediaPipe's 33 landmarks in a 640×480 image,
standing, doing jumping jacks or jumping rope (both filmed from the front in Penn Action, the default model's data).
Everything else here is that figure placed, posed or moved:

- ``demo_stream``: ``demo/demo_skeletons.jsonl`` — standing, jumping jacks, nobody, jumping rope;
- ``upper_body_stream``: ``demo/upper_body_skeletons.jsonl`` — the figure at a desk webcam, waving, then clapping;
- ``two_people``: two figures with different actions who swap places (the multi-person stream);
- ``synthetic_skeletons`` / ``synthetic_windows``: the standing figure with limbs swinging, in any layout (2D pixels
  or 3D metres), raw or preprocessed — the model benchmark's inputs and INT8 calibration's fallback;
- ``synthetic_frame``: an image of the standing figure (the pose benchmark's frame when no video is given).

The demo files are these functions' output byte for byte (``python demo/make_demo_input.py`` writes them again).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Optional

import numpy as np

from .layouts import get_layout
from .preprocess import PreprocessConfig, preprocess_window

FPS = 30.0                                  # every stream here is 30 frames a second
_MP = get_layout("mediapipe33")
_HIP_CENTRE = np.array([320.0, 300.0])      # the standing figure's hip centre in its 640×480 image
_PX_PER_M = 220.0                           # the figure's torso (110 px) as a 0.5 m torso


# --- the figure --------------------------------------------------------------------------------------------------
def _rot(angle: float) -> np.ndarray:
    """Unit vector at ``angle`` radians from straight down, towards the person's side (image x grows)."""
    return np.array([math.sin(angle), math.cos(angle)])


def figure(kind: str, t: float) -> np.ndarray:
    """``[33, 2]`` image coordinates (pixels, 640×480) of the figure at time ``t`` of a ``kind`` segment:
    ``stand``, ``jumping_jacks`` (about 1.2 a second, a real jump) or ``jump_rope`` (two small hops a second)."""
    cx, hip_y = _HIP_CENTRE
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


def placed(x: float, y: float = 300.0, scale: float = 1.0, kind: str = "stand", t: float = 0.0,
           score: float = 0.95) -> np.ndarray:
    """``[33, 3]`` float32: the figure scaled by ``scale`` about its hips, hips near ``(x, y)``, every joint's score
    ``score``."""
    xy = (figure(kind, t) - _HIP_CENTRE) * scale + [x, y]
    return np.concatenate([xy, np.full((33, 1), score)], 1).astype(np.float32)


# --- the demo streams --------------------------------------------------------------------------------------------
Frames = list[tuple[float, int, Optional[np.ndarray]]]   # (t, frame index, keypoints [33, 3] or None: nobody)
DEMO_SEGMENTS = (("stand", 1.0), ("jumping_jacks", 5.0), ("nobody", 1.5), ("jump_rope", 5.0))


def demo_stream(seed: int = 0) -> Frames:
    """``demo/demo_skeletons.jsonl``: standing 1 s, jumping jacks 5 s, nobody in view 1.5 s, jumping rope 5 s;
    1.5 px of seeded jitter, visibility ~0.95."""
    rng = np.random.default_rng(seed)
    frames: Frames = []
    index, t0 = 0, 0.0
    for kind, dur in DEMO_SEGMENTS:
        for k in range(int(round(dur * FPS))):
            t = t0 + k / FPS
            if kind == "nobody":
                kp = None
            else:
                xy = figure(kind, k / FPS) + rng.normal(0, 1.5, size=(33, 2))
                vis = np.clip(rng.normal(0.95, 0.03, size=(33, 1)), 0, 1)
                kp = np.concatenate([np.round(xy, 1), np.round(vis, 2)], 1)
            frames.append((t, index, kp))
            index += 1
        t0 += dur
    return frames


# The upper-body demo: the figure framed as a desk webcam frames a seated person — 3 times closer, so head,
# shoulders and arms fill the 640×480 image and the hips are below its bottom edge — with its own arm motions.
UPPER_BODY_SEGMENTS = (("idle", 2.0), ("wave", 4.0), ("idle", 2.0), ("clap", 4.0), ("idle", 2.0))
DESK_SIZE = (640, 480)
_ZOOM, _PIVOT, _TARGET = 3.0, np.array([320.0, 190.0]), np.array([320.0, 270.0])  # shoulders of the figure → y 270
# Joints outside the image keep MediaPipe's habit, measured on a real seated close-up
# (``python -m train.studies.measure_out_of_frame``): still reported, at the standing figure's hallucinated
# positions, with these visibilities (medians).
OUT_OF_FRAME_VISIBILITY = {"hip": 0.3, "knee": 0.12, "ankle": 0.06, "heel": 0.06, "foot_index": 0.06}


def _arm_angles(kind: str, t: float) -> dict[str, tuple[float, float, float]]:
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
    """``[33, 2]`` pixels: the standing figure zoomed to desk framing, arms posed for ``idle``, ``wave`` or
    ``clap``."""
    p = figure("stand", 0.0)
    angles = _arm_angles(kind, t)
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
    return (p - _PIVOT) * _ZOOM + _TARGET


def _desk_visibility(xy: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """MediaPipe-like visibility: ~0.95 in the image; joints below it get the measured low values."""
    vis = np.clip(rng.normal(0.95, 0.03, len(xy)), 0, 1)
    width, height = DESK_SIZE
    for j, name in enumerate(_MP.joints):
        inside = 0 <= xy[j, 0] < width and 0 <= xy[j, 1] < height
        if not inside:
            kind = name.split("_", 1)[1] if name.startswith(("left_", "right_")) else name
            vis[j] = np.clip(OUT_OF_FRAME_VISIBILITY.get(kind, 0.5) + rng.normal(0, 0.03), 0, 1)
    return vis


def upper_body_stream(seed: int = 0) -> tuple[Frames, list[tuple[str, float, float]]]:
    """``demo/upper_body_skeletons.jsonl``: idle 2 s (hands resting), waving with the right hand 4 s, idle 2 s,
    clapping 4 s, idle 2 s. Frames ``(t, index, keypoints [33, 3])`` and the timeline ``(kind, start, end)``."""
    rng = np.random.default_rng(seed)
    frames: Frames = []
    timeline, index, t0 = [], 0, 0.0
    for kind, dur in UPPER_BODY_SEGMENTS:
        for k in range(int(round(dur * FPS))):
            xy = desk_frame(kind, k / FPS) + rng.normal(0, 2.0, size=(33, 2))
            kp = np.concatenate([np.round(xy, 1), np.round(_desk_visibility(xy, rng), 2)[:, None]], 1)
            frames.append((t0 + k / FPS, index, kp))
            index += 1
        timeline.append((kind, t0, t0 + dur))
        t0 += dur
    return frames, timeline


# --- two people --------------------------------------------------------------------------------------------------
TWO_PEOPLE_ACTIONS = ("jumping_jacks", "jump_rope")     # person A, person B (Penn Action class names)
TWO_PEOPLE_SIZE = (1280, 480)
_SCALES = (1.0, 0.85)
_PHASES = ((0.0, 4.0), (4.0, 6.0), (6.0, 10.0))
_LEFT, _RIGHT = 360.0, 920.0


@dataclass
class TwoPersonStream:
    """``frames[k] = (t, [skeleton [33, 3], …])`` in random order; ``who[k][i]`` = 0 (A) or 1 (B) for entry i."""

    frames: list[tuple[float, list[np.ndarray]]]
    who: list[list[int]]
    actions: tuple[str, str] = TWO_PEOPLE_ACTIONS
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


def two_people(seed: int = 0, duration: float = _PHASES[-1][1]) -> TwoPersonStream:
    """Person A (jumping jacks) and B (jumping rope, a little further back: smaller) side by side in a 1280×480
    image: A left, B right until 4 s; they walk past each other until 6 s (A in front: while their bodies overlap
    only A is seen, as a real estimator would); then A right, B left until 10 s. Each frame lists the people seen
    in a seeded random order, so nothing but tracking can tell who is who; ``who`` holds the truth."""
    rng = np.random.default_rng(seed)
    frames, who = [], []
    for k in range(int(round(duration * FPS))):
        t = k / FPS
        people = []
        for p in (0, 1):
            xy = figure(TWO_PEOPLE_ACTIONS[p], t + 0.37 * p)     # own phase: the two never move in step
            xy = (xy - _HIP_CENTRE) * _SCALES[p] + [centre_x(p, t), 300.0 + 40.0 * (1 - _SCALES[p])]
            xy = xy + rng.normal(0, 1.5 * _SCALES[p], size=(33, 2))
            vis = np.clip(rng.normal(0.95, 0.03, size=(33, 1)), 0, 1)
            people.append(np.concatenate([xy, vis], 1).astype(np.float32))
        overlap = abs(centre_x(0, t) - centre_x(1, t)) < 110.0       # B is behind A
        order = [0] if overlap else list(rng.permutation(2))
        frames.append((t, [people[p] for p in order]))
        who.append([int(p) for p in order])
    return TwoPersonStream(frames=frames, who=who)


# --- benchmark inputs --------------------------------------------------------------------------------------------
def synthetic_skeletons(pre: PreprocessConfig, n: int, seed: int = 0, frames: Optional[int] = None) -> np.ndarray:
    """``[n, T, V, dims+1]`` raw skeletons in ``pre.layout``: the standing figure moving (limbs swing, body sways),
    each sequence with its own motion, scale, position and a few missing joints — shaped like real data (2D:
    pixels; 3D: metres, the figure flat in the image plane before it sways)."""
    from .convert import convert

    rng = np.random.default_rng(seed)
    t = np.arange(frames or pre.window, dtype=np.float32)[:, None, None] / pre.fps
    stand = (figure("stand", 0.0) - _HIP_CENTRE) / _PX_PER_M                     # metres, hip-centred, y down
    base = np.concatenate([stand, np.zeros((33, 1))], 1)[None].astype(np.float32)
    reach = np.linalg.norm(base[0, :, :2] - base[0, [11, 12], :2].mean(0), axis=-1)[None, :, None]
    out = []
    for _ in range(n):
        freq, phase = rng.uniform(0.3, 2.0, (1, 33, 1)), rng.uniform(0, 2 * np.pi, (1, 33, 3))
        amp = rng.uniform(0.05, 0.25) * reach
        seq = base + amp * np.sin(2 * np.pi * freq * t + phase) + rng.normal(0, 0.01, (t.shape[0], 33, 3))
        seq = seq + np.sin(2 * np.pi * 0.2 * t + rng.uniform(0, 6)) * np.array([0.1, 0.02, 0.05], np.float32)
        score = rng.uniform(0.5, 1.0, (t.shape[0], 33, 1))
        score[:, rng.choice(33, size=3, replace=False)] = 0.0                    # occluded joints
        if pre.dims == 2:
            seq = seq[..., :2] * rng.uniform(150, 300) + rng.uniform(100, 400, 2)  # pixels
        out.append(convert(np.concatenate([seq, score], -1).astype(np.float32), "mediapipe33", pre.layout))
    return np.stack(out)


def synthetic_windows(pre: PreprocessConfig, n: int, seed: int = 0) -> np.ndarray:
    """``[n, C_in, T, V]`` model inputs from ``synthetic_skeletons``; the first window is front-padded like the
    start of a live stream."""
    raw = synthetic_skeletons(pre, n, seed)
    raw[0, : pre.window // 2] = 0.0
    return preprocess_window(raw, pre)


def synthetic_people(people: int, frames: int, fps: float = FPS, seed: int = 0) -> np.ndarray:
    """``[people, frames, 33, 3]`` MediaPipe-layout skeletons in pixels (``synthetic_skeletons``), 800 px apart,
    each with their own motion; the joints of the presence rule are always seen, so every stride judges everyone."""
    pre = PreprocessConfig(layout="mediapipe33", window=frames, fps=fps)
    out = synthetic_skeletons(pre, people, seed)
    out[..., 0] += 800.0 * np.arange(people)[:, None, None]
    out[..., [11, 12, 13, 14, 15, 16, 23, 24], 2] = 0.95
    return out


def synthetic_frame(width: int = 640, height: int = 360) -> np.ndarray:
    """A BGR frame with a textured background and the standing figure drawn filled (MediaPipe may or may not see a
    person in it)."""
    from .native_logs import cv2

    rng = np.random.default_rng(0)
    frame = np.clip(rng.normal(120, 25, (height, width, 3)), 0, 255).astype(np.uint8)
    frame = cv2.GaussianBlur(frame, (7, 7), 0)
    pts = (figure("stand", 0.0) - _HIP_CENTRE) / _PX_PER_M * height * 0.55 + np.array([width / 2, height * 0.45])
    p = {i: tuple(int(v) for v in pts[i]) for i in range(33)}
    skin, shirt, trousers = (140, 170, 220), (60, 60, 170), (90, 50, 40)
    cv2.fillPoly(frame, [np.array([p[11], p[12], p[24], p[23]])], shirt)
    for a, b, c, w in ((11, 13, shirt, 16), (13, 15, skin, 12), (12, 14, shirt, 16), (14, 16, skin, 12),
                       (23, 25, trousers, 22), (25, 27, trousers, 18), (24, 26, trousers, 22),
                       (26, 28, trousers, 18)):
        cv2.line(frame, p[a], p[b], c, w, cv2.LINE_AA)
    cv2.ellipse(frame, p[0], (int(height * 0.05), int(height * 0.065)), 0, 0, 360, skin, -1, cv2.LINE_AA)
    return frame
