"""SIGTERM ends a run the way Ctrl-C does: one exception path, so every CLI finishes its files the same way.

``kill``, systemd and ``docker stop`` send SIGTERM; Python's default action kills the process at once, so sinks are
not closed (an mp4 without its index is unplayable) and no summary or ``end`` event is written. Inside
``terminate_as_interrupt()`` SIGTERM raises ``Terminated`` — a ``KeyboardInterrupt`` — so the code that already
handles Ctrl-C handles it too; the CLI then exits with ``exit_code(e)``: 143 (128 + SIGTERM) or 130 (Ctrl-C).

Library code can swallow the exception: a signal during the import of a pybind11 extension (onnxruntime, cv2's
numpy import) surfaces as ``ImportError: initialization failed``, which a loader may report as "backend not
available". So the block also remembers the interrupt it raised (SIGINT too), and ``raise_if_interrupted()`` in
an error handler turns such a disguised interrupt back into the interrupt it was. Worse, an extension's import
code may *print* the exception it caught (a traceback on stderr) before going on: so start-up — the heavy imports
and model loading — runs inside ``deferred_interrupts()``, where a signal is only recorded, and raised when the
block ends.

A Python signal handler runs only when the main thread gets back to Python code. A native call that blocks —
OpenCV opening a FIFO nobody writes to, a model file that is a pipe — would keep a run alive after SIGTERM for
ever. So a CLI's block (``terminate_as_interrupt(prog)``) has a **watchdog**: a thread woken by every signal
through ``signal.set_wakeup_fd``. If the interrupt has not been raised in the main thread ``GRACE_S`` seconds
later, the process is stuck in native code: the watchdog removes the output files still being written
(``atomic.discard_pending``: outputs are complete or absent), prints one line and exits with 143 / 130. A second
signal while a run is finishing its files ends it the same way: the clean path gets ``GRACE_S`` more seconds.
"""
from __future__ import annotations

import os
import signal
import sys
import threading
from contextlib import contextmanager
from typing import Iterator, Optional

from .atomic import discard_pending

EXIT_INTERRUPTED = 130   # 128 + SIGINT
EXIT_TERMINATED = 143    # 128 + SIGTERM
GRACE_S = 1.5            # how long the main thread has to raise the interrupt before the watchdog ends the process


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived; raised in the main thread where the signal was received."""


# The kind of interrupt raised inside the current block, if any: the class, not the exception, whose traceback
# would keep every frame it passed alive (an interrupted process pool with its named semaphores, for one).
_received: Optional[type[KeyboardInterrupt]] = None
_deferring = False                              # inside deferred_interrupts(): record, raise at its end


def _raise(kind: type[KeyboardInterrupt]) -> None:
    global _received
    _watchdog.handled += 1
    if _received is not None and not _deferring:   # already stopping: a second signal is the watchdog's
        return
    _received = kind
    if not _deferring:
        _watchdog.note_raised()
        raise kind()


def _raise_terminated(signum: int, frame: object) -> None:
    _raise(Terminated)


def _raise_interrupt(signum: int, frame: object) -> None:   # Python's default for SIGINT, remembered
    _raise(KeyboardInterrupt)


class _Watchdog:
    """One daemon thread per process, reading the signal numbers Python's C-level handler writes to a pipe.

    ``arrived`` counts SIGINT/SIGTERM seen by the thread, ``handled`` those the Python handler has run for,
    ``raised`` the count at the last interrupt raised in the main thread. The counters only grow, so a signal of an
    earlier block read late is already answered. Only the main thread arms it (``set_wakeup_fd`` is main-only)."""

    def __init__(self) -> None:
        self.arrived = self.handled = self.raised = 0
        self.prog: Optional[str] = None            # armed while set: the name on the one line printed
        self.quiet = False
        self._cond = threading.Condition()
        self._fds: Optional[tuple[int, int]] = None
        self._previous_fd = -1

    def arm(self, prog: str, quiet: bool = False) -> Optional[tuple[Optional[str], bool]]:
        """Watch from now on; returns what ``disarm`` restores (``None`` when already armed by an outer block)."""
        if self.prog is not None:
            before = (self.prog, self.quiet)
            self.prog, self.quiet = prog, quiet
            return before
        if self._fds is None:
            r, w = os.pipe()
            os.set_blocking(w, False)
            self._fds = (r, w)
            threading.Thread(target=self._watch, name="partkd-signal-watchdog", daemon=True).start()
        self._previous_fd = signal.set_wakeup_fd(self._fds[1], warn_on_full_buffer=False)
        with self._cond:
            self.prog, self.quiet = prog, quiet
        return None

    def disarm(self, before: Optional[tuple[Optional[str], bool]]) -> None:
        if before is not None:
            self.prog, self.quiet = before
            return
        signal.set_wakeup_fd(self._previous_fd)
        with self._cond:
            self.prog = None
            self._cond.notify_all()

    def note_raised(self) -> None:
        with self._cond:
            self.raised = self.handled
            self._cond.notify_all()

    def _watch(self) -> None:
        assert self._fds is not None
        while True:
            try:
                data = os.read(self._fds[0], 64)
            except OSError:   # pragma: no cover - the pipe is never closed
                return
            ours = (_raise_terminated, _raise_interrupt, _stop_worker)   # a caller's own handler: theirs to answer
            signums = [s for s in data if s in (signal.SIGINT, signal.SIGTERM) and signal.getsignal(s) in ours]
            if not signums:
                continue
            with self._cond:
                self.arrived += len(signums)
                want = self.arrived
                # the main thread answers by raising the interrupt (its handler ran and was not deferred), or by
                # leaving the block; a stuck native call does neither
                self._cond.wait_for(lambda: self.raised >= want or self.prog is None, timeout=GRACE_S)
                if self.raised >= want or self.prog is None:
                    continue
                prog, quiet = self.prog, self.quiet
            self._stop_now(prog, signums[-1], quiet)

    @staticmethod
    def _stop_now(prog: str, signum: int, quiet: bool) -> None:
        discard_pending()
        if not quiet:
            msg = (f"{prog}: interrupted; stopped at once (a blocking call — opening a source, loading a model — "
                   f"did not return within {GRACE_S:g} s of the signal); files being written were removed, finished "
                   f"ones are kept\n")
            try:
                os.write(sys.stderr.fileno(), msg.encode())
            except (OSError, ValueError):
                pass
        os._exit(EXIT_TERMINATED if signum == signal.SIGTERM else EXIT_INTERRUPTED)


_watchdog = _Watchdog()


@contextmanager
def terminate_as_interrupt(prog: Optional[str] = None) -> Iterator[None]:
    """Within the block, SIGTERM raises ``Terminated``; the previous handler is restored afterwards.

    With ``prog`` (a CLI's name), the watchdog also ends a run stuck in a native call (see the module docstring).
    Only the main thread can install signal handlers; elsewhere (a library caller's worker thread) this is a no-op.
    """
    global _received
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _received = None
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    previous_int = signal.getsignal(signal.SIGINT)
    if previous_int is signal.default_int_handler:   # only Python's default is replaced (same behaviour, remembered)
        signal.signal(signal.SIGINT, _raise_interrupt)
    armed = prog is not None
    before = _watchdog.arm(prog) if armed else None
    try:
        yield
    finally:
        if armed:
            _watchdog.disarm(before)
        signal.signal(signal.SIGTERM, previous)
        if previous_int is signal.default_int_handler:
            signal.signal(signal.SIGINT, previous_int)


@contextmanager
def deferred_interrupts() -> Iterator[None]:
    """Inside ``terminate_as_interrupt()``: a SIGINT/SIGTERM arriving in this block is raised when it ends.

    For code that must not see the exception mid-way: imports of C extensions (torch, cv2, onnxruntime, MediaPipe),
    which print or swallow it. Outside ``terminate_as_interrupt()`` (Python's own SIGINT handler) it changes nothing.
    """
    global _deferring
    ours = signal.getsignal(signal.SIGTERM) is _raise_terminated
    if not ours or _deferring:
        yield
        return
    _deferring = True
    try:
        yield
    finally:
        _deferring = False
    raise_if_interrupted()


def raise_if_interrupted() -> None:
    """Inside an error handler: if an interrupt was raised in this block (and perhaps disguised as the error being
    handled), raise it again, so the caller's interrupt path runs instead of an error report."""
    if _received is not None:
        _watchdog.note_raised()
        raise _received()


def exit_code(e: BaseException) -> int:
    """The conventional exit status for an interrupted run: 143 after SIGTERM, 130 after Ctrl-C."""
    return EXIT_TERMINATED if isinstance(e, Terminated) else EXIT_INTERRUPTED


def worker_stops_on_sigterm(prog: str) -> None:
    """In a worker process (``extract --workers``): Ctrl-C is the parent's to handle (ignored here); SIGTERM — what
    a pool sends when it stops — ends the worker quietly with ``SystemExit``, which unwinds its atomic writers, or,
    when it is stuck in a native call, the watchdog ends it ``GRACE_S`` later (a pool waits for its workers)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _stop_worker)
    _watchdog.arm(prog, quiet=True)


def _stop_worker(signum: int, frame: object) -> None:
    _watchdog.handled += 1
    _watchdog.note_raised()
    sys.exit(128 + signum)


def exit_at_once_on_signal() -> None:
    """From now on SIGINT / SIGTERM end the process at once with 130 / 143 (``os._exit``).

    For the interpreter's shutdown after a finished run: every file is closed and the console flushed (the caller
    flushes first), and tearing down torch, ONNX Runtime and OpenCV takes a while; a signal then should neither kill
    the process with a raw −15 nor print a traceback from some module's clean-up. Main thread only (else a no-op)."""
    if threading.current_thread() is not threading.main_thread():
        return
    signal.signal(signal.SIGTERM, lambda *_: os._exit(143))
    signal.signal(signal.SIGINT, lambda *_: os._exit(130))

