"""train.lib.processes: the one scheduler of training processes, on tiny Python children (no training)."""
from __future__ import annotations

import signal
import time

import pytest

from partkd_stream.signals import Terminated
from train.lib.processes import Job, run_jobs

# a child that records its name, then exits with the given code
EXIT = "import pathlib, sys; pathlib.Path(sys.argv[1]).write_text(sys.argv[2]); sys.exit(int(sys.argv[3]))"
# a child that waits to be stopped; on SIGTERM or SIGINT it writes its checkpoint (as a training stage does: the
# signal's number) and exits 128 + the signal
WAIT = ("import pathlib, signal, sys, time\n"
        "def stop(signum, frame):\n"
        "    pathlib.Path(sys.argv[1]).write_text(str(signum))\n"
        "    sys.exit(128 + signum)\n"
        "signal.signal(signal.SIGTERM, stop)\n"
        "signal.signal(signal.SIGINT, stop)\n"
        "pathlib.Path(sys.argv[2]).touch()\n"
        "time.sleep(60)\n")


def _exit_job(tmp_path, key, code=0, after=None):
    return Job(key, ["-c", EXIT, str(tmp_path / f"{key}.out"), key, str(code)], after=after)


def test_jobs_wait_for_what_they_need_and_are_skipped_when_it_failed(tmp_path):
    finished = []
    jobs = [_exit_job(tmp_path, "teacher0"), _exit_job(tmp_path, "teacher1", code=1),
            _exit_job(tmp_path, "kd0", after="teacher0"), _exit_job(tmp_path, "kd1", after="teacher1"),
            _exit_job(tmp_path, "baseline1", after="elsewhere")]    # a key of no job here: nothing to wait for
    out = run_jobs(jobs, 2, poll_s=0.05, on_exit=lambda job, rc: finished.append((job.key, rc)))
    assert sorted(out.done) == ["baseline1", "kd0", "teacher0"]
    assert out.failed == ["teacher1", "kd1"] and not out.ok
    assert not (tmp_path / "kd1.out").exists(), "the student of a failed teacher never starts"
    assert finished.index(("teacher0", 0)) < finished.index(("kd0", 0))
    assert ("teacher1", 1) in finished and all(k != "kd1" for k, _ in finished)


def test_log_files_take_a_jobs_output(tmp_path):
    job = Job("a", ["-c", "print('hello from a'); import sys; print('oops', file=sys.stderr)"], log=tmp_path / "a.log")
    assert run_jobs([job], 1, poll_s=0.05).ok
    assert (tmp_path / "a.log").read_text().split() == ["hello", "from", "a", "oops"]


def test_a_deadline_stops_running_jobs_with_sigterm_so_they_checkpoint(tmp_path, monkeypatch):
    jobs = [Job("long", ["-c", WAIT, str(tmp_path / "long.ckpt"), str(tmp_path / "long.started")]),
            _exit_job(tmp_path, "later")]
    real_sleep = time.sleep

    def sleep(s):   # the scheduler's poll waits until the child runs (its handlers set), however slow it starts
        end = time.monotonic() + 60
        while not (tmp_path / "long.started").exists() and time.monotonic() < end:
            real_sleep(0.01)
        real_sleep(s)

    monkeypatch.setattr(time, "sleep", sleep)
    out = run_jobs(jobs, 1, deadline_s=0.2, poll_s=0.05)
    assert out.stopped == ["long"] and out.not_started == ["later"] and not out.ok
    assert (tmp_path / "long.ckpt").read_text() == str(int(signal.SIGTERM)), "SIGTERM, not SIGKILL: it checkpointed"
    assert jobs[0].proc.returncode == 143 and not (tmp_path / "later.out").exists()


@pytest.mark.parametrize("interrupt, sig", [(KeyboardInterrupt, signal.SIGINT), (Terminated, signal.SIGTERM)],
                         ids=["ctrl-c", "sigterm"])
def test_an_interrupt_is_passed_on_to_every_running_child_and_raised(tmp_path, interrupt, sig, monkeypatch):
    """Ctrl-C (SIGINT) or SIGTERM to the scheduler reaches each running child as the same signal, once, from the
    scheduler; each child checkpoints, and the scheduler re-raises once they have stopped."""
    jobs = [Job(k, ["-c", WAIT, str(tmp_path / f"{k}.ckpt"), str(tmp_path / f"{k}.started")]) for k in "ab"]
    real_sleep, raised = time.sleep, []

    def sleep(s):   # the scheduler's poll: once both children run, the interrupt arrives there, once
        if not raised and all((tmp_path / f"{k}.started").exists() for k in "ab"):
            raised.append(True)
            raise interrupt()
        real_sleep(s)

    monkeypatch.setattr(time, "sleep", sleep)
    with pytest.raises(interrupt):
        run_jobs(jobs, 2, poll_s=0.05)
    assert [(tmp_path / f"{k}.ckpt").read_text() for k in "ab"] == [str(int(sig))] * 2
    assert all(job.proc.poll() is not None for job in jobs), "no child outlives the scheduler"
