"""Batch files on a Dask cluster: an Executor for :func:`cnncli.batch.run_batch`.

``--scheduler tcp://HOST:8786`` connects to a running ``dask scheduler``; ``--scheduler
local`` starts a LocalCluster of worker processes on this machine. Either way batch mode
gets distributed's ``concurrent.futures`` executor (``client.get_executor()``), so the
progress bar, the per-file errors and the summary are those of local batch mode.

What Dask gives for free, and why nothing here re-implements it: a worker lost mid-file
(killed, out of memory, its node gone) has its tasks rescheduled on the other workers,
up to ``distributed.scheduler.allowed-failures`` (3) deaths per task before the file is
reported as not processed (``KilledWorker``); outputs are written atomically, so a worker
that dies mid-write leaves no half-written output. ``retries`` covers the other failures
outside the filter (a task a worker could not load); a bad file is not an exception here
but an :class:`~cnncli.batch.Outcome`, so it is reported once, not retried.

Imports ``distributed`` only when called: without ``--scheduler`` nothing loads Dask.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import socket
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, Future
from contextlib import ExitStack, contextmanager
from typing import TYPE_CHECKING, Any, TypeVar

from cnncli.core.errors import UserError

if TYPE_CHECKING:
    from distributed import Client

T = TypeVar("T")

LOCAL = "local"
CONNECT_TIMEOUT = 5  # seconds; a scheduler that is up answers in milliseconds
RETRIES = 2
INSTALL_HINT = "pip install 'cnncli[dask]'"
# What a terminal sends its whole process group: the local cluster's workers ignore it.
_KEPT_FROM_WORKERS = tuple(
    getattr(signal, name) for name in ("SIGINT", "SIGHUP") if hasattr(signal, name)
)


@contextmanager
def dask_executor(scheduler: str, workers: int | None = None) -> Iterator[Executor]:
    """An Executor whose tasks run on a Dask cluster; closes what it started on exit.

    ``scheduler`` is ``"local"`` (start ``workers`` single-threaded worker processes on
    127.0.0.1, default one per core, no dashboard) or a scheduler address such as
    ``tcp://10.0.0.5:8786``. Tasks are impure (every file runs, none is deduplicated by
    its arguments) and retried ``RETRIES`` times. Dask's log lines are silenced while the
    executor is open, so a command's stderr stays ours: one line per failed file.
    """
    if scheduler != LOCAL and workers is not None:
        raise UserError(
            "--jobs sets the number of workers of --scheduler local",
            hint="a cluster has the workers started with `dask worker`; drop --jobs",
        )
    try:
        import distributed
    except ImportError:
        raise UserError(
            "--scheduler needs Dask's distributed scheduler, which is not installed",
            hint=INSTALL_HINT,
        ) from None
    from cnncli.core.cpus import cpu_count

    quiet = logging.CRITICAL
    with _ClosedWhole() as stack:
        _silence(stack, quiet)
        if scheduler == LOCAL:
            with _stops_kept_from_workers():
                cluster = stack.enter_context(
                    distributed.LocalCluster(
                        n_workers=workers or cpu_count(),
                        threads_per_worker=1,  # one file per process; Dask spreads the files
                        processes=True,
                        host="127.0.0.1",
                        dashboard_address=None,
                        # No dashboard, but the scheduler still serves /health and metrics:
                        # on a free loopback port, not on 8787, which may be another's.
                        scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
                        silence_logs=quiet,
                    )
                )
                client = stack.enter_context(distributed.Client(cluster))
                _ignore_stops_on_workers(client)
        else:
            client = stack.enter_context(_connect(scheduler))
        address = client.scheduler.address if client.scheduler else scheduler
        executor = ClusterExecutor(
            client, client.get_executor(pure=False, retries=RETRIES), address
        )
        try:
            yield executor
        except BaseException:
            executor.shutdown(wait=False)  # Ctrl-C or a crash: cancel the files not yet run
            raise
        executor.shutdown(wait=True)


class _ClosedWhole(ExitStack):
    """An ExitStack whose closing (the client, a local cluster, Dask's logging restored)
    is not cut short by another Ctrl-C, SIGTERM or SIGHUP: one that comes meanwhile is
    raised once all is closed. (Cut short, Dask's own exit handler closed the cluster
    later, for up to 10 s, its log lines no longer silenced.)"""

    def __exit__(self, *exc_info: Any) -> bool:
        from cnncli.interrupts import stops_deferred

        with stops_deferred():
            return bool(super().__exit__(*exc_info))


@contextmanager
def _stops_kept_from_workers() -> Iterator[None]:
    """While a local cluster starts: Ctrl-C and SIGHUP ignored, so that its worker processes
    start with them ignored (an ignored signal stays ignored across fork and exec, and
    Python then sets no KeyboardInterrupt handler of its own); SIGTERM held until the
    cluster is in the ExitStack that closes it, with Dask's log lines still silenced.

    A terminal signals its whole foreground process group, the worker processes too, on
    Ctrl-C or when it closes: each would print a KeyboardInterrupt traceback from deep
    inside Dask, or die mid-file. Ignored by them, the signal reaches only this process,
    which cancels the batch and closes the cluster, and so the workers. (Workers that
    nannies restart later are started with them handled; the plugin of
    :func:`_ignore_stops_on_workers` makes them ignore them too.)
    """
    import threading

    from cnncli.interrupts import handlers_replaced, stops_deferred

    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can be set only from the main thread
        return
    ignored = dict.fromkeys(_KEPT_FROM_WORKERS, signal.SIG_IGN)
    with handlers_replaced(ignored), stops_deferred():
        yield


def _ignore_stops_on_workers(client: Client) -> None:
    from distributed.diagnostics.plugin import WorkerPlugin

    class IgnoreStops(WorkerPlugin):
        """Run on every worker, those started later included: ignore SIGINT and SIGHUP."""

        name = "cnncli-ignore-sigint"

        def setup(self, worker: object) -> None:
            import threading

            if threading.current_thread() is threading.main_thread():
                for signum in _KEPT_FROM_WORKERS:
                    signal.signal(signum, signal.SIG_IGN)

    client.register_plugin(IgnoreStops())


class ClusterExecutor(Executor):
    """Dask's executor, and the one thing a batch must know of the cluster behind it:
    whether a failed file means that the scheduler itself is gone."""

    def __init__(self, client: Client, inner: Executor, address: str) -> None:
        self._client = client
        self._inner = inner
        self._address = address

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        return self._inner.submit(fn, *args, **kwargs)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self._inner.shutdown(wait=wait)

    def raise_if_lost(self, exc: BaseException) -> None:
        """After a failed task: one UserError with the reason if the scheduler was lost.

        Distributed cancels every task when the client loses its scheduler (and then tries
        to reconnect); nothing else cancels a running batch's tasks.
        """
        from concurrent.futures import CancelledError

        if self._client.status == "running" and not isinstance(exc, CancelledError):
            return
        raise UserError(
            f"--scheduler {self._address}: lost the scheduler mid-batch ({_probe(self._address)})",
            hint="the outputs written are whole: rerun with --skip-existing",
        )


def _probe(address: str) -> str:
    """Why a scheduler cannot be reached now, as far as a new connection can tell."""
    try:
        socket.create_connection(_host_port(address), timeout=CONNECT_TIMEOUT).close()
    except OSError as exc:
        return _why(exc)
    try:
        asyncio.run(asyncio.wait_for(_handshake(address), CONNECT_TIMEOUT))
    except Exception:
        return "no Dask scheduler answers there"
    return "the connection dropped; a scheduler answers there again, without this batch's tasks"


def _host_port(address: str) -> tuple[str, int]:
    from distributed.comm.addressing import get_address_host_port

    host, port = get_address_host_port(address)
    return host, port


def _connect(address: str) -> Client:
    """A client of the scheduler at ``address``, or one clear error after a short wait."""
    from distributed import Client
    from distributed.comm.addressing import get_address_host_port

    hint = "is `dask scheduler` running there? or use --scheduler local"
    try:
        # Checked first: a Client that fails on a malformed address leaves distributed's
        # event loop broken for the rest of the process (a later LocalCluster fails).
        host, port = get_address_host_port(address)
        if not 0 < port < 65536:
            raise ValueError(f"port {port} is out of range")
    except ValueError as exc:  # no port, an unknown scheme...
        raise UserError(
            f"--scheduler {address!r} is not a scheduler address ({exc})",
            hint="tcp://HOST:8786, or local",
        ) from None
    # A plain TCP connection first: distributed retries a refused connection until its
    # timeout and then reports only the timeout; this names the cause, and at once.
    try:
        socket.create_connection((host, port), timeout=CONNECT_TIMEOUT).close()
    except OSError as exc:
        raise UserError(f"--scheduler {address}: {_why(exc)}", hint=hint) from None
    # Then Dask's handshake, with a deadline: distributed waits for the peer's handshake
    # without one, so a Client hangs for good on a port where something else listens.
    try:
        asyncio.run(asyncio.wait_for(_handshake(address), CONNECT_TIMEOUT))
    except (TypeError, ValueError) as exc:  # e.g. tls:// without Dask's TLS settings
        raise UserError(f"--scheduler {address}: {exc}") from None
    except Exception:  # no handshake in time, or bytes that are not Dask's protocol
        raise UserError(
            f"--scheduler {address}: no Dask scheduler answers there", hint=hint
        ) from None
    try:
        return Client(address, timeout=CONNECT_TIMEOUT)
    except OSError as exc:
        raise UserError(f"--scheduler {address}: {_why(exc)}", hint=hint) from None


async def _handshake(address: str) -> None:
    from distributed.comm.core import connect
    from distributed.security import Security

    args = Security().get_connection_args("client")  # TLS settings from Dask's config
    comm = await connect(address, timeout=CONNECT_TIMEOUT, **args)
    await comm.close()


def _why(exc: OSError) -> str:
    if isinstance(exc, socket.gaierror):
        return f"unknown host ({exc.strerror})"
    if isinstance(exc, TimeoutError) or str(exc).startswith("Timed out"):
        return f"no answer within {CONNECT_TIMEOUT} s"
    return f"cannot connect ({exc.strerror or exc})"


def _silence(stack: ExitStack, level: int) -> None:
    """Mute Dask's log output here for the life of ``stack``, then restore it.

    Dask logs through a stream handler of its own on the ``distributed`` logger, and its
    child loggers (``distributed.client``...) set their own levels, so the handler's level
    is the one place that quiets them all (as distributed's own ``silence_logs`` does).
    """
    for handler in logging.getLogger("distributed").handlers:
        if isinstance(handler, logging.StreamHandler):
            stack.callback(handler.setLevel, handler.level)
            handler.setLevel(level)
