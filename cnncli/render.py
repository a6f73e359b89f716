"""Every byte cnncli prints goes through here: results to stdout, messages to stderr.

Rich is imported lazily so the calculators start fast; rich itself honours
NO_COLOR and drops colour when the stream is not a terminal.
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console


def stdout_console() -> Console:
    from rich.console import Console

    return Console(file=sys.stdout, highlight=False, soft_wrap=True)


def stderr_console() -> Console:
    from rich.console import Console

    return Console(file=sys.stderr, highlight=False, soft_wrap=True)


def print_result(text: str) -> None:
    """A bare answer for shell capture: ``$(cnncli outsize ...)``."""
    sys.stdout.write(text + "\n")


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2) + "\n")


def print_error(message: str) -> None:
    sys.stderr.write(f"error: {message}\n")
    sys.stderr.flush()


def print_warning(message: str) -> None:
    sys.stderr.write(f"warning: {message}\n")
    sys.stderr.flush()


def print_note(message: str) -> None:
    sys.stderr.write(f"{message}\n")
    sys.stderr.flush()
