"""Where frames come from, and the one home of video input: discovery, extensions, frame rate and decoding.

A camera, video files (a file, a folder, a glob, a URL) or a recorded skeleton file. Every source yields
``Frame``s with a timestamp from the source itself: the container's presentation time (``CAP_PROP_POS_MSEC``) for
video files, a monotonic clock for cameras and URLs (live), the file's ``t`` for skeletons. Video is decoded on a
reader thread, so decoding the next frame overlaps with the pose estimate of this one on the second core (OpenCV
and MediaPipe release the GIL): a file's reader keeps up to ``READ_AHEAD`` frames ready, in order, and waits when
they are not taken (``ReadAhead``); a live reader keeps only the newest frame, and a frame that is replaced before
the consumer took it is counted in ``drops``. ``extract`` decodes through ``VideoFileSource`` too, so both modes
find, read and time videos alike (``find_videos``, ``VIDEO_EXTENSIONS``, ``video_fps``, ``truncation_warning``).

Opening a source that cannot be read raises ``SourceError`` with a one-line message (what, where, what to do).
"""
from __future__ import annotations

import glob
import math
import os
import queue
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Generic, Iterator, Optional, Sequence, TypeVar

import numpy as np

from .errors import PartkdError
from .native_logs import cv2
from .skeleton_io import SkeletonFileError, load_sequence, read_stream

VIDEO_EXTENSIONS = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv", ".flv")
DEFAULT_FPS = 30.0          # when a container or camera reports no usable frame rate
# FFmpeg's own decoding threads: one on a machine of 2 cores or fewer. The reader thread already overlaps decoding
# with pose on the other core, and FFmpeg's default (a thread per core) makes the decoder fight MediaPipe for it:
# video → pose measured 5 % slower with it on 2 cores (docs/speed.md). 0 = FFmpeg's default, where cores are spare.
DECODE_THREADS = 1 if (os.cpu_count() or 1) <= 2 else 0
READ_AHEAD = 3              # decoded frames a video file's reader thread holds ready (1080p: 6 MB each)
POLL_S = 0.1                # longest wait on another thread, so a signal reaches the main thread at once
_FPS_RANGE = (1.0, 1000.0)  # a reported rate outside it (0, NaN, 90000 time-base ticks) is not a frame rate


def video_fps(reported: float) -> float:
    """The nominal frame rate from what OpenCV reports: the value if it is a plausible rate, else 30."""
    return float(reported) if math.isfinite(reported) and _FPS_RANGE[0] <= reported <= _FPS_RANGE[1] \
        else DEFAULT_FPS


def truncation_warning(name: str, decoded: int, reported: Optional[int]) -> Optional[str]:
    """A one-line warning when far fewer frames decoded than the container promised (a cut or damaged file)."""
    if reported and decoded < 0.9 * reported:
        return (f"{name}: decoded {decoded} of the {reported} frames the container reports (truncated or "
                f"damaged file?); kept what was decoded")
    return None


class SourceError(PartkdError, ValueError):
    """A source that cannot be opened or read; the message is one line."""


@dataclass
class Frame:
    """One frame: an image (video sources) or keypoints (skeleton sources), with the source's timestamp."""

    t: float
    index: int
    image: Optional[np.ndarray] = None       # BGR, video sources only
    people: Optional[list[np.ndarray]] = None   # skeleton sources only: everyone in view, [V, C] each, score last


class Source:
    """Base: ``name``, ``live``, ``total`` (frames, if known), ``fps`` (nominal), ``drops``; iterate for frames."""

    name: str = ""
    live: bool = False
    total: Optional[int] = None
    fps: Optional[float] = None    # video sources: always a rate (``video_fps``); skeleton files: their header's
    size: Optional[tuple[int, int]] = None   # video sources: (width, height) when known before the first frame
    drops: int = 0
    layout: Optional[str] = None   # skeleton sources: the layout of their keypoints
    has_images: bool = True

    def __iter__(self) -> Iterator[Frame]:
        raise NotImplementedError

    def warning(self) -> Optional[str]:
        """After iterating: one line about frames the source promised but could not give, else ``None``."""
        return None

    def close(self) -> None:
        pass


T = TypeVar("T")


class ReadAhead(Generic[T]):
    """``items`` produced on a thread of its own, up to ``depth`` ahead of the consumer, and consumed in order.

    An exception raised by ``items`` is raised to the consumer at its place in the sequence, so errors read as if
    the consumer had produced the items itself. The consumer waits ``POLL_S`` at a time (a signal is handled at
    once); ``close`` stops the thread once it has finished the item in hand and waits for it, so the resources
    ``items`` reads from can be released afterwards.
    """

    _END = object()

    def __init__(self, items: Iterator[T], depth: int, name: str = "read-ahead") -> None:
        if depth < 1:
            raise ValueError(f"depth must be ≥ 1, got {depth}")
        self._items = items
        self._queue: queue.Queue = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._produce, name=name, daemon=True)
        self._thread.start()

    def _produce(self) -> None:
        try:
            for item in self._items:
                if not self._put(item):
                    return
            self._put(self._END)
        except BaseException as e:  # noqa: BLE001 - handed to the consumer, raised there
            self._put(e)
        finally:
            close = getattr(self._items, "close", None)
            if close is not None:
                close()

    def _put(self, entry: object) -> bool:
        """Queue ``entry`` once there is room; False when ``close`` came first."""
        while not self._stop.is_set():
            try:
                self._queue.put(entry, timeout=POLL_S)
                return True
            except queue.Full:
                continue
        return False

    def __iter__(self) -> Iterator[T]:
        while True:
            try:
                entry = self._queue.get(timeout=POLL_S)
            except queue.Empty:
                if self._stop.is_set():
                    return
                continue
            if entry is self._END:
                return
            if isinstance(entry, BaseException):
                raise entry
            yield entry

    def close(self) -> None:
        self._stop.set()
        while self._thread.is_alive():
            self._thread.join(timeout=POLL_S)


class VideoFileSource(Source):
    """A video file read frame by frame (nothing dropped: offline processing takes every frame).

    Frames are decoded on a reader thread (``ReadAhead``); ``prepare``, if given, runs there on every decoded
    image (``extract`` downscales wide frames with it). ``size`` is the decoded size, before ``prepare``.
    """

    def __init__(self, path: str, prepare: Optional[Callable[[np.ndarray], np.ndarray]] = None) -> None:
        self.name = path
        if not os.path.exists(path):
            raise SourceError(f"{path}: no such file; check the path")
        if os.path.isfile(path) and os.path.getsize(path) == 0:
            raise SourceError(f"{path}: the file is empty; give a video file")
        self._cap = cv2.VideoCapture(path, cv2.CAP_ANY, [cv2.CAP_PROP_N_THREADS, DECODE_THREADS])
        if not self._cap.isOpened():
            raise SourceError(f"{path}: cannot open as a video (corrupt or unsupported format); check the file "
                              f"plays, or re-encode it (e.g. ffmpeg -i IN -c:v libx264 OUT.mp4)")
        ok, first = self._cap.read()
        if not ok or first is None:
            self._cap.release()
            raise SourceError(f"{path}: no frame can be decoded (corrupt or empty video); check the file")
        self._first: Optional[np.ndarray] = first
        self._prepare = prepare
        self._reader: Optional[ReadAhead[tuple[float, np.ndarray]]] = None
        self.fps = video_fps(self._cap.get(cv2.CAP_PROP_FPS))
        n = int(self._cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        self.total = n if n > 0 else None
        self.size = (first.shape[1], first.shape[0])
        self.decoded = 0   # frames yielded so far

    def __iter__(self) -> Iterator[Frame]:
        image, self._first = self._first, None
        if image is None:
            raise SourceError(f"{self.name}: a video file source can be read once; open it again")
        self._reader = ReadAhead(self._decode(image), READ_AHEAD, name=f"decoder:{Path(self.name).name}")
        for index, (t, image) in enumerate(self._reader):
            self.decoded = index + 1
            yield Frame(t=t, index=index, image=image)

    def _decode(self, image: Optional[np.ndarray]) -> Iterator[tuple[float, np.ndarray]]:
        """``(t, image)`` from ``image`` (the first frame) on; runs on the reader thread."""
        prev_t: Optional[float] = None
        while image is not None:
            t = self._cap.get(cv2.CAP_PROP_POS_MSEC) / 1000.0
            # Containers disagree on POS_MSEC (an AVI here starts at 67 ms and reads 0 at its end): keep it when
            # it moves forward by a sane step, else advance by one nominal frame.
            if prev_t is not None and not (prev_t < t < prev_t + 10.0 / self.fps):
                t = prev_t + 1.0 / self.fps
            elif prev_t is None and not (0.0 <= t < 10.0 / self.fps):
                t = 0.0
            yield t, (image if self._prepare is None else self._prepare(image))
            prev_t = t
            ok, image = self._cap.read()
            if not ok:
                image = None

    def warning(self) -> Optional[str]:
        return truncation_warning(self.name, self.decoded, self.total)

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()   # the reader thread is out of the decoder before the decoder is freed
        self._cap.release()


class LiveSource(Source):
    """A camera or a network stream: a reader thread keeps only the newest frame; older ones count as drops."""

    live = True

    def __init__(self, target: int | str, name: str) -> None:
        self.name = name
        self._cap = cv2.VideoCapture(target)
        if not self._cap.isOpened():
            what = f"camera {target}" if isinstance(target, int) else f"stream {target}"
            raise SourceError(f"cannot open {what}; check it is connected and not used by another program"
                              + (" (list cameras with: ls /dev/video*)" if isinstance(target, int) else ""))
        self.fps = video_fps(self._cap.get(cv2.CAP_PROP_FPS))
        w, h = int(self._cap.get(cv2.CAP_PROP_FRAME_WIDTH) or 0), int(self._cap.get(cv2.CAP_PROP_FRAME_HEIGHT) or 0)
        self.size = (w, h) if w > 0 and h > 0 else None
        self._cond = threading.Condition()
        self._latest: Optional[tuple[float, np.ndarray]] = None
        self._done = False
        self._stop = False
        self._thread = threading.Thread(target=self._reader, name=f"reader:{name}", daemon=True)
        self._thread.start()

    def _reader(self) -> None:
        while not self._stop:
            ok, image = self._cap.read()
            t = time.monotonic()
            with self._cond:
                if not ok or image is None:
                    self._done = True
                    self._cond.notify_all()
                    return
                if self._latest is not None:
                    self.drops += 1   # replaced before the consumer took it
                self._latest = (t, image)
                self._cond.notify_all()

    def __iter__(self) -> Iterator[Frame]:
        index = 0
        t0: Optional[float] = None
        while True:
            with self._cond:
                while self._latest is None and not self._done:
                    self._cond.wait(timeout=POLL_S)
                if self._latest is None:
                    return
                t, image = self._latest
                self._latest = None
            t0 = t if t0 is None else t0
            yield Frame(t=t - t0, index=index, image=image)
            index += 1

    def close(self) -> None:
        self._stop = True
        self._thread.join(timeout=2.0)
        self._cap.release()


class SkeletonFileSource(Source):
    """A recorded keypoint stream (``.jsonl``) or sequence (``.npz``), see ``partkd_stream.skeleton_io``; each frame
    lists everyone in it (a sequence's ``[M, T, V, C]`` entries whose scores are not all 0)."""

    has_images = False

    def __init__(self, path: str) -> None:
        self.name = path
        self.most_people = 0     # the most people in one frame so far (a sequence: its M)
        if not os.path.isfile(path):
            raise SourceError(f"{path}: no such skeleton file; check the path")
        suffix = Path(path).suffix.lower()
        try:
            if suffix == ".jsonl":
                header, frames = read_stream(path, people=True)
                self.layout, fps = str(header["layout"]), header.get("fps")
                self.fps = float(fps) if fps else None
                self._frames = frames
            elif suffix == ".npz":
                seq = load_sequence(path)
                data = seq.people()                                                  # [M, T, V, C]
                self.layout, self.fps, self.total = seq.layout, seq.fps, int(data.shape[1])
                self.most_people = data.shape[0]
                seen = (data[..., -1] > 0).any(-1)                                  # [M, T]
                self._frames = ((float(t), k, [data[m, k] for m in np.flatnonzero(seen[:, k])])
                                for k, t in enumerate(seq.timestamps))
            else:
                raise SourceError(f"{path}: unknown skeleton file type {suffix!r}; use .jsonl or .npz "
                                  f"(see partkd_stream/skeleton_io.py)")
        except SkeletonFileError as e:
            raise SourceError(str(e)) from None
        except UnicodeDecodeError:
            raise SourceError(f"{path}: not a text .jsonl skeleton stream; see partkd_stream/skeleton_io.py") \
                from None
        from .layouts import get_layout
        try:
            get_layout(self.layout)
        except (KeyError, ValueError):
            raise SourceError(f"{path}: unknown skeleton layout {self.layout!r}") from None

    def __iter__(self) -> Iterator[Frame]:
        try:
            for t, index, people in self._frames:
                self.most_people = max(self.most_people, len(people))
                yield Frame(t=t, index=index, people=people)
        except SkeletonFileError as e:
            raise SourceError(str(e)) from None
        except UnicodeDecodeError:
            raise SourceError(f"{self.name}: not a text .jsonl skeleton stream") from None


def is_url(s: str) -> bool:
    return "://" in s


def find_videos(inputs: Sequence[str]) -> list[str]:
    """Files, folders (their videos, in subfolders too, sorted), globs and URLs → inputs, each once.

    A folder contributes files with a ``VIDEO_EXTENSIONS`` suffix; a file named directly or matched by a glob is
    taken whatever its suffix (the user chose it). A path that matches nothing raises ``SourceError``.
    """
    found: list[str] = []
    for a in inputs:
        if is_url(a):
            found.append(a)
        elif os.path.isdir(a):
            vids = sorted(str(p) for p in Path(a).rglob("*") if p.is_file() and p.suffix.lower() in VIDEO_EXTENSIONS)
            if not vids:
                raise SourceError(f"{a}: folder has no video files ({', '.join(VIDEO_EXTENSIONS)})")
            found += vids
        elif glob.has_magic(a):
            hits = sorted(p for p in glob.glob(a, recursive=True) if os.path.isfile(p))
            if not hits:
                raise SourceError(f"{a}: the pattern matches no file")
            found += hits
        elif not os.path.exists(a):
            raise SourceError(f"{a}: no such file or folder; check the path")
        else:
            found.append(a)
    seen: set[str] = set()
    unique = []
    for f in found:
        key = f if is_url(f) else os.path.realpath(f)
        if key not in seen:
            seen.add(key)
            unique.append(f)
    return unique


def open_video(target: str) -> Source:
    """A file → ``VideoFileSource``; a URL → ``LiveSource``."""
    return LiveSource(target, target) if is_url(target) else VideoFileSource(target)


def open_camera(index: int) -> Source:
    return LiveSource(int(index), f"camera {index}")
