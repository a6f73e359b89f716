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
    plane_views,
    store,
)

EdgeOutput = Literal["magnitude", "x", "y", "angle"]
EDGE_OUTPUTS: tuple[str, ...] = ("magnitude", "x", "y", "angle")

# (block) -> (d/dy, d/dx) for the rows of ``block`` minus its one-row halo on each side.
DerivativeKernel = Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]


# Planes up to this many pixels keep their values between the two passes.
_KEEP_PIXELS = 1 << 22


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
    out_max: float | None = None,
    jobs: int | None = None,
    out: np.ndarray | None = None,
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
    out_max : the top of the range; by default the largest value of an integer ``out``, else 255.
    out : where to write, the shape of ``image``; float32 by default. An integer ``out``
        gets each strip rounded and clipped as soon as it is done.

    With ``normalize``, magnitudes and signed derivatives are computed twice: a first pass
    over the strips finds the largest value, a second computes them again and stores them
    scaled. That costs the derivative arithmetic a second time (a few float32 operations per
    pixel) but never holds more than a few strips of floats: memory stays at the input and
    the output, whatever the image size. The second pass repeats the first one's arithmetic
    exactly, so the result is that of scaling a whole float image.
    """
    from cnncli.core.strips import top_value

    if output not in EDGE_OUTPUTS:
        raise UserError(f"unknown output {output!r}; choose one of {', '.join(EDGE_OUTPUTS)}")
    if out is None:
        out = np.empty(image.shape, dtype=np.float32)
    elif out.shape != image.shape:
        raise ValueError(f"out has shape {out.shape}, the image {image.shape}")
    top = out_max if out_max is not None else (top_value(out.dtype) or 255.0)
    clipped = False
    for plane, target in zip(iter_channels(image), plane_views(out), strict=True):
        clipped |= _edge_plane(
            plane, target, derivatives, output, normalize, top, jobs or default_jobs()
        )
    return EdgeResult(out, clipped)


def _edge_plane(
    plane: np.ndarray,
    target: np.ndarray,
    derivatives: DerivativeKernel,
    output: str,
    normalize: bool,
    out_max: float,
    jobs: int,
) -> bool:
    """Filter ``plane`` into ``target``; returns whether raw values had to be clipped."""
    height, width = plane.shape
    signed = output in ("x", "y")

    def values(start: int, stop: int) -> np.ndarray:
        """The raw filter values of rows ``start .. stop - 1``, float32."""
        dy, dx = derivatives(edge_padded_rows(plane, start, stop))
        if output == "magnitude":
            np.multiply(dy, dy, out=dy)
            np.multiply(dx, dx, out=dx)
            np.add(dy, dx, out=dy)
            np.sqrt(dy, out=dy)
            return dy
        if output == "angle":
            return np.arctan2(dy, dx, out=dy)
        return np.array(dx if output == "x" else dy, dtype=np.float32)

    def each_strip(work: Callable[[int, int], None]) -> None:
        map_strips(work, height, width, jobs, strip_pixels=EDGE_STRIP_PIXELS)

    if not plane.size:
        return False
    # A small plane keeps its first pass's values (at most 16 MB of float32) instead of
    # computing them again: batches of small images do not pay the second pass.
    kept: dict[int, np.ndarray] | None = {} if plane.size <= _KEEP_PIXELS else None
    if output == "angle":
        offset, factor = np.float32(np.pi), np.float32(out_max / (2 * np.pi))
    elif normalize:
        peaks: list[float] = []

        def find_peak(start: int, stop: int) -> None:
            strip = values(start, stop)
            if kept is not None:
                kept[start] = strip
            top = float(strip.max())
            peaks.append(max(top, -float(strip.min())) if signed else top)

        each_strip(find_peak)
        peak = max(peaks)
        if peak == 0.0:
            target[...] = (out_max + 1) / 2 if signed else 0.0
            return False
        factor = np.float32((out_max / 2 if signed else out_max) / peak)
        offset = np.float32(0.0)
    else:
        offset, factor = np.float32(0.0), np.float32(1.0)
    mid = np.float32(out_max / 2 if normalize else (out_max + 1) / 2)
    clips: list[bool] = []

    def finish(start: int, stop: int) -> None:
        strip = kept.pop(start) if kept else values(start, stop)
        if output == "angle":
            strip += offset
            strip *= factor
        elif normalize:
            strip *= factor
            if signed:
                strip += mid
        else:
            if signed:
                strip += mid
            clips.append(bool(strip.min() < 0 or strip.max() > out_max))
            np.clip(strip, 0, out_max, out=strip)
        store(strip, target[start:stop])

    each_strip(finish)
    return any(clips)


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
