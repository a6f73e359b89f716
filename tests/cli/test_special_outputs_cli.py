"""Outputs that are not regular files: devices and FIFOs are written as they are, symlinks
are followed and their target replaced atomically. Device nodes are made in a temporary
directory (never the machine's own ``/dev/null``)."""

from __future__ import annotations

import io
import os
import stat
import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cnncli.imageio import sample_path

NULL = (1, 3)  # Linux's major/minor numbers of /dev/null and /dev/full
FULL = (1, 7)


def device(tmp_path: Path, name: str, numbers: tuple[int, int]) -> Path:
    path = tmp_path / name
    try:
        os.mknod(path, stat.S_IFCHR | 0o666, os.makedev(*numbers))
    except (PermissionError, OSError) as exc:
        pytest.skip(f"cannot make a device node here: {exc}")
    try:
        os.close(os.open(path, os.O_WRONLY))
    except OSError as exc:  # e.g. a file system mounted nodev
        pytest.skip(f"cannot open a device node in {tmp_path}: {exc.strerror}")
    return path


def assert_still_device(path: Path, numbers: tuple[int, int]) -> None:
    info = os.lstat(path)
    assert stat.S_ISCHR(info.st_mode), "the device was replaced"
    assert (os.major(info.st_rdev), os.minor(info.st_rdev)) == numbers


def only(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


@pytest.mark.parametrize("command", ["smooth", "gradient", "sobel"])
def test_a_character_device_is_written_not_replaced(run_cli, tmp_path, command) -> None:
    null = device(tmp_path, "null", NULL)
    result = run_cli(command, "--sample", str(null), "--format", "png")
    assert result.exit_code == 0, result.stderr
    assert_still_device(null, NULL)
    assert only(tmp_path) == ["null"]  # no temporary file beside it


def test_a_symlink_to_a_device_writes_the_device(run_cli, tmp_path) -> None:
    null = device(tmp_path, "null", NULL)
    link = tmp_path / "out.png"
    link.symlink_to(null)
    assert run_cli("sobel", "--sample", str(link)).exit_code == 0
    assert link.is_symlink() and os.readlink(link) == str(null)
    assert_still_device(null, NULL)


def test_a_device_that_refuses_the_bytes_is_one_error(run_cli, tmp_path) -> None:
    full = device(tmp_path, "full", FULL)
    result = run_cli("sobel", "--sample", str(full), "--format", "png")
    assert result.exit_code == 2
    assert result.stderr == f"error: {full}: cannot write (No space left on device)\n"
    assert_still_device(full, FULL)


def test_a_fifo_is_written_for_its_reader(run_cli, tmp_path) -> None:
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    received: list[bytes] = []

    def reader() -> None:
        with open(fifo, "rb") as handle:  # blocks until cnncli opens the other end
            received.append(handle.read())

    thread = threading.Thread(target=reader)
    thread.start()
    result = run_cli("sobel", "--sample", str(fifo))
    thread.join(timeout=120)
    assert result.exit_code == 0, result.stderr
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)
    assert run_cli("sobel", "--sample", str(tmp_path / "file.png")).exit_code == 0
    assert received == [(tmp_path / "file.png").read_bytes()]
    assert only(tmp_path) == ["file.png", "pipe.png"]


def test_a_fifo_whose_reader_leaves_early_is_an_error(run_cli, tmp_path) -> None:
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    opened = threading.Event()

    def reader() -> None:
        with open(fifo, "rb") as handle:
            handle.read(1)  # the first byte, then away
            opened.set()

    thread = threading.Thread(target=reader)
    thread.start()
    source = tmp_path / "noise.png"  # far larger than a pipe's buffer
    rng = np.random.default_rng(3)
    Image.fromarray(rng.integers(0, 256, (600, 600, 3), dtype=np.uint8)).save(source)
    result = run_cli("pool", "--k", "1", str(source), str(fifo))
    thread.join(timeout=120)
    assert opened.is_set()
    assert result.exit_code == 2
    assert result.stderr == f"error: {fifo}: the reader closed the FIFO before the end\n"


def test_a_symlink_is_followed_and_its_target_replaced_atomically(run_cli, tmp_path) -> None:
    target_dir = tmp_path / "real"
    target_dir.mkdir()
    target = target_dir / "edges.png"
    target.write_bytes(b"old contents")
    os.chmod(target, 0o640)
    old_inode = target.stat().st_ino
    link = tmp_path / "link.png"
    link.symlink_to(target)
    result = run_cli("sobel", "--sample", str(link))
    assert result.exit_code == 0, result.stderr
    assert link.is_symlink() and link.resolve() == target
    assert target.stat().st_ino != old_inode  # a new file renamed into place
    assert stat.S_IMODE(target.stat().st_mode) == 0o640  # with the old one's permissions
    assert Image.open(target).size == Image.open(sample_path()).size
    assert only(tmp_path) == ["link.png", "real"] and only(target_dir) == ["edges.png"]


def test_a_dangling_symlink_creates_its_target(run_cli, tmp_path) -> None:
    link = tmp_path / "link.png"
    link.symlink_to(tmp_path / "new.png")
    assert run_cli("sobel", "--sample", str(link)).exit_code == 0
    assert link.is_symlink()
    assert Image.open(tmp_path / "new.png").size == Image.open(sample_path()).size


def test_no_clobber_refuses_a_symlink_too(run_cli, tmp_path) -> None:
    target = tmp_path / "t.png"
    target.write_bytes(b"keep")
    link = tmp_path / "link.png"
    link.symlink_to(target)
    result = run_cli("sobel", "--sample", str(link), "--no-clobber")
    assert result.exit_code == 2
    assert result.stderr == f"error: {link}: already exists (--no-clobber)\n"
    assert target.read_bytes() == b"keep"


def test_a_socket_is_not_an_output(run_cli, tmp_path) -> None:
    import socket

    path = tmp_path / "s.png"
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(path))
        result = run_cli("sobel", "--sample", str(path))
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: {path}: exists and is not a regular file")


def test_a_fifo_as_input_is_read_like_a_file(run_cli, tmp_path) -> None:
    buffer = io.BytesIO()
    Image.open(sample_path()).save(buffer, format="PNG")
    fifo = tmp_path / "in.png"
    os.mkfifo(fifo)

    def writer() -> None:
        with open(fifo, "wb") as handle:
            handle.write(buffer.getvalue())

    thread = threading.Thread(target=writer)
    thread.start()
    result = run_cli("sobel", str(fifo), str(tmp_path / "o.png"))
    thread.join(timeout=120)
    assert result.exit_code == 0, result.stderr
    assert Image.open(tmp_path / "o.png").size == Image.open(sample_path()).size
