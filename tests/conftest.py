"""Shared test helpers: run the CLI in-process, the way a user would call it.

Tests marked ``dask`` need the ``dask`` extra (distributed); without it they are skipped,
so the rest of the suite runs on a bare install.
"""

from __future__ import annotations

import importlib.util
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from cnncli.cli import app


@pytest.fixture
def run_cli() -> Callable[..., Result]:
    """Invoke ``cnncli ARGS`` in-process; stdout and stderr are kept apart."""
    runner = CliRunner()

    def invoke(*args: str, input: str | bytes | None = None) -> Result:
        return runner.invoke(app, list(args), input=input)

    return invoke


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if importlib.util.find_spec("distributed") is not None:
        return
    skip = pytest.mark.skip(reason="needs the dask extra: pip install 'cnncli[dask]'")
    for item in items:
        if item.get_closest_marker("dask") is not None:
            item.add_marker(skip)


@dataclass(frozen=True)
class DaskCluster:
    address: str  # what --scheduler is given
    client: Any  # the tests' own distributed.Client, to look at and kill workers


def _local_cluster() -> Iterator[DaskCluster]:
    """Two single-threaded worker processes on the loopback interface, as
    ``--scheduler local -j 2`` starts them."""
    import distributed

    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
            scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},
            silence_logs=logging.CRITICAL,
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield DaskCluster(cluster.scheduler_address, client)


@pytest.fixture(scope="session")
def dask_cluster() -> Iterator[DaskCluster]:
    """One LocalCluster shared by the Dask tests that leave its workers alone."""
    yield from _local_cluster()


@pytest.fixture
def own_dask_cluster() -> Iterator[DaskCluster]:
    """A LocalCluster for one test that kills workers: nobody waits for its nannies to
    restart them (which can take minutes on a loaded machine)."""
    yield from _local_cluster()
