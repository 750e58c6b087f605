"""Judge a model as a stream: labelled videos or skeleton files → events, false alarms, delay, per-frame accuracy.

    python -m train.evaluate_stream --annotations labels.yaml [--root DIR] [--model penn|FILE]
        [--stride 6 --smooth 4 --threshold 0.5] [--reject reject.json] [--presence PRESET|JSON] [--cache DIR]
        [--json result.json] [--markdown result.md]

**Annotation file** (YAML or JSON; relative paths are taken from ``root``, itself relative to the file's folder;
``--root`` overrides it)::

    root: clips                                  # optional
    inputs:
      - path: clips/jacks_then_idle.mp4          # a video, or a skeleton file (.npz / .jsonl, any layout)
        segments:                                # [label, t_start, t_end] in seconds of the input's clock
          - [jumping_jacks, 1.0, 6.0]
          - [waving, 8.0, 12.0]                  # a label the model does not know = footage without a known action
      - path: clips/nobody_does_anything.mp4
        segments: none                           # the whole input is footage without a known action

Videos go through the same pose path as ``partkd-stream --video`` (``partkd_stream.extract.extract_video``, one
MediaPipe tracker per video, full resolution); ``--cache DIR`` keeps the extracted skeletons (keyed by path, size
and modification time), so a model can be re-judged without re-running MediaPipe. Every input is streamed through
the real ``Recognizer`` (window, model, smoothing, events) with the given settings.

**What is counted** (per input and in total):

- *events*: the recognizer's start/end pairs; one still on at the end of the input is closed there;
- *event precision*: share of events that overlap a true segment of the same label; *event recall*: share of true
  segments of known actions that some event of their label overlaps (several events on one segment count once for
  recall, and each as correct for precision);
- *false events per minute*: events that overlap no segment of a known action at all, per minute of footage
  without a known action (the input's duration minus its known segments);
- *delay*: for each detected segment, the first overlapping event's start minus the segment's start (negative when
  the event began before the annotated start);
- *per-frame accuracy*: at every input frame, the state (the label of the latest prediction; none before the
  first) against the truth (the known segment covering the frame, else "no action"); also split into frames of
  known actions and frames without one.

The model's reject is the card's (``partkd_stream.reject``: a ``background`` class is never an action, a rejected
window's mass goes to the unknown share); ``--reject FILE`` judges the model with another one instead (a
``reject_<score>.json`` of ``train.reject_study measure``), exactly as the runtime would apply it from the card.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Iterable, Iterator, Optional, Sequence

import numpy as np

from partkd_stream.card import CardMismatch
from partkd_stream.errors import PartkdError
from partkd_stream.reject import Reject, RejectError

VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv")


class AnnotationError(PartkdError, ValueError):
    """An annotation file that cannot be used; the message names the file and the entry."""


@dataclass(frozen=True)
class Segment:
    label: str
    start: float
    end: float


@dataclass
class LabelledInput:
    path: Path
    segments: list[Segment]
    name: str = ""


@dataclass
class StreamRun:
    """What the recognizer said about one input."""

    frame_t: np.ndarray                                   # [F] frame times
    pred_t: np.ndarray                                    # [P] prediction times
    pred_label: list[Optional[str]]                       # [P] state label (None = no action)
    events: list[Segment]                                 # start..end spans of recognised actions
    reasons: dict[str, int] = field(default_factory=dict)  # predictions per reason, where the recognizer gives one


# --- annotations ---------------------------------------------------------------------------------------------------
def load_annotations(path: str | Path, root: str | Path | None = None) -> list[LabelledInput]:
    """Read the annotation file (see the module docstring); one-line ``AnnotationError`` on any mistake."""
    import yaml

    path = Path(path)
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise AnnotationError(f"{path}: annotation file not found") from None
    except yaml.YAMLError as e:
        raise AnnotationError(f"{path}: not valid YAML/JSON ({str(e).splitlines()[0]})") from None
    items = doc.get("inputs") if isinstance(doc, dict) else None
    if not isinstance(items, list) or not items:
        raise AnnotationError(f"{path}: expected a mapping with a non-empty 'inputs' list; see "
                              f"python -m train.evaluate_stream --help")
    base = Path(root) if root is not None else path.parent / str(doc.get("root", "."))
    out = []
    for n, item in enumerate(items, 1):
        where = f"{path}: inputs[{n}]"
        if not isinstance(item, dict) or "path" not in item:
            raise AnnotationError(f"{where}: each input needs a 'path'")
        p = Path(str(item["path"])).expanduser()
        p = p if p.is_absolute() else (base / p)
        if not p.exists():
            raise AnnotationError(f"{where}: {p} does not exist (paths are relative to {base}; see --root)")
        raw = item.get("segments", "none")
        if raw in ("none", None, []):
            segs = []
        elif isinstance(raw, list):
            segs = [_segment(s, f"{where}.segments[{k}]") for k, s in enumerate(raw, 1)]
        else:
            raise AnnotationError(f"{where}: 'segments' must be a list of [label, t_start, t_end] or 'none'")
        out.append(LabelledInput(p, sorted(segs, key=lambda s: s.start), str(item.get("name", p.stem))))
    return out


def _segment(s: Any, where: str) -> Segment:
    if not (isinstance(s, (list, tuple)) and len(s) == 3):
        raise AnnotationError(f"{where}: a segment is [label, t_start, t_end], got {s!r}")
    try:
        seg = Segment(str(s[0]), float(s[1]), float(s[2]))
    except (TypeError, ValueError):
        raise AnnotationError(f"{where}: t_start and t_end must be numbers (seconds), got {s!r}") from None
    if not seg.end > seg.start >= 0:
        raise AnnotationError(f"{where}: need 0 ≤ t_start < t_end, got {s!r}")
    return seg


# --- frames ------------------------------------------------------------------------------------------------------
def input_frames(path: Path, cache: Optional[Path] = None) -> Iterator[tuple[float, Optional[np.ndarray], str]]:
    """``(t, keypoints [V, C] or None, layout)`` per frame of a video (through MediaPipe) or a skeleton file."""
    from partkd_stream.sources import SkeletonFileSource

    if path.suffix.lower() in VIDEO_SUFFIXES:
        seq = video_skeletons(path, cache)
        data = seq.data[0] if seq.data.ndim == 4 else seq.data
        for t, kp in zip(seq.timestamps, data):
            yield float(t), (kp if kp[:, -1].max() > 0 else None), seq.layout
        return
    src = SkeletonFileSource(str(path))
    try:
        for fr in src:
            yield fr.t, (fr.people[0] if fr.people else None), src.layout   # one person: the first in the file
    finally:
        src.close()


def video_skeletons(path: Path, cache: Optional[Path] = None):
    """MediaPipe skeletons of a video (the run mode's pose path), from ``cache`` when extracted before."""
    from partkd_stream.extract import extract_video
    from partkd_stream.skeleton_io import load_sequence, save_sequence

    if cache is None:
        return extract_video(path, max_width=0)
    st = path.stat()
    key = hashlib.sha1(f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}".encode()).hexdigest()[:12]
    cached = Path(cache) / f"{path.stem}-{key}.npz"
    if cached.exists():
        return load_sequence(cached)
    seq = extract_video(path, max_width=0)
    save_sequence(cached, seq)
    return seq


def run_stream(rec: Any, frames: Iterable[tuple[float, Optional[np.ndarray], str]]) -> StreamRun:
    """Feed every frame to a ``Recognizer``; collect its states, events and the reasons for "no action"."""
    frame_t, pred_t, labels, events, reasons = [], [], [], [], {}
    open_: dict[str, float] = {}

    def take(evs) -> None:
        for ev in evs:
            if ev.event == "start":
                open_[ev.label] = ev.t
            elif ev.label in open_:
                events.append(Segment(ev.label, open_.pop(ev.label), ev.t))

    for i, (t, kp, layout) in enumerate(frames):
        frame_t.append(t)
        pred = rec.update(kp, t, layout=layout, frame=i)
        if pred is None:
            continue
        pred_t.append(pred.t)
        labels.append(pred.label)
        if pred.reason is not None:
            reasons[pred.reason] = reasons.get(pred.reason, 0) + 1
        take(pred.events)
    take(rec.finish())
    return StreamRun(np.array(frame_t, float), np.array(pred_t, float), labels,
                     sorted(events, key=lambda e: e.start), reasons)


# --- scoring -----------------------------------------------------------------------------------------------------
def _overlaps(a: Segment, b: Segment) -> bool:
    """Time overlap; an instantaneous event (start = end) overlaps a segment it lies in."""
    if a.start == a.end:
        return b.start <= a.start <= b.end
    return a.start < b.end and a.end > b.start


def _union_length(segs: Sequence[Segment], lo: float, hi: float) -> float:
    spans = sorted((max(s.start, lo), min(s.end, hi)) for s in segs)
    total, cur_s, cur_e = 0.0, None, None
    for s, e in spans:
        if e <= s:
            continue
        if cur_e is None or s > cur_e:
            total += 0.0 if cur_e is None else cur_e - cur_s
            cur_s, cur_e = s, e
        else:
            cur_e = max(cur_e, e)
    return total + (0.0 if cur_e is None else cur_e - cur_s)


def score_stream(run: StreamRun, segments: Sequence[Segment], classes: Sequence[str]) -> dict[str, Any]:
    """The counts of the module docstring for one input (counts, not ratios, so inputs can be summed);
    ``classes``: the model's actions."""
    known_labels = set(classes)
    ft = run.frame_t
    if len(ft) == 0:
        return {"frames": 0, "duration_s": 0.0, "segments": 0, "events": 0, "events_correct": 0, "segments_hit": 0,
                "false_events": 0, "negative_s": 0.0, "delays_s": [], "frames_correct": 0, "action_frames": 0,
                "action_frames_correct": 0, "none_frames": 0, "none_frames_correct": 0, "reasons": run.reasons,
                "event_list": []}
    step = float(np.median(np.diff(ft))) if len(ft) > 1 else 0.0
    t0, t1 = float(ft[0]), float(ft[-1]) + step
    known = [s for s in segments if s.label in known_labels and s.end > t0 and s.start < t1]
    known = [Segment(s.label, max(s.start, t0), min(s.end, t1)) for s in known]   # a stream may end mid-action
    correct = [any(_overlaps(e, s) and e.label == s.label for s in known) for e in run.events]
    false = [not any(_overlaps(e, s) for s in known) for e in run.events]
    delays, hit = [], 0
    for s in known:
        matching = [e for e in run.events if e.label == s.label and _overlaps(e, s)]
        if matching:
            hit += 1
            delays.append(round(min(e.start for e in matching) - s.start, 4))
    # per-frame state: the latest prediction's label at or before each frame
    k = np.searchsorted(run.pred_t, ft, side="right") - 1
    state = [None if i < 0 else run.pred_label[i] for i in k]
    truth: list[set] = [set() for _ in ft]
    for s in known:
        for i in np.flatnonzero((ft >= s.start) & (ft < s.end)):
            truth[i].add(s.label)
    ok = np.array([(st in tr) if tr else st is None for st, tr in zip(state, truth)])
    has_action = np.array([bool(tr) for tr in truth])
    return {"frames": int(len(ft)), "duration_s": round(t1 - t0, 4), "segments": len(known),
            "events": len(run.events), "events_correct": int(sum(correct)), "segments_hit": hit,
            "false_events": int(sum(false)), "negative_s": round((t1 - t0) - _union_length(known, t0, t1), 4),
            "delays_s": delays, "frames_correct": int(ok.sum()), "action_frames": int(has_action.sum()),
            "action_frames_correct": int(ok[has_action].sum()), "none_frames": int((~has_action).sum()),
            "none_frames_correct": int(ok[~has_action].sum()), "reasons": run.reasons,
            "event_list": [[e.label, round(e.start, 4), round(e.end, 4)] for e in run.events]}


def rates(c: dict[str, Any]) -> dict[str, Optional[float]]:
    """Ratios from counts; ``None`` where undefined (no events, no segments, no negative footage)."""
    div = lambda a, b: (a / b) if b else None  # noqa: E731
    d = c["delays_s"]
    return {"event_precision": div(c["events_correct"], c["events"]),
            "event_recall": div(c["segments_hit"], c["segments"]),
            "false_events_per_min": div(c["false_events"], c["negative_s"] / 60.0),
            "delay_median_s": float(np.median(d)) if d else None,
            "delay_mean_s": float(np.mean(d)) if d else None,
            "frame_accuracy": div(c["frames_correct"], c["frames"]),
            "action_frame_accuracy": div(c["action_frames_correct"], c["action_frames"]),
            "none_frame_accuracy": div(c["none_frames_correct"], c["none_frames"])}


def total(counts: Sequence[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for c in counts:
        for k, v in c.items():
            if k in ("event_list",):
                continue
            if k == "reasons":
                r = out.setdefault("reasons", {})
                for kk, vv in v.items():
                    r[kk] = r.get(kk, 0) + vv
            elif isinstance(v, list):
                out[k] = out.get(k, []) + v
            else:
                out[k] = out.get(k, 0) + v
    return out


def markdown(result: dict[str, Any]) -> str:
    def f(v: Optional[float], pct: bool = False, nd: int = 2) -> str:
        if v is None:
            return "–"
        return f"{100 * v:.1f}" if pct else f"{v:.{nd}f}"

    rows = ["| input | duration s | known segments | events | event precision % | event recall % | "
            "false events / min | median delay s | frame accuracy % |",
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for item in result["inputs"] + [{"name": "**total**", **result["total"]}]:
        c, r = item["counts"], item["rates"]
        rows.append(f"| {item['name']} | {c['duration_s']:.1f} | {c['segments']} | {c['events']} | "
                    f"{f(r['event_precision'], True)} | {f(r['event_recall'], True)} | "
                    f"{f(r['false_events_per_min'])} | {f(r['delay_median_s'])} | {f(r['frame_accuracy'], True)} |")
    s = result["settings"]
    rej = s["reject"]
    rej_text = "none (the model card has none)" if rej is None else \
        f"{Reject.from_dict(rej).describe()} (from {s['reject_from']})"
    presence = "" if s.get("presence", "card") == "card" else f", presence {s['presence']}"
    return ("\n".join(rows) + f"\n\nModel `{s['model']}`, stride {s['stride']}, smooth {s['smooth']}, threshold "
            f"{s['threshold']}, reject {rej_text}{presence}.\n")


def with_reject(model: Any, reject: Any) -> Any:
    """A loaded model whose card carries ``reject`` instead of its own (``CardMismatch`` when it does not fit)."""
    try:
        reject.check_classes(model.card.classes)
    except RejectError as e:
        raise CardMismatch(f"model {model.card.name!r}: {e}") from None
    return replace(model, card=replace(model.card, reject=reject))


def evaluate(inputs: Sequence[LabelledInput], rec_factory, classes: Sequence[str],
             cache: Optional[Path] = None) -> dict[str, Any]:
    """Run and score every input with a fresh recognizer from ``rec_factory()``."""
    per = []
    for item in inputs:
        run = run_stream(rec_factory(), input_frames(item.path, cache))
        counts = score_stream(run, item.segments, classes)
        per.append({"name": item.name, "path": str(item.path), "counts": counts, "rates": rates(counts)})
    tot = total([p["counts"] for p in per])
    return {"inputs": per, "total": {"counts": tot, "rates": rates(tot)}}


def main(argv: Optional[Sequence[str]] = None) -> int:
    from partkd_stream.recognizer import DEFAULT_SMOOTH, DEFAULT_STRIDE, DEFAULT_THRESHOLD

    p = argparse.ArgumentParser(prog="python -m train.evaluate_stream", description=__doc__.split("\n\n")[0])
    p.add_argument("--annotations", required=True, metavar="FILE", help="YAML/JSON: inputs and their segments")
    p.add_argument("--root", metavar="DIR", help="folder the inputs' relative paths start from (default: the "
                   "file's 'root', else its folder)")
    p.add_argument("--model", help="model (.onnx with card, or .pt); default: the shipped model")
    p.add_argument("--backend", default="auto", choices=("auto", "tensorrt", "onnxruntime", "pytorch"))
    p.add_argument("--threads", type=int, default=1, help="CPU threads for the model (default %(default)s)")
    p.add_argument("--stride", type=int, default=DEFAULT_STRIDE)
    p.add_argument("--smooth", type=int, default=DEFAULT_SMOOTH)
    p.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD)
    p.add_argument("--reject", metavar="JSON", help="judge the model with this reject (partkd_stream.reject.Reject) "
                   "instead of its card's")
    p.add_argument("--presence", metavar="PRESET|JSON", help="judge with this presence rule instead of the card's: "
                   "full_body, upper_body or a JSON object of partkd_stream.window.PresenceRule fields")
    p.add_argument("--cache", metavar="DIR", help="keep MediaPipe skeletons of videos here and reuse them")
    p.add_argument("--json", metavar="FILE", help="write the full result as JSON")
    p.add_argument("--markdown", metavar="FILE", help="write the table as markdown")
    args = p.parse_args(list(sys.argv[1:] if argv is None else argv))
    from partkd_stream.backends import ModelLoadError, load_model
    from partkd_stream.recognizer import Recognizer
    from partkd_stream.sources import SourceError
    from partkd_stream.window import presence_rule

    try:
        if args.stride < 1 or args.smooth < 1 or not 0.0 <= args.threshold <= 1.0:
            raise AnnotationError("--stride and --smooth must be ≥ 1 and --threshold in [0, 1]")
        try:
            presence = presence_rule(args.presence) if args.presence else None
        except (TypeError, ValueError) as e:
            raise AnnotationError(f"--presence: {e}") from None
        inputs = load_annotations(args.annotations, args.root)
        model = load_model(args.model, backend=args.backend, threads=args.threads)
        if args.reject:
            model = with_reject(model, Reject.load(args.reject))
        actions = model.card.open_set.actions
        result = evaluate(inputs, lambda: Recognizer(model, stride=args.stride, smooth=args.smooth,
                                                     threshold=args.threshold, presence=presence), actions,
                          Path(args.cache) if args.cache else None)
    except (AnnotationError, ModelLoadError, CardMismatch, SourceError, RejectError, OSError) as e:
        print(f"evaluate_stream: error: {str(e).splitlines()[0] if str(e) else type(e).__name__}", file=sys.stderr)
        return 1
    reject = model.card.reject
    result["settings"] = {"model": str(args.model or "default"), "stride": args.stride, "smooth": args.smooth,
                          "threshold": args.threshold, "reject": reject.to_dict() if reject else None,
                          "reject_from": args.reject or ("card" if reject else None),
                          "presence": args.presence or "card",
                          "annotations": args.annotations}
    table = markdown(result)
    print(table, end="")
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")
    if args.markdown:
        Path(args.markdown).parent.mkdir(parents=True, exist_ok=True)
        Path(args.markdown).write_text(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
