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


def test_killing_a_worker_mid_run_still_writes_every_file_whole(dask_cluster, tmp_path) -> None:
    client = dask_cluster.client
    client.wait_for_workers(2, timeout=TIMEOUT)
    pids = client.run(os.getpid)  # worker address -> its process id
    assert not any(client.has_what().values()), "another run's results are still held"
    inputs = [str(p) for p in make_images(tmp_path / "in", 30, size=(384, 384))]
    out = tmp_path / "out"
    args = ["smooth", *inputs, "--sigma", "30", "--out-dir", str(out)]
    proc = subprocess.Popen(
        [CNNCLI, *args, "--scheduler", dask_cluster.address], stderr=subprocess.PIPE, text=True
    )
    # Kill the worker that has just finished a file: it dies while reading or filtering
    # its next one, and the finished result it held is lost too. (Killing a worker in the
    # last milliseconds of a write would leave its hidden temporary file behind.)
    victim = None
    deadline = time.monotonic() + TIMEOUT
    while victim is None and time.monotonic() < deadline and proc.poll() is None:
        victim = next((w for w, keys in client.has_what().items() if keys), None)
        time.sleep(0.005)
    assert victim is not None, "the run ended before any worker could be killed"
    written_before = len(list(out.glob("*.png")))
    os.kill(pids[victim], signal.SIGKILL)
    _, stderr = proc.communicate(timeout=TIMEOUT)
    assert written_before < len(inputs), "killed too late to test anything"
    assert proc.returncode == 0, stderr
    (summary,) = stderr.splitlines()
    assert summary.endswith("30 written, 0 failed")
    assert sorted(p.name for p in out.iterdir()) == sorted(Path(p).name for p in inputs)
    for path in out.iterdir():  # every one whole; no .part file left beside them
        assert load(path).shape == (384, 384)
    client.wait_for_workers(2, timeout=TIMEOUT)  # its nanny started a new worker
    assert pids[victim] not in client.run(os.getpid).values()


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
