"""Comma-separated option values (``--lin 224,160``, ``--sigma 2,1``); errors name the option."""

from __future__ import annotations

from cnncli.core.errors import UserError

# PyTorch sizes are 64-bit; longer digit strings are refused before int() reads them.
INT64_MAX = 2**63 - 1


def parse_ints(text: str, name: str) -> tuple[int, ...]:
    """``"224,160"`` -> ``(224, 160)``."""
    return tuple(parse_int(part, name, text) for part in text.split(","))


def parse_int(part: str, name: str, whole: str | None = None) -> int:
    """One integer of an option, at most 2**63 - 1 in size."""
    part = part.strip()
    shown = whole if whole is not None else part
    shown = shown if len(shown) <= 40 else f"{shown[:37]}..."
    try:
        value = int(part) if len(part) <= 40 else None
    except ValueError:
        raise UserError(f"{name} expects integers separated by commas, got {shown!r}") from None
    if value is None or abs(value) > INT64_MAX:
        if part.lstrip("+-").isdigit():
            raise UserError(f"{name}: {shown!r} is beyond 2**63 - 1 (PyTorch sizes are 64-bit)")
        raise UserError(f"{name} expects integers separated by commas, got {shown!r}")
    return value


def parse_floats(text: str, name: str) -> tuple[float, ...]:
    """``"2,1.5"`` -> ``(2.0, 1.5)``."""
    try:
        return tuple(float(part.strip()) for part in text.split(","))
    except ValueError:
        raise UserError(f"{name} expects numbers separated by commas, got {text!r}") from None


def parse_shape(text: str, name: str) -> tuple[int, ...]:
    """A shape as people write it: ``3,32,32``, ``3x32x32`` or ``(3, 32, 32)``.

    The forms ``summary --list`` prints (``3x32x32``) and PyTorch prints (``(3, 32, 32)``,
    ``torch.Size([3, 32, 32])``) are all accepted; every size must be a positive integer.
    """
    body = text.strip()
    if body.startswith("torch.Size(") and body.endswith(")"):
        body = body[len("torch.Size(") : -1].strip()
    if body[:1] + body[-1:] in ("()", "[]"):
        body = body[1:-1]
    parts = [part.strip() for part in body.replace("x", ",").replace("X", ",").split(",")]
    if parts and not parts[-1]:
        parts.pop()  # "(3,)": Python's one-element tuple
    try:
        shape = tuple(int(part) for part in parts)
    except ValueError:
        raise UserError(
            f"{name} expects integers such as 3,32,32 or 3x32x32 or (3, 32, 32), got {text!r}"
        ) from None
    if not shape:
        raise UserError(f"{name} is empty; give sizes such as 3,32,32")
    if any(size < 1 for size in shape):
        raise UserError(f"{name} sizes must be positive, got {text!r}")
    return shape
