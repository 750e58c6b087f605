"""Video batches on a Ray cluster (``--ray``): one task per video, running the local batch's own per-video function.

``extract`` and the video run mode hand their per-video function — the one their local loop or process pool runs —
and its jobs to ``RayBatch.map``; results come back as tasks finish, under a progress bar over videos. What makes
the outputs the same as a local run's is that function: it writes its files atomically and never raises for a bad
video (the failure is its result), so the batch rule, resumability and the one-line errors are the local ones.

What Ray adds is used as it comes: a task whose worker process dies (killed, out of memory, a lost node) is run
again, up to ``MAX_RETRIES`` more times, and a video that kills its worker every time is reported on one line while
the others finish. Ctrl-C and SIGTERM cancel the tasks still queued or running (a running one gets
``KeyboardInterrupt``, so it closes its files as an interrupted local run does) and wait for them before the batch
ends: finished files are kept, no half file is left (a task still running ``CANCEL_GRACE_S`` after the signal has
its worker killed, which may leave its hidden temporary file beside the outputs).

``--ray`` or ``--ray auto`` is ``$RAY_ADDRESS`` when set, else a new Ray instance on this machine (loopback,
no dashboard, one worker per video up to the cores, shut down at the end); ``--ray ray://HOST:PORT`` (Ray Client)
or ``HOST:PORT`` joins a cluster started with ``ray start``. Ray is an optional extra, imported only here and only
for ``--ray``: ``pip install "partkd-stream[ray]"``. Every node needs the package (with MediaPipe, whose wheel
carries the pose model) and must reach the videos and the output folder at the same paths (a shared filesystem);
``docs/cluster.md`` is the how-to.
"""
from __future__ import annotations

import argparse
import logging
import os
import re
import signal
import socket
import sys
import threading
from contextlib import contextmanager, nullcontext
from typing import Any, Callable, Iterator, Optional, Sequence, TypeVar

from .errors import PartkdError
from .native_logs import filter_native_stderr
from .signals import Terminated, deferred_interrupts, raise_if_interrupted

J = TypeVar("J")
R = TypeVar("R")

RAY_HINT = 'install the extra: pip install "partkd-stream[ray]" (pip install -e ".[ray]" in a checkout)'
MAX_RETRIES = 3            # further tries of a task whose worker process died (Ray's own default)
WAIT_S = 0.2               # longest wait in Ray's native code: the signal handlers run between waits
CANCEL_GRACE_S = 10.0      # how long cancelled tasks get to close their files before their workers are killed
CONNECT_TIMEOUT_S = 10.0   # a cluster address where nothing answers: Ray itself would retry for many minutes
LOCAL_OBJECT_STORE = 128 * 2**20   # a local instance's object store: results are a few hundred bytes each
_ADDRESS = re.compile(r"^(?:ray://)?(?:\[([0-9A-Fa-f:.]+)\]|([\w.\-]+)):(\d{1,5})$")   # host (IPv6 in []), port


class ClusterError(PartkdError, RuntimeError):
    """``--ray`` cannot be used: Ray missing, a malformed address, a cluster that does not answer."""


def add_option(parser: argparse.ArgumentParser | Any) -> None:
    """``--ray [ADDRESS]``, the same in every mode that takes it."""
    parser.add_argument("--ray", nargs="?", const="auto", metavar="ADDRESS",
                        help="one task per video on Ray: 'auto' (the default when ADDRESS is left out) is "
                             "$RAY_ADDRESS if set, else a local Ray instance; ray://HOST:PORT or HOST:PORT joins a "
                             "running cluster (outputs must be on a filesystem every node reaches); needs "
                             'pip install "partkd-stream[ray]"')


def check_address(spec: str) -> Optional[str]:
    """``--ray`` value → the address to join, or ``None`` for ``$RAY_ADDRESS`` / a local instance.

    ``--ray`` takes an optional value, so ``--ray videos/`` would read the folder as an address: refused with a
    hint, not tried."""
    if spec == "auto":
        return None
    if _ADDRESS.match(spec):
        return spec
    raise ClusterError(f"--ray {spec}: not a cluster address; give ray://HOST:PORT, HOST:PORT or auto (a local Ray "
                       f"instance); put --ray after the inputs, or write --ray auto before them")


def joins_cluster(address: Optional[str]) -> bool:
    """True when the tasks run on an existing cluster (an address, or ``$RAY_ADDRESS``), whose workers may have
    another working directory: paths given to them must then be absolute."""
    return address is not None or bool(os.environ.get("RAY_ADDRESS"))


def import_ray(local: bool = False):
    """Ray, or a ``ClusterError`` that says what to install.

    Usage statistics stay off unless the environment asks for them (``RAY_USAGE_STATS_ENABLED``): a run of this
    tool sends nothing anywhere. With ``local`` (the tasks will run on an instance this process starts) that
    instance is kept on the loopback interface: Ray's single-machine mode (``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0``, read when Ray is imported) puts
    every server on 127.0.0.1, where by default they take the machine's network address."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    if local:
        os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0")
    try:
        with deferred_interrupts():   # a C extension's import code prints the exception a signal raises in it
            import ray
    except ImportError as e:
        raise ClusterError(f"--ray needs Ray, which is not installed ({e}); {RAY_HINT}") from None
    return ray


@contextmanager
def ray_notices_off() -> Iterator[None]:
    """Within the block, the driver does not print Ray's notices (a worker that died, a task run again: long lines
    of ids, on stdout, which holds this tool's summary); they stay in Ray's logs (``/tmp/ray/session_latest/logs``).
    What a batch reports is its own one line per failed video. Ray has no public switch for it: the flag its own
    debugger uses is set when present."""
    worker = sys.modules.get("ray._private.worker")
    before = getattr(worker, "_worker_logs_enabled", None)
    if before is not None:
        worker._worker_logs_enabled = False
    try:
        yield
    finally:
        if before is not None:
            worker._worker_logs_enabled = before


class RayBatch:
    """A Ray connection for one batch: ``with RayBatch(address, workers) as batch: for r in batch.map(...)``.

    Joins ``address`` (or ``$RAY_ADDRESS``), or starts a local instance of ``workers`` CPUs, shut down on exit; when
    Ray is already initialised in this process (a library caller, the tests), that connection is used and left
    open. Leaving the block on an exception (Ctrl-C, SIGTERM) cancels the tasks still outstanding and waits for
    them (``CANCEL_GRACE_S``); what the cancelled tasks returned is then in ``interrupted``.
    """

    def __init__(self, address: Optional[str], workers: int) -> None:
        self.address, self.workers = address, max(1, workers)
        self.interrupted: list[Any] = []
        self._ray = import_ray(local=not joins_cluster(address))
        self._pending: dict[Any, Any] = {}
        self._own = False
        self._quiet = ray_notices_off()

    def __enter__(self) -> "RayBatch":
        self._quiet.__enter__()
        try:
            return self._connect()
        except BaseException:
            self._quiet.__exit__(None, None, None)
            raise

    def _connect(self) -> "RayBatch":
        ray = self._ray
        if ray.is_initialized():
            return self
        address = self.address or os.environ.get("RAY_ADDRESS") or None
        options: dict[str, Any] = dict(include_dashboard=False, log_to_driver=False, logging_level=logging.ERROR)
        if address is None:
            options.update(address="local", num_cpus=self.workers, object_store_memory=LOCAL_OBJECT_STORE)
        else:
            _check_reachable(address, f"--ray {address}" if self.address else f"$RAY_ADDRESS={address}")
            options.update(address=address)
        # ray.init installs SIGTERM handlers that exit at once; the caller's (SIGTERM = Ctrl-C: finish the files,
        # exit 143) is put back. A Ctrl-C during start-up is raised once Ray is up (and then shut down again).
        main = threading.current_thread() is threading.main_thread()
        before = signal.getsignal(signal.SIGTERM) if main else None
        try:
            with deferred_interrupts():
                try:
                    # joining starts no process here, so Ray's native warnings (a refused connection: one a second
                    # for 20 s) can be filtered off descriptor 2; a local instance's processes would inherit the pipe
                    with filter_native_stderr() if address is not None else nullcontext():
                        ray.init(**options)
                except SystemExit:   # Ray's SIGTERM handler, while it started
                    raise Terminated() from None
                except Exception as e:  # noqa: BLE001 - ConnectionError, RuntimeError, ValueError…: one line
                    raise_if_interrupted()
                    raise _init_error(address, self.address, e) from None
                self._own = True
        except BaseException:
            if self._own or ray.is_initialized():
                ray.shutdown()
            raise
        finally:
            if before is not None:
                signal.signal(signal.SIGTERM, before)
        return self

    def map(self, fn: Callable[[J], R], jobs: Sequence[J], name: Callable[[J], str],
            lost: Callable[[J, str], R], progress: Optional[bool] = True) -> Iterator[R]:
        """``fn(job)`` as one Ray task per job (1 CPU each, retried when its worker dies); results as they finish.

        ``fn`` must be a module-level function of this package (workers import it) that returns its failures rather
        than raising them; a task lost all the same — its worker died on every try, or it raised — gives
        ``lost(job, one_line_message)``. ``progress``: a bar over videos on stderr (``None``: when it is a terminal)."""
        from tqdm import tqdm

        ray = self._ray
        remote = ray.remote(_task).options(num_cpus=1, max_retries=MAX_RETRIES)
        self._pending = {remote.remote(fn, job): job for job in jobs}
        refs = list(self._pending)
        with tqdm(total=len(refs), unit="video", disable=None if progress is None else not progress,
                  file=sys.stderr) as bar:
            while refs:
                try:
                    ready, refs = ray.wait(refs, num_returns=1, timeout=WAIT_S)
                except KeyboardInterrupt:
                    raise_if_interrupted()   # Ray raises every interrupt as a plain one: SIGTERM's is Terminated
                    raise
                for ref in ready:
                    job = self._pending.pop(ref)
                    try:
                        result = ray.get(ref)
                    except ray.exceptions.RayError as e:
                        result = lost(job, _lost_message(name(job), e))
                    bar.update()
                    yield result

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            if self._pending:
                self.interrupted = self._cancel()
        finally:
            self._pending = {}
            try:
                if self._own:
                    self._ray.shutdown()
            finally:
                self._quiet.__exit__(None, None, None)

    def _cancel(self) -> list[Any]:
        """Cancel every outstanding task; wait for the running ones to finish their files; what they returned."""
        ray = self._ray
        refs = list(self._pending)
        for ref in refs:
            ray.cancel(ref)
        done, left = ray.wait(refs, num_returns=len(refs), timeout=CANCEL_GRACE_S)
        for ref in left:   # stuck in native code: their workers are killed (atomic files: nothing half-written)
            ray.cancel(ref, force=True)
        returned = []
        for ref in done:
            try:
                returned.append(ray.get(ref, timeout=0))
            except ray.exceptions.RayError:
                pass   # cancelled before it started, or cancelled mid-way without a result
        return returned


def _task(fn: Callable[[J], R], job: J) -> R:
    """What a Ray worker runs: ``fn(job)``, cancellable. Ray cancels a running task by interrupting its main thread
    as SIGINT would, which does nothing where SIGINT is ignored — as in every process started from a background
    shell job (``cmd &``), Ray's workers included: so a worker takes Python's own SIGINT handler back first."""
    if threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)
    return fn(job)


def _check_reachable(address: str, where: str) -> None:
    """A TCP connection to ``HOST:PORT`` (``ray://`` or not) within ``CONNECT_TIMEOUT_S``, else a one-line error:
    ``ray.init`` keeps retrying an address where nothing listens for many minutes, printing as it goes."""
    m = _ADDRESS.match(address)
    if not m:
        return   # not HOST:PORT (RAY_ADDRESS=auto, …): left to Ray
    host, port = m.group(1) or m.group(2), int(m.group(3))
    try:
        socket.create_connection((host, port), timeout=CONNECT_TIMEOUT_S).close()
    except OSError as e:
        reason = "timed out" if isinstance(e, socket.timeout) else (e.strerror or str(e))
        raise ClusterError(f"{where}: nothing answers at {host}:{port} ({reason}); start the cluster there with "
                           f"'ray start --head', or check the address and the firewall") from None


def _init_error(address: Optional[str], given: Optional[str], e: BaseException) -> ClusterError:
    if address is None:
        return ClusterError(f"--ray: cannot start a local Ray instance ({_first_line(e)})")
    where = f"--ray {address}" if given else f"$RAY_ADDRESS={address}"
    return ClusterError(f"{where}: cannot join the Ray cluster ({_first_line(e)}); check that 'ray start --head' "
                        f"runs there, that this machine reaches it, and, for a cluster with token authentication "
                        f"(Ray's default), that RAY_AUTH_MODE=token is set here and the head's ~/.ray/auth_token "
                        f"copied (or RAY_AUTH_TOKEN set)")


def _lost_message(name: str, e: BaseException) -> str:
    import ray

    if isinstance(e, ray.exceptions.WorkerCrashedError):
        return (f"{name}: the worker process died on each of {1 + MAX_RETRIES} tries (killed, out of memory, or a "
                f"crash in native code); the other videos went on")
    if isinstance(e, ray.exceptions.RayTaskError):
        cause = e.cause if isinstance(getattr(e, "cause", None), BaseException) else e
        return f"{name}: {type(cause).__name__}: {_first_line(cause)}"
    return f"{name}: lost on the cluster ({type(e).__name__}: {_first_line(e)})"


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__
