"""The signals that stop cnncli: Ctrl-C (SIGINT), SIGTERM, and SIGHUP (a closed terminal).

Each is raised in the main thread as an exception (KeyboardInterrupt, or
:class:`Terminated`), so the command unwinds and every ``finally`` removes its temporary
file; the process then ends *by that signal* (:func:`ending_signal`), as a shell expects.
That matters in a shell loop: bash stops ``for f in *.png; do cnncli ...; done`` at
Ctrl-C only if the program died of SIGINT ("wait and cooperative exit"); a program that
exits with status 130 instead has, to bash, handled the Ctrl-C, and the loop goes on
with the next file. A signal ignored when cnncli starts (``nohup``, ``cmd &`` from sh)
stays ignored.

The pieces that keep cleanup whole are here too: :func:`signals_held` for a few system
calls that must not be cut in two, :func:`stops_deferred` for waiting on files being
written.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Collection, Iterator
from contextlib import contextmanager, suppress
from typing import Any

# SIGTERM (kill, timeout, a service manager) and SIGHUP (the terminal went away), where
# the platform has them: they end the command the way Ctrl-C does.
TERMINATING = tuple(
    getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name)
)
STOPPING = frozenset({signal.SIGINT, *TERMINATING})

_received: list[int] = []  # the stopping signals handled so far, in order


class Terminated(SystemExit):
    """SIGTERM or SIGHUP, raised where the main thread was: the command unwinds as on
    Ctrl-C (a SystemExit, so that only ``finally`` blocks and cleanup see it)."""

    def __init__(self, signum: int) -> None:
        super().__init__(128 + signum)
        self.signum = signum


# While a stop is deferred (stops_deferred, the process ending), ours hand each stop to
# the innermost holder instead of raising: one list operation, so no signal can land
# halfway through a swap of handlers.
_holders: list[Callable[[int], None]] = []


def _on_ctrl_c(signum: int, frame: Any) -> None:
    if _holders:
        return _holders[-1](signum)
    _received.append(signum)
    signal.default_int_handler(signum, frame)


def _on_termination(signum: int, frame: Any) -> None:
    if _holders:
        return _holders[-1](signum)
    _received.append(signum)
    raise Terminated(signum)


@contextmanager
def unwinding_on_signals() -> Iterator[None]:
    """Meanwhile, Ctrl-C, SIGTERM and SIGHUP unwind the command (main thread only); the
    handlers replaced are put back at the end (cnncli run from another program's code).

    Only a signal whose handler is still the default one is taken over (Python's own
    for SIGINT): one ignored, or a program's own handler, is left to do what it does.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _received.clear()
    with handlers_replaced(_ours_for_defaults(terminating=True)):
        yield


def _ours_for_defaults(*, terminating: bool) -> dict[int, Any]:
    """Our handler for each stopping signal whose handler is still the default one:
    Python's own for SIGINT and, with ``terminating``, none (SIG_DFL) for SIGTERM and
    SIGHUP. (Without it, a program running cnncli's code keeps a SIGTERM that kills.)"""
    ours: dict[int, Any] = {}
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
        ours[signal.SIGINT] = _on_ctrl_c
    for signum in TERMINATING if terminating else ():
        if signal.getsignal(signum) == signal.SIG_DFL:
            ours[signum] = _on_termination
    return ours


@contextmanager
def handlers_replaced(replacements: dict[int, Any]) -> Iterator[None]:
    """These handlers meanwhile; the ones found put back at the end."""
    found = {signum: signal.signal(signum, handler) for signum, handler in replacements.items()}
    try:
        yield
    finally:
        for signum, handler in found.items():
            signal.signal(signum, handler)


def ending_signal(code: object) -> int | None:
    """The signal the process is to end by, given its exit status: the stopping signal
    received, if the status is the one the shell reports for it (128 + its number).
    A command that went on to fail for another reason keeps its own status."""
    for signum in _received:
        if code == 128 + signum:
            return signum
    return None


def end_by_signal(signum: int) -> None:
    """End the process by ``signum``'s default action, as if it had never been handled.

    Called last, with the cleanup done and the streams flushed; returns only where the
    signal did not end the process."""
    signal.signal(signum, signal.SIG_DFL)
    if hasattr(signal, "pthread_sigmask"):
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signum})
    signal.raise_signal(signum)


@contextmanager
def signals_held(also: Collection[int] = ()) -> Iterator[None]:
    """SIGINT, SIGTERM and SIGHUP (and the signals ``also``) wait until the block ends,
    where the platform can hold them: for this thread (a signal sent to the process may
    still reach another one, and its Python handler then runs in the main thread).
    Threads started meanwhile inherit the mask, so that these signals go to the main
    thread."""
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, STOPPING | set(also))
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)


@contextmanager
def stops_deferred(first_stop: Callable[[], None] | None = None) -> Iterator[None]:
    """Ctrl-C, SIGTERM and SIGHUP meanwhile are raised only at the end of the block (the
    first one received: KeyboardInterrupt or :class:`Terminated`); ``first_stop`` runs
    when it comes. Another one after that ends the process at once, by that signal.

    For the wait for the files being written once a batch is stopped: a second signal
    must not cut that wait short. On Python 3.11 an interrupted ``Thread.join`` marks the
    thread stopped while it still runs: the files it writes were then abandoned, and a
    process pool never sent its workers their end, so that the exit waited for them
    forever. (Worker processes are then stopped instead: ``first_stop``.) A third stop is
    the way out of a wait that would never end (a thread reading a FIFO), even if a file
    being written keeps its temporary file. Only handlers that raise are deferred (ours,
    and Python's own SIGINT handler), on the main thread: a signal ignored (in a
    background job, under nohup) or a program's own handler is left to do what it does.
    """
    received: list[int] = []
    try:
        with _stops_held(received, first_stop, terminating=False):
            yield
    except BaseException as failure:
        if received:
            raise _stop(received[0]) from failure
        raise
    if received:
        raise _stop(received[0])


@contextmanager
def _stops_held(
    received: list[int], first_stop: Callable[[], None] | None = None, *, terminating: bool
) -> Iterator[None]:
    """Stops meanwhile are appended to ``received``, not raised (main thread only);
    ``first_stop`` runs at the first, and another one ends the process at once. Ours
    hand each stop to the innermost holder (:data:`_holders`), nested ones too; a default
    handler is swapped for ours for the block (see :func:`_ours_for_defaults`)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def hold(signum: int) -> None:
        received.append(signum)
        if len(received) > 1:
            end_by_signal(signum)
        elif first_stop is not None:
            with suppress(Exception):  # the wait goes on; the stop is raised at its end
                first_stop()

    _holders.append(hold)
    try:
        with handlers_replaced(_ours_for_defaults(terminating=terminating)):
            yield
    finally:
        _holders.remove(hold)


def _stop(signum: int) -> BaseException:
    """The exception a stop by ``signum`` unwinds as (recorded as received)."""
    _received.append(signum)
    return KeyboardInterrupt() if signum == signal.SIGINT else Terminated(signum)


@contextmanager
def stops_recorded() -> Iterator[list[int]]:
    """While the process ends: a stop is only recorded (the list yielded), not raised, so
    that exit handlers and the threads Python would wait for are not cut short; another
    one after the first ends the process at once. Main thread only."""
    late: list[int] = []
    # SIGTERM and SIGHUP too: their handlers are back to the default by then.
    with _stops_held(late, terminating=True):
        yield late
