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
"""
from __future__ import annotations

import os
import signal
import threading
from contextlib import contextmanager
from typing import Iterator, Optional

EXIT_INTERRUPTED = 130   # 128 + SIGINT
EXIT_TERMINATED = 143    # 128 + SIGTERM


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived; raised in the main thread where the signal was received."""


_received: Optional[KeyboardInterrupt] = None   # the interrupt raised inside the current block, if any
_deferring = False                              # inside deferred_interrupts(): record, raise at its end


def _raise(interrupt: KeyboardInterrupt) -> None:
    global _received
    _received = interrupt
    if not _deferring:
        raise interrupt


def _raise_terminated(signum: int, frame: object) -> None:
    _raise(Terminated())


def _raise_interrupt(signum: int, frame: object) -> None:   # Python's default for SIGINT, remembered
    _raise(KeyboardInterrupt())


@contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """Within the block, SIGTERM raises ``Terminated``; the previous handler is restored afterwards.

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
    try:
        yield
    finally:
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
        raise _received


def exit_code(e: BaseException) -> int:
    """The conventional exit status for an interrupted run: 143 after SIGTERM, 130 after Ctrl-C."""
    return EXIT_TERMINATED if isinstance(e, Terminated) else EXIT_INTERRUPTED


def exit_at_once_on_signal() -> None:
    """From now on SIGINT / SIGTERM end the process at once with 130 / 143 (``os._exit``).

    For the interpreter's shutdown after a finished run: every file is closed and the console flushed (the caller
    flushes first), and tearing down torch, ONNX Runtime and OpenCV takes a while; a signal then should neither kill
    the process with a raw −15 nor print a traceback from some module's clean-up. Main thread only (else a no-op)."""
    if threading.current_thread() is not threading.main_thread():
        return
    signal.signal(signal.SIGTERM, lambda *_: os._exit(143))
    signal.signal(signal.SIGINT, lambda *_: os._exit(130))
