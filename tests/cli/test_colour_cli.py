"""Manners of a Unix tool: no escape codes when output is not a terminal, no colour with NO_COLOR.

Runs the real console script in a subprocess: once with pipes (what a script or a file
sees) and once on a pseudo-terminal (what a person sees), for the app and every subcommand.
"""

from __future__ import annotations

import os
import re
import subprocess

import pytest
import typer

from cnncli.cli import app
from tests.terminal import CNNCLI, colour_codes, run_on_pty

ANY_ESCAPE = re.compile(r"\x1b")


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


@pytest.mark.parametrize("args", _command_lines(), ids=" ".join)
def test_piped_output_is_plain_text(args: list[str]) -> None:
    proc = subprocess.run([CNNCLI, *args], capture_output=True, text=True, env=_env(), check=False)
    assert proc.returncode == 0
    assert proc.stdout.strip()
    assert not ANY_ESCAPE.search(proc.stdout + proc.stderr)


def test_a_terminal_gets_colour() -> None:
    # The control case: without it, the NO_COLOR test below would pass vacuously.
    assert colour_codes(run_on_pty(["--help"], _env()))


@pytest.mark.parametrize("args", _command_lines(), ids=" ".join)
def test_no_color_removes_colour_on_a_terminal(args: list[str]) -> None:
    assert colour_codes(run_on_pty(args, _env(NO_COLOR="1"))) == set()
