"""How cnncli takes Ctrl-C, SIGTERM and SIGHUP (cnncli.interrupts), in this process.

Every test puts the handlers back as they were (the ``handlers`` fixture).
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
from functools import partial

import pytest

from cnncli import interrupts
from cnncli.interrupts import Terminated, ending_signal, stops_deferred, unwinding_on_signals
from tests.terminal import default_signals


@pytest.fixture
def handlers():
    """The stopping signals' handlers and the record of signals received, restored after."""
    saved = {signum: signal.getsignal(signum) for signum in interrupts.STOPPING}
    received = list(interrupts._received)
    interrupts._received.clear()
    try:
        yield
    finally:
        for signum, handler in saved.items():
            signal.signal(signum, handler)
        interrupts._received[:] = received


def test_sigterm_and_sighup_unwind_as_terminated_and_name_their_status(handlers) -> None:
    signal.signal(signal.SIGINT, signal.default_int_handler)
    for signum in interrupts.TERMINATING:
        signal.signal(signum, signal.SIG_DFL)
    with unwinding_on_signals():
        for signum in (signal.SIGTERM, signal.SIGHUP):
            with pytest.raises(Terminated) as raised:
                signal.raise_signal(signum)
            assert raised.value.code == 128 + signum
            assert ending_signal(128 + signum) == signum
        with pytest.raises(KeyboardInterrupt):
            signal.raise_signal(signal.SIGINT)
    assert ending_signal(130) == signal.SIGINT  # still known when the process ends


def test_the_handlers_found_are_put_back(handlers) -> None:
    """cnncli run from another program's code leaves its handlers as they were, and a
    later run starts with no signal received."""

    def own(signum: int, frame: object) -> None:
        pass

    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGHUP, own)
    with pytest.raises(KeyboardInterrupt), unwinding_on_signals():
        assert signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL
        signal.raise_signal(signal.SIGINT)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    assert signal.getsignal(signal.SIGTERM) == signal.SIG_DFL
    assert signal.getsignal(signal.SIGHUP) is own
    assert ending_signal(130) == signal.SIGINT
    with unwinding_on_signals():
        assert ending_signal(130) is None


def test_a_status_other_than_the_signals_is_kept(handlers) -> None:
    """A command that went on to fail for another reason keeps its own status."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    with unwinding_on_signals():
        assert ending_signal(143) is None  # nothing received yet
        with pytest.raises(Terminated):
            signal.raise_signal(signal.SIGTERM)
    assert ending_signal(2) is None
    assert ending_signal(130) is None  # SIGINT's status, but SIGINT never came
    assert ending_signal(143) == signal.SIGTERM


def test_ignored_signals_and_a_programs_own_handlers_are_left_alone(handlers) -> None:
    """``nohup`` ignores SIGHUP, ``cmd &`` from sh ignores SIGINT, a program may have its own."""

    def own(signum: int, frame: object) -> None:
        pass

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, own)
    with unwinding_on_signals():
        assert signal.getsignal(signal.SIGINT) == signal.SIG_IGN
        assert signal.getsignal(signal.SIGHUP) == signal.SIG_IGN
        assert signal.getsignal(signal.SIGTERM) is own


def test_only_the_main_thread_takes_the_signals_over(handlers) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    seen: list[object] = []

    def run() -> None:
        with unwinding_on_signals():  # signal.signal would raise ValueError off the main thread
            seen.append(signal.getsignal(signal.SIGTERM))

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    assert seen == [signal.SIG_DFL]


def test_a_deferred_ctrl_c_is_recorded_as_the_signal_that_ended_the_run(handlers) -> None:
    signal.signal(signal.SIGINT, signal.default_int_handler)
    with unwinding_on_signals():
        ours = signal.getsignal(signal.SIGINT)
        with pytest.raises(KeyboardInterrupt), stops_deferred():
            signal.raise_signal(signal.SIGINT)
            assert ending_signal(130) is None  # not yet raised: the block may still finish
        assert ending_signal(130) == signal.SIGINT
        assert signal.getsignal(signal.SIGINT) is ours


def test_sigterm_and_sighup_are_deferred_too_and_the_first_one_is_raised(handlers) -> None:
    """A second stop of any kind must not cut short the wait for the files being written."""
    signal.signal(signal.SIGINT, signal.default_int_handler)
    for signum in interrupts.TERMINATING:
        signal.signal(signum, signal.SIG_DFL)
    with unwinding_on_signals():
        stopped: list[str] = []
        for signum in (signal.SIGHUP, signal.SIGTERM, signal.SIGINT):
            stopped: list[str] = []
            first_stop = partial(stopped.append, "stop")
            with (
                pytest.raises((Terminated, KeyboardInterrupt)) as raised,
                stops_deferred(first_stop),
            ):
                signal.raise_signal(signum)
                stopped.append("end of block")
            assert getattr(raised.value, "signum", signal.SIGINT) == signum
            assert stopped == ["stop", "end of block"]
            assert ending_signal(128 + signum) == signum


def _ended(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=default_signals,
    )


@pytest.mark.parametrize("second", ["SIGINT", "SIGTERM", "SIGHUP"])
def test_another_stop_while_one_is_deferred_ends_the_process_at_once(second: str) -> None:
    """The way out of a wait that would never end (a thread reading a FIFO): the third
    stop, counting the one that started the wait."""
    proc = _ended(
        "import signal\n"
        "from cnncli.interrupts import stops_deferred, unwinding_on_signals\n"
        "with unwinding_on_signals(), stops_deferred():\n"
        "    signal.raise_signal(signal.SIGTERM)\n"
        f"    signal.raise_signal(signal.{second})\n"
        "    print('went on')\n"
    )
    assert proc.returncode == -getattr(signal, second), proc.stderr
    assert proc.stdout == ""


@pytest.mark.parametrize("sig", ["SIGINT", "SIGTERM", "SIGHUP"])
def test_a_stop_while_the_process_ends_is_how_it_ends(sig: str) -> None:
    """A stop in an exit handler: recorded, not a traceback, and not lost (the exit
    handlers finish first, and the output is flushed)."""
    proc = _ended(
        "import atexit, os, signal, sys\n"
        "from cnncli.cli import console_main\n"
        "atexit.register(print, 'last handler')\n"
        f"atexit.register(os.kill, os.getpid(), signal.{sig})\n"
        "sys.argv = ['cnncli', 'outsize', '--lin', '224', '--k', '11', '--s', '4', '--p', '2']\n"
        "console_main()\n"
    )
    assert proc.returncode == -getattr(signal, sig), proc.stderr
    assert proc.stdout == "55\nlast handler\n"
    assert proc.stderr == ""


def test_ctrl_c_in_a_deferred_block_is_raised_at_its_end(handlers) -> None:
    """Ctrl-C while a batch waits for its files being written (main thread only)."""
    signal.signal(signal.SIGINT, signal.default_int_handler)
    before = signal.getsignal(signal.SIGINT)
    reached = []
    with pytest.raises(KeyboardInterrupt), stops_deferred(lambda: reached.append("pressed")):
        signal.raise_signal(signal.SIGINT)
        reached.append("end of block")
    assert reached == ["pressed", "end of block"]
    assert signal.getsignal(signal.SIGINT) is before
    with stops_deferred():  # no Ctrl-C: nothing raised
        pass
    off_main: list[BaseException | None] = []

    def run() -> None:
        try:
            with stops_deferred():  # cannot catch signals here: the block runs as it is
                off_main.append(None)
        except BaseException as exc:
            off_main.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    assert off_main == [None]


@pytest.mark.parametrize("handler", ["ignored", "a program's own"])
def test_a_sigint_handler_other_than_pythons_is_left_to_do_what_it_does(
    handlers, handler: str
) -> None:
    """``cnncli ... &`` from sh ignores SIGINT; a program calling run_batch may have its own."""

    called: list[int] = []
    own = signal.SIG_IGN if handler == "ignored" else lambda signum, frame: called.append(signum)
    before = signal.signal(signal.SIGINT, own)
    try:
        with stops_deferred():
            signal.raise_signal(signal.SIGINT)  # nothing raised, now or at the end
            assert signal.getsignal(signal.SIGINT) is own
        assert called == ([] if handler == "ignored" else [signal.SIGINT])
        assert signal.getsignal(signal.SIGINT) is own
    finally:
        signal.signal(signal.SIGINT, before)


def test_a_thread_still_running_when_a_stop_ends_the_command_is_waited_for() -> None:
    """As Python's exit waits for the threads that are not daemons (a thread pool whose
    join a second Ctrl-C cut short), and then the process still ends by the signal: an
    exit status instead would let a shell loop go on."""
    proc = _ended(
        "import signal, sys, threading, time\n"
        "from cnncli import cli, interrupts\n"
        "def late_thread():\n"
        "    deadline = time.monotonic() + 60\n"
        "    while not interrupts._holders and time.monotonic() < deadline:\n"
        "        time.sleep(0.01)  # until the process is ending\n"
        "    print('thread finished' if interrupts._holders else 'never waited for')\n"
        "threading.Thread(target=late_thread).start()\n"
        "def stopped_command():\n"
        "    with interrupts.unwinding_on_signals():\n"
        "        signal.raise_signal(signal.SIGTERM)\n"
        "cli.main = stopped_command\n"
        "cli.console_main()\n"
    )
    assert proc.returncode == -signal.SIGTERM, proc.stderr
    assert proc.stdout == "thread finished\n"
