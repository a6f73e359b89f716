"""cnncli.allocator: glibc's thresholds, set in a process of their own."""

from __future__ import annotations

import platform
import subprocess
import sys


def test_glibc_is_told_to_keep_freed_memory() -> None:
    code = "from cnncli.allocator import keep_freed_memory; print(keep_freed_memory())"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(platform.libc_ver()[0] == "glibc")
