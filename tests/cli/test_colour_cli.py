"""Manners of a Unix tool: no escape codes when output is not a terminal, no colour with NO_COLOR.

Runs the real console script in a subprocess: once with pipes (what a script or a file
sees) and once on a pseudo-terminal (what a person sees), for the app and every subcommand.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import typer

from cnncli.cli import app

CNNCLI = str(Path(sys.executable).parent / "cnncli")
ANY_ESCAPE = re.compile(r"\x1b")
SGR = re.compile(rb"\x1b\[([0-9;]*)m")


# Real results printed by rich (tables, explanations), besides every --help.
RESULTS = (
    ["outsize", "--lin", "4", "--adaptive", "5", "--explain"],
    ["params", "Conv2d(3, 5, 3)", "BatchNorm2d(8)", "--explain"],
)


def _command_lines() -> list[list[str]]:
    group = typer.main.get_command(app)
    names = sorted(group.list_commands(None))  # type: ignore[attr-defined]
    results = [args for args in RESULTS if args[0] in names]
    return [["--help"], *([name, "--help"] for name in names), *results]


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    env.update(TERM="xterm-256color", COLUMNS="80", **extra)
    return env


def _run_on_pty(args: list[str], env: dict[str, str]) -> bytes:
    pty = pytest.importorskip("pty")
    primary, secondary = pty.openpty()
    proc = subprocess.Popen([CNNCLI, *args], stdout=secondary, stderr=secondary, env=env)
    os.close(secondary)
    chunks = []
    while True:
        try:
            data = os.read(primary, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(primary)
    assert proc.wait(timeout=60) == 0
    return b"".join(chunks)


def _colour_codes(output: bytes) -> set[str]:
    """SGR parameters that set a colour (30-38, 40-48, 90-97, 100-107), ignoring bold/dim."""
    colours = set()
    for params in SGR.findall(output):
        for code in params.decode().split(";"):
            if code and (30 <= int(code) <= 48 or 90 <= int(code) <= 107):
                colours.add(code)
    return colours


@pytest.mark.parametrize("args", _command_lines(), ids=" ".join)
def test_piped_output_is_plain_text(args: list[str]) -> None:
    proc = subprocess.run([CNNCLI, *args], capture_output=True, text=True, env=_env(), check=False)
    assert proc.returncode == 0
    assert proc.stdout.strip()
    assert not ANY_ESCAPE.search(proc.stdout + proc.stderr)


def test_a_terminal_gets_colour() -> None:
    # The control case: without it, the NO_COLOR test below would pass vacuously.
    assert _colour_codes(_run_on_pty(["--help"], _env()))


@pytest.mark.parametrize("args", _command_lines(), ids=" ".join)
def test_no_color_removes_colour_on_a_terminal(args: list[str]) -> None:
    assert _colour_codes(_run_on_pty(args, _env(NO_COLOR="1"))) == set()
