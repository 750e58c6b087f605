"""``partkd-stream --camera / --video / --skeletons``: the run mode, a thin layer over ``Recognizer``.

``source → pose estimator (video sources) → Recognizer (window → model → smoothing) → sinks``. The estimator is
injected (``main(..., estimator_factory=…)``, default ``MediaPipePose``, or ``MediaPipeMultiPose`` for
``--max-people`` > 1; one per video so tracking starts fresh) and ``Run`` takes the keypoint layout from it.
``--max-people 1`` follows the most prominent person (``Recognizer.update``; records carry ``"person": null``);
more people are tracked, each with their own id, window, smoother and events (``Recognizer.update_people``). Every output path is checked before the model, the estimator or a
file is touched, and refused when it is one of the inputs (``sinks.check_not_inputs``). Bad input gives one line on
stderr and exit 1 (argparse usage errors: exit 2); in a batch, a bad input is skipped and the rest run. Ctrl-C and
SIGTERM stop the same way: the open action gets its ``end`` event, every output file is complete (the mp4
playable), the summary is printed; exit 130 (Ctrl-C) or 143 (SIGTERM) — also when a blocking call never returns
(``signals``: the watchdog).
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from contextlib import suppress
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Callable, Iterator, NamedTuple, Optional, Sequence

import numpy as np

from . import cluster
from .backends import BACKEND_CHOICES, check_threads, load_model
from .card import card_path_for
from .errors import PartkdError
from .models import UnknownModel, resolve_model
from .models import is_path as is_model_path
from .overlay import FpsMeter, annotate, annotate_people
from .pose import MediaPipePose, PoseEstimator
from .recognizer import DEFAULT_EVERY_S, DEFAULT_SMOOTH, DEFAULT_THRESHOLD, MAX_EVERY_S, Prediction, Recognizer
from .signals import deferred_interrupts, exit_code, raise_if_interrupted, terminate_as_interrupt
from .sinks import (DisplaySink, JsonlSink, RunSummary, SinkError, VideoSink, check_not_inputs, check_output_path,
                    display_available)
from .sources import (DEFAULT_FPS, Frame, SkeletonFileSource, Source, SourceError, find_videos, is_url, open_camera,
                      open_video)

PROG = "partkd-stream"
EstimatorFactory = Callable[[], PoseEstimator]
MAX_PEOPLE = 1000   # --max-people: a bound for MediaPipe's 32-bit pose count and for the per-person state kept
ERRORS = (PartkdError, OSError)   # each carries a one-line message


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=PROG, description="Recognise human actions from skeletons in real time.")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--camera", type=int, metavar="INDEX", help="live camera (e.g. 0)")
    src.add_argument("--video", nargs="+", metavar="PATH",
                     help="video file(s), folder(s), glob(s) or stream URL(s); one output per input")
    src.add_argument("--skeletons", metavar="FILE",
                     help="recorded keypoints: .jsonl stream or .npz sequence (see partkd_stream/skeleton_io.py)")
    m = p.add_argument_group("model")
    m.add_argument("--model", metavar="NAME|FILE",
                   help="a shipped model by name ('partkd-stream models' lists them: penn, …) or a model file (.onnx "
                        "with its card, or a .pt checkpoint); default: $PARTKD_MODEL, else penn")
    m.add_argument("--backend", default="auto", choices=BACKEND_CHOICES)
    m.add_argument("--threads", type=int, default=None,
                   help="CPU threads for the model, 1 to the cores this process may use (default: backend's)")
    r = p.add_argument_group("recognition")
    r.add_argument("--every", type=float, default=DEFAULT_EVERY_S, metavar="SECONDS",
                   help="predict every SECONDS of stream time, whatever the frame rate (default %(default)s: every 6th "
                        "frame at 30 fps)")
    r.add_argument("--stride", type=int, help=argparse.SUPPRESS)   # frames: replaced by --every, refused with a hint
    r.add_argument("--smooth", type=int, default=DEFAULT_SMOOTH,
                   help="average the last N predictions' probabilities (default %(default)s)")
    r.add_argument("--threshold", type=float, default=DEFAULT_THRESHOLD,
                   help="below this averaged probability the state is 'no action' (default %(default)s)")
    r.add_argument("--topk", type=int, default=3, help="classes listed per prediction (default %(default)s)")
    r.add_argument("--max-people", type=int, default=1, metavar="N",
                   help="recognise up to N people per frame, each with a track id (default %(default)s: the most "
                        "prominent person, untracked); with video, N > 1 uses MediaPipe's multi-person landmarker")
    r.add_argument("--pose-tiles", action="store_true",
                   help="also look for people in four overlapping tiles of each frame: finds people too small for "
                        "the pose detector (a fifth of the frame tall, a wide shot), at about five times the pose "
                        "time; uses the multi-person landmarker even for one person")
    o = p.add_argument_group("outputs")
    o.add_argument("--out", metavar="FILE.jsonl|DIR", help="JSON Lines of predictions and events "
                                                           "(a folder when there are several inputs)")
    o.add_argument("--render", metavar="FILE.mp4|DIR", help="annotated video (a folder for several inputs)")
    o.add_argument("--no-display", action="store_true", help="no window (automatic without a display)")
    o.add_argument("--quiet", action="store_true", help="no progress bar and no summary")
    cluster.add_option(p.add_argument_group("many videos"))
    return p


def _error(msg: str, code: int = 1) -> int:
    print(f"{PROG}: error: {msg}", file=sys.stderr)
    return code


def _output_for(spec: Optional[str], flag: str, input_name: str, n_inputs: int, ext: str,
                used: set[str]) -> Optional[str]:
    """``--out``/``--render`` for one input: the ``ext`` file itself for one input, else ``DIR/<stem><ext>``.

    A spec is a folder when it exists as one, ends with ``/``, or is a new name without a suffix; an existing file
    is a file whatever its name (``/dev/stdout``); a new name with another suffix than ``ext`` is a mistake
    (``--out preds.txt``), not a folder to create."""
    if spec is None:
        return None
    p = Path(spec)
    folder = p.is_dir() or spec.endswith(("/", "\\")) or not (p.suffix or p.exists())
    if not folder and not p.exists() and p.suffix.lower() != ext:
        raise SinkError(f"{flag} {spec}: this output is written as {ext}; give a {ext} file name, or a folder "
                        f"(ending with /) for one file per input")
    if not folder:
        if n_inputs > 1:
            raise SinkError(f"{flag} {spec}: several inputs need a folder for their outputs, not one {ext} file")
        return spec
    stem = Path(input_name.rstrip("/")).stem or "stream"
    name, k = stem, 1
    while name in used:
        k += 1
        name = f"{stem}_{k}"
    used.add(name)
    return str(p / f"{name}{ext}")


class Run:
    """One source through the pose estimator and the recognizer into its sinks.

    It owns what it is given: ``close`` finishes the recognizer (``end`` events for an action still on), then
    closes the sinks, the estimator and the source — each even when another fails — and returns the summary.
    """

    def __init__(self, source: Source, rec: Recognizer, estimator: Optional[PoseEstimator] = None,
                 jsonl: Optional[JsonlSink] = None, video: Optional[VideoSink] = None,
                 display: Optional[DisplaySink] = None, progress: bool = False,
                 startup_s: Optional[float] = None, max_people: int = 1) -> None:
        if source.has_images and estimator is None:
            raise ValueError("a video source needs a pose estimator")
        if max_people < 1:
            raise ValueError(f"max_people must be ≥ 1, got {max_people}")
        self.source, self.rec, self.estimator = source, rec, estimator
        self.layout = estimator.layout if source.has_images else source.layout
        self.jsonl, self.video, self.display = jsonl, video, display
        self.progress = progress
        self.max_people = max_people
        self.summary = RunSummary(name=source.name, startup_s=startup_s,
                                  people=set() if max_people > 1 else None)
        self.last: dict[Optional[int], Prediction] = {}   # the latest prediction per person (None: the one person)
        self.fps = FpsMeter()
        self._closed = False

    def frames(self) -> Iterator[Frame]:
        it: Iterator[Frame] = iter(self.source)
        if self.progress and not self.source.live:
            from tqdm import tqdm
            it = tqdm(it, total=self.source.total, desc=Path(self.source.name).name, unit="frame", leave=False,
                      disable=None)
        return it

    def run(self) -> bool:
        """Process every frame; False when the user asked to quit (window closed or ``q``)."""
        t0 = time.perf_counter()
        try:
            for frame in self.frames():
                people = self.people(frame)
                # A frame is recognised, recorded and drawn whole or not at all: a Ctrl-C / SIGTERM arriving here
                # is raised once the frame is done, so the summary's frame count, the JSONL and the video agree.
                with deferred_interrupts():
                    if not self.step(frame, people):
                        return False
            return True
        finally:
            self.summary.seconds = time.perf_counter() - t0

    def step(self, frame: Frame, people: list[np.ndarray]) -> bool:
        """Recognise, record and draw one frame; False when the window asks to quit."""
        if self.max_people == 1:
            pred = self.rec.update(people[0] if people else None, frame.t, layout=self.layout, frame=frame.index)
            preds = [pred] if pred is not None else []
        else:
            preds = self.rec.update_people(people, frame.t, layout=self.layout, frame=frame.index)
        self.record(people, preds)
        return frame.image is None or self.show(frame.image, people)

    def people(self, frame: Frame) -> list[np.ndarray]:
        """The frame's skeletons, most prominent first, at most ``max_people``: from the estimator, or recorded."""
        if frame.image is None:
            return list(frame.people or [])[:self.max_people]
        return [p.keypoints_2d() for p in self.estimator.process(frame.image)[:self.max_people]]

    def record(self, people: list[np.ndarray], preds: list[Prediction]) -> None:
        self.summary.frames += 1
        self.summary.person_frames += bool(people)
        for pred in preds:
            self.last[pred.person] = pred
            self.summary.add_prediction(pred)
            if self.jsonl:
                self.jsonl.prediction(pred)
                self.jsonl.events(pred.events)
        if self.max_people > 1 and preds:
            tracked = self.rec.people()
            self.last = {p: pred for p, pred in self.last.items() if p in tracked}   # ended tracks: forgotten

    def show(self, image: np.ndarray, people: list[np.ndarray]) -> bool:
        """Annotated frame into the video and the window; False when the window asks to quit."""
        if self.video is None and self.display is None:
            return True
        if self.max_people == 1:
            annotated = annotate(image, people[0] if people else None, self.layout, self.last.get(None),
                                 self.fps.tick())
        else:
            tracked = [(p, kp, self.last.get(p)) for p, kp in self.rec.in_view]
            others = [kp for kp in people if not any(kp is t for _, t, _ in tracked)]
            annotated = annotate_people(image, self.layout, tracked, others, self.fps.tick())
        if self.video is not None:
            self.video.write(annotated)
        return self.display is None or self.display.show(annotated)

    def _events(self, events) -> None:
        if self.jsonl:
            self.jsonl.events(events)
        self.summary.add_events(events)

    def close(self, interrupted: bool = False) -> RunSummary:
        """Finish and close everything (once); raises the first error met, after closing all the rest."""
        if self._closed:
            return self.summary
        self._closed = True
        failures: list[Exception] = []
        steps = [lambda: self._events(self.rec.finish())]
        steps += [r.close for r in (self.jsonl, self.video, self.estimator, self.source) if r is not None]
        for step in steps:
            try:
                step()
            except Exception as e:  # noqa: BLE001 - every resource gets closed; the first failure is raised below
                failures.append(e)
        s = self.summary
        s.drops, s.time_drops, s.interrupted = self.source.drops, self.rec.dropped_frames, interrupted
        if self.jsonl:
            s.outputs.append(f"predictions → {self.jsonl.path}")
        if self.video:
            s.outputs.append(f"annotated video → {self.video.describe()}")
        warning = None if interrupted else self.source.warning()
        if warning:
            s.warnings.append(warning)
        if self.rec.clock_back is not None:
            frame, t, before = self.rec.clock_back
            s.warnings.append(f"{self.source.name}: the clock runs backwards at frame {frame} ({t:g} s after "
                              f"{before:g} s); {self.rec.dropped_frames} frames dropped for their timestamps (each "
                              f"frame must come after the one before: re-time the stream)")
        most = getattr(self.source, "most_people", 0)
        if most > self.max_people:
            s.warnings.append(f"{self.source.name}: up to {most} people per frame; followed the first "
                              f"{self.max_people} of each frame (recognise everyone with --max-people {most})")
        if failures:
            raise failures[0]
        return s


def main(argv: Optional[Sequence[str]] = None, estimator_factory: Optional[EstimatorFactory] = None) -> int:
    """The run mode; ``estimator_factory`` makes the pose estimator for each video source (default MediaPipe)."""
    args = build_parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    if args.stride is not None:
        return _error(f"--stride (frames) was replaced by --every SECONDS, a cadence in stream time: --stride "
                      f"{args.stride} at 30 fps is --every {args.stride / 30:.4g}", 2)
    if not 0 < args.every <= MAX_EVERY_S:
        return _error(f"--every must be in (0, {MAX_EVERY_S:g}] seconds, got {args.every}", 2)
    for name, v, lo in (("--smooth", args.smooth, 1), ("--topk", args.topk, 1)):
        if v < lo:
            return _error(f"{name} must be ≥ {lo}, got {v}", 2)
    if not 1 <= args.max_people <= MAX_PEOPLE:
        return _error(f"--max-people must be 1 to {MAX_PEOPLE} (people recognised per frame), got {args.max_people}",
                      2)
    try:
        check_threads(args.threads, "--threads")
    except PartkdError as e:
        return _error(str(e), 2)
    if not 0.0 <= args.threshold <= 1.0:
        return _error(f"--threshold must be in [0, 1], got {args.threshold}", 2)
    if args.ray is not None:
        if not args.video:
            return _error("--ray runs a batch of video files on Ray; use it with --video", 2)
        try:
            cluster.import_ray(local=not cluster.joins_cluster(cluster.check_address(args.ray)))
        except PartkdError as e:
            return _error(str(e), 2)
    with terminate_as_interrupt(PROG):
        try:
            try:
                return _run_inputs(args, estimator_factory or default_estimator(args.max_people, args.pose_tiles))
            except Exception:
                raise_if_interrupted()
                raise
        except KeyboardInterrupt as e:   # before any input started: nothing to finish
            print(f"{PROG}: interrupted", file=sys.stderr)
            return exit_code(e)


def _run_inputs(args: argparse.Namespace, make_estimator: EstimatorFactory) -> int:
    """Every input in turn. The batch rule (``extract`` keeps it too): an input that cannot be opened or read is
    reported on one line and skipped, the others finish, and the exit code is 1 at the end."""
    first: Optional[Source] = None
    failed = 0
    try:
        if args.video:
            inputs = find_videos(args.video)
        elif args.skeletons:
            inputs = [args.skeletons]
        else:
            inputs = [f"camera{args.camera}"]
        if args.skeletons and args.render:
            raise SourceError("--render draws on video frames; use it with --video or --camera")
        if args.skeletons and args.pose_tiles:
            raise SourceError("--pose-tiles looks for people in video frames; use it with --video or --camera")
        outputs = _outputs(args, inputs)
        if args.ray is not None:
            return _run_on_ray(args, inputs, outputs, make_estimator)
        # Open a source before loading the model: a single bad input fails fast, with nothing else printed.
        start = 0
        for start, name in enumerate(inputs):
            try:
                first = _open(args, name)
                break
            except ERRORS as e:
                raise_if_interrupted()
                failed += 1
                _error(_one_line(e))
        if first is None:
            return 1
        with deferred_interrupts():                  # the backend's import runs here
            model = load_model(model=args.model, backend=args.backend, threads=args.threads)
    except BaseException as e:
        if first is not None:
            first.close()
        if not isinstance(e, ERRORS):
            raise
        raise_if_interrupted()   # e.g. a backend "not available" because the signal hit its import
        return _error(_one_line(e))
    display = None
    if first.has_images and not args.no_display and display_available():
        display = DisplaySink()
    summaries: list[RunSummary] = []
    source: Optional[Source] = first
    try:
        for i, name in enumerate(inputs[start:], start):
            result = process_input(args, name, model, *outputs[i], make_estimator, display, source)
            source = None                            # closed by process_input
            failed += _take(result)
            if result.summary is not None:
                summaries.append(result.summary)
            if result.interrupted is not None:
                raise result.interrupted()
            if result.error and len(inputs) == 1:
                return 1
            if result.quit:
                break
    except KeyboardInterrupt as e:
        if source is not None:
            source.close()
        return _interrupted(args, summaries, e)
    finally:
        if display is not None:
            display.close()
    return _finish(args, summaries, failed, len(inputs))


@dataclass
class InputResult:
    """What one input gave — its summary (also when interrupted) or the one-line error that stopped it. Picklable:
    a Ray task returns it."""

    name: str
    summary: Optional[RunSummary] = None
    error: str = ""
    quit: bool = False                                     # the window asked to stop (q, closed)
    interrupted: Optional[type[KeyboardInterrupt]] = None  # Ctrl-C / SIGTERM (a cancelled Ray task) stopped it
    index: int = 0                                         # its place among the inputs (results come unordered)


def process_input(args: argparse.Namespace, name: str, model, out: Optional[str], render: Optional[str],
                  make_estimator: EstimatorFactory, display: Optional[DisplaySink] = None,
                  source: Optional[Source] = None) -> InputResult:
    """One input from start to end — open it (unless ``source`` is that input, opened already), run it, close it:
    the run mode's one per-video function, called for each input in turn here and by each Ray task with ``--ray``.

    A bad input is a result (its one-line error, everything closed), never an exception; so is Ctrl-C / SIGTERM
    (a cancelled Ray task gets ``KeyboardInterrupt``): the run is closed as interrupted — the open action ended,
    every file complete — and ``interrupted`` says which signal. A bug is raised once everything is closed."""
    run: Optional[Run] = None
    try:
        try:
            if source is None:
                source = _open(args, name)
            run = _start_run(args, source, model, out, render, display, make_estimator)
            source = None                            # the run owns it now
            keep_going = run.run()
            return InputResult(name, run.close(), quit=not keep_going)
        except ERRORS as e:
            raise_if_interrupted()
            _close_quietly(run, source)              # already failed once: closing must not fail again
            return InputResult(name, error=_one_line(e))
        except Exception:                            # a bug: still leave complete files, then show it
            raise_if_interrupted()
            _close_quietly(run, source)
            raise
    except KeyboardInterrupt as e:
        summary = None
        if run is not None:
            with suppress(*ERRORS):
                summary = run.close(interrupted=True)
        elif source is not None:
            source.close()
        return InputResult(name, summary, interrupted=type(e))


def _take(result: InputResult) -> int:
    """Print an input's warnings and its error as it ends: 1 when it failed."""
    if result.summary is not None:
        _report(result.summary)
    if result.error:
        _error(result.error)
    return int(bool(result.error))


def _interrupted(args: argparse.Namespace, summaries: list[RunSummary], e: KeyboardInterrupt) -> int:
    _print_summaries(args, summaries)
    print(f"{PROG}: interrupted; outputs written so far are complete", file=sys.stderr)
    return exit_code(e)


def _finish(args: argparse.Namespace, summaries: list[RunSummary], failed: int, n_inputs: int) -> int:
    _print_summaries(args, summaries)
    if failed and n_inputs > 1:
        _error(f"{failed} of {n_inputs} inputs failed (each reported above); the others were processed")
    return 1 if failed else 0


class InputJob(NamedTuple):
    """One input for a Ray task: the run's options, the input, its outputs, how to make its pose estimator."""

    args: argparse.Namespace
    name: str
    out: Optional[str]
    render: Optional[str]
    make_estimator: EstimatorFactory
    index: int


@lru_cache(maxsize=4)
def _task_model(model: Optional[str], backend: str, threads: Optional[int]):
    """The model, loaded once per worker process (Ray runs many tasks in one) and shared by its inputs."""
    return load_model(model=model, backend=backend, threads=threads)


def _input_task(job: InputJob) -> InputResult:
    """A Ray task: ``process_input`` on one input, with this worker's copy of the model."""
    args = job.args
    try:
        model = _task_model(args.model, args.backend, args.threads)
    except ERRORS as e:
        return InputResult(job.name, error=_one_line(e), index=job.index)
    result = process_input(args, job.name, model, job.out, job.render, job.make_estimator)
    result.index = job.index
    return result


def _lost_input(job: InputJob, message: str) -> InputResult:
    return InputResult(job.name, error=message, index=job.index)


def _run_on_ray(args: argparse.Namespace, inputs: list[str], outputs: list[tuple[Optional[str], Optional[str]]],
                make_estimator: EstimatorFactory) -> int:
    """``--ray``: each input a Ray task running ``process_input``; the batch rule, warnings, summaries (in input
    order) and the interrupt as in the local loop. The model is loaded here first, so a bad ``--model`` is one line,
    not one per task; the tasks are given it by name or absolute path (``$PARTKD_MODEL`` is read here, not on the
    workers) and run without a window or per-frame bars."""
    streams = [name for name in inputs if is_url(name)]
    if streams:
        raise SourceError(f"{streams[0]}: --ray runs video files, not streams; run a stream without --ray")
    address = cluster.check_address(args.ray)
    elsewhere = cluster.joins_cluster(address)   # workers with another working directory: absolute paths
    with deferred_interrupts():
        load_model(model=args.model, backend=args.backend, threads=args.threads)
    spec = args.model or os.environ.get("PARTKD_MODEL") or None
    if spec is not None and is_model_path(spec) and elsewhere:
        spec = os.path.abspath(spec)
    task_args = argparse.Namespace(**{**vars(args), "model": spec, "quiet": True, "no_display": True})

    def place(path: Optional[str]) -> Optional[str]:
        return os.path.abspath(path) if path is not None and elsewhere else path

    jobs = [InputJob(task_args, place(name), place(out), place(render), make_estimator, i)
            for i, (name, (out, render)) in enumerate(zip(inputs, outputs))]
    results: list[InputResult] = []
    batch = cluster.RayBatch(address, min(os.cpu_count() or 1, len(jobs)))
    try:
        with batch:
            for result in batch.map(_input_task, jobs, name=lambda j: inputs[j.index], lost=_lost_input,
                                    progress=False if args.quiet else None):
                _take(result)
                results.append(result)
    except KeyboardInterrupt as e:
        for result in batch.interrupted:
            _take(result)
        return _interrupted(args, _in_order(results + batch.interrupted), e)
    return _finish(args, _in_order(results), sum(bool(r.error) for r in results), len(inputs))


def _in_order(results: list[InputResult]) -> list[RunSummary]:
    return [r.summary for r in sorted(results, key=lambda r: r.index) if r.summary is not None]


def _outputs(args: argparse.Namespace, inputs: list[str]) -> list[tuple[Optional[str], Optional[str]]]:
    """Every input's ``(--out file, --render file)``, each checked now: a bad path, or one that would overwrite an
    input (a video, the skeleton file, the model and its card) or another output, fails before any work."""
    used_out: set[str] = set()
    used_render: set[str] = set()
    pairs = []
    for name in inputs:
        out = _output_for(args.out, "--out", name, len(inputs), ".jsonl", used_out)
        render = _output_for(args.render, "--render", name, len(inputs), ".mp4", used_render)
        for path, what in ((out, "predictions"), (render, "annotated video")):
            if path is not None:
                check_output_path(path, what)
        pairs.append((out, render))
    check_not_inputs([(flag, path) for out, render in pairs for flag, path in (("--out", out), ("--render", render))],
                     inputs + _model_files(args.model))
    return pairs


def _model_files(spec: Optional[str]) -> list[Path]:
    """The files loading ``--model`` reads (the model, its card, the ONNX / plan / weights beside it)."""
    try:
        path = resolve_model(spec)
    except UnknownModel:   # reported when the model is loaded
        return []
    return [path, card_path_for(path)] + [path.with_suffix(s) for s in (".onnx", ".plan", ".pt")]


def _start_run(args: argparse.Namespace, source: Source, model, out: Optional[str], render: Optional[str],
               display: Optional[DisplaySink], make_estimator: EstimatorFactory) -> Run:
    """Recognizer, estimator (timed: its start-up is not frame time), then the files — the video first, so a
    video that cannot be written leaves no empty ``.jsonl`` behind."""
    rec = Recognizer(model, every=args.every, smooth=args.smooth, threshold=args.threshold, topk=args.topk)
    estimator, startup_s = None, None
    opened: list = []
    try:
        if source.has_images:
            t0 = time.perf_counter()
            estimator = make_estimator()
            opened.append(estimator)
            startup_s = time.perf_counter() - t0
            rec.check_source(estimator.layout, 3)    # (x, y, score): refuse a model that cannot take them
        video = VideoSink(render, source.fps or DEFAULT_FPS, source.size) if render else None
        opened.append(video)
        jsonl = JsonlSink(out) if out else None
    except BaseException:
        for r in reversed(opened):
            if r is not None:
                with suppress(Exception):
                    r.close()
        raise
    return Run(source, rec, estimator, jsonl, video, display, progress=not args.quiet, startup_s=startup_s,
               max_people=args.max_people)


def default_estimator(max_people: int, tiled: bool = False) -> EstimatorFactory:
    """MediaPipe's legacy one-person graph for one person (measured faster: docs/several-people.md), its
    multi-person landmarker for more or with tiles."""
    if max_people == 1 and not tiled:
        return MediaPipePose
    from .pose_multi import MediaPipeMultiPose

    return lambda: MediaPipeMultiPose(max_people=max_people, tiled=tiled)


def _close_quietly(*resources) -> None:
    for r in resources:
        if r is not None:
            with suppress(*ERRORS):
                r.close()


def _report(summary: RunSummary) -> RunSummary:
    for w in summary.warnings:
        print(f"{PROG}: warning: {w}", file=sys.stderr)
    return summary


def _print_summaries(args: argparse.Namespace, summaries: list[RunSummary]) -> None:
    if not args.quiet:
        for s in summaries:
            print(s.text())


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
