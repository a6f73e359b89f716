"""Running ``cnncli`` on a pseudo-terminal, as a person sees it (for colour and progress tests)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

CNNCLI = str(Path(sys.executable).parent / "cnncli")
SGR = re.compile(rb"\x1b\[([0-9;]*)m")  # Select Graphic Rendition: colours, bold, ...


def run_on_pty(args: list[str], env: dict[str, str], timeout: float = 120) -> bytes:
    """stdout and stderr of ``cnncli ARGS`` on one pseudo-terminal; the command must succeed."""
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
    assert proc.wait(timeout=timeout) == 0
    return b"".join(chunks)


def default_signals() -> None:
    """For a child process: Ctrl-C, SIGTERM and SIGHUP as a terminal's job has them, even
    when the tests run under ``nohup`` or in the background of a script (ignored there)."""
    import signal

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, signal.SIG_DFL)


def run_in_session(argv: list[str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """``argv`` in a session of its own, so that signals sent to its process group reach
    only it (as a terminal's Ctrl-C reaches a foreground job). If it outlives
    ``timeout`` (a hang), its whole group is killed: returncode -9."""
    import signal

    proc = subprocess.Popen(
        argv,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        preexec_fn=default_signals,
    )
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        stdout, stderr = proc.communicate()
    return subprocess.CompletedProcess(argv, proc.returncode, stdout, stderr)


def colour_codes(output: bytes) -> set[str]:
    """SGR parameters that set a colour (30-38, 40-48, 90-97, 100-107), ignoring bold/dim."""
    codes = {c for params in SGR.findall(output) for c in params.decode().split(";") if c}
    return {c for c in codes if 30 <= int(c) <= 48 or 90 <= int(c) <= 107}
