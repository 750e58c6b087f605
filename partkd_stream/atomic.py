"""Files appear whole or not at all: written beside their final place under a temporary name, then renamed.

A crash, ``kill -9`` or a full disk never leaves a half-written file where a good one was: the old file stays until
the new one is complete, and ``os.replace`` swaps them in one step. Files still being written are known
(``discard_pending``: temporaries, and files written in place that ``track`` registered), so a forced exit
(``signals``: a run stuck in native code) removes them instead of leaving them half-written. An output that exists
and is not a regular file (``/dev/stdout``, a pipe) is written directly.
"""
from __future__ import annotations

import os
import tempfile
import threading
from pathlib import Path

_pending: set[str] = set()    # temporaries being written now, in this process
_lock = threading.Lock()


def writes_in_place(path: str | os.PathLike) -> bool:
    """True for an existing output that is not a regular file (a device, a pipe): it cannot be swapped, only
    written."""
    p = Path(path)
    return p.exists() and not p.is_file()


def final_path(path: str | os.PathLike) -> Path:
    """Where the bytes end up: a symlink's target (the link itself is kept), else the path."""
    p = Path(path)
    return Path(os.path.realpath(p)) if p.is_symlink() else p


def temp_beside(path: str | os.PathLike, suffix: str = "") -> Path:
    """A new, registered temporary file in ``path``'s folder (created with the usual permissions), named
    ``.<name>.<random>.tmp<suffix>`` so writers that pick a format by extension still can (``suffix=".mp4"``)."""
    final = final_path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=final.parent, prefix=f".{final.name}.", suffix=f".tmp{suffix}")
    os.close(fd)
    with _lock:
        _pending.add(tmp)
    try:
        os.chmod(tmp, 0o666 & ~_umask())   # mkstemp creates 0600; give the file the usual permissions
    except OSError:
        discard(tmp)
        raise
    return Path(tmp)


def commit(tmp: str | os.PathLike, path: str | os.PathLike) -> None:
    """Move the finished temporary into place (one rename; the previous file, if any, is replaced whole)."""
    try:
        os.replace(tmp, final_path(path))
    except OSError:
        discard(tmp)
        raise
    with _lock:
        _pending.discard(str(tmp))


def discard(tmp: str | os.PathLike) -> None:
    """Remove an unfinished temporary (the final file, if any, is untouched)."""
    Path(tmp).unlink(missing_ok=True)
    with _lock:
        _pending.discard(str(tmp))


def track(path: str | os.PathLike) -> None:
    """Count a file written in place as unfinished until ``untrack``: a forced exit removes it too."""
    with _lock:
        _pending.add(str(path))


def untrack(path: str | os.PathLike) -> None:
    with _lock:
        _pending.discard(str(path))


def discard_pending() -> None:
    """Remove every temporary still being written (before a forced exit); never raises."""
    with _lock:
        pending = list(_pending)
        _pending.clear()
    for tmp in pending:
        try:
            os.unlink(tmp)
        except OSError:
            pass


def atomic_write_bytes(path: str | os.PathLike, write) -> None:
    """``write(f)`` into a temporary beside ``path``, then rename: readers never see a half-written file."""
    tmp = temp_beside(path)
    try:
        with open(tmp, "wb") as f:
            write(f)
        commit(tmp, path)
    except BaseException:
        discard(tmp)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
