"""Pillow's and numpy's warnings, collected per file instead of printed raw.

A corrupt EXIF block or NaN samples make the libraries call ``warnings.warn``, which
would print two raw lines (file, line number, source) on stderr. While a file is
processed, :func:`library_warnings` collects them instead, so the caller can show one
``warning:`` line naming the file, or nothing when the file fails anyway.
"""

from __future__ import annotations

import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

MAX_SHOWN = 3
_CAUGHT = threading.local()
# Not about the user's file: the libraries talking to their programmers, or our own guard
# (DecompressionBombWarning: the pixel limit is checked with its own message).
_DROPPED = (DeprecationWarning, PendingDeprecationWarning, FutureWarning, ImportWarning)


def _dropped(category: type[Warning]) -> bool:
    from PIL.Image import DecompressionBombWarning

    return issubclass(category, (*_DROPPED, ResourceWarning, DecompressionBombWarning))


def _show(
    message: Warning | str,
    category: type[Warning],
    filename: str,
    lineno: int,
    file: TextIO | None = None,
    line: str | None = None,
) -> None:
    """``warnings.showwarning`` while a file is processed on this thread: collect."""
    caught: list[str] | None = getattr(_CAUGHT, "messages", None)
    if caught is None:
        _previous_show(message, category, filename, lineno, file, line)
        return
    text = str(message).strip()
    if not _dropped(category) and text not in caught:
        caught.append(text)


_previous_show = warnings.showwarning
_HOOK_LOCK = threading.Lock()
# Shown every time; filterwarnings puts each in front, so they end up in reverse order.
_ALWAYS_SHOWN = (UserWarning, RuntimeWarning)
_ALWAYS = [("always", None, category, None, 0) for category in reversed(_ALWAYS_SHOWN)]


@contextmanager
def library_warnings() -> Iterator[list[str]]:
    """Collect, on this thread only, the warnings raised inside the block (deduplicated).

    ``warnings.catch_warnings`` swaps process-wide state and is not safe with the threads
    of a batch, so a thread-local list is filled by one ``showwarning`` hook, installed
    once (again if a test harness put its own back); Pillow's and numpy's warnings are
    shown every time rather than once per code line, so each file reports its own.
    """
    global _previous_show
    with _HOOK_LOCK:
        if warnings.showwarning is not _show:
            _previous_show = warnings.showwarning
            warnings.showwarning = _show
        if warnings.filters[: len(_ALWAYS)] != _ALWAYS:  # each call would reset the caches
            for category in _ALWAYS_SHOWN:
                warnings.filterwarnings("always", category=category)
    outer = getattr(_CAUGHT, "messages", None)
    caught: list[str] = []
    _CAUGHT.messages = caught
    try:
        yield caught
    finally:
        _CAUGHT.messages = outer
