"""Reading a user's input file or stdin, with every failure as one ``UserError`` naming the file."""

from __future__ import annotations

import sys
from pathlib import Path

from cnncli.core.errors import UserError

STDIO = "-"


def display_name(source: str | Path) -> str:
    return "<stdin>" if str(source) == STDIO else str(source)


def read_bytes(source: str | Path, what: str = "an input file") -> bytes:
    """The bytes of ``source`` (``-`` = stdin); ``what`` names the expected kind in errors."""
    name = display_name(source)
    if str(source) == STDIO:
        return sys.stdin.buffer.read()
    path = Path(source)
    if path.is_dir():
        raise UserError(f"{name}: is a directory, not {what}")
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise UserError(f"{name}: no such file") from None
    except PermissionError:
        raise UserError(f"{name}: permission denied") from None
    except OSError as exc:
        raise UserError(f"{name}: cannot read ({exc.strerror or exc})") from None


def read_text(source: str | Path, what: str = "a text file") -> str:
    """UTF-8 text of ``source`` (``-`` = stdin)."""
    data = read_bytes(source, what)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise UserError(f"{display_name(source)}: not {what} (not UTF-8 text)") from None
