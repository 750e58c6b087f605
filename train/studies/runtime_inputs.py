"""How the runtime's input handling (frame-rate resampling, who counts as a person) behaves on real data.

    python -m train.studies.runtime_inputs rates [--fps 30 15 10] [--model everyday] [--every-s 0.2]
    python -m train.studies.runtime_inputs presence [--every 3] [--fps 30] [--model penn] [--presence RULE]
        [SKELETONS.npz …]
    (both: [--shared DIR], default $PARTKD_SHARED_DATA, else ../shared/data beside the repository)

``rates``: UTD-MHAD test subjects (2, 4, 6, 8; trials 1–2, 216 clips), the clean 3D skeletons projected with the
Kinect-v2-like camera of ``train.lib.degrade`` (scores 1), subsampled to each frame rate and streamed through the real
``Recognizer`` with a prediction every ``--every-s`` seconds (0.2 s, the runtime default: 6 frames at 30 fps) at
every rate; a clip's label is the action its stream named most often (none named: missed). A rate that divides
the source's is streamed from every starting frame (30 → 15 fps: the even frames, then the odd ones). Prints clip
top-1 per rate, the share of streams that named no action, and the share of zero-motion joint steps in the
model inputs (joints seen in both frames whose coordinates did not change).

``presence``: Penn Action test clips (1 in ``--every``), streamed with their annotated keypoints and visibility
(0/1 as score) at ``--fps``: share of predictions with a person present, and clip top-1 (as for ``rates``); then
each skeleton file given (``partkd-stream extract`` output, or a .jsonl stream): the share of frames that show a
person, the largest share in any ``span_s`` (after the first), predictions with a person present, predictions that
ran the model, start events. ``--presence`` judges with another rule than the model card's.
"""
from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path
from typing import Iterable, Optional, Sequence

if __package__ in (None, ""):  # run as a file: the same as `python -m train.studies.runtime_inputs`
    sys.path[0] = str(Path(__file__).resolve().parents[1])   # train/, which holds _bootstrap
    import _bootstrap  # noqa: F401  (train/_bootstrap.py)

import numpy as np

from partkd_stream.backends import BACKEND_CHOICES
from partkd_stream.convert import convert, project_to_2d
from partkd_stream.errors import PartkdError
from partkd_stream.recognizer import Recognizer
from partkd_stream.skeleton_io import load_sequence, read_stream
from partkd_stream.window import frame_has_person, presence_rule
from train.datasets.sample import DatasetError
from train.lib.paths import shared_data


def phases(src_fps: float, fps: float) -> range:
    """The distinct ways a camera at ``fps`` can sample a recording at ``src_fps`` (2 for 30 → 15 fps: the even or
    the odd frames; 1 when ``src_fps`` is not a multiple of ``fps``)."""
    k = src_fps / fps
    return range(int(round(k)) if k >= 1 and abs(k - round(k)) < 1e-6 else 1)


def stream_clip(rec: Recognizer, seq: np.ndarray, src_fps: float, fps: float, layout: str, phase: int = 0) -> list:
    """Stream ``seq`` (recorded at ``src_fps``) as a camera at ``fps`` would deliver it, starting at frame
    ``phase``; the predictions."""
    ts = np.arange(phase / src_fps, len(seq) / src_fps, 1.0 / fps)
    idx = np.minimum(np.round(ts * src_fps).astype(int), len(seq) - 1)
    ts = ts - ts[0]
    preds = []
    for t, i in zip(ts, idx):
        p = rec.update(seq[i], float(t), layout)
        if p is not None:
            preds.append(p)
    rec.finish()
    return preds


def clip_label(preds: Sequence) -> Optional[str]:
    """The action the stream said most often (``None`` when it named none: the clip is missed)."""
    votes = Counter(p.label for p in preds if p.label)
    return votes.most_common(1)[0][0] if votes else None


def zero_motion_share(rec: Recognizer) -> tuple[int, int]:
    """(zero-motion, judged) joint steps in the recognizer's current window: seen in both frames, motion exactly 0."""
    cfg = rec.card.preprocess
    x = rec.windows.model_input()[0]
    width = {"coords": cfg.dims, "score": 1, "motion": cfg.dims}
    start = dict(zip(cfg.features, np.cumsum([0] + [width[f] for f in cfg.features])))
    score, motion = x[start["score"]], x[start["motion"]:start["motion"] + cfg.dims]
    seen = (score[1:] > 0) & (score[:-1] > 0)
    return int(((np.abs(motion[:, 1:]).sum(0) == 0) & seen).sum()), int(seen.sum())


def rates(args: argparse.Namespace) -> None:
    from train.datasets.utd_mhad import load_utd_mhad

    _, samples = load_utd_mhad(Path(args.shared) / "utd_mhad" / "skeleton")
    samples = [s for s in samples if s.split == "test" and s.meta["trial"] in (1, 2)]
    rec0 = Recognizer.load(args.model, backend=args.backend, threads=1)
    classes = list(rec0.card.classes)
    clips = [convert(project_to_2d(s.data, focal=1056.0, principal=(976.0, 567.0)), "kinect20", "penn13")
             for s in samples]
    for fps in args.fps:
        right, unknown, zeros, seen, runs = 0, 0, 0, 0, 0
        for s, clip in zip(samples, clips):
            for phase in phases(s.fps, fps):
                rec = Recognizer(rec0.model, every=args.every_s)
                preds = stream_clip(rec, clip, s.fps, fps, "penn13", phase)
                z, n = zero_motion_share(rec)
                zeros, seen = zeros + z, seen + n
                label = clip_label(preds)
                right += label == classes[s.label]
                unknown += label is None
                runs += 1
        print(f"{fps:5.1f} fps: clip top-1 {100 * right / runs:5.1f} % ({right}/{runs} streams: {len(samples)} "
              f"clips × {runs // len(samples)} phases), no action named {100 * unknown / runs:.1f} %, zero-motion "
              f"joint steps in the last window {100 * zeros / max(seen, 1):.1f} %", flush=True)


def presence(args: argparse.Namespace) -> None:
    from train.datasets.penn_action import load_penn_action

    rec0 = Recognizer.load(args.model, backend=args.backend, threads=1)
    rule = presence_rule(args.presence) if args.presence else rec0.presence
    print(f"presence rule: {rule.describe()}")
    classes = list(rec0.card.classes)
    if args.every:
        _, samples = load_penn_action(Path(args.shared) / "penn_action")
        samples = [s for s in samples if s.split == "test"][::args.every]
        for fps in args.fps:
            right, present, total, runs = 0, 0, 0, 0
            for s in samples:
                for phase in phases(s.fps, fps):
                    rec = Recognizer(rec0.model, every=args.every_s, presence=rule)
                    preds = stream_clip(rec, s.data, s.fps, fps, s.layout, phase)
                    present += sum(p.person_present for p in preds)
                    total += len(preds)
                    right += clip_label(preds) == classes[s.label]
                    runs += 1
            print(f"Penn Action test clips, 1 in {args.every} ({len(samples)}), {fps:g} fps: person present in "
                  f"{100 * present / max(total, 1):.1f} % of {total} predictions, clip top-1 "
                  f"{100 * right / runs:.1f} % ({runs} streams)", flush=True)
    for path in args.skeletons:
        layout, frames = skeleton_frames(path)
        rec = Recognizer(rec0.model, presence=rule)
        preds, passing, spans = [], 0, []
        for t, kp in frames:
            p = rec.update(kp, t, layout)
            passing += frame_has_person(kp, layout, rule)
            if t >= frames[0][0] + rule.span_s or t == frames[-1][0]:     # a whole span behind (or all there is)
                spans.append(rec.windows.person_fraction())
            if p is not None:
                preds.append(p)
        rec.finish()
        judged = [p for p in preds if p.reason not in ("warming_up", "no_person")]
        starts = [e.label for p in preds for e in p.events if e.event == "start"]
        print(f"{Path(path).name}: frames passing {100 * passing / len(frames):.0f} %, at most "
              f"{100 * max(spans):.0f} % of any {rule.span_s:g} s; "
              f"{sum(p.person_present for p in preds)} of {len(preds)} predictions with a person, "
              f"{len(judged)} ran the model, start events {starts or 0}", flush=True)


def skeleton_frames(path: str) -> tuple[str, list]:
    """``(layout, [(t, keypoints or None), …])`` of one person's skeleton file (.npz sequence or .jsonl stream)."""
    if path.endswith(".jsonl"):
        header, frames = read_stream(path)
        return str(header["layout"]), [(float(t), kp) for t, _, kp in frames]
    seq = load_sequence(path)
    return seq.layout, [(float(t), kp if (kp[:, -1] > 0).any() else None) for t, kp in zip(seq.timestamps, seq.data)]


def main(argv: Optional[Iterable[str]] = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("rates")
    r.add_argument("--fps", type=float, nargs="+", default=[30.0, 15.0, 10.0])
    r.add_argument("--model", default="everyday")
    p = sub.add_parser("presence")
    p.add_argument("--fps", type=float, nargs="+", default=[30.0])
    p.add_argument("--every", type=int, default=3, help="every Nth Penn Action test clip (0: none)")
    p.add_argument("--model", default="penn")
    p.add_argument("--presence", help="rule instead of the card's: full_body, upper_body or a JSON object")
    p.add_argument("skeletons", nargs="*", help="extracted skeleton files (.npz) to stream as well")
    for q in (r, p):
        q.add_argument("--shared", default=str(shared_data()), help="folder holding utd_mhad/ and penn_action/ "
                       "(default: $PARTKD_SHARED_DATA, else ../shared/data beside the repository)")
        q.add_argument("--backend", default="onnxruntime", choices=BACKEND_CHOICES)
        q.add_argument("--every-s", type=float, default=0.2, help="seconds between predictions (default 0.2)")
    args = ap.parse_args(None if argv is None else list(argv))
    try:
        {"rates": rates, "presence": presence}[args.cmd](args)
    except (PartkdError, DatasetError, ValueError) as e:
        print(f"runtime_inputs: error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
