"""The app as a whole: help, version, entry points, and the one error mechanism."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cnncli import __version__


def test_version(run_cli) -> None:
    result = run_cli("--version")
    assert result.exit_code == 0
    assert result.stdout.strip() == f"cnncli {__version__}"


def test_unknown_command_is_one_error_line_and_exit_2(run_cli) -> None:
    result = run_cli("frobnicate")
    assert result.exit_code == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: ")
    assert "frobnicate" in lines[0]


def test_unknown_option_is_one_error_line_and_exit_2(run_cli) -> None:
    result = run_cli("--frob")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: ")
    assert "--frob" in result.stderr
    assert "Traceback" not in result.stderr


def test_python_dash_m_help() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "cnncli", "--help"], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0
    assert "Usage" in proc.stdout


def test_console_script_is_installed() -> None:
    exe = shutil.which("cnncli", path=str(Path(sys.executable).parent))
    assert exe is not None
    proc = subprocess.run([exe, "--version"], capture_output=True, text=True, check=False)
    assert proc.returncode == 0
    assert __version__ in proc.stdout


def heavy_modules_loaded(args: list[str], heavy: tuple[str, ...]) -> list[str]:
    """Which of ``heavy`` a fresh interpreter has imported after ``cnncli ARGS`` succeeded."""
    code = (
        "import sys\n"
        "from cnncli.cli import app\n"
        "try:\n"
        f"    app({args!r})\n"
        "except SystemExit as exit:\n"
        "    assert not exit.code, exit.code\n"
        f"heavy = [m for m in {heavy!r} if m in sys.modules]\n"
        "print('HEAVY=' + ','.join(heavy))\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = proc.stdout.rsplit("HEAVY=", 1)[1].strip()
    return loaded.split(",") if loaded else []


@pytest.mark.parametrize(
    "args",
    [
        ["outsize", "--lin", "224", "--k", "11", "--s", "4", "--p", "2", "--explain"],
        ["params", "Conv2d(3, 5, 3)", "BatchNorm2d(5)", "--explain"],
        ["summary", "resnet18"],
        ["pool", "--values", "1,2,3", "--adaptive", "8", "--op", "avg"],
    ],
    ids=lambda args: args[0],
)
def test_calculators_import_no_heavy_modules(args) -> None:
    """Start-up time is a feature: numbers in, numbers out, without numpy/scipy/Pillow."""
    assert heavy_modules_loaded(args, ("numpy", "scipy", "PIL", "torch")) == []


def test_an_internal_error_says_how_to_see_its_traceback(run_cli, monkeypatch) -> None:
    """A fault injected where outsize builds its question: the one line names the way to
    the traceback that works (--debug goes before the command), and that way shows it."""
    import cnncli.core.outsize

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("injected")

    monkeypatch.setattr(cnncli.core.outsize, "build_question", broken)
    result = run_cli("outsize", "--lin", "5", "--k", "3")
    assert result.exit_code == 1
    (line,) = result.stderr.splitlines()
    assert line.startswith("error: internal error: RuntimeError: injected")
    assert "cnncli --debug COMMAND" in line and "CNNCLI_DEBUG=1" in line
    shown = run_cli("--debug", "outsize", "--lin", "5", "--k", "3")
    assert isinstance(shown.exception, RuntimeError)
