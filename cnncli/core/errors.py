"""The one error type for user mistakes.

Core code raises :class:`UserError` for anything the user can fix (an impossible
layer, a bad option value, an unreadable file); the CLI turns it into a single
``error: ...`` line on stderr and exit status 2, in one place.
"""

from __future__ import annotations


class UserError(Exception):
    """A mistake the user can fix; ``hint`` says how, when we know."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if self.hint is None else f"{self.message} (hint: {self.hint})"
