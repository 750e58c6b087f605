"""Where results go: JSON Lines, an annotated video, an on-screen window, and a console summary.

No output ever leaves a half-written file where a good one was (``partkd_stream.atomic``): a video, and a JSON Lines
file that replaces an existing one, are written under a temporary name beside their place and renamed when closed;
a new JSON Lines file is written in place, flushed line by line, so it can be read while the run goes on. The video
writer is released on ``close`` so the mp4 stays playable. Output paths are checked before any work starts
(``check_output_path``; ``check_not_inputs``: an output that is one of the inputs, or another output, is refused),
so a bad path costs no decoding and leaves no empty file behind. A write that fails (disk full, a vanished folder)
is a ``SinkError`` naming the file, and the unfinished file is removed (a new JSON Lines file is cut back to its
whole lines); closing a sink that already failed does not fail again.
"""
from __future__ import annotations

import json
import math
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Iterable, Optional

import numpy as np

from . import atomic
from .errors import PartkdError
from .native_logs import cv2
from .recognizer import STATE_TEXT, Prediction
from .smoothing import Event


class SinkError(PartkdError, OSError):
    """An output that cannot be written; the message is one line naming the file."""


def check_output_path(path: str | os.PathLike, what: str = "output") -> Path:
    """Fail now, not after the work, when ``path`` cannot become a file: a folder is in the way, or the nearest
    existing parent is not a writable folder (read-only, no permission). Creates nothing."""
    p = Path(path)
    if p.is_dir():
        raise SinkError(f"{p}: is a folder; give a file name for the {what}")
    _check_creatable(p.parent, p, what)
    if p.exists() and not os.access(p, os.W_OK):
        raise SinkError(f"{p}: the {what} file exists and is not writable; check its permissions")
    return p


def check_output_folder(folder: str | os.PathLike, what: str = "output") -> Path:
    """``folder`` exists as a writable folder, or can be created (its nearest existing parent is writable)."""
    folder = Path(folder)
    _check_creatable(folder, folder, what)
    return folder


def check_not_inputs(outputs: Iterable[tuple[str, Optional[str]]], inputs: Iterable[str | os.PathLike],
                     distinct: bool = True) -> None:
    """Refuse an output that would overwrite an input (or, with ``distinct``, another output): ``outputs`` are
    ``(flag, path)`` pairs (``None``: not asked for). The same file is the same resolved path (symlinks, ``./``
    against absolute) or, for two existing files, the same inode (hard links). Streams (URLs) and special files
    (``/dev/stdout``) are not files that can be destroyed; they are left alone."""
    by_path: dict[str, str] = {}
    by_inode: dict[tuple[int, int], str] = {}
    for i in inputs:
        if "://" not in str(i) and os.path.isfile(i):
            by_path.setdefault(os.path.realpath(i), str(i))
            st = os.stat(i)
            by_inode.setdefault((st.st_dev, st.st_ino), str(i))
    seen: dict[str, str] = {}
    for flag, path in outputs:
        if path is None or atomic.writes_in_place(path):
            continue
        key = os.path.realpath(path)
        same = by_path.get(key)
        if same is None and os.path.isfile(path):
            st = os.stat(path)
            same = by_inode.get((st.st_dev, st.st_ino))
        if same is not None:
            raise SinkError(f"{flag} {path}: that is the input {same}; writing there would destroy it — choose "
                            f"another name")
        if distinct and key in seen:
            raise SinkError(f"{flag} {path}: the same file as {seen[key]}; give each output its own name")
        seen[key] = f"{flag} {path}"


def _check_creatable(folder: Path, target: Path, what: str) -> None:
    probe = folder if str(folder) else Path(".")
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if not probe.is_dir():
        raise SinkError(f"{target}: cannot write the {what} there ({probe} is a file, not a folder); choose another "
                        f"path")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise SinkError(f"{target}: cannot write the {what} there ({probe} is read-only or not writable for you); "
                        f"choose another folder")


def _write_error(path: Path, e: OSError) -> SinkError:
    return SinkError(f"{path}: cannot write ({e.strerror or e}); check free space and permissions")


class JsonlSink:
    """One line per prediction ``{t, frame, person, label, score, topk, person_present, reason, held}`` and per
    event ``{event, label, t, person}``, flushed as written. Strict JSON: a NaN or infinity is refused, never
    written.

    A new file is written in place, line by line, so another program can read it while the run goes on (a run that
    fails leaves every whole line written so far). A file that exists is replaced whole: the new lines go to a
    temporary beside it, moved into place by ``close``, so the earlier file stays intact until the new one is
    complete — and stays as it was if the run cannot finish it."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self._failed = False
        self._tmp: Optional[Path] = None
        self._whole = 0                  # bytes of whole lines written (a failed write is cut back to them)
        self._tracked = False
        special = atomic.writes_in_place(self.path)
        try:
            if self.path.exists() and not special:
                self._tmp = atomic.temp_beside(self.path)
            elif not special:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                atomic.track(self.path)   # a forced exit removes it: outputs are complete or absent
                self._tracked = True
            self._f: Optional[IO[str]] = open(self._tmp or self.path, "w", encoding="utf-8", buffering=1)
        except OSError as e:
            self._release(keep=False)
            raise _write_error(self.path, e) from None

    def write(self, record: dict) -> None:
        assert self._f is not None, "sink closed"
        try:
            line = json.dumps(record, allow_nan=False)
        except ValueError:
            bad = [k for k, v in record.items() if isinstance(v, float) and not math.isfinite(v)]
            raise SinkError(f"{self.path}: refusing to write a record that is not strict JSON (non-finite "
                            f"{', '.join(bad) or 'value'} at frame {record.get('frame', '?')}); this is a bug, "
                            f"please report it") from None
        data = line + "\n"
        try:
            self._f.write(data)
            self._f.flush()
        except OSError as e:
            self._failed = True
            raise _write_error(self.path, e) from None
        self._whole += len(data.encode("utf-8"))

    def prediction(self, pred: Prediction) -> None:
        self.write(pred.to_dict())

    def events(self, events: list[Event]) -> None:
        for e in events:
            self.write(e.to_dict())

    def close(self) -> None:
        """Close, and move a replacing file into place. After a failed write, a replacing file is removed (the
        earlier one stays as it was) and a new one is cut back to its whole lines."""
        f, self._f = self._f, None
        if f is None:
            return
        try:
            f.close()   # closes the descriptor even when the final flush fails
            if self._tmp is not None and not self._failed:
                atomic.commit(self._tmp, self.path)
                self._tmp = None
        except OSError as e:
            if not self._failed:   # the failure was already reported once
                self._failed = True
                raise _write_error(self.path, e) from None
        finally:
            self._release(keep=True)

    def _release(self, keep: bool) -> None:
        if self._tmp is not None:
            atomic.discard(self._tmp)
            self._tmp = None
        if self._tracked:
            atomic.untrack(self.path)
            self._tracked = False
            if not keep:
                self.path.unlink(missing_ok=True)
            elif self._failed:
                try:
                    os.truncate(self.path, self._whole)
                except OSError:
                    pass


# Tried in order; the first that opens is used. OpenCV's pip wheels ship FFmpeg without an H.264 encoder
# (measured with opencv-contrib-python 4.11: 'avc1' does not open, 'mp4v' does), so there it is MPEG-4 Part 2.
class _H264Writer:
    """H.264 (libx264, ``yuv420p``: what browsers play) through PyAV's bundled FFmpeg, encoded on its own thread.

    OpenCV's wheels carry no H.264 encoder. Encoding a 1080p frame costs about as much as MediaPipe on it, so it runs
    beside the pose estimator instead of after it: ``write`` hands the frame to a bounded queue (8 frames), ``close``
    drains it and writes the index. An encoding error is raised by the next ``write`` or by ``close``.
    """

    name = "H.264 (libx264)"

    def __init__(self, path: Path, fps: float, size: tuple[int, int]) -> None:
        import queue
        import threading
        from fractions import Fraction

        import av   # a dependency; ImportError → VideoSink falls back to OpenCV's mp4v

        self._av = av
        self._container = av.open(str(path), "w")
        rate = Fraction(fps).limit_denominator(1001)
        self._stream = self._container.add_stream("libx264", rate=rate, options={"preset": "ultrafast", "crf": "23"})
        self._stream.width, self._stream.height = size
        self._stream.pix_fmt = "yuv420p"
        self._time_base = 1 / rate
        self._queue: "queue.Queue[Optional[np.ndarray]]" = queue.Queue(maxsize=8)
        self._error: Optional[BaseException] = None
        self._thread = threading.Thread(target=self._encode, name=f"h264:{path.name}", daemon=True)
        self._thread.start()

    def _encode(self) -> None:
        index = 0
        try:
            while (image := self._queue.get()) is not None:
                frame = self._av.VideoFrame.from_ndarray(image, format="bgr24")
                frame.pts, frame.time_base = index, self._time_base
                index += 1
                self._container.mux(self._stream.encode(frame))
            self._container.mux(self._stream.encode(None))   # flush the encoder's delayed frames
        except BaseException as e:  # noqa: BLE001 - reported to the writing thread
            self._error = e
            while self._queue.get() is not None:             # let write() and close() go on
                pass
        finally:
            try:
                self._container.close()
            except Exception as e:  # noqa: BLE001
                self._error = self._error or e

    def write(self, image: np.ndarray) -> None:
        if self._error is None:
            self._queue.put(image)
        self._raise()

    def release(self) -> None:
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()
        self._raise()

    def _raise(self) -> None:
        if self._error is not None:
            e, self._error = self._error, None
            raise e if isinstance(e, OSError) else OSError(str(e).splitlines()[0] if str(e) else repr(e))


class _OpenCVWriter:
    """MPEG-4 Part 2 through OpenCV: plays in VLC and ffmpeg, not in every browser. The fallback without PyAV."""

    name = "MPEG-4 Part 2 (mp4v)"

    def __init__(self, path: Path, fps: float, size: tuple[int, int], name: Optional[Path] = None) -> None:
        self._w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, size)
        if not self._w.isOpened():
            self._w.release()
            raise SinkError(f"{name or path}: cannot write a video here (OpenCV's mp4 writer does not open; check "
                            f"the folder)")

    def write(self, image: np.ndarray) -> None:
        self._w.write(image)

    def release(self) -> None:
        self._w.release()


class VideoSink:
    """Annotated frames into an mp4: H.264 through PyAV, else MPEG-4 Part 2 through OpenCV (``codec`` says which).

    Frames are resized to the first frame's size (rounded down to even numbers: H.264's 4:2:0 colour needs them);
    the writer opens at construction when ``size`` is known, else at the first frame.
    """

    def __init__(self, path: str | os.PathLike, fps: float, size: Optional[tuple[int, int]] = None) -> None:
        self.path = check_output_path(path, "video")
        if self.path.suffix.lower() != ".mp4":
            raise SinkError(f"{self.path}: the annotated video is written as .mp4; give a .mp4 file name")
        self.fps = float(fps)
        self.size: Optional[tuple[int, int]] = None
        self.codec = ""          # e.g. "H.264 (libx264)", set when the writer opens
        self.frames = 0
        self._w = None
        self._tmp: Optional[Path] = None   # what the writer writes; moved to ``path`` by ``close``
        self._failed = False
        if size is not None:
            self._open(size)

    def _open(self, size: tuple[int, int]) -> None:
        size = (max(2, size[0] - size[0] % 2), max(2, size[1] - size[1] % 2))
        try:
            target = self.path if atomic.writes_in_place(self.path) else atomic.temp_beside(self.path, ".mp4")
        except OSError as e:
            raise _write_error(self.path, e) from None
        self._tmp = None if target is self.path else target
        try:
            try:
                self._w = _H264Writer(target, self.fps, size)
            except ImportError:
                self._w = _OpenCVWriter(target, self.fps, size, self.path)
        except OSError as e:
            self._discard()
            raise _write_error(self.path, e) from None
        except BaseException:
            self._discard()
            raise
        self.size, self.codec = size, self._w.name

    def write(self, image: np.ndarray) -> None:
        if self._w is None:
            self._open((image.shape[1], image.shape[0]))
        if (image.shape[1], image.shape[0]) != self.size:
            image = cv2.resize(image, self.size)
        try:
            self._w.write(np.ascontiguousarray(image))
        except OSError as e:
            self._failed = True
            raise _write_error(self.path, e) from None
        self.frames += 1

    def describe(self) -> str:
        """``PATH (N frames, CODEC)``, with a note when browsers will not play it."""
        note = "" if self.codec.startswith("H.264") else "; install PyAV (pip install av) for H.264, which " \
                                                          "browsers play"
        return f"{self.path} ({self.frames} frames, {self.codec or 'not opened'}{note})"

    def close(self) -> None:
        """Finish the video (its index written) and move it into place; a video whose writing failed is removed."""
        w, self._w = self._w, None
        if w is None:
            return
        try:
            w.release()
            if self._tmp is not None and not self._failed:
                atomic.commit(self._tmp, self.path)
                self._tmp = None
        except OSError as e:
            raise _write_error(self.path, e) from None
        finally:
            self._discard()

    def _discard(self) -> None:
        if self._tmp is not None:
            atomic.discard(self._tmp)
            self._tmp = None


class DisplaySink:
    """An OpenCV window; ``show`` returns False when the user pressed ``q`` (or Esc) or closed the window."""

    def __init__(self, title: str = "partkd-stream") -> None:
        self.title = title
        cv2.namedWindow(self.title, cv2.WINDOW_NORMAL)

    def show(self, image: np.ndarray) -> bool:
        cv2.imshow(self.title, image)
        key = cv2.waitKey(1) & 0xFF
        if key in (ord("q"), 27):
            return False
        try:
            return cv2.getWindowProperty(self.title, cv2.WND_PROP_VISIBLE) >= 1
        except cv2.error:
            return False

    def close(self) -> None:
        try:
            cv2.destroyWindow(self.title)
            cv2.waitKey(1)
        except cv2.error:
            pass


def display_available() -> bool:
    """A screen to draw on: on Linux, an X11 or Wayland display; elsewhere assume one."""
    if sys.platform.startswith("linux"):
        return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    return True


@dataclass
class RunSummary:
    """Counts for the console summary at the end of a source: frames, speed, drops, actions with durations (per
    person when people are tracked).

    ``seconds`` is the time spent on frames; the pose estimator's start-up (``startup_s``: loading MediaPipe and
    its graph, about 1.5 s here) is reported beside it, not mixed into the frame rate."""

    name: str
    frames: int = 0
    predictions: int = 0
    person_frames: int = 0
    drops: int = 0                      # frames a live source replaced before they were taken
    time_drops: int = 0                 # frames the recognizer refused for their timestamps
    seconds: float = 0.0
    startup_s: Optional[float] = None
    people: Optional[set[int]] = None   # ids tracked (several-people runs); None: one person, not tracked
    actions: list[tuple[Optional[int], str, float, float]] = field(default_factory=list)   # (person, label, …)
    states: dict[Optional[str], int] = field(default_factory=dict)   # predictions per reason (None: an action)
    _open: dict[tuple[Optional[int], str], float] = field(default_factory=dict)
    interrupted: bool = False
    outputs: list[str] = field(default_factory=list)    # "predictions → PATH", "annotated video → PATH (…)"
    warnings: list[str] = field(default_factory=list)   # one line each, also printed on stderr

    def add_prediction(self, pred: Prediction) -> None:
        """Count one prediction and its state (why no action, when none)."""
        self.predictions += 1
        self.states[pred.reason] = self.states.get(pred.reason, 0) + 1
        if self.people is not None and pred.person is not None:
            self.people.add(pred.person)
        self.add_events(pred.events)

    def add_events(self, events: list[Event]) -> None:
        for e in events:
            key = (e.person, e.label)
            if e.event == "start":
                self._open[key] = e.t
            elif key in self._open:
                self.actions.append((e.person, e.label, self._open.pop(key), e.t))

    def text(self) -> str:
        fps = self.frames / self.seconds if self.seconds > 0 else 0.0
        startup = f"; start-up {self.startup_s:.1f} s not counted" if self.startup_s is not None else ""
        people = "" if self.people is None else \
            f", {len(self.people)} {'person' if len(self.people) == 1 else 'people'} tracked"
        head = (f"{self.name}: {self.frames} frames in {self.seconds:.1f} s ({fps:.1f} fps{startup}), "
                f"{self.predictions} predictions{people}, {self.drops + self.time_drops} dropped frames"
                + (f" ({self.time_drops} for their timestamps)" if self.time_drops else "")
                + (", interrupted" if self.interrupted else ""))
        lines = [head] + [f"  {o}" for o in self.outputs]
        if self.predictions:
            order = sorted(self.states.items(), key=lambda kv: -kv[1])
            lines.append("  states: " + ", ".join(f"{STATE_TEXT.get(r, r)} {100 * n / self.predictions:.0f} %"
                                                  for r, n in order))
        actions = [a for a in self.actions if a[3] > a[2]]   # no 0-s blips
        if not actions:
            return "\n".join(lines + ["  no action recognised"])
        lines.append(f"  {len(actions)} action(s):")
        if self.people is None:
            lines += [f"  {label:<20s} {start:8.2f} s → {end:8.2f} s  ({end - start:.2f} s)"
                      for _, label, start, end in actions]
        else:
            lines += [f"  {f'person {person}':<10s} {label:<20s} {start:8.2f} s → {end:8.2f} s  "
                      f"({end - start:.2f} s)" for person, label, start, end in sorted(
                          actions, key=lambda a: (-1 if a[0] is None else a[0], a[2]))]
        return "\n".join(lines)
