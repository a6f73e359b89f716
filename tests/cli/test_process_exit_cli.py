"""How the ``cnncli`` process ends: as Python would, without its teardown.

Each test runs the entry point in an interpreter of its own and compares with the
app run the ordinary way (``app()``, which leaves the ending to Python).
"""

from __future__ import annotations

import subprocess
import sys

import pytest

ENTRY = "import sys; from cnncli.cli import main; sys.argv[0] = 'cnncli'; main()"
ORDINARY = "import sys; from cnncli.cli import app; sys.argv[0] = 'cnncli'; app()"


def _run(code: str, *args: str, **kwargs) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, timeout=120, **kwargs
    )


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
