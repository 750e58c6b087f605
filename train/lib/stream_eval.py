"""Judging a model as a stream: frames of a video or skeleton file through the real ``Recognizer``, its events
scored against annotated segments (``annotations``) — events, false alarms, delay, per-frame accuracy.

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

Videos go through the same pose path as ``partkd-stream --video`` (``partkd_stream.extract.extract_video``, one
MediaPipe tracker per video, full resolution); a cache folder keeps the extracted skeletons (keyed by path, size and
modification time), so a model can be re-judged without re-running MediaPipe.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Iterable, Iterator, Optional, Sequence

import numpy as np

from partkd_stream.card import CardMismatch
from partkd_stream.reject import Reject, RejectError

from .annotations import LabelledInput, Segment
from .reporting import markdown_table


@dataclass
class StreamRun:
    """What the recognizer said about one input."""

    frame_t: np.ndarray                                   # [F] frame times
    pred_t: np.ndarray                                    # [P] prediction times
    pred_label: list[Optional[str]]                       # [P] state label (None = no action)
    events: list[Segment]                                 # start..end spans of recognised actions
    reasons: dict[str, int] = field(default_factory=dict)  # predictions per reason, where the recognizer gives one
    pred_reason: list[Optional[str]] = field(default_factory=list)  # [P] why the state has no label (None: it has)
    pred_present: list[bool] = field(default_factory=list)          # [P] a person in view at that prediction


def input_frames(path: Path, cache: Optional[Path] = None) -> Iterator[tuple[float, Optional[np.ndarray], str]]:
    """``(t, keypoints [V, C] or None, layout)`` per frame of a video (through MediaPipe) or a skeleton file."""
    from partkd_stream.sources import VIDEO_EXTENSIONS, SkeletonFileSource

    if path.suffix.lower() in VIDEO_EXTENSIONS:
        seq = video_skeletons(path, cache)
        data = seq.first_person()
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
    frame_t, pred_t, labels, events, reasons, why, present = [], [], [], [], {}, [], []
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
        why.append(pred.reason)
        present.append(bool(pred.person_present))
        if pred.reason is not None:
            reasons[pred.reason] = reasons.get(pred.reason, 0) + 1
        take(pred.events)
    take(rec.finish())
    return StreamRun(np.array(frame_t, float), np.array(pred_t, float), labels,
                     sorted(events, key=lambda e: e.start), reasons, why, present)


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

    head = ["input", "duration s", "known segments", "events", "event precision %", "event recall %",
            "false events / min", "median delay s", "frame accuracy %"]
    rows = []
    for item in result["inputs"] + [{"name": "**total**", **result["total"]}]:
        c, r = item["counts"], item["rates"]
        rows.append([item["name"], f"{c['duration_s']:.1f}", c["segments"], c["events"],
                     f(r["event_precision"], True), f(r["event_recall"], True), f(r["false_events_per_min"]),
                     f(r["delay_median_s"]), f(r["frame_accuracy"], True)])
    s = result["settings"]
    rej = s["reject"]
    rej_text = "none (the model card has none)" if rej is None else \
        f"{Reject.from_dict(rej).describe()} (from {s['reject_from']})"
    presence = "" if s.get("presence", "card") == "card" else f", presence {s['presence']}"
    return (markdown_table(head, rows) + f"\nModel `{s['model']}`, a prediction every {s['every_s']:g} s, "
            f"smooth {s['smooth']}, threshold {s['threshold']}, reject {rej_text}{presence}.\n")


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
