"""Comma-separated option values (``--lin 224,160``, ``--sigma 2,1``); errors name the option."""

from __future__ import annotations

from cnncli.core.errors import UserError


def parse_ints(text: str, name: str) -> tuple[int, ...]:
    """``"224,160"`` -> ``(224, 160)``."""
    try:
        return tuple(int(part.strip()) for part in text.split(","))
    except ValueError:
        raise UserError(f"{name} expects integers separated by commas, got {text!r}") from None


def parse_floats(text: str, name: str) -> tuple[float, ...]:
    """``"2,1.5"`` -> ``(2.0, 1.5)``."""
    try:
        return tuple(float(part.strip()) for part in text.split(","))
    except ValueError:
        raise UserError(f"{name} expects numbers separated by commas, got {text!r}") from None
