"""On a terminal: the progress bar says what its times are, NO_COLOR removes its colour;
shell completion for the shell named (bash, zsh), shown and installed."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.terminal import CNNCLI, SGR, colour_codes, run_on_pty

BIN = Path(sys.executable).parent


def _images(folder: Path, count: int) -> list[str]:
    folder.mkdir()
    rng = np.random.default_rng(10)
    for i in range(count):
        Image.fromarray(rng.integers(0, 256, (24, 32)).astype(np.uint8)).save(folder / f"{i}.png")
    return [str(folder / f"{i}.png") for i in range(count)]


def _on_a_terminal(args: list[str], **env: str) -> bytes:
    """stderr and stdout of ``cnncli ARGS`` run on a pseudo-terminal, as a person sees it."""
    clean = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    return run_on_pty(args, {**clean, "TERM": "xterm-256color", "COLUMNS": "120", **env})


def test_progress_columns_are_labelled(tmp_path: Path) -> None:
    inputs = _images(tmp_path / "in", 3)
    text = _on_a_terminal(["sobel", *inputs, "--out-dir", str(tmp_path / "o")]).decode()
    bar = [line for line in SGR.sub(b"", text.encode()).decode().split("\r") if "3/3" in line]
    assert bar, text
    assert re.search(r"3/3 elapsed \d+:\d\d:\d\d remaining", bar[-1]), bar[-1]


def test_progress_bar_has_colour_unless_no_color(tmp_path: Path) -> None:
    inputs = _images(tmp_path / "in", 3)
    coloured = _on_a_terminal(["sobel", *inputs, "--out-dir", str(tmp_path / "a")])
    assert colour_codes(coloured)  # the control: without it the next check proves nothing
    plain = _on_a_terminal(["sobel", *inputs, "--out-dir", str(tmp_path / "b")], NO_COLOR="1")
    assert b"3/3" in plain
    assert colour_codes(plain) == set()


@pytest.mark.parametrize(
    ("shell", "marks"),
    [
        ("bash", ["_cnncli_completion()", "complete -o default -F _cnncli_completion cnncli"]),
        ("zsh", ["#compdef cnncli", "_cnncli_completion()", "_CNNCLI_COMPLETE=complete_zsh"]),
    ],
)
def test_show_completion_for_the_shell_named(shell: str, marks: list[str]) -> None:
    proc = subprocess.run(
        [CNNCLI, "--show-completion", shell], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr
    for mark in marks:
        assert mark in proc.stdout
    other = {"bash": "#compdef", "zsh": "complete -o default"}[shell]
    assert other not in proc.stdout  # the named shell's script, not the running shell's


@pytest.mark.parametrize(
    ("shell", "script", "rc"),
    [("bash", ".bash_completions/cnncli.sh", ".bashrc"), ("zsh", ".zfunc/_cnncli", ".zshrc")],
)
def test_install_completion_for_the_shell_named(
    tmp_path: Path, shell: str, script: str, rc: str
) -> None:
    env = {**os.environ, "HOME": str(tmp_path)}
    proc = subprocess.run(
        [CNNCLI, "--install-completion", shell], capture_output=True, text=True, env=env
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(f"{shell} completion installed in {tmp_path / script}")
    assert "_cnncli_completion" in (tmp_path / script).read_text()
    assert (tmp_path / rc).exists()


def test_bash_completes_a_subcommand_and_an_option(tmp_path: Path) -> None:
    bash = shutil.which("bash")
    if bash is None:
        pytest.skip("bash is not installed")
    script = subprocess.run(
        [CNNCLI, "--show-completion", "bash"], capture_output=True, text=True, check=True
    ).stdout
    (tmp_path / "cnncli.sh").write_text(script)
    session = (
        f"source {tmp_path / 'cnncli.sh'}\n"
        "COMP_WORDS=(cnncli smo); COMP_CWORD=1; _cnncli_completion cnncli; "
        'echo "${COMPREPLY[@]}"\n'
        "COMP_WORDS=(cnncli sobel --norm); COMP_CWORD=2; _cnncli_completion cnncli; "
        'echo "${COMPREPLY[@]}"\n'
    )
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    proc = subprocess.run([bash, "-c", session], capture_output=True, text=True, env=env)
    assert proc.stdout.splitlines() == ["smooth", "--normalize"], proc.stderr


@pytest.mark.parametrize("command", ["smooth", "sobel", "gradient", "pool"])
def test_image_data_is_not_awaited_from_a_terminal(tmp_path, command) -> None:
    """stdin on a terminal with `-` as the input: one error line at once, not a wait that
    looks like a hang (nothing typed there is an image). The terminal is never written to,
    so the command, if it waited, would wait until the timeout."""
    pty = pytest.importorskip("pty")
    primary, secondary = pty.openpty()
    try:
        extra = ["--k", "2"] if command == "pool" else []
        proc = subprocess.run(
            [CNNCLI, command, "-", str(tmp_path / "out.png"), *extra],
            stdin=secondary,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    finally:
        os.close(secondary)
        os.close(primary)
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: refusing to read image data from a terminal")
    assert not (tmp_path / "out.png").exists()
