"""The one error type for user mistakes.

Core code raises :class:`UserError` for anything the user can fix (an impossible
layer, a bad option value, an unreadable file); the CLI turns it into a single
``error: ...`` line on stderr and exit status 2, in one place.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


class UserError(Exception):
    """A mistake the user can fix; ``hint`` says how, when we know."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if self.hint is None else f"{self.message} (hint: {self.hint})"


@dataclass(frozen=True)
class Names:
    """What a caller calls core's quantities in messages (the CLI: its flags).

    Core names a quantity (``kernel size``, ``adaptive output size``); the CLI passes
    ``Names({"kernel size": "--k", ...})`` so that its errors name the flag to change.
    """

    mapping: Mapping[str, str] = field(default_factory=dict, hash=False)

    def __call__(self, quantity: str) -> str:
        """``--k`` if the caller has a name for it, else ``kernel size``."""
        return self.mapping.get(quantity, quantity)

    def described(self, quantity: str) -> str:
        """``kernel size (--k)``, or ``kernel size``."""
        called = self(quantity)
        return quantity if called == quantity else f"{quantity} ({called})"
