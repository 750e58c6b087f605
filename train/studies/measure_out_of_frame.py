"""What MediaPipe reports for joints outside the image: the evidence behind the degradation's desk framing.

    partkd-stream extract ../shared/data/videos/arm_wrestling_partial_view.mp4 --out runs/mp/
    python -m train.studies.measure_out_of_frame runs/mp/arm_wrestling_partial_view.npz [--json]

Reads an extracted MediaPipe sequence (``mediapipe33``, pixels, with the frame size in its meta) and prints, per
joint, the share of detected frames in which MediaPipe placed it outside the image and its visibility there and
inside, the hallucinated torso length (mid-shoulder ↔ mid-hip) in shoulder widths, and the share of those frames
each preset presence rule (``partkd_stream.window.PRESENCE_RULES``) counts as a person. ``train.lib.degrade``'s
``out_*`` defaults were set from this on the arm-wrestling close-up (seated people, hips below the frame).
"""
from __future__ import annotations

import argparse
import json
import sys
from typing import Any, Sequence

from pathlib import Path

if __package__ in (None, ""):  # run as a file: the same as `python -m train.studies.measure_out_of_frame`
    sys.path[0] = str(Path(__file__).resolve().parents[1])   # train/, which holds _bootstrap
    import _bootstrap  # noqa: F401  (train/_bootstrap.py)

import numpy as np

from partkd_stream.layouts import get_layout
from partkd_stream.skeleton_io import SkeletonFileError, load_sequence
from partkd_stream.window import PRESENCE_RULES

JOINTS = ("nose", "left_shoulder", "right_shoulder", "left_elbow", "right_elbow", "left_wrist", "right_wrist",
          "left_hip", "right_hip", "left_knee", "right_knee", "left_ankle", "right_ankle", "left_foot_index",
          "right_foot_index")


def measure(data: np.ndarray, width: float, height: float) -> dict[str, Any]:
    """``data`` ``[T, 33, 3]`` (pixels, visibility; all-zero frames = no detection) → the summary printed."""
    lay = get_layout("mediapipe33")
    data = data[(data[..., 2] > 0).any(-1)]
    x, y, vis = data[..., 0], data[..., 1], data[..., 2]
    inside = (x >= 0) & (x < width) & (y >= 0) & (y < height)
    med = lambda a: round(float(np.median(a)), 3) if a.size else None  # noqa: E731
    joints = {}
    for name in JOINTS:
        j = lay.index(name)
        joints[name] = {"out_of_image": round(float((~inside[:, j]).mean()), 3),
                        "visibility_out": med(vis[~inside[:, j], j]), "visibility_in": med(vis[inside[:, j], j])}
    (ls, rs), (lh, rh) = lay.shoulders, lay.hips
    mid_sh, mid_hip = 0.5 * (data[:, ls, :2] + data[:, rs, :2]), 0.5 * (data[:, lh, :2] + data[:, rh, :2])
    ratio = np.linalg.norm(mid_sh - mid_hip, axis=-1) / np.maximum(
        np.linalg.norm(data[:, ls, :2] - data[:, rs, :2], axis=-1), 1e-6)
    presence = {name: round(float(rule.passes(vis, *rule.joints("mediapipe33")).mean()), 3) if len(data) else None
                for name, rule in PRESENCE_RULES.items()}
    return {"frames_with_person": int(len(data)), "image": [width, height], "joints": joints,
            "torso_over_shoulder_width": med(ratio), "presence_rule_passes": presence}


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m train.studies.measure_out_of_frame",
                                 description=__doc__.split("\n\n")[0])
    ap.add_argument("sequence", help="a .npz written by partkd-stream extract (mediapipe33, pixels)")
    ap.add_argument("--json", action="store_true", help="print the summary as JSON")
    args = ap.parse_args(argv)
    try:
        seq = load_sequence(args.sequence)
        if seq.layout != "mediapipe33" or "width" not in seq.meta or "height" not in seq.meta:
            raise SkeletonFileError(f"{args.sequence}: needs a mediapipe33 sequence with the frame size in its meta "
                                    f"(as partkd-stream extract writes it)")
    except SkeletonFileError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    res = measure(seq.data, float(seq.meta["width"]), float(seq.meta["height"]))
    if args.json:
        print(json.dumps(res, indent=1))
        return 0
    print(f"{res['frames_with_person']} frames with a person, image {res['image'][0]:g} x {res['image'][1]:g}; "
          f"hallucinated torso / shoulder width {res['torso_over_shoulder_width']}")
    print("frames a presence rule counts as a person: " + ", ".join(
        f"{name} {100 * v:.1f} %" for name, v in res["presence_rule_passes"].items() if v is not None))
    print(f"{'joint':<18}{'out of image':>14}{'visibility out':>16}{'visibility in':>15}")
    for name, r in res["joints"].items():
        print(f"{name:<18}{100 * r['out_of_image']:>13.0f}%{str(r['visibility_out']):>16}{str(r['visibility_in']):>15}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
