"""Calibrate the degradation model against MediaPipe's real error on a real NTU HQ/LQ pair.

    python -m train.calibrate [--skeleton PATH --video PATH] [--out-json …] [--out-md …]

Runs MediaPipe on the NTU clip's RGB video, compares it with the clip's Kinect colour joints and fits the
degradation's parameters (``train.lib.calibration`` says how); writes ``train/calibration/mediapipe_ntu.json`` (what
``DegradeConfig.from_calibration()`` reads) and the report ``train/calibration/README.md``. The default clip is
in the shared data folder (``PARTKD_SHARED_DATA``).
"""
from __future__ import annotations

if __package__ in (None, ""):  # run as a file: the same as `python -m train.calibrate`
    import _bootstrap  # noqa: F401  (train/_bootstrap.py)

import argparse
import json
import sys
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from partkd_stream.atomic import atomic_write_bytes
from train.datasets import DatasetError
from train.datasets.ntu import ntu_sample, read_skeleton_file
from train.lib.calibration import (CALIB_DIR, DEFAULT_SKELETON, DEFAULT_VIDEO, build_config, markdown, measure,
                                   validate)
from train.lib.paths import REPO


def run_mediapipe(video: Path, model_complexity: int, max_width: int) -> np.ndarray:
    """MediaPipe on every frame, exactly as ``partkd-stream extract`` does → ``[T, 33, 3]`` pixels."""
    from partkd_stream.extract import extract_video

    return extract_video(video, model_complexity, max_width).data


def load_kinect(skeleton: Path) -> tuple[np.ndarray, np.ndarray]:
    """Kinect colour joints ``[T, 25, 3]`` and camera-space joints ``[T, 25, 4]`` of the main actor."""
    s = ntu_sample(read_skeleton_file(skeleton))
    return s.aux["color2d"], s.data


def _rel(p: Path) -> str:
    try:
        return str(p.resolve().relative_to(REPO))
    except ValueError:
        return str(p)


def main(argv: Optional[Sequence[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--skeleton", type=Path, default=DEFAULT_SKELETON, help="NTU .skeleton file")
    ap.add_argument("--video", type=Path, default=DEFAULT_VIDEO, help="its RGB video")
    ap.add_argument("--out-json", type=Path, default=CALIB_DIR / "mediapipe_ntu.json")
    ap.add_argument("--out-md", type=Path, default=CALIB_DIR / "README.md")
    ap.add_argument("--model-complexity", type=int, default=1, choices=(0, 1, 2))
    ap.add_argument("--max-width", type=int, default=1280, help="downscale frames before MediaPipe (default 1280: how the shipped calibration was measured)")
    args = ap.parse_args(argv)
    for what, p in (("skeleton", args.skeleton), ("video", args.video)):
        if not p.is_file():
            print(f"calibrate: error: {what} file not found: {p} (set PARTKD_SHARED_DATA to the shared data "
                  f"folder, or pass --{what} PATH)", file=sys.stderr)
            return 2
    try:
        kin, kin3d = load_kinect(args.skeleton)
        mp33 = run_mediapipe(args.video, args.model_complexity, args.max_width)
    except (DatasetError, RuntimeError) as e:
        print(f"calibrate: error: {str(e).splitlines()[0]}", file=sys.stderr)
        return 2
    meas = measure(kin, mp33, kin3d)
    cfg, prov = build_config(meas)
    check = validate(kin, mp33, cfg, meas)
    command = "python -m train.calibrate"
    if args.skeleton != DEFAULT_SKELETON or args.video != DEFAULT_VIDEO:
        command += f" --skeleton {args.skeleton} --video {args.video}"
    if args.model_complexity != 1 or args.max_width != 1280:
        command += f" --model-complexity {args.model_complexity} --max-width {args.max_width}"
    doc = {
        "about": "MediaPipe Pose vs Kinect v2 colour joints on ONE NTU clip of ONE person; degrade_config = the "
                 "fitted train.lib.degrade.DegradeConfig (lengths in torso lengths, durations in frames); provenance "
                 "says which values are measured and which are priors. Report: README.md beside this file.",
        "command": command,
        "data": {"sample": args.skeleton.stem, "skeleton": args.skeleton.name, "video": args.video.name,
                 "model_complexity": args.model_complexity, "max_width": args.max_width},
        "lr_mapping": meas["summary"]["lr_mapping"],
        "degrade_config": cfg.to_dict(),
        "provenance": prov,
        "summary": meas["summary"],
        "measured_rates": meas["measured_rates"],
        "validation": check,
        "per_joint": meas["per_joint"],
    }
    text = json.dumps(doc, indent=1)
    atomic_write_bytes(args.out_json, lambda f: f.write((text + "\n").encode()))
    atomic_write_bytes(args.out_md, lambda f: f.write(markdown(doc).encode()))
    s = meas["summary"]
    print(f"calibrate: {s['frames_compared']} frames, mapping {s['lr_mapping']} (lag {s['lag_frames']}), median error "
          f"{s['median_px']:.1f} px = {100 * s['median_height']:.2f} % of body height → {_rel(args.out_json)}, "
          f"{_rel(args.out_md)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
