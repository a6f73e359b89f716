"""cnncli.libc: glibc and Linux calls, each made in a process of its own."""

from __future__ import annotations

import os
import platform
import subprocess
import sys

import pytest


def test_glibc_is_told_to_keep_freed_memory() -> None:
    code = "from cnncli.libc import keep_freed_memory; print(keep_freed_memory())"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(platform.libc_ver()[0] == "glibc")


def _in_a_process(code: str) -> str:
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="a Linux/glibc call")
def test_the_parent_death_signal_is_set_as_the_kernel_reports_it() -> None:
    """Read back with PR_GET_PDEATHSIG, the kernel's own answer."""
    code = (
        "import ctypes, signal\n"
        "from cnncli.libc import signal_when_parent_dies\n"
        "assert signal_when_parent_dies(signal.SIGTERM)\n"
        "found = ctypes.c_int(0)\n"
        "ctypes.CDLL(None).prctl(2, ctypes.byref(found))\n"
        "print(found.value == signal.SIGTERM)\n"
    )
    assert _in_a_process(code) == "True"


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="a Linux/glibc call")
def test_writeback_is_started_on_an_open_file_and_refused_on_a_closed_one(tmp_path) -> None:
    from cnncli.libc import start_writeback

    fd = os.open(tmp_path / "f", os.O_WRONLY | os.O_CREAT)
    os.write(fd, b"x" * 100_000)
    assert start_writeback(fd)
    os.close(fd)
    assert not start_writeback(-1)  # EBADF: the call reached the kernel
    assert (tmp_path / "f").read_bytes() == b"x" * 100_000
