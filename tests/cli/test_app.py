"""The app as a whole: help, version, entry points, and the one error mechanism."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

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
