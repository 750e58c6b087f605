"""SIGTERM ends a run the way Ctrl-C does: one exception path, so every CLI finishes its files the same way.

``kill``, systemd and ``docker stop`` send SIGTERM; Python's default action kills the process at once, so sinks are
not closed (an mp4 without its index is unplayable) and no summary or ``end`` event is written. Inside
``terminate_as_interrupt()`` SIGTERM raises ``Terminated`` — a ``KeyboardInterrupt`` — so the code that already
handles Ctrl-C handles it too; the CLI then exits with ``exit_code(e)``: 143 (128 + SIGTERM) or 130 (Ctrl-C).
"""
from __future__ import annotations

import signal
import threading
from contextlib import contextmanager
from typing import Iterator

EXIT_INTERRUPTED = 130   # 128 + SIGINT
EXIT_TERMINATED = 143    # 128 + SIGTERM


class Terminated(KeyboardInterrupt):
    """SIGTERM arrived; raised in the main thread where the signal was received."""


def _raise_terminated(signum: int, frame: object) -> None:
    raise Terminated()


@contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """Within the block, SIGTERM raises ``Terminated``; the previous handler is restored afterwards.

    Only the main thread can install signal handlers; elsewhere (a library caller's worker thread) this is a no-op.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _raise_terminated)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def exit_code(e: BaseException) -> int:
    """The conventional exit status for an interrupted run: 143 after SIGTERM, 130 after Ctrl-C."""
    return EXIT_TERMINATED if isinstance(e, Terminated) else EXIT_INTERRUPTED
