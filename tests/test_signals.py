"""SIGTERM becomes the Ctrl-C exception path inside terminate_as_interrupt, and only there; a run stuck in a
blocking call ends all the same (the watchdog)."""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from partkd_stream.signals import Terminated, exit_code, raise_if_interrupted, terminate_as_interrupt

REPO = Path(__file__).resolve().parents[1]


def test_sigterm_raises_terminated_inside_and_is_restored_after():
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(KeyboardInterrupt) as info:
        with terminate_as_interrupt():
            os.kill(os.getpid(), signal.SIGTERM)
    assert isinstance(info.value, Terminated) and exit_code(info.value) == 143
    assert signal.getsignal(signal.SIGTERM) == before


def test_ctrl_c_keeps_its_own_exit_code():
    assert exit_code(KeyboardInterrupt()) == 130


def test_an_interrupt_disguised_by_library_code_is_raised_again():
    """A pybind11 import interrupted by a signal reports ImportError("initialization failed"); the block knows."""
    with pytest.raises(KeyboardInterrupt) as info:
        with terminate_as_interrupt():
            try:
                try:
                    os.kill(os.getpid(), signal.SIGTERM)
                except KeyboardInterrupt:
                    raise ImportError("initialization failed") from None
            except ImportError:
                raise_if_interrupted()
    assert isinstance(info.value, Terminated)
    with terminate_as_interrupt():            # a new block starts clean
        raise_if_interrupted()


def test_a_signal_inside_deferred_interrupts_is_raised_when_the_block_ends():
    from partkd_stream.signals import deferred_interrupts

    reached = []
    with pytest.raises(Terminated):
        with terminate_as_interrupt():
            with deferred_interrupts():
                os.kill(os.getpid(), signal.SIGTERM)
                reached.append("rest of the block")     # not cut short: an extension's import would print it
    assert reached == ["rest of the block"]


def test_deferred_interrupts_outside_terminate_block_changes_nothing():
    from partkd_stream.signals import deferred_interrupts

    reached = []
    # Python's own SIGINT handler (a shell starts background jobs with SIGINT ignored, and Python keeps that)
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt):
            with deferred_interrupts():
                os.kill(os.getpid(), signal.SIGINT)      # raised at once, as always
                reached.append("rest of the block")
    finally:
        signal.signal(signal.SIGINT, previous)
    assert reached == []


# --- the watchdog: a run stuck in a blocking call still ends (real signals to a real process) ---------------------
_SCRIPT = """
import signal, sys, threading, time
from pathlib import Path
signal.signal(signal.SIGINT, signal.default_int_handler)   # as in a terminal (a background job ignores SIGINT)
from partkd_stream.signals import deferred_interrupts, exit_code, terminate_as_interrupt
from partkd_stream.sinks import JsonlSink
folder, mode = Path(sys.argv[1]), sys.argv[2]
done = JsonlSink(folder / "done.jsonl"); done.write({"frame": 1}); done.close()
busy = JsonlSink(folder / "busy.jsonl"); busy.write({"frame": 1})
with terminate_as_interrupt("prog"):
    try:
        (folder / "ready").touch()
        if mode == "stuck":                       # a call that does not return on a signal, like OpenCV's open
            with deferred_interrupts():
                threading.Event().wait()
        time.sleep(60)
    except KeyboardInterrupt as e:
        (folder / "cleaning").touch()
        time.sleep(2.5)                           # a slow clean-up: longer than the watchdog's grace
        busy.close()
        print("clean exit", flush=True)
        sys.exit(exit_code(e))
"""


def _run_script(tmp_path, mode: str, signals: list[int]) -> tuple[int, str, str, float]:
    proc = subprocess.Popen([sys.executable, "-c", _SCRIPT, str(tmp_path), mode], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, cwd=REPO, env=dict(os.environ, PYTHONPATH=str(REPO)))
    try:
        deadline = time.monotonic() + 30
        while not (tmp_path / "ready").exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(0.1)
        t0 = time.monotonic()
        proc.send_signal(signals[0])
        for sig in signals[1:]:
            while not (tmp_path / "cleaning").exists() and time.monotonic() < deadline:
                time.sleep(0.02)
            proc.send_signal(sig)
        out, err = proc.communicate(timeout=15)
        return proc.returncode, out, err, time.monotonic() - t0
    finally:
        proc.kill()


@pytest.mark.slow
def test_a_run_stuck_in_a_blocking_call_ends_after_the_grace_with_unfinished_files_removed(tmp_path):
    from partkd_stream.signals import GRACE_S

    code, out, err, took = _run_script(tmp_path, "stuck", [signal.SIGTERM])
    assert code == 143 and GRACE_S <= took < GRACE_S + 2, (code, took, err)
    assert err.startswith("prog: interrupted; stopped at once") and err.count("\n") == 1 and out == ""
    assert sorted(p.name for p in tmp_path.iterdir()) == ["done.jsonl", "ready"]     # busy.jsonl removed


@pytest.mark.slow
def test_the_watchdog_leaves_a_clean_stop_alone_however_long_it_takes(tmp_path):
    code, out, err, took = _run_script(tmp_path, "sleep", [signal.SIGINT])
    assert (code, out, err) == (130, "clean exit\n", "") and took > 2.5
    assert (tmp_path / "busy.jsonl").read_text() == '{"frame": 1}\n'


@pytest.mark.slow
def test_a_second_signal_during_the_clean_stop_ends_it_at_once(tmp_path):
    from partkd_stream.signals import GRACE_S

    code, out, err, took = _run_script(tmp_path, "sleep", [signal.SIGTERM, signal.SIGTERM])
    assert code == 143 and out == "" and err.startswith("prog: interrupted; stopped at once"), (code, out, err)
    assert took < 2.5 + GRACE_S and not (tmp_path / "busy.jsonl").exists()


def _fifo_run(tmp_path, mode: str) -> list[str]:
    """The command line of a run that blocks opening a FIFO: the video (``run``, ``extract``) or the model file."""
    import shutil

    from partkd_stream.models import default_model_path

    fifo = tmp_path / ("f.onnx" if mode == "model" else "f.mp4")
    os.mkfifo(fifo)
    if mode == "model":
        shutil.copy(default_model_path().with_name(default_model_path().stem + ".card.json"), tmp_path / "f.card.json")
    return {"run": ["--video", str(fifo), "--no-display", "--out", str(tmp_path / "o.jsonl")],
            "extract": ["extract", str(fifo), "--out", str(tmp_path / "out"), "--no-progress"],
            "model": ["--skeletons", str(REPO / "demo" / "demo_skeletons.jsonl"), "--model", str(fifo), "--out",
                      str(tmp_path / "o.jsonl")]}[mode]


def _sigterm_while_blocked(args: list[str]) -> tuple[int, float, str]:
    """Start the CLI, wait until it is blocked in the FIFO's ``open`` (its wchan says so), send SIGTERM: the exit
    code, the seconds from the signal to the exit, stderr."""
    env = dict(os.environ, PYTHONPATH=str(REPO), DISPLAY="", WAYLAND_DISPLAY="")
    proc = subprocess.Popen([sys.executable, "-m", "partkd_stream.cli", *args], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env, cwd=REPO)
    try:
        deadline = time.monotonic() + 60
        while Path(f"/proc/{proc.pid}/wchan").read_text() != "wait_for_partner":
            assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
            time.sleep(0.02)
        t0 = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=10)
        return proc.returncode, time.monotonic() - t0, err
    finally:
        proc.kill()


needs_fifo = pytest.mark.skipif(not (hasattr(os, "mkfifo") and Path("/proc/self/wchan").exists()),
                                reason="needs a FIFO and /proc/PID/wchan to see a process blocked in its open")


@needs_fifo
def test_sigterm_ends_a_run_blocked_opening_a_fifo(tmp_path):
    """OpenCV blocks in ``open`` on a FIFO nobody writes to, where no Python signal handler runs: before, SIGTERM
    left it blocked (6 of 6 tries, 8 s each). The watchdog ends it 1.5 s after the signal, with 143 and one line."""
    code, took, err = _sigterm_while_blocked(_fifo_run(tmp_path, "run"))
    assert code == 143 and took < 5, (code, took, err)
    assert err.count("\n") == 1 and err.startswith("partkd-stream: interrupted; stopped at once"), err
    assert not (tmp_path / "o.jsonl").exists()


@pytest.mark.slow
@needs_fifo
@pytest.mark.parametrize("mode", ["run", "extract", "model"])
def test_sigterm_ends_a_run_blocked_opening_a_fifo_ten_times_in_ten(tmp_path, mode):
    """``partkd-stream --video FIFO``, ``partkd-stream extract FIFO``, and a model file that is a FIFO (opened
    while the model loads, where signals are deferred): each of 10 tries ends with 143 within 5 s of SIGTERM."""
    args = _fifo_run(tmp_path, mode)
    for attempt in range(10):
        code, took, err = _sigterm_while_blocked(args)
        assert code == 143 and took < 5 and "interrupted" in err and err.count("\n") == 1, (attempt, code, took, err)
