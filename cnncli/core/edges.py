"""What the gradient and Sobel filters share: from two derivatives to an output image.

The seed's recipe (``magnitude = sqrt(h**2 + v**2); magnitude *= 255 / max``) with
the corner cases made explicit: a flat image gives zeros (not NaN), the range can be
65535 for 16-bit output, and the signed derivatives or the angle can be asked for.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np

from cnncli.core.errors import UserError
from cnncli.core.strips import (
    EDGE_STRIP_PIXELS,
    default_jobs,
    edge_padded_rows,
    iter_channels,
    map_strips,
)

EdgeOutput = Literal["magnitude", "x", "y", "angle"]
EDGE_OUTPUTS: tuple[str, ...] = ("magnitude", "x", "y", "angle")

# (block) -> (d/dy, d/dx) for the rows of ``block`` minus its one-row halo on each side.
DerivativeKernel = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]


@dataclass(frozen=True)
class EdgeResult:
    """Float image in ``[0, out_max]`` and whether ``normalize=False`` had to clip it."""

    image: np.ndarray
    clipped: bool


def edge_filter(
    image: np.ndarray,
    derivatives: DerivativeKernel,
    *,
    output: str = "magnitude",
    normalize: bool = True,
    out_max: float = 255.0,
    jobs: int | None = None,
) -> EdgeResult:
    """Apply ``derivatives`` to every channel of ``image`` and map the result to ``[0, out_max]``.

    Parameters
    ----------
    image : (H, W) or (H, W, C) array, any real dtype; channels are filtered independently.
    derivatives : computes (d/dy, d/dx) of an edge-padded float32 block.
    output : ``magnitude`` (``sqrt(dy**2 + dx**2)``), ``x`` or ``y`` (signed, zero at mid-range)
        or ``angle`` (``atan2(dy, dx)`` mapped from ``[-pi, pi]`` to ``[0, out_max]``).
    normalize : scale so the largest value reaches ``out_max`` (the seed's ``255 / max``);
        otherwise keep raw values (signed ones offset to mid-range) and clip.
    """
    if output not in EDGE_OUTPUTS:
        raise UserError(f"unknown output {output!r}; choose one of {', '.join(EDGE_OUTPUTS)}")
    planes = [
        _edge_plane(plane, derivatives, output, normalize, out_max, jobs or default_jobs())
        for plane in iter_channels(image)
    ]
    clipped = any(c for _, c in planes)
    if len(planes) == 1:
        return EdgeResult(planes[0][0], clipped)
    return EdgeResult(np.stack([p for p, _ in planes], axis=-1), clipped)


def _edge_plane(
    plane: np.ndarray,
    derivatives: DerivativeKernel,
    output: str,
    normalize: bool,
    out_max: float,
    jobs: int,
) -> tuple[np.ndarray, bool]:
    height, width = plane.shape
    result = np.empty((height, width), dtype=np.float32)

    def compute(start: int, stop: int) -> None:
        dy, dx = derivatives(edge_padded_rows(plane, start, stop))
        target = result[start:stop]
        if output == "magnitude":
            np.multiply(dy, dy, out=dy)
            np.multiply(dx, dx, out=dx)
            np.add(dy, dx, out=target)
            np.sqrt(target, out=target)
        elif output == "x":
            target[...] = dx
        elif output == "y":
            target[...] = dy
        else:
            np.arctan2(dy, dx, out=target)

    map_strips(compute, height, width, jobs, strip_pixels=EDGE_STRIP_PIXELS)
    return _to_range(result, output, normalize, out_max)


def _to_range(
    values: np.ndarray, output: str, normalize: bool, out_max: float
) -> tuple[np.ndarray, bool]:
    """Map filter values onto ``[0, out_max]`` in place."""
    if output == "angle":
        values += np.float32(np.pi)
        values *= np.float32(out_max / (2 * np.pi))
        return values, False
    signed = output in ("x", "y")
    mid = (out_max + 1) / 2 if signed else 0.0
    if normalize:
        peak = _peak_magnitude(values, signed)
        if peak == 0.0:
            values.fill(mid if signed else 0.0)
            return values, False
        if signed:
            values *= np.float32((out_max / 2) / peak)
            values += np.float32(out_max / 2)
        else:
            values *= np.float32(out_max / peak)
        return values, False
    if signed:
        values += np.float32(mid)
    clipped = bool(values.size) and (float(values.min()) < 0 or float(values.max()) > out_max)
    np.clip(values, 0, out_max, out=values)
    return values, clipped


def _peak_magnitude(values: np.ndarray, signed: bool) -> float:
    """``max(|values|)`` without an image-sized ``np.abs`` temporary (a magnitude is >= 0)."""
    if not values.size:
        return 0.0
    top = float(values.max())
    return max(top, -float(values.min())) if signed else top


# Rows of this many values at a time: the rounding temporary stays small.
_QUANTIZE_BLOCK = 1 << 20


def quantize(values: np.ndarray, bits: int) -> np.ndarray:
    """Round to nearest and store as uint8 or uint16 (values already within range)."""
    dtype = np.uint16 if bits == 16 else np.uint8
    top = 65535 if bits == 16 else 255
    out = np.empty(values.shape, dtype=dtype)
    if values.ndim == 0 or not values.size:
        out[...] = np.clip(np.rint(values), 0, top)
        return out
    step = max(1, _QUANTIZE_BLOCK // (values.size // values.shape[0]))
    for start in range(0, values.shape[0], step):
        rounded = np.rint(values[start : start + step])
        np.clip(rounded, 0, top, out=rounded)
        out[start : start + step] = rounded
    return out
