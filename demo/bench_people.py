"""Several people: who is found and kept (real videos), what pose costs per frame, what recognition costs per person.

    python demo/bench_people.py [--json] [--sections people,pose,recognition] [--repeats 3]

- **people** (real videos in ``../shared/data``, skipped when absent): ``MediaPipeMultiPose`` + ``PersonTracker``
  on ``two_person_hug_ntu.mp4``, ``arm_wrestling_partial_view.mp4`` and a mosaic of four small copies of NTU
  A001 — people found per frame (histogram), how many of those poses show an upper body (the recognizer's
  ``frame_has_person`` rule: only those are recognised), ids confirmed, frames where every person holds a
  confirmed id, and *id switches*: each person keeps a place (left/right in the two clips, a quadrant in the
  mosaic: nobody changes places there), and a switch is the id seen at a place changing — a proxy that needs no
  annotation.
- **pose**: milliseconds per frame of the legacy one-person ``MediaPipePose`` and of ``MediaPipeMultiPose`` with
  ``max_people`` 1, 2, 4 on crops of the NTU videos holding 1, 2 and 4 people (the 4-people frame is two hug crops
  side by side).
- **recognition**: the path window → conversion → preprocessing → model → smoothing for 1, 2 and 4 synthetic
  people (the demo figure, MediaPipe layout → the model's), today's per-person ``Recognizer`` against the batched
  prototype (``TrackWindows``: one push for all people per frame, one model call for all per stride; one
  ``ActionSmoother`` each); see ``recognition_cost``. Timed as CPU time of the calling thread
  (``time.thread_time``; the model runs on 1 thread, in that thread), which a busy shared machine inflates less
  than wall time (it still does: caches and the core's other hyper-thread are shared).

Numbers depend on the machine and its load; this prints them, it asserts nothing.
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Optional

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if __package__ in (None, ""):
    sys.path.insert(0, str(REPO))
os.environ.setdefault("GLOG_minloglevel", "2")
DATA = Path(os.environ.get("PARTKD_SHARED_DATA", REPO.parent / "shared" / "data"))
VIDEOS = ("videos/two_person_hug_ntu.mp4", "videos/arm_wrestling_partial_view.mp4")
NTU_A001 = "ntu/videos/S001C001P001R001A001_rgb.avi"
HUG_CROP = (slice(230, 980), slice(560, 1260))      # rows, cols of the hug video holding both people
A001_CROP = (slice(150, 900), slice(700, 1400))     # the same size around the one person of NTU A001


def read_frames(path: Path, limit: Optional[int] = None) -> tuple[list[np.ndarray], float]:
    import cv2

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


def small_people_mosaic(limit: Optional[int] = None) -> tuple[list[np.ndarray], float]:
    """NTU A001 four times in a 2 × 2 mosaic at 1920×1080 (each copy 25 frames apart): 4 people, a fifth of the
    frame tall — the size of people in a wide shot of a gym or a classroom."""
    import cv2

    frames, fps = read_frames(DATA / NTU_A001)
    n = len(frames)
    out = []
    for k in range(0, n, 2):
        q = [cv2.resize(frames[(k + o) % n], (960, 540)) for o in (0, 25, 50, 75)]
        out.append(np.vstack([np.hstack(q[:2]), np.hstack(q[2:])]))
    return out[:limit], fps / 2


def people_on_video(name: str, frames: list[np.ndarray], fps: float, max_people: int,
                    zones: str) -> dict[str, Any]:
    """Detections per frame, confirmed ids and id switches of the pose estimator + tracker on one clip.

    ``zones``: how the proxy truth tells people apart — ``"x"``: by the order of their hip centres along x (in
    frames with two or more people), ``"quadrant"``: by the quadrant of the frame their hips are in.
    """
    from partkd_stream.pose_multi import MediaPipeMultiPose
    from partkd_stream.tracking import PersonTracker
    from partkd_stream.window import frame_has_person

    tracker = PersonTracker()
    counts, pose_ms, ids, upper_body = [], [], set(), 0
    full, zone_id, switches = 0, {}, 0
    with MediaPipeMultiPose(max_people=max_people) as pose:
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
    return {"video": name, "frames": len(frames), "max_people": max_people,
            "people_per_frame": np.bincount(counts, minlength=max_people + 1).tolist(),
            "poses_with_upper_body": upper_body, "ids_confirmed": len(ids), "frames_all_tracked": full,
            "id_switches": switches,
            "pose_ms_median": float(np.median(pose_ms))}


def people_section() -> list[dict[str, Any]]:
    rows = []
    for v in VIDEOS:
        frames, fps = read_frames(DATA / v)
        for max_people in (2, 4):
            rows.append(people_on_video(Path(v).name, frames, fps, max_people, "x"))
    frames, fps = small_people_mosaic()
    rows.append(people_on_video("A001 2x2 mosaic (4 small people)", frames, fps, 4, "quadrant"))
    return rows


def pose_cost(repeats: int) -> list[dict[str, Any]]:
    """Pose milliseconds per frame: legacy vs multi-person, on frames with 1, 2 and 4 people."""
    from partkd_stream.pose import MediaPipePose
    from partkd_stream.pose_multi import MediaPipeMultiPose

    one, _ = read_frames(DATA / NTU_A001, 60)
    hug, _ = read_frames(DATA / VIDEOS[0], 60)
    sets = {1: [np.ascontiguousarray(f[A001_CROP]) for f in one],
            2: [np.ascontiguousarray(f[HUG_CROP]) for f in hug]}
    sets[4] = [np.hstack([a, sets[2][(k + 30) % len(sets[2])]]) for k, a in enumerate(sets[2])]
    rows = []
    for people, frames in sets.items():
        makers = [("legacy MediaPipePose", MediaPipePose)] + [
            (f"MediaPipeMultiPose(max_people={m})", lambda m=m: MediaPipeMultiPose(max_people=m)) for m in (1, 2, 4)]
        for name, make in makers:
            runs, found = [], []
            for _ in range(repeats):
                ms = []
                with make() as est:
                    for f in frames:
                        t0 = time.perf_counter()
                        res = est.process(f)
                        ms.append((time.perf_counter() - t0) * 1e3)
                        found.append(0 if res is None else (len(res) if isinstance(res, list) else 1))
                runs.append(float(np.median(ms)))
            rows.append({"people_in_frame": people, "frame": f"{frames[0].shape[1]}x{frames[0].shape[0]}",
                         "estimator": name, "ms_per_frame": statistics.median(runs),
                         "people_found_mean": float(np.mean(found))})
    return rows


def _demo_figure():
    spec = importlib.util.spec_from_file_location("make_demo_input", REPO / "demo" / "make_demo_input.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod.pose_frame


def synthetic_people(people: int, frames: int, fps: float = 30.0, seed: int = 0) -> np.ndarray:
    """``[P, T, 33, 3]``: the demo figure ``people`` times, side by side, each with its own action and phase."""
    pose_frame = _demo_figure()
    rng = np.random.default_rng(seed)
    kinds = ("jumping_jacks", "jump_rope")
    out = np.zeros((people, frames, 33, 3), np.float32)
    for p in range(people):
        for k in range(frames):
            xy = pose_frame(kinds[p % 2], k / fps + 0.3 * p) + [400.0 * p, 0.0] + rng.normal(0, 1.5, (33, 2))
            out[p, k, :, :2], out[p, k, :, 2] = xy, 0.95
    return out


class _TimedModel:
    """The loaded model, with the CPU time of its calls added up (the model's share, measured in place)."""

    def __init__(self, model: Any) -> None:
        self.model, self.card, self.ms = model, model.card, 0.0

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        t0 = time.thread_time()
        out = self.model.predict_proba(x)
        self.ms += (time.thread_time() - t0) * 1e3
        return out


def recognition_cost(model: Any, people: int, stride: int, repeats: int, frames: int = 300) -> dict[str, Any]:
    """Per-person ``Recognizer`` vs batched ``TrackWindows`` on the same synthetic frames.

    Per stride (``stride`` frames, one prediction for everyone), CPU milliseconds: ``total`` (pushing every
    person's frames, preprocessing, model, smoothing), ``model`` (its calls, timed where they run: caches are as
    cold as in a real stream), and ``around`` = total − model, the part issue 15 asks to shrink. Also the
    latency of the frame that predicts. Medians over strides after warm-up, then over repeats.
    """
    from partkd_stream.recognizer import Recognizer
    from partkd_stream.smoothing import ActionSmoother
    from partkd_stream.track_windows import TrackWindows

    data = synthetic_people(people, frames)
    ts = np.arange(frames) / 30.0
    warm = int(np.ceil(model.card.preprocess.window / model.card.preprocess.fps * 30)) + stride

    def per_person(timed: _TimedModel):
        recs = [Recognizer(timed, stride=stride) for _ in range(people)]
        for k in range(frames):
            for p, rec in enumerate(recs):
                rec.update(data[p, k], ts[k])
            yield k

    def batched(timed: _TimedModel):
        tw = TrackWindows(model.card.preprocess, "mediapipe33", slots=people)
        smoothers = [ActionSmoother(model.card.classes) for _ in range(people)]
        for k in range(frames):
            tw.push_many(range(people), data[:, k], ts[k])
            if (k + 1) % stride == 0:
                due = [p for p in range(people) if tw.person_present(p)]
                probs = timed.predict_proba(tw.model_input(due)) if due else None
                for p in range(people):
                    smoothers[p].update(probs[due.index(p)] if p in due else None, ts[k], p in due)
            yield k

    out: dict[str, Any] = {"people": people, "stride": stride}
    for name, path in (("per_person", per_person), ("batched", batched)):
        runs = []
        for _ in range(repeats):
            timed = _TimedModel(model)
            totals, models, latency = [], [], []
            acc, t_prev, m_prev = 0.0, time.thread_time(), 0.0
            for k in path(timed):
                now = time.thread_time()
                dt, t_prev = (now - t_prev) * 1e3, now
                acc += dt
                if (k + 1) % stride == 0:
                    if k >= warm:
                        totals.append(acc)
                        models.append(timed.ms - m_prev)
                        latency.append(dt)
                    acc, m_prev = 0.0, timed.ms
            runs.append((np.median(totals), np.median(models), np.median(np.array(totals) - np.array(models)),
                         np.median(latency)))
        for key, vals in zip(("total", "model", "around", "predict_frame"), zip(*runs)):
            out[f"{name}_{key}_ms"] = float(statistics.median(vals))
    return out


def main(argv: Optional[list[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sections", default="people,pose,recognition")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--model", default=None)
    ap.add_argument("--backend", default="onnxruntime")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--stride", type=int, default=6)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    sections = set(args.sections.split(","))
    result: dict[str, Any] = {}
    have_data = all((DATA / v).exists() for v in VIDEOS + (NTU_A001,))
    if not have_data and sections & {"people", "pose"}:
        print(f"bench_people: {DATA} lacks the videos; skipping the people and pose sections", file=sys.stderr)
    if "people" in sections and have_data:
        result["people"] = people_section()
    if "pose" in sections and have_data:
        result["pose"] = pose_cost(args.repeats)
    if "recognition" in sections:
        from partkd_stream.backends import load_model

        model = load_model(model=args.model, backend=args.backend, threads=args.threads)
        result["recognition"] = {"backend": model.backend.name, "threads": args.threads,
                                 "rows": [recognition_cost(model, p, args.stride, args.repeats) for p in (1, 2, 4)]}
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    for r in result.get("people", []):
        poses = sum(i * c for i, c in enumerate(r["people_per_frame"]))
        print(f"{r['video']:34s} max_people={r['max_people']}  people/frame {r['people_per_frame']}  upper body "
              f"seen {r['poses_with_upper_body']}/{poses}  ids {r['ids_confirmed']}  all tracked "
              f"{r['frames_all_tracked']}/{r['frames']}  id switches {r['id_switches']}  "
              f"pose {r['pose_ms_median']:.0f} ms/frame")
    for r in result.get("pose", []):
        print(f"pose  {r['people_in_frame']} people  {r['frame']:9s} {r['estimator']:32s} "
              f"{r['ms_per_frame']:6.1f} ms/frame  found {r['people_found_mean']:.2f}")
    if "recognition" in result:
        rec = result["recognition"]
        print(f"recognition on {rec['backend']}, {rec['threads']} thread(s), stride {args.stride}: CPU ms per stride "
              f"(all people), median")
        print("people | per-person: total  model  around  predict-frame | batched: total  model  around  predict-frame")
        for r in rec["rows"]:
            print(f"{r['people']:6d} | " + "  ".join(f"{r[f'per_person_{k}_ms']:6.3f}" for k in
                                                   ("total", "model", "around", "predict_frame"))
                  + "   | " + "  ".join(f"{r[f'batched_{k}_ms']:6.3f}" for k in
                                        ("total", "model", "around", "predict_frame")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
