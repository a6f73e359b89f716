"""Faults on the Dask path as a user meets them: Ctrl-C and a scheduler that goes away.

Nothing here waits on time. A FIFO among the inputs is the hook: the worker that takes
it blocks in ``open()`` until the test writes to it, so the batch is certainly running
(and certainly not finished) when the fault is made.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli.test_batch_cli import CNNCLI, load, make_images, release

pytestmark = pytest.mark.dask

TIMEOUT = 300  # seconds: only a bound for a hung run; nothing here is timed


def wait_for(condition, what: str) -> None:
    """Poll ``condition`` until it holds (a generous bound, for a loaded machine)."""
    deadline = time.monotonic() + TIMEOUT
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def batch_with_a_fifo(folder: Path, count: int = 3) -> tuple[list[Path], Path]:
    good = make_images(folder, count)
    fifo = folder / "zz_fifo.png"
    os.mkfifo(fifo)
    return good, fifo


def test_ctrl_c_on_a_local_cluster_is_one_line(tmp_path) -> None:
    good, fifo = batch_with_a_fifo(tmp_path / "in")
    out = tmp_path / "out"
    args = [*map(str, good), str(fifo), "--out-dir", str(out), "--scheduler", "local", "-j", "2"]
    # A session of its own: SIGINT goes to the whole process group, as a terminal's Ctrl-C
    # does, so the worker processes get it too.
    proc = subprocess.Popen(
        [CNNCLI, "sobel", *args], stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        wait_for(lambda: all((out / p.name).exists() for p in good), "the regular files")
        os.killpg(proc.pid, signal.SIGINT)
        _, stderr = proc.communicate(timeout=TIMEOUT)
    finally:
        release(fifo)
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGINT, stderr  # ended by it: the shell shows 130
    done, total = len(good), len(good) + 1
    assert stderr == (
        f"sobel: interrupted; {done} of {total} outputs are in {out} "
        f"(rerun the same command with --skip-existing to make the other {total - done})\n"
    )
    assert sorted(p.name for p in out.iterdir()) == sorted(p.name for p in good)
    for path in out.iterdir():
        assert load(path).shape == (40, 56)


@pytest.fixture
def scheduler_and_worker(tmp_path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """A scheduler and one worker, each a process of its own (the scheduler is the one a
    test can kill), on a free loopback port."""
    import distributed

    from tests.cli.test_cluster_cli import _free_port

    address = f"tcp://127.0.0.1:{_free_port()}"
    dask = str(Path(sys.executable).parent / "dask")
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    scheduler = subprocess.Popen(
        [dask, "scheduler", "--host", "127.0.0.1", "--port", address.rsplit(":", 1)[1]],
        start_new_session=True,
        **quiet,
    )
    worker = subprocess.Popen(
        [dask, "worker", address, "--nthreads", "1", "--nworkers", "1", "--no-dashboard"],
        start_new_session=True,
        **quiet,
    )
    try:
        with distributed.Client(address, timeout=TIMEOUT) as client:
            client.wait_for_workers(1, timeout=TIMEOUT)
        yield address, scheduler
    finally:
        for proc in (worker, scheduler):
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=TIMEOUT)


def test_a_lost_scheduler_is_one_line_with_its_reason(scheduler_and_worker, tmp_path) -> None:
    address, scheduler = scheduler_and_worker
    good, fifo = batch_with_a_fifo(tmp_path / "in")
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [
            CNNCLI,
            "sobel",
            *map(str, good),
            str(fifo),
            "--out-dir",
            str(out),
            "--scheduler",
            address,
        ],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        wait_for(lambda: all((out / p.name).exists() for p in good), "the regular files")
        os.killpg(scheduler.pid, signal.SIGKILL)  # the FIFO's file is still being read
        scheduler.wait(timeout=TIMEOUT)
        _, stderr = proc.communicate(timeout=TIMEOUT)
    finally:
        release(fifo)
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 2, stderr
    # The reason is what a new connection finds: refused, or (while the dying process's
    # listening socket still takes connections) no answer.
    reasons = ("cannot connect (Connection refused)", "no Dask scheduler answers there")
    assert stderr in [
        f"error: --scheduler {address}: lost the scheduler mid-batch ({reason}) "
        "(hint: the outputs written are whole: rerun with --skip-existing)\n"
        for reason in reasons
    ]
