"""SIGTERM becomes the Ctrl-C exception path inside terminate_as_interrupt, and only there."""
import os
import signal

import pytest

from partkd_stream.signals import Terminated, exit_code, raise_if_interrupted, terminate_as_interrupt


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
