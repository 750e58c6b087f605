"""Several people on videos: who is found and kept — people found per frame, ids, id switches.

    partkd-stream bench people VIDEO … [--mosaic VIDEO] [--json]
    partkd-stream bench people --mosaic VIDEO --tiles-at-once

``MediaPipeMultiPose`` + ``PersonTracker`` (what ``partkd-stream --max-people N`` runs) on each VIDEO (up to 2 and
4 people, and 2 with ``tiled=True``, what ``--pose-tiles`` runs) and on a mosaic of four small copies of the
``--mosaic`` clip (4 people, untiled and tiled): people found per frame (histogram), how many of those poses show
an upper body (the recognizer's ``frame_has_person`` rule: only those are recognised), ids confirmed, frames where
every person holds a confirmed id, and *id switches*: each person keeps a place (in a VIDEO, their rank from left to
right — for clips where nobody changes sides; a quadrant in the mosaic), and a switch is the id seen at a place
changing — a proxy that needs no annotation. docs/several-people.md runs it on ``two_person_hug_ntu.mp4``,
``arm_wrestling_partial_view.mp4`` and NTU A001 from the shared data.

What several people cost (pose per frame, the recognizer per frame and per person) is measured by
``partkd-stream bench --people 1,2,4``. ``--tiles-at-once`` times only whether ``--pose-tiles`` gains from
estimating its five regions at once (``MediaPipeMultiPose(threads=…)``) on the mosaic. Numbers depend on the
machine and its load; this prints them, it asserts nothing.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any, Optional, Sequence

import numpy as np

os.environ.setdefault("GLOG_minloglevel", "2")


def read_frames(path: Path, limit: Optional[int] = None) -> tuple[list[np.ndarray], float]:
    from ..native_logs import cv2

    cap = cv2.VideoCapture(str(path))
    fps = cap.get(cv2.CAP_PROP_FPS) or 30.0
    frames = []
    while limit is None or len(frames) < limit:
        ok, f = cap.read()
        if not ok:
            break
        frames.append(f)
    cap.release()
    return frames, fps


def _hip(kp: np.ndarray) -> np.ndarray:
    return kp[[23, 24], :2].mean(0)


def small_people_mosaic(video: Path, limit: Optional[int] = None) -> tuple[list[np.ndarray], float]:
    """``video`` four times in a 2 × 2 mosaic at 1920×1080 (each copy 25 frames apart, every second frame): from
    NTU A001, 4 people a fifth of the frame tall — the size of people in a wide shot of a gym or a classroom."""
    from ..native_logs import cv2

    frames, fps = read_frames(video)
    n = len(frames)
    out = []
    for k in range(0, n, 2):
        q = [cv2.resize(frames[(k + o) % n], (960, 540)) for o in (0, 25, 50, 75)]
        out.append(np.vstack([np.hstack(q[:2]), np.hstack(q[2:])]))
    return out[:limit], fps / 2


def people_on_video(name: str, frames: list[np.ndarray], fps: float, max_people: int,
                    zones: str, tiled: bool = False) -> dict[str, Any]:
    """Detections per frame, confirmed ids and id switches of the pose estimator + tracker on one clip.

    ``zones``: how the proxy truth tells people apart — ``"x"``: by the order of their hip centres along x (in
    frames with two or more people), ``"quadrant"``: by the quadrant of the frame their hips are in.
    """
    from ..pose_multi import MediaPipeMultiPose
    from ..tracking import PersonTracker
    from ..window import frame_has_person

    tracker = PersonTracker()
    counts, pose_ms, ids, upper_body = [], [], set(), 0
    full, zone_id, switches = 0, {}, 0
    with MediaPipeMultiPose(max_people=max_people, tiled=tiled) as pose:
        for k, frame in enumerate(frames):
            t0 = time.perf_counter()
            people = pose.process(frame)
            pose_ms.append((time.perf_counter() - t0) * 1e3)
            counts.append(len(people))
            upper_body += sum(frame_has_person(p.keypoints_2d(), "mediapipe33") for p in people)
            upd = tracker.update([p.keypoints_2d() for p in people], k / fps)
            ids.update(i for i, _ in upd.people)
            if zones == "x":
                if len(upd.people) < 2:
                    continue
                by_zone = dict(enumerate(pid for pid, kp in sorted(upd.people, key=lambda p: _hip(p[1])[0])))
            else:
                h, w = frame.shape[:2]
                by_zone = {int(_hip(kp)[1] > h / 2) * 2 + int(_hip(kp)[0] > w / 2): pid for pid, kp in upd.people}
            full += len(upd.people) >= min(max_people, 4 if zones == "quadrant" else 2)
            for z, pid in by_zone.items():
                switches += z in zone_id and zone_id[z] != pid
                zone_id[z] = pid
    return {"video": name, "frames": len(frames), "max_people": max_people, "tiled": tiled,
            "people_per_frame": np.bincount(counts, minlength=max_people + 1).tolist(),
            "poses_with_upper_body": upper_body, "ids_confirmed": len(ids), "frames_all_tracked": full,
            "id_switches": switches,
            "pose_ms_median": float(np.median(pose_ms))}


def people_section(videos: Sequence[Path], mosaic: Optional[Path]) -> list[dict[str, Any]]:
    rows = []
    for v in videos:
        frames, fps = read_frames(v)
        for max_people in (2, 4):
            rows.append(people_on_video(v.name, frames, fps, max_people, "x"))
        rows.append(people_on_video(v.name, frames, fps, 2, "x", tiled=True))
    if mosaic:
        frames, fps = small_people_mosaic(mosaic)
        for tiled in (False, True):
            rows.append(people_on_video(f"{mosaic.stem} 2x2 mosaic (4 small people)", frames, fps, 4, "quadrant",
                                        tiled))
    return rows


def tiles_at_once(mosaic: Path, passes: int = 3, frames: int = 26) -> dict[str, Any]:
    """``--pose-tiles`` on the mosaic (4 small people, 1920×1080): the five landmarkers one after another
    (``threads=1``) against on a thread per core (the default), and the raw landmarker calls one after another,
    frame by frame (``bench.pose.paired_pass``); median ms per frame over ``passes``."""
    from ..pose_multi import MediaPipeMultiPose, usable_cores
    from .pose import EstimatorArm, RawLandmarkers, paired_pass

    imgs, _ = small_people_mosaic(mosaic, frames)
    arms = {"raw calls, one after another": lambda: RawLandmarkers(4, tiled=True),
            "MediaPipeMultiPose threads=1": lambda: EstimatorArm(MediaPipeMultiPose(4, tiled=True, threads=1)),
            f"MediaPipeMultiPose threads={min(5, usable_cores())} (default)":
                lambda: EstimatorArm(MediaPipeMultiPose(4, tiled=True))}
    runs: dict[str, list[float]] = {k: [] for k in arms}
    for _ in range(passes):
        for k, r in zip(arms, paired_pass(list(arms.values()), imgs)):
            runs[k].append(r["ms"])
    return {"frames": len(imgs), "passes": passes, "ms_per_frame": {k: float(np.median(v)) for k, v in runs.items()},
            "runs": runs}


def main(argv: Optional[Sequence[str]] = None) -> int:
    ap = argparse.ArgumentParser(prog="partkd-stream bench people", description=__doc__.splitlines()[0])
    ap.add_argument("videos", nargs="*", type=Path, metavar="VIDEO",
                    help="a clip of people who keep their places from left to right")
    ap.add_argument("--mosaic", type=Path, metavar="VIDEO", help="also this clip four times in a 2 × 2 mosaic")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--tiles-at-once", action="store_true",
                    help="only time --pose-tiles on the --mosaic with its regions one after another against at once")
    args = ap.parse_args(argv)
    missing = [str(v) for v in args.videos + [args.mosaic] if v is not None and not v.is_file()]
    why = (f"no such video: {', '.join(missing)}" if missing
           else "--tiles-at-once needs --mosaic VIDEO" if args.tiles_at_once and not args.mosaic
           else "give at least one VIDEO or --mosaic VIDEO" if not (args.videos or args.mosaic) else None)
    if why:
        print(f"partkd-stream bench people: error: {why}", file=sys.stderr)
        return 2
    if args.tiles_at_once:
        r = tiles_at_once(args.mosaic)
        if args.json:
            print(json.dumps(r, indent=2))
            return 0
        print(f"--pose-tiles on the mosaic ({r['frames']} frames, 1920x1080), {r['passes']} passes, arms frame by "
              f"frame:")
        for k, v in r["ms_per_frame"].items():
            print(f"  {k:44s} {v:7.1f} ms/frame median  (passes: {' '.join(f'{x:.1f}' for x in r['runs'][k])})")
        return 0
    rows = people_section(args.videos, args.mosaic)
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    for r in rows:
        poses = sum(i * c for i, c in enumerate(r["people_per_frame"]))
        print(f"{r['video']:34s} max_people={r['max_people']}{' tiled' if r['tiled'] else ''}  people/frame {r['people_per_frame']}  upper body "
              f"seen {r['poses_with_upper_body']}/{poses}  ids {r['ids_confirmed']}  all tracked "
              f"{r['frames_all_tracked']}/{r['frames']}  id switches {r['id_switches']}  "
              f"pose {r['pose_ms_median']:.0f} ms/frame")
    return 0


if __name__ == "__main__":
    sys.exit(main())
