"""Shared test helpers: run the CLI in-process, the way a user would call it."""

from __future__ import annotations

from collections.abc import Callable

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
