"""Keep native libraries' log lines off the console, so a normal run's stderr holds only our own lines.

- **OpenCV / FFmpeg** have real knobs: ``OPENCV_LOG_LEVEL``, ``OPENCV_FFMPEG_LOGLEVEL`` (read when the first
  capture or writer opens) and ``cv2.setLogLevel``. ``quiet_opencv()`` sets all three; every module that uses cv2
  imports it from here (``from .native_logs import cv2``), so they are set before any video is touched. Without
  them a truncated AVI prints ``[mjpeg @ 0x…] overread 8`` and a writer that tries H.264 prints an error line.
- **MediaPipe 0.10.21** (absl logging, TFLite) has none that works: it writes ``INFO: Created TensorFlow Lite
  XNNPACK delegate``, ``WARNING: All log messages before absl::InitializeLog() is called are written to STDERR``
  and ``W0000 …] Feedback manager requires …`` straight to file descriptor 2 before absl's logging is initialised,
  and ``GLOG_minloglevel``, ``TF_CPP_MIN_LOG_LEVEL`` and ``ABSL_MIN_LOG_LEVEL`` change nothing (tried, all three
  together too); the library exports no logging symbol to call. So while a MediaPipe graph is open,
  ``filter_native_stderr()`` sends descriptor 2 through a pipe whose reader drops exactly those line formats
  (absl ``I``/``W`` lines, TFLite ``INFO:`` lines, the absl pre-init warning) and passes every other native line
  (``E``/``F`` errors) on, in order. Python's own ``sys.stderr`` (our messages, warnings, tracebacks, progress
  bars) meanwhile writes straight to the console, so a native line that passes may show a moment after a Python
  line written at the same time.
"""
from __future__ import annotations

import atexit
import io
import os
import re
import sys
import threading
from contextlib import contextmanager
from typing import Iterator, Optional, TextIO

_OPENCV_ENV = {"OPENCV_LOG_LEVEL": "OFF", "OPENCV_FFMPEG_LOGLEVEL": "-8"}


def quiet_opencv() -> None:
    """OpenCV's logger and FFmpeg's av_log off (a user's own setting of the variables wins)."""
    for k, v in _OPENCV_ENV.items():
        os.environ.setdefault(k, v)
    import cv2 as _cv2

    if hasattr(_cv2, "setLogLevel"):
        _cv2.setLogLevel(0)   # 0 = silent; covers a cv2 imported before the environment was set


quiet_opencv()
import cv2  # noqa: E402,F401  (re-exported: ``from .native_logs import cv2``)

# One native log line that is noise: absl/glog info or warning, TFLite's info, absl's pre-init notice, Ray's core
# info or warning (``[2026-12-07 23:32:45,161 W 32094 32094] gcs_client.cc:210: …``, a second apiece while
# ``cluster`` joins a cluster that does not let it in).
NOISE = re.compile(rb"^(?:[IW]\d{4} \d\d:\d\d:\d+\.\d+ +\d+ \S+:\d+\] |INFO: |"
                   rb"WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR|"
                   rb"\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} [IW] \d+ \d+\] )")
_UNDECIDED_MAX = 512   # a line start longer than this without a newline is passed on (it is no log line)


class LineFilter:
    """Decides line by line what passes, forwarding a partial line (a progress bar's ``\\r…``) at once unless it
    may still turn out to be a noise line (it starts with ``I``, ``W`` or ``[``); then it waits for the newline."""

    def __init__(self) -> None:
        self._pending = b""
        self._keep: Optional[bool] = None   # decision for the current line; None = not yet decided

    def feed(self, data: bytes) -> bytes:
        out = []
        while data:
            nl = data.find(b"\n")
            seg, data = (data, b"") if nl < 0 else (data[: nl + 1], data[nl + 1:])
            if self._keep is None:
                self._pending += seg
                p = self._pending
                if p.endswith(b"\n") or p[:1] not in (b"I", b"W", b"[") or len(p) > _UNDECIDED_MAX:
                    self._keep = not NOISE.match(p)
                    if self._keep:
                        out.append(p)
                    self._pending = b""
            elif self._keep:
                out.append(seg)
            if seg.endswith(b"\n"):
                self._keep = None
        return b"".join(out)

    def flush(self) -> bytes:
        p, self._pending, self._keep = self._pending, b"", None
        return p if p and not NOISE.match(p) else b""


class _Fd2Filter:
    """Descriptor 2 → pipe → reader thread (``LineFilter``) → the console; reference counted.

    Python's own ``sys.stderr`` (our messages, warnings, tracebacks, progress bars) is pointed straight at the
    console while the filter holds descriptor 2, so only native writes go through the pipe. The console
    descriptor is duplicated once and kept for the life of the process, so a progress bar created while filtering
    can still write after the filter is gone.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._users = 0
        self._console_fd: Optional[int] = None
        self._console: Optional[io.TextIOWrapper] = None
        self._replaced: Optional[TextIO] = None   # the sys.stderr we stood in for
        self._reader: Optional[threading.Thread] = None
        self.active = False

    def acquire(self) -> None:
        with self._lock:
            self._users += 1
            if self._users > 1:
                return
            try:
                sys.stderr.flush()
                if self._console_fd is None:
                    self._console_fd = os.dup(2)
                r, w = os.pipe()
            except (OSError, ValueError, AttributeError):   # no descriptor 2 (pythonw, a closed stderr): leave it
                return
            os.dup2(w, 2)
            os.close(w)
            self.active = True
            self._reader = threading.Thread(target=self._pump, args=(r, self._console_fd),
                                            name="native-log-filter", daemon=True)
            self._reader.start()
            if _uses_fd2(sys.stderr):
                if self._console is None:
                    self._console = io.TextIOWrapper(io.FileIO(self._console_fd, "w", closefd=False),
                                                     encoding=sys.stderr.encoding, errors="backslashreplace",
                                                     line_buffering=True)
                self._replaced, sys.stderr = sys.stderr, self._console

    def release(self) -> None:
        with self._lock:
            self._users = max(0, self._users - 1)
            if self._users or not self.active:
                return
            try:
                sys.stderr.flush()
            except (OSError, ValueError):
                pass
            if self._replaced is not None:
                if sys.stderr is self._console:
                    sys.stderr = self._replaced
                self._replaced = None
            os.dup2(self._console_fd, 2)      # the pipe's last write end closes: the reader sees EOF
            if self._reader is not None:
                self._reader.join(timeout=2.0)
            self._reader, self.active = None, False

    @staticmethod
    def _pump(r: int, out: int) -> None:
        filt = LineFilter()
        try:
            while True:
                chunk = os.read(r, 65536)
                if not chunk:
                    break
                _write_all(out, filt.feed(chunk))
            _write_all(out, filt.flush())
        except OSError:
            pass
        finally:
            os.close(r)


def _uses_fd2(stream: object) -> bool:
    try:
        return stream.fileno() == 2   # type: ignore[attr-defined]
    except (OSError, ValueError, AttributeError, io.UnsupportedOperation):
        return False


def _write_all(fd: int, data: bytes) -> None:
    while data:
        data = data[os.write(fd, data):]


_FD2 = _Fd2Filter()


@atexit.register
def _restore_at_exit() -> None:   # an estimator never closed must not take the last lines with it
    while _FD2.active:
        _FD2.release()


@contextmanager
def filter_native_stderr() -> Iterator[None]:
    """Within the block (nestable, any thread), MediaPipe/absl/TFLite (and Ray core) log lines on descriptor 2 are
    dropped. Processes started inside the block inherit the pipe: start none there."""
    _FD2.acquire()
    try:
        yield
    finally:
        _FD2.release()
