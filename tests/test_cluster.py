"""The Dask executor on its own: refusals, and run_batch's outcomes through a real cluster."""

from __future__ import annotations

import contextlib
import os
import socket
import sys
import threading
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cnncli import cluster
from cnncli.batch import FAILED, WRITTEN, Job, run_batch
from cnncli.cluster import INSTALL_HINT, dask_executor
from cnncli.core.errors import UserError
from cnncli.pipeline import IOOptions, run_filter, smoothing_filter


def open_executor(scheduler: str, workers: int | None = None) -> None:
    with dask_executor(scheduler, workers):
        pass


def test_without_the_extra_the_error_says_what_to_install(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed fails
    with pytest.raises(UserError, match="not installed") as caught:
        open_executor("local", 2)
    assert caught.value.hint == INSTALL_HINT == "pip install 'cnncli[dask]'"


def test_jobs_apply_only_to_a_local_cluster() -> None:
    with pytest.raises(UserError, match="--jobs sets the number of workers of --scheduler local"):
        open_executor("tcp://127.0.0.1:8786", 4)


@pytest.mark.dask
@pytest.mark.parametrize(
    ("address", "message"),
    [
        ("foo", "missing port number"),
        ("http://127.0.0.1:8786", "unknown address scheme 'http'"),
    ],
)
def test_not_an_address(address, message) -> None:
    with pytest.raises(UserError, match="is not a scheduler address") as caught:
        open_executor(address)
    assert message in str(caught.value)


@pytest.fixture
def not_dask() -> Iterator[Callable[[bytes], str]]:
    """Start a TCP server that is not a Dask scheduler: it sends ``reply`` and then waits."""
    servers: list[socket.socket] = []

    def start(reply: bytes) -> str:
        server = socket.create_server(("127.0.0.1", 0))
        servers.append(server)

        def serve() -> None:
            with contextlib.suppress(OSError):
                while True:
                    conn, _ = server.accept()
                    conn.sendall(reply)  # and never a Dask handshake

        threading.Thread(target=serve, daemon=True).start()
        return f"tcp://127.0.0.1:{server.getsockname()[1]}"

    yield start
    for server in servers:
        server.close()


@pytest.mark.dask
@pytest.mark.parametrize("reply", [b"", b"HTTP/1.0 400 Bad Request\r\n\r\n" * 4])
def test_something_else_on_the_port_is_an_error_not_a_hang(not_dask, monkeypatch, reply) -> None:
    monkeypatch.setattr(cluster, "CONNECT_TIMEOUT", 0.5)
    address = not_dask(reply)
    with pytest.raises(UserError, match="no Dask scheduler answers there"):
        open_executor(address)


def _die(source: Path, dest: Path) -> str | None:
    os._exit(3)  # takes its worker process down, every time


@pytest.mark.dask
def test_outcomes_come_back_from_the_workers(dask_cluster, tmp_path) -> None:
    good = tmp_path / "good.png"
    Image.fromarray(np.arange(48, dtype=np.uint8).reshape(6, 8)).save(good)
    (tmp_path / "bad.png").write_bytes(b"nope")
    jobs = [Job(tmp_path / name, tmp_path / f"out-{name}") for name in ("good.png", "bad.png")]
    work = partial(run_filter, apply=smoothing_filter([1.0], mode="reflect", truncate=4.0))
    work = partial(work, options=IOOptions())
    seen = []
    with dask_executor(dask_cluster.address) as executor:
        report = run_batch(jobs, work, executor, on_outcome=seen.append)
    by_name = {o.job.source.name: o for o in seen}
    assert by_name["good.png"].status == WRITTEN
    assert by_name["bad.png"].status == FAILED and not by_name["bad.png"].internal
    assert by_name["bad.png"].message == f"{tmp_path / 'bad.png'}: not an image Pillow can read"
    assert (report.written, report.failed) == (1, 1)
    assert Image.open(tmp_path / "out-good.png").size == (8, 6)


@pytest.mark.dask
def test_a_file_that_kills_every_worker_is_reported_not_retried_forever(
    own_dask_cluster, tmp_path
) -> None:
    # Its own cluster: the nannies restart the killed workers in their own time, and no
    # other test waits for them.
    jobs = [Job(tmp_path / "a.png", tmp_path / "o.png")]
    with dask_executor(own_dask_cluster.address) as executor:
        report = run_batch(jobs, _die, executor)
    (failure,) = report.failures
    assert failure.internal and failure.message is not None
    assert failure.message.startswith("not processed: KilledWorker")
