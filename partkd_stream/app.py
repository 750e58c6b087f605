"""``partkd-stream --camera / --video / --skeletons``: the run mode, a thin layer over ``Recognizer``.

``source → pose (MediaPipe, video sources only) → Recognizer (window → model → smoothing) → sinks``.
Bad input gives one line on stderr and exit 1 (argparse usage errors: exit 2); Ctrl-C stops cleanly with every
output file complete (exit 130).
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Iterator, Optional, Sequence

from .backends import ModelLoadError, load_model
from .card import CardMismatch
from .recognizer import DEFAULT_SMOOTH, DEFAULT_STRIDE, DEFAULT_THRESHOLD, Recognizer
from .sinks import DisplaySink, JsonlSink, RunSummary, VideoSink, display_available
from .sources import SourceError, Source, SkeletonFileSource, expand_video_args, open_camera, open_video

PROG = "partkd-stream"


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=PROG, description="Recognise human actions from skeletons in real time.")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--camera", type=int, metavar="INDEX", help="live camera (e.g. 0)")
    src.add_argument("--video", nargs="+", metavar="PATH",
                     help="video file(s), folder(s), glob(s) or stream URL(s); one output per input")
    src.add_argument("--skeletons", metavar="FILE",
                     help="recorded keypoints: .jsonl stream or .npz sequence (see partkd_stream/skeleton_io.py)")
    m = p.add_argument_group("model")
    m.add_argument("--model", metavar="ONNX|PT", help="model (.onnx with its .card.json, or a checkpoint); "
                                                      "default: the shipped engines/penn_student.onnx")
    m.add_argument("--backend", default="auto", choices=("auto", "tensorrt", "onnxruntime", "pytorch"))
    m.add_argument("--threads", type=int, default=None, help="CPU threads for the model (default: backend's)")
    r = p.add_argument_group("recognition")
    r.add_argument("--stride", type=int, default=DEFAULT_STRIDE, help="predict every N frames (default %(default)s)")
    r.add_argument("--smooth", type=int, default=DEFAULT_SMOOTH,
                   help="average the last N predictions' probabilities (default %(default)s)")
    r.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD,
                   help="below this averaged probability the state is 'no action' (default %(default)s)")
    r.add_argument("--topk", type=int, default=3, help="classes listed per prediction (default %(default)s)")
    o = p.add_argument_group("outputs")
    o.add_argument("--out", metavar="FILE.jsonl|DIR", help="JSON Lines of predictions and events "
                                                           "(a folder when there are several inputs)")
    o.add_argument("--render", metavar="FILE.mp4|DIR", help="annotated video (a folder for several inputs)")
    o.add_argument("--no-display", action="store_true", help="no window (automatic without a display)")
    o.add_argument("--quiet", action="store_true", help="no progress bar and no summary")
    return p


def _error(msg: str, code: int = 1) -> int:
    print(f"{PROG}: error: {msg}", file=sys.stderr)
    return code


def _output_for(spec: Optional[str], input_name: str, n_inputs: int, ext: str, used: set[str]) -> Optional[str]:
    """``--out``/``--render`` for one input: the file itself for one input, ``DIR/<stem><ext>`` for several."""
    if spec is None:
        return None
    if n_inputs == 1 and Path(spec).suffix.lower() == ext:
        return spec
    if Path(spec).suffix.lower() == ext:
        raise SourceError(f"{spec}: several inputs need a folder for their outputs, not one {ext} file")
    stem = Path(input_name.rstrip("/")).stem or "stream"
    name, k = stem, 1
    while name in used:
        k += 1
        name = f"{stem}_{k}"
    used.add(name)
    return str(Path(spec) / f"{name}{ext}")


ERRORS = (SourceError, ModelLoadError, CardMismatch, OSError)   # each carries a one-line message


class Run:
    """One source through the recognizer into its sinks; ``close`` always leaves complete files."""

    def __init__(self, source: Source, rec: Recognizer, out: Optional[str], render: Optional[str],
                 display: Optional[DisplaySink], progress: bool) -> None:
        self.source, self.rec, self.display = source, rec, display
        self.jsonl = JsonlSink(out) if out else None
        self.render_path = render
        self.video: Optional[VideoSink] = None
        self.summary = RunSummary(name=source.name)
        self.progress = progress
        self.pose = None
        self._t0 = time.perf_counter()

    def _emit(self, pred) -> None:
        self.summary.predictions += 1
        if self.jsonl:
            self.jsonl.prediction(pred)
        self._events(pred.events)

    def _events(self, events) -> None:
        if self.jsonl:
            self.jsonl.events(events)
        self.summary.add_events(events)

    def frames(self) -> Iterator:
        it = iter(self.source)
        if self.progress and not self.source.live:
            from tqdm import tqdm
            it = tqdm(it, total=self.source.total, desc=Path(self.source.name).name, unit="frame", leave=False,
                      disable=None)
        return it

    def run(self) -> bool:
        """Process every frame; False when the user asked to quit (window closed or ``q``)."""
        src = self.source
        if src.has_images:
            self.rec.check_source("mediapipe33", 3)
            os.environ.setdefault("GLOG_minloglevel", "2")   # keep MediaPipe's C++ log off the console
            from .pose import MediaPipePose
            self.pose = MediaPipePose()
        last = None
        fps_ema: Optional[float] = None
        t_prev = time.perf_counter()
        for frame in self.frames():
            if frame.image is not None:
                res = self.pose.process(frame.image)
                kp, layout = (None if res is None else res.keypoints_2d()), "mediapipe33"
            else:
                kp, layout = frame.keypoints, src.layout
            pred = self.rec.update(kp, frame.t, layout=layout, frame=frame.index)
            self.summary.frames += 1
            if kp is not None:
                self.summary.person_frames += 1
            if pred is not None:
                last = pred
                self._emit(pred)
            now = time.perf_counter()
            dt, t_prev = now - t_prev, now
            fps_ema = (1.0 / dt if fps_ema is None else 0.9 * fps_ema + 0.1 / dt) if dt > 0 else fps_ema
            if frame.image is not None and (self.render_path or self.display):
                image = self._annotate(frame.image, kp, last, fps_ema)
                if self.render_path:
                    if self.video is None:
                        self.video = VideoSink(self.render_path, src.fps or 30.0, (image.shape[1], image.shape[0]))
                    self.video.write(image)
                if self.display and not self.display.show(image):
                    return False
        return True

    @staticmethod
    def _annotate(image, kp, pred, fps):
        from .overlay import draw_skeleton, draw_status
        image = image.copy()
        draw_skeleton(image, kp, "mediapipe33")
        if pred is None:
            draw_status(image, None, 0.0, kp is not None, fps)
        else:
            draw_status(image, pred.label, pred.score, pred.person_present, fps)
        return image

    def close(self, interrupted: bool = False) -> RunSummary:
        self._events(self.rec.finish())
        for closer in (self.jsonl, self.video):
            if closer is not None:
                closer.close()
        if self.pose is not None:
            self.pose.close()
        self.source.close()
        self.summary.drops = self.source.drops
        self.summary.seconds = time.perf_counter() - self._t0
        self.summary.interrupted = interrupted
        return self.summary


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    for name, v, lo in (("--stride", args.stride, 1), ("--smooth", args.smooth, 1), ("--topk", args.topk, 1)):
        if v < lo:
            return _error(f"{name} must be ≥ {lo}, got {v}", 2)
    if not 0.0 <= args.threshold <= 1.0:
        return _error(f"--threshold must be in [0, 1], got {args.threshold}", 2)
    errors = ERRORS
    try:
        if args.video:
            inputs = expand_video_args(args.video)
        elif args.skeletons:
            inputs = [args.skeletons]
        else:
            inputs = [f"camera{args.camera}"]
        if args.skeletons and args.render:
            raise SourceError("--render draws on video frames; use it with --video or --camera")
        # Open the first source before loading the model: a bad path fails fast, with nothing else printed.
        first = _open(args, inputs[0])
        model = load_model(model=args.model, backend=args.backend, threads=args.threads)
    except errors as e:
        return _error(_one_line(e))
    display = None
    if first.has_images and not args.no_display and display_available():
        display = DisplaySink()
    used_out: set[str] = set()
    used_render: set[str] = set()
    failed = 0
    summaries: list[RunSummary] = []
    source: Optional[Source] = first
    try:
        for i, name in enumerate(inputs):
            run = None
            try:
                if source is None:
                    source = _open(args, name)
                rec = Recognizer(model, stride=args.stride, smooth=args.smooth, threshold=args.threshold,
                                 topk=args.topk)
                run = Run(source, rec, _output_for(args.out, name, len(inputs), ".jsonl", used_out),
                          _output_for(args.render, name, len(inputs), ".mp4", used_render), display,
                          progress=not args.quiet)
                keep_going = run.run()
                summaries.append(run.close())
                run = None
                if not keep_going:
                    break
            except errors as e:
                if run is not None:
                    run.close()
                elif source is not None:
                    source.close()
                failed += 1
                _error(_one_line(e))
                if len(inputs) == 1:
                    return 1
            except KeyboardInterrupt:
                if run is not None:
                    summaries.append(run.close(interrupted=True))
                raise
            source = None
    except KeyboardInterrupt:
        if not args.quiet:
            for s in summaries:
                print(s.text())
        print(f"{PROG}: interrupted; outputs written so far are complete", file=sys.stderr)
        return 130
    finally:
        if display is not None:
            display.close()
    if not args.quiet:
        for s in summaries:
            print(s.text())
    return 1 if failed else 0


def _open(args: argparse.Namespace, name: str) -> Source:
    if args.camera is not None:
        return open_camera(args.camera)
    if args.skeletons:
        return SkeletonFileSource(name)
    return open_video(name)


def _one_line(e: BaseException) -> str:
    text = str(e).strip() or type(e).__name__
    return " ".join(text.split("\n")[0].split()) if "\n" in text else text


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
