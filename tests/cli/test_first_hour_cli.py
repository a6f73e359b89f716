"""What a new user meets in the first hour: bare cnncli, hints that fit the command run."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

CNNCLI = str(Path(sys.executable).parent / "cnncli")


def test_bare_cnncli_shows_the_help_and_exits_0() -> None:
    proc = subprocess.run([CNNCLI], capture_output=True, text=True, check=False)
    assert proc.returncode == 0
    assert "Usage: cnncli" in proc.stdout
    assert "Commands" in proc.stdout
    assert "error" not in proc.stderr
    assert proc.stderr == ""


def test_bare_cnncli_in_process(run_cli) -> None:
    result = run_cli()
    assert result.exit_code == 0
    assert "Usage" in result.stdout
    assert "error" not in result.stderr
