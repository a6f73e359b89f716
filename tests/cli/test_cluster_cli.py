"""Batch mode on a Dask cluster (``--scheduler``) as users run it, in a process of its own.

The cluster is real: worker processes on the loopback interface (the ``dask_cluster``
fixture, shared by these tests, or ``--scheduler local``). Every run is a subprocess so
that its stderr is exactly what a user sees, Dask's own logging included.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from tests.cli.test_batch_cli import CNNCLI, load, make_images, mixed_batch

pytestmark = pytest.mark.dask

TIMEOUT = 300  # seconds: generous, for a loaded 2-core machine; nothing here is timed


def cnncli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [CNNCLI, *args], capture_output=True, text=True, timeout=TIMEOUT, check=False
    )


def same_files(a: Path, b: Path) -> None:
    assert sorted(p.name for p in a.iterdir()) == sorted(p.name for p in b.iterdir())
    for path in a.iterdir():
        assert path.read_bytes() == (b / path.name).read_bytes(), path.name


@pytest.mark.parametrize(
    "command",
    [
        ["smooth", "--sigma", "2,3", "--mode", "nearest"],
        ["sobel", "--output", "angle"],
        ["gradient", "--depth", "16"],
        ["pool", "--k", "3", "--s", "2", "--op", "avg"],
    ],
)
def test_outputs_are_identical_to_local_batch_mode(dask_cluster, tmp_path, command) -> None:
    inputs = [str(p) for p in make_images(tmp_path / "in", 6)]
    local = cnncli(*command, *inputs, "--out-dir", str(tmp_path / "threads"))
    assert local.returncode == 0, local.stderr
    args = ["--out-dir", str(tmp_path / "dask"), "--scheduler", dask_cluster.address]
    done = cnncli(*command, *inputs, *args)
    assert done.returncode == 0, done.stderr
    assert done.stdout == ""
    (summary,) = done.stderr.splitlines()  # nothing from Dask itself
    assert summary.startswith(f"{command[0]}: 6 files in ") and summary.endswith(
        "6 written, 0 failed"
    )
    same_files(tmp_path / "threads", tmp_path / "dask")


def test_a_local_cluster_of_its_own(tmp_path) -> None:
    inputs = [str(p) for p in make_images(tmp_path / "in", 4)]
    assert cnncli("sobel", *inputs, "--out-dir", str(tmp_path / "threads")).returncode == 0
    done = cnncli("sobel", *inputs, "--out-dir", str(tmp_path / "dask"), "--scheduler", "local")
    assert done.returncode == 0, done.stderr
    assert done.stderr.startswith("sobel: 4 files in ") and done.stderr.count("\n") == 1
    same_files(tmp_path / "threads", tmp_path / "dask")


def test_bad_files_are_reported_and_the_rest_are_written(dask_cluster, tmp_path) -> None:
    good, broken, missing, args = mixed_batch(tmp_path / "in")
    out = tmp_path / "out"
    done = cnncli("sobel", *args, "--out-dir", str(out), "--scheduler", dask_cluster.address)
    assert done.returncode == 2
    assert sorted(p.name for p in out.iterdir()) == [p.name for p in good]
    lines = done.stderr.splitlines()
    assert sorted(lines[:-1]) == [
        f"error: {broken}: not an image Pillow can read",
        f"error: {missing}: no such file",
    ]
    assert lines[-1].endswith("3 written, 2 failed")


def test_relative_paths_reach_workers_in_another_directory(dask_cluster, tmp_path) -> None:
    # The fixture's workers run in the tests' directory, not in tmp_path: a relative path
    # would name another file there, so the client must send absolute ones.
    make_images(tmp_path / "in", 2)
    scheduler = ["--scheduler", dask_cluster.address]
    done = subprocess.run(
        [CNNCLI, "sobel", "in/img000.png", "in/img001.png", "--out-dir", "out", *scheduler],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["img000.png", "img001.png"]


def _reader_of(fifo: Path, pids: list[int]) -> int | None:
    """The process among ``pids`` that has ``fifo`` open (read from /proc)."""
    for pid in pids:
        try:
            links = [os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")]
        except OSError:  # gone, or a descriptor closed meanwhile: look again
            continue
        if str(fifo) in links:
            return pid
    return None


def test_killing_a_worker_mid_run_still_writes_every_file_whole(own_dask_cluster, tmp_path) -> None:
    # Independent of timing, and of how fast a nanny restarts a worker: a FIFO among the
    # inputs holds the worker that reads it until this test kills that very worker; the
    # file is then rescheduled on the other worker, which is given the image to read.
    if not Path("/proc/self/fd").is_dir():
        pytest.skip("needs /proc to find the worker reading the FIFO")
    client = own_dask_cluster.client
    client.wait_for_workers(2, timeout=TIMEOUT)
    pids = list(client.run(os.getpid).values())
    folder = tmp_path / "in"
    inputs = make_images(folder, 8, size=(64, 64))
    image = inputs[0].read_bytes()
    fifo = folder / "fifo.png"
    os.mkfifo(fifo)
    out = tmp_path / "out"
    args = ["smooth", *map(str, [*inputs[:4], fifo, *inputs[4:]]), "--out-dir", str(out)]
    proc = subprocess.Popen(
        [CNNCLI, *args, "--scheduler", own_dask_cluster.address], stderr=subprocess.PIPE, text=True
    )
    try:
        # A writer that holds the FIFO open without writing: the worker's open() returns
        # and its read() waits, so /proc shows which worker holds the file.
        holder = _open_when_read(fifo)
        victim = None
        deadline = time.monotonic() + TIMEOUT
        while victim is None:
            assert time.monotonic() < deadline, "no worker opened the FIFO"
            victim = _reader_of(fifo, pids)
            time.sleep(0.01)
        os.kill(victim, signal.SIGKILL)
        deadline = time.monotonic() + TIMEOUT
        while not _dead(victim):  # its nanny reaps it: the FIFO has no reader left
            assert time.monotonic() < deadline, "the killed worker did not die"
            time.sleep(0.01)
        os.close(holder)
        # The file's next attempt opens the FIFO again: give it the image.
        writer = _open_when_read(fifo)
        os.set_blocking(writer, True)
        os.write(writer, image)
        os.close(writer)
        _, stderr = proc.communicate(timeout=TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, stderr
    (summary,) = stderr.splitlines()
    assert summary.endswith("9 written, 0 failed")
    names = sorted([p.name for p in inputs] + [fifo.name])
    assert sorted(p.name for p in out.iterdir()) == names  # no .part file beside them
    for path in out.iterdir():
        assert load(path).shape == (64, 64)


def _dead(pid: int) -> bool:
    """Gone and reaped: a zombie's threads may still hold its descriptors."""
    return not Path(f"/proc/{pid}").exists()


def _open_when_read(fifo: Path) -> int:
    """A non-blocking write end of ``fifo``, once a reader has it open (or waits in open)."""
    deadline = time.monotonic() + TIMEOUT
    while True:
        try:
            return os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        except OSError:  # ENXIO: no reader yet
            assert time.monotonic() < deadline, "no worker opened the FIFO"
            time.sleep(0.01)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_an_unreachable_scheduler_is_one_error_line(tmp_path) -> None:
    inputs = [str(p) for p in make_images(tmp_path / "in", 2)]
    address = f"tcp://127.0.0.1:{_free_port()}"
    done = cnncli("sobel", *inputs, "--out-dir", str(tmp_path / "out"), "--scheduler", address)
    assert done.returncode == 2
    assert done.stderr == (
        f"error: --scheduler {address}: cannot connect (Connection refused)"
        " (hint: is `dask scheduler` running there? or use --scheduler local)\n"
    )
    assert not (tmp_path / "out").exists()
