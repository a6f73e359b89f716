"""Edge filters: the gradient by central differences and the Sobel operator.

Both are one generic filter (:func:`edge_filter`) around a different 3x3 kernel, given
as data (:class:`EdgeKernel`), the way scikit-image's ``filters/edges.py`` builds
``sobel``, ``prewitt`` and ``scharr`` on one ``_generic_edge_filter``. The seed's recipe
(``magnitude = sqrt(h**2 + v**2); magnitude *= 255 / max``) with the corner cases made
explicit: a flat image gives zeros (not NaN), the range can be 65535 for 16-bit output,
and the signed derivatives or the angle can be asked for. The 3x3 arithmetic is a handful
of float32 slice operations per row strip, so scipy is not even imported.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

import numpy as np

from cnncli.core.cpus import cpu_count
from cnncli.core.depth import store, top_value
from cnncli.core.enums import EdgeOutput
from cnncli.core.errors import UserError
from cnncli.core.strips import (
    EDGE_STRIP_PIXELS,
    edge_padded_rows,
    iter_channels,
    map_strips,
    plane_views,
)


@dataclass(frozen=True)
class EdgeKernel:
    """A separable 3x3 derivative kernel: a difference along one axis, a smoothing across.

    Parameters
    ----------
    difference : weights of samples ``i-1, i, i+1`` along the derivative's axis:
        ``(-1, 0, 1)`` gives ``x[i+1] - x[i-1]`` (correlation, as ``ndimage.sobel``),
        ``(1, 0, -1)`` gives ``x[i-1] - x[i+1]`` (``ndimage.convolve`` with ``[-1, 0, 1]``).
    smoothing : weights of samples ``j-1, j, j+1`` across it: ``(0, 1, 0)`` (none) or
        ``(1, c, 1)``; Sobel's is ``(1, 2, 1)``.

    The derivative along y is ``difference`` along the rows times ``smoothing`` along the
    columns, and the other way round along x.
    """

    difference: tuple[int, int, int]
    smoothing: tuple[int, int, int]

    def __post_init__(self) -> None:
        if self.difference not in ((-1, 0, 1), (1, 0, -1)):
            raise ValueError(f"difference must be (-1, 0, 1) or (1, 0, -1), not {self.difference}")
        outer, _, last = self.smoothing
        if outer != last or outer not in (0, 1) or self.smoothing == (0, 0, 0):
            raise ValueError(f"smoothing must be (0, 1, 0) or (1, c, 1), not {self.smoothing}")

    def derivatives(self, block: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(d/dy, d/dx) of the rows of an edge-padded float32 ``block`` minus its halo."""
        return self._along(block, 0), self._along(block, 1)

    def _along(self, block: np.ndarray, axis: int) -> np.ndarray:
        """The derivative along ``axis`` of ``block``, smoothed across it (C order kept)."""
        across = 1 - axis
        before, after = _cut(block, axis, slice(None, -2)), _cut(block, axis, slice(2, None))
        if self.smoothing[0] == 0:  # no smoothing: only the interior is needed across
            before, after = _cut(before, across, _INNER), _cut(after, across, _INNER)
        step: np.ndarray = after - before if self.difference[2] > 0 else before - after
        if self.smoothing[0] == 0:
            return step
        smoothed: np.ndarray = _cut(step, across, slice(None, -2)) + _cut(
            step, across, slice(2, None)
        )
        smoothed += self.smoothing[1] * _cut(step, across, _INNER)
        return smoothed


_INNER = slice(1, -1)


def _cut(array: np.ndarray, axis: int, part: slice) -> np.ndarray:
    """``array[part]`` along ``axis`` (0 or 1) of a 2-D array: a view."""
    return array[part] if axis == 0 else array[:, part]


CENTRAL_DIFFERENCE = EdgeKernel(difference=(1, 0, -1), smoothing=(0, 1, 0))
"""``[-1, 0, 1]`` convolved along each axis, nothing across: the seed's ``gradient``.

``ndimage.convolve`` flips the kernel, so the derivative is ``x[i-1] - x[i+1]``.
Reference: R. C. Gonzalez and R. E. Woods, *Digital Image Processing*, the image
gradient approximated by central differences.
"""

SOBEL = EdgeKernel(difference=(-1, 0, 1), smoothing=(1, 2, 1))
"""Sobel: ``[-1, 0, 1]`` correlated along the axis, ``[1, 2, 1]`` across it.

As ``scipy.ndimage.sobel(a, axis)`` computes it. Reference: I. Sobel and G. Feldman,
"A 3x3 isotropic gradient operator for image processing", Stanford AI Project, 1968.
"""

# Planes up to this many pixels keep their values between the two passes.
_KEEP_PIXELS = 1 << 22


@dataclass(frozen=True)
class EdgeResult:
    """Float image in ``[0, out_max]`` and whether ``normalize=False`` had to clip it."""

    image: np.ndarray
    clipped: bool


def edge_filter(
    image: np.ndarray,
    kernel: EdgeKernel,
    *,
    output: str = "magnitude",
    normalize: bool = True,
    out_max: float | None = None,
    jobs: int | None = None,
    out: np.ndarray | None = None,
) -> EdgeResult:
    """Apply ``kernel`` to every channel of ``image`` and map the result to ``[0, out_max]``.

    With ``dy`` and ``dx`` the kernel's derivatives, the magnitude is
    ``sqrt(dy**2 + dx**2) * out_max / max`` (the seed's ``255 / max``). Boundary handling
    is scipy.ndimage's default ``mode='reflect'`` (the edge pixel is repeated).

    Parameters
    ----------
    image : (H, W) or (H, W, C) array, any real dtype; channels are filtered independently.
    kernel : the 3x3 derivative kernel (:data:`CENTRAL_DIFFERENCE`, :data:`SOBEL`).
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
    if output not in set(EdgeOutput):
        choices = ", ".join(EdgeOutput)
        raise UserError(f"unknown output {output!r}; choose one of {choices}")
    if out is None:
        out = np.empty(image.shape, dtype=np.float32)
    elif out.shape != image.shape:
        raise ValueError(f"out has shape {out.shape}, the image {image.shape}")
    top = out_max if out_max is not None else (top_value(out.dtype) or 255.0)
    clipped = False
    for plane, target in zip(iter_channels(image), plane_views(out), strict=True):
        clipped |= _edge_plane(
            plane, target, kernel.derivatives, output, normalize, top, jobs or cpu_count()
        )
    return EdgeResult(out, clipped)


def _edge_plane(
    plane: np.ndarray,
    target: np.ndarray,
    derivatives: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]],
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
            angle: np.ndarray = np.arctan2(dy, dx, out=dy)
            return angle
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


# The named entry points: edge_filter with its kernel given, e.g. ``sobel(image, jobs=2)``.
gradient = partial(edge_filter, kernel=CENTRAL_DIFFERENCE)
sobel = partial(edge_filter, kernel=SOBEL)
