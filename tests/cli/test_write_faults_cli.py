"""Every write is checked: a full disk, a closed stdout or a reader that left is never exit 0.

Each run is a real process with its stdout pointed at the fault (``/dev/full``, a closed
descriptor, a small tmpfs, a pipe whose reader is gone), so what is checked is exactly
what a user's shell would see.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.cli.test_batch_cli import CNNCLI

SAMPLE = Path(__file__).resolve().parents[2] / "cnncli" / "data" / "chelsea.png"
FULL = "error: <stdout>: cannot write (No space left on device)"
CLOSED = "error: stdout is closed; nowhere to write the output"

IMAGE_COMMANDS = [
    ["smooth", "--sample", "-"],
    ["gradient", "--sample", "-"],
    ["sobel", "--sample", "-"],
    ["pool", "--k", "2", "--sample", "-"],
]
CALCULATORS = [
    ["params", "Conv2d(3, 5, 3)"],
    ["outsize", "--lin", "224", "--k", "11", "--s", "4", "--p", "2"],
    ["summary", "myconvnet"],
    ["pool", "--values", "1,2,3", "--k", "2"],
    ["--version"],
]


def shell(command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", "-c", command], capture_output=True, text=True, timeout=120, check=False
    )


def quoted(args: list[str]) -> str:
    return " ".join(f"'{a}'" for a in [CNNCLI, *args])


@pytest.mark.parametrize("args", IMAGE_COMMANDS + CALCULATORS, ids=" ".join)
def test_a_full_stdout_is_one_error_line(args) -> None:
    done = shell(f"{quoted(args)} > /dev/full")
    assert done.returncode == 2
    assert done.stderr == FULL + "\n"


@pytest.mark.parametrize("args", IMAGE_COMMANDS + CALCULATORS, ids=" ".join)
def test_a_closed_stdout_is_one_error_line(args) -> None:
    done = shell(f"{quoted(args)} >&-")
    assert done.returncode == 2
    (line,) = done.stderr.splitlines()
    assert line.startswith(CLOSED)


def test_a_closed_stdout_does_not_matter_for_an_output_file(tmp_path) -> None:
    out = tmp_path / "o.png"
    done = shell(f"{quoted(['sobel', '--sample', str(out)])} >&-")
    assert done.returncode == 0, done.stderr
    assert Image.open(out).size == Image.open(SAMPLE).size


def big_image(folder: Path, side: int = 1024) -> Path:
    """Random RGB: a PNG of about 3 bytes a pixel, larger than any pipe's buffer."""
    path = folder / "noise.png"
    rng = np.random.default_rng(1)
    Image.fromarray(rng.integers(0, 256, (side, side, 3), dtype=np.uint8)).save(path)
    return path


def _with_the_reader_gone(args: list[str]) -> subprocess.CompletedProcess[str]:
    """``cnncli ARGS`` writing into a pipe whose reader left before the first byte."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        return subprocess.run(
            [CNNCLI, *args],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
            check=False,
        )
    finally:
        os.close(write_end)


def test_a_reader_that_left_ends_the_command_quietly_and_not_with_0(tmp_path) -> None:
    done = _with_the_reader_gone(["pool", "--k", "1", str(big_image(tmp_path)), "-"])
    assert done.returncode == 141
    assert done.stderr == ""


def test_a_calculator_whose_reader_left_is_quiet_and_not_0() -> None:
    done = _with_the_reader_gone(["summary", "myconvnet"])
    assert done.returncode == 141
    assert done.stderr == ""


@pytest.fixture
def small_disk(tmp_path) -> Iterator[Path]:
    """A 300 KiB tmpfs, where the machine lets this process mount one."""
    mount = tmp_path / f"small-{uuid.uuid4().hex[:6]}"
    mount.mkdir()
    made = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=300k", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
        check=False,
    )
    if made.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {made.stderr.strip() or made.returncode}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=False)


def test_stdout_to_a_full_disk_is_an_error_not_a_truncated_success(small_disk, tmp_path) -> None:
    source = big_image(tmp_path, 512)  # a 790 KB PNG: does not fit in 300 KiB
    out = small_disk / "o.png"
    done = shell(f"{quoted(['pool', '--k', '1', str(source), '-'])} > '{out}'")
    assert done.returncode == 2
    assert done.stderr == FULL + "\n"


def test_a_file_on_a_full_disk_is_an_error_and_leaves_nothing(small_disk, tmp_path) -> None:
    source = big_image(tmp_path, 512)
    out = small_disk / "o.png"
    done = shell(quoted(["pool", "--k", "1", str(source), str(out)]))
    assert done.returncode == 2
    assert done.stderr == f"error: {out}: cannot write (No space left on device)\n"
    assert list(small_disk.iterdir()) == []  # neither the output nor its temporary file


def test_a_full_disk_in_a_batch_fails_the_files_that_do_not_fit(small_disk, tmp_path) -> None:
    source = big_image(tmp_path, 512)
    done = shell(quoted(["pool", "--k", "1", str(source), "--out-dir", str(small_disk)]))
    assert done.returncode == 2
    lines = done.stderr.splitlines()
    assert lines[0] == f"error: {small_disk / 'noise.png'}: cannot write (No space left on device)"
    assert lines[-1].endswith("0 written, 1 failed")
    assert list(small_disk.iterdir()) == []
