"""How the ``cnncli`` executable ends: as Python would, without its teardown.

Each test runs the entry point in an interpreter of its own and compares with the
app run the ordinary way (``main()``, which leaves the ending to Python).
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

ENTRY = "import sys; from cnncli.cli import console_main; sys.argv[0] = 'cnncli'; console_main()"
ORDINARY = "import sys; from cnncli.cli import main; sys.argv[0] = 'cnncli'; main()"
# An object that says when Python's teardown reaches it.
NOISY = (
    "import os, sys, types\n"
    "class Noisy:\n"
    "    def __del__(self):\n"
    "        os.write(2, b'torn down\\n')\n"
    "holder = types.ModuleType('holder')\n"
    "holder.noisy = Noisy()\n"
    "sys.modules['holder'] = holder\n"
    "del holder\n"
)


# Buffered streams, as most people run it (this machine's environment unbuffers them).
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}


def _run(code: str, *args: str, **kwargs) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=ENV,
        **kwargs,
    )


def test_the_executable_is_the_entry_point_that_ends_without_teardown() -> None:
    from importlib.metadata import entry_points

    (script,) = entry_points(group="console_scripts", name="cnncli")
    assert script.value == "cnncli.cli:console_main"


def test_what_exit_handlers_write_is_flushed() -> None:
    code = "import atexit, sys; atexit.register(sys.stdout.write, 'bye'); " + ENTRY
    result = _run(code, "outsize", "--lin", "224", "--k", "11")
    assert result.stdout == "214\nbye"


@pytest.mark.parametrize(
    "args",
    [
        ("outsize", "--lin", "224", "--k", "11", "--s", "4", "--p", "2"),
        ("outsize", "--lin", "2", "--k", "11"),  # an error: exit 2, one line
        ("summary", "alexnet", "--json"),  # a long answer through a pipe
        ("sobel", "--help"),
        ("no-such-command",),
    ],
)
def test_the_entry_point_ends_with_the_ordinary_output_and_code(args) -> None:
    fast, ordinary = _run(ENTRY, *args), _run(ORDINARY, *args)
    assert (fast.returncode, fast.stdout, fast.stderr) == (
        ordinary.returncode,
        ordinary.stdout,
        ordinary.stderr,
    )


def test_the_executable_skips_the_teardown_the_ordinary_ending_does() -> None:
    args = ("outsize", "--lin", "224", "--k", "11")
    ordinary = _run(NOISY + ORDINARY.replace("; ", "\n"), *args)
    fast = _run(NOISY + ENTRY.replace("; ", "\n"), *args)
    assert ordinary.stdout == fast.stdout == "214\n"
    assert ordinary.stderr == "torn down\n"  # the control: teardown is observable
    assert fast.stderr == ""


def test_a_profiler_keeps_the_ordinary_ending() -> None:
    """cProfile, trace and debuggers write their results at the ordinary exit."""
    code = NOISY + "sys.setprofile(lambda *args: None)\n" + ENTRY.replace("; ", "\n")
    result = _run(code, "outsize", "--lin", "224", "--k", "11")
    assert result.stdout == "214\n"
    assert result.stderr == "torn down\n"


@pytest.mark.parametrize("code", ["3.5", "'bye'", "256", "-1", "2**70", "None"])
def test_exit_codes_python_would_treat_specially_end_as_python_ends_them(code) -> None:
    """Click gives numbers 0-2; anything else ends as Python ends it (the message printed,
    the status folded or refused)."""
    rigged = f"import sys, cnncli.cli\ncnncli.cli.main = lambda: sys.exit({code})\n"
    fast = _run(rigged + "cnncli.cli.console_main()\n")
    ordinary = _run(rigged + "cnncli.cli.main()\n")
    assert (fast.returncode, fast.stderr) == (ordinary.returncode, ordinary.stderr)


def test_exit_handlers_still_run(tmp_path) -> None:
    marker = tmp_path / "ran"
    code = f"import atexit, pathlib; atexit.register(pathlib.Path({str(marker)!r}).touch); " + ENTRY
    result = _run(code, "outsize", "--lin", "224", "--k", "11", "--s", "4", "--p", "2")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "55\n"
    assert marker.exists()


def test_a_thread_still_running_is_waited_for(tmp_path) -> None:
    """A thread another part of the process left running (a library's, say): Python's
    ordinary exit waits for it, and so does cnncli's. It finishes only when told to, on
    stdin, after the answer has been printed."""
    marker = tmp_path / "finished"
    code = (
        "import sys, threading, pathlib\n"
        "def wait_then_mark():\n"
        "    sys.stdin.readline()\n"
        f"    pathlib.Path({str(marker)!r}).touch()\n"
        "threading.Thread(target=wait_then_mark).start()\n" + ENTRY.replace("; ", "\n")
    )
    with subprocess.Popen(
        [sys.executable, "-c", code, "outsize", "--lin", "224", "--k", "11"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as process:
        assert process.stdout is not None and process.stdin is not None
        assert process.stdout.readline() == "214\n"  # the command is done
        process.stdin.write("go\n")
        process.stdin.close()
        assert process.wait(timeout=60) == 0
    assert marker.exists()


def test_a_completion_script_into_a_closed_pipe_is_a_quiet_exit() -> None:
    """``cnncli --show-completion bash | head -0``: no traceback, the broken-pipe status."""
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before the command starts
    try:
        result = subprocess.run(
            [sys.executable, "-c", ENTRY, "--show-completion", "bash"],
            stdout=write_end,
            capture_output=False,
            stderr=subprocess.PIPE,
            env=ENV,
            timeout=120,
        )
    finally:
        os.close(write_end)
    assert result.stderr == b""
    assert result.returncode == 141
