"""Training processes run side by side: the one scheduler of ``distill --jobs``, ``sweep`` and ``openset_train sweep``.

Each ``Job`` is one command line (a ``python -m train.…`` process, in this process's folder, with the repository
importable); up to ``parallel`` run at once, in the order
given, a job that names another in ``after`` starting only once that one has succeeded (and failing, unstarted, if
it failed). Children run in their own sessions, so a signal reaches them once, from here:

- Ctrl-C or SIGTERM to this process (inside ``partkd_stream.signals.terminate_as_interrupt``) is passed on to every
  running child — each checkpoints its last finished epoch — and re-raised once they have stopped; a second one, or
  ``grace_s`` without an end, kills them;
- at a ``deadline_s`` the running children get SIGTERM in the same way (never SIGKILL first, which would lose what
  a child writes on its way out), jobs not started are left, and the result says ``stopped``.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Hashable, Sequence

from partkd_stream.signals import Terminated

from .paths import REPO


@dataclass
class Job:
    """One process to run: ``argv`` (after the Python interpreter), its output (``log``: a file; None: this
    process's stdout and stderr) and the key of the job it waits for."""

    key: Hashable
    argv: list[str]
    log: Path | None = None
    after: Hashable | None = None
    proc: subprocess.Popen | None = field(default=None, repr=False)
    started: float = 0.0


@dataclass
class Outcome:
    done: list[Hashable] = field(default_factory=list)
    failed: list[Hashable] = field(default_factory=list)    # exited non-zero, or skipped: what it waited for failed
    stopped: list[Hashable] = field(default_factory=list)   # running at the deadline (SIGTERM)
    not_started: list[Hashable] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not (self.failed or self.stopped or self.not_started)


def child_env(**extra: str) -> dict[str, str]:
    """The environment of a child ``python -m train.…``: the repository importable, no progress bars."""
    path = os.environ.get("PYTHONPATH")
    return {**os.environ, "PARTKD_PROGRESS": "0", "PYTHONPATH": str(REPO) + (os.pathsep + path if path else ""),
            **extra}


def run_jobs(jobs: Sequence[Job], parallel: int, *, env: dict[str, str] | None = None, deadline_s: float | None = None,
             grace_s: float = 120.0, on_exit: Callable[[Job, int], None] | None = None, poll_s: float = 0.5
             ) -> Outcome:
    """Run ``jobs``, ``parallel`` at a time (see the module docstring); ``on_exit(job, returncode)`` after each."""
    keys = {j.key for j in jobs}
    pending, running, out = list(jobs), [], Outcome()
    end = time.time() + deadline_s if deadline_s else None
    env = child_env() if env is None else env
    try:
        while pending or running:
            if end is not None and time.time() > end:
                stop(running, signal.SIGTERM, grace_s)
                out.stopped += [j.key for j in running]
                out.not_started += [j.key for j in pending]
                return out
            for job in list(pending):
                if len(running) >= parallel:
                    break
                if job.after in keys and job.after in out.failed:
                    pending.remove(job)
                    out.failed.append(job.key)
                    continue
                if job.after in keys and job.after not in out.done:
                    continue
                pending.remove(job)
                _start(job, env)
                running.append(job)
            time.sleep(poll_s)
            for job in list(running):
                if job.proc.poll() is None:
                    continue
                running.remove(job)
                (out.done if job.proc.returncode == 0 else out.failed).append(job.key)
                if on_exit is not None:
                    on_exit(job, job.proc.returncode)
    except KeyboardInterrupt as e:  # Ctrl-C, or SIGTERM (Terminated): the same signal goes to every child
        stop(running, signal.SIGTERM if isinstance(e, Terminated) else signal.SIGINT, grace_s)
        raise
    return out


def _start(job: Job, env: dict[str, str]) -> None:
    log = open(job.log, "w") if job.log is not None else None
    try:
        job.proc = subprocess.Popen([sys.executable, *job.argv], env=env, start_new_session=True,
                                    stdout=log, stderr=subprocess.STDOUT if log else None)
    finally:
        if log is not None:
            log.close()   # the child holds its own handle
    job.started = time.time()


def stop(jobs: Sequence[Job], sig: int, grace_s: float) -> None:
    """Send ``sig`` to each running job and wait while they checkpoint; after ``grace_s``, or at a second Ctrl-C or
    SIGTERM, kill what is left."""
    live = [j.proc for j in jobs if j.proc is not None and j.proc.poll() is None]
    for proc in live:
        proc.send_signal(sig)
    end = time.time() + grace_s
    try:
        for proc in live:
            try:
                proc.wait(timeout=max(0.0, end - time.time()))
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
    except KeyboardInterrupt:
        for proc in live:
            proc.kill()
            proc.wait()
