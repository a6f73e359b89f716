"""Gaussian smoothing, ``scipy.ndimage.gaussian_filter`` per channel, in numpy alone.

Separable: a vertical then a horizontal pass of scipy's sampled Gaussian kernel, in
float32, on row strips extended by the kernel radius, every strip rounded into the
output as soon as it is done. Each pass is a few matrix products with a band matrix
(the kernel on its diagonals, over tiles of 16 rows or 32 columns): BLAS does the
multiply-adds at full vector width, about 1.6x less CPU than one numpy operation per
kernel tap, though most of the band is zeros. The CLI runs BLAS single-threaded
(``OPENBLAS_NUM_THREADS=1``) since it runs strips on its own threads; a library caller
with several strips in flight should do the same. Boundary modes extend the image by
index arithmetic that reproduces scipy's ``NI_ExtendLine`` (repeated reflections
included, for images smaller than the kernel), so any strip can be computed on its
own: the strips give the whole-image result, and ``wrap`` needs no special case.
scipy is not imported (it costs ~0.2 s at each start); the tests check against it.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence

import numpy as np
from numpy.lib.stride_tricks import as_strided

from cnncli.core.cpus import cpu_count
from cnncli.core.depth import store
from cnncli.core.errors import UserError
from cnncli.core.strips import iter_channels, map_strips, plane_views, scratch

MODES = (
    "reflect",
    "constant",
    "nearest",
    "mirror",
    "wrap",
    "grid-constant",
    "grid-mirror",
    "grid-wrap",
)


def check_smoothing(sigma: Sequence[float], mode: str, truncate: float) -> tuple[float, float]:
    """Validate the options; returns (sigma_y, sigma_x)."""
    if len(sigma) not in (1, 2):
        raise UserError(f"sigma takes one value or one per axis (y,x), got {len(sigma)} values")
    if any(not s > 0 for s in sigma):
        raise UserError(f"sigma must be positive, got {', '.join(str(s) for s in sigma)}")
    if mode not in MODES:
        raise UserError(f"unknown mode {mode!r}; choose one of {', '.join(MODES)}")
    if not truncate > 0:
        raise UserError(f"truncate must be positive, got {truncate}")
    for value in sigma:
        if value > SMALLEST_SIGMA and not math.isfinite(truncate * value + 0.5):
            raise UserError(
                f"sigma {value:g} with truncate {truncate:g} gives a kernel of no finite size"
            )
    return (sigma[0], sigma[-1])


# scipy's gaussian_filter leaves an axis whose sigma is at most this alone (its kernel's
# formula would divide by a sigma**2 that underflows to 0).
SMALLEST_SIGMA = 1e-15


def kernel_radius(sigma: float, truncate: float = 4.0) -> int:
    """scipy's Gaussian kernel radius: ``int(truncate * sigma + 0.5)``; 0 for a sigma of at
    most ``SMALLEST_SIGMA``, an axis scipy leaves alone whatever ``truncate`` is."""
    if sigma <= SMALLEST_SIGMA:
        return 0
    return int(truncate * sigma + 0.5)


def gaussian_weights(sigma: float, truncate: float = 4.0) -> np.ndarray:
    """scipy's ``_gaussian_kernel1d`` (order 0): ``exp(-x**2 / (2 sigma**2))``, summing to 1;
    ``[1]`` (the axis left as it is) for radius 0, which a sigma of at most ``SMALLEST_SIGMA``
    has (its sigma**2 may underflow to 0 in the formula), as scipy's ``gaussian_filter``
    skips that axis."""
    radius = kernel_radius(sigma, truncate)
    if radius == 0:
        return np.ones(1)
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    weights = np.exp(-0.5 / (sigma * sigma) * x * x)
    normalised: np.ndarray = weights / weights.sum()
    return normalised


@functools.lru_cache(maxsize=32)
def extended_indices(mode: str, length: int, before: int, after: int) -> np.ndarray | None:
    """Source index of positions ``-before .. length + after - 1``; None for constant modes.

    The periodic forms of scipy's extensions: ``reflect`` (``d c b a | a b c d``) has period
    ``2n``, ``mirror`` (``d c b | a b c d``) ``2n - 2``, ``wrap`` ``n``; ``nearest`` repeats
    the edge. Checked against scipy's ``correlate1d`` for every length from 1 up. Made once
    for a batch's images of one size (read-only): 9 us an image otherwise.
    """
    if mode in ("constant", "grid-constant"):
        return None
    return _read_only(_extended_indices(mode, length, before, after))


def _extended_indices(mode: str, length: int, before: int, after: int) -> np.ndarray:
    """:func:`extended_indices` for the modes that read the image beyond its edge."""
    i = np.arange(-before, length + after)
    if mode in ("reflect", "grid-mirror"):
        p = i % (2 * length)
        return np.where(p >= length, 2 * length - 1 - p, p)
    if mode == "mirror":
        if length == 1:
            return np.zeros_like(i)
        p = i % (2 * length - 2)
        return np.where(p >= length, 2 * length - 2 - p, p)
    if mode == "nearest":
        return np.clip(i, 0, length - 1)
    return i % length  # wrap, grid-wrap


def gaussian_smooth(
    image: np.ndarray,
    sigma: Sequence[float] = (1.0,),
    *,
    mode: str = "reflect",
    truncate: float = 4.0,
    cval: float = 0.0,
    jobs: int | None = None,
    out: np.ndarray | None = None,
    scale: float = 1.0,
) -> np.ndarray:
    """Smooth each channel as ``gaussian_filter(plane, (sy, sx), mode=mode, truncate=truncate)``.

    Parameters
    ----------
    image : (H, W) or (H, W, C) array of any real dtype.
    out : where to write, the shape of ``image``; float32 by default (the exact values, no
        rounding or clipping needed: a Gaussian is an average). An integer ``out`` gets
        each strip rounded to nearest and clipped as soon as it is done.
    scale : multiplies the result before it is stored (a change of bit depth).
    """
    sy, sx = check_smoothing(sigma, mode, truncate)
    if out is None:
        out = np.empty(image.shape, dtype=np.float32)
    elif out.shape != image.shape:
        raise ValueError(f"out has shape {out.shape}, the image {image.shape}")
    for plane, target in zip(iter_channels(image), plane_views(out), strict=True):
        _smooth_plane(plane, target, (sy, sx), mode, truncate, cval, scale, jobs or cpu_count())
    return out


def _smooth_plane(
    plane: np.ndarray,
    target: np.ndarray,
    sigmas: tuple[float, float],
    mode: str,
    truncate: float,
    cval: float,
    scale: float,
    jobs: int,
) -> None:
    """Smooth ``plane`` into ``target`` (the same height and width)."""
    height, width = plane.shape
    if not plane.size:
        return
    # float(): the cache's keys, whatever real numbers a library caller passed
    vertical_band = _vertical_band(float(sigmas[0]), float(truncate), float(scale))
    horizontal_band = _horizontal_band(float(sigmas[1]), float(truncate))
    ry, rx = kernel_radius(sigmas[0], truncate), kernel_radius(sigmas[1], truncate)
    rows = extended_indices(mode, height, ry, ry)
    cols = extended_indices(mode, width, rx, rx)
    fill = np.float32(cval * scale) if rows is None else np.float32(0)
    tiled_width = -(-width // _COLUMN_TILE) * _COLUMN_TILE

    def compute(start: int, stop: int) -> None:
        n = stop - start
        block = _extended_rows(plane, rows, start - ry, stop + ry, np.float32(cval))
        padded = scratch("padded", (n, tiled_width + 2 * rx))
        _vertical_pass(block, vertical_band, padded[:, rx : rx + width])
        if cols is None:
            padded[:, :rx] = fill
            padded[:, rx + width :] = fill
        else:
            padded[:, :rx] = padded[:, rx + cols[:rx]]
            padded[:, rx + width : 2 * rx + width] = padded[:, rx + cols[rx + width :]]
            padded[:, 2 * rx + width :] = 0  # the last tile's unused columns: never stored
        result = _horizontal_pass(padded, horizontal_band)
        store(result[:, :width], target[start:stop])

    min_rows = min(_MIN_STRIP_ROWS, -(-height // jobs))
    map_strips(compute, height, width, jobs, min_rows=min_rows, align=_ROW_TILE)


def _extended_rows(
    plane: np.ndarray, rows: np.ndarray | None, first: int, stop: int, cval: np.float32
) -> np.ndarray:
    """Rows ``first .. stop - 1`` of the extended plane (outside rows per the mode), float32."""
    height = plane.shape[0]
    block = scratch("block", (stop - first, plane.shape[1]))
    if rows is None:
        lo, hi = max(first, 0), min(stop, height)
        block[: lo - first] = cval
        block[hi - first :] = cval
        block[lo - first : hi - first] = plane[lo:hi]
        return block
    offset = int(rows.shape[0] - height) // 2  # rows[0] is position -offset
    wanted = rows[first + offset : stop + offset]
    lo, hi = max(first, 0), min(stop, height)
    if lo < hi:
        block[lo - first : hi - first] = plane[lo:hi]  # the real rows: a slice, no gather
    block[: lo - first] = plane[wanted[: lo - first]]
    block[hi - first :] = plane[wanted[hi - first :]]
    return block


# Output rows (vertical pass) and columns (horizontal pass) per matrix product: small
# enough that the band matrix wastes little arithmetic on zeros, big enough for BLAS.
_ROW_TILE = 16
_COLUMN_TILE = 32
# Thin strips of a wide image convert their halo rows again and again (a strip of r rows
# reads r + 2 * radius): at least this many rows keeps that small (but every core gets one).
_MIN_STRIP_ROWS = 64
# The most float32s the horizontal pass gathers at once (16 MB).
_GATHER_FLOATS = 1 << 22


@functools.lru_cache(maxsize=16)
def _vertical_band(sigma: float, truncate: float, scale: float) -> np.ndarray:
    """The band matrix of the weights down the columns (times ``scale``: exact enough),
    transposed for the products: made once for all the strips and files of a run."""
    weights = gaussian_weights(sigma, truncate) * scale
    return _read_only(np.ascontiguousarray(band_matrix(weights, _ROW_TILE).T))


@functools.lru_cache(maxsize=16)
def _horizontal_band(sigma: float, truncate: float) -> np.ndarray:
    """The band matrix of the weights along the rows (see :func:`_horizontal_pass`)."""
    return _read_only(band_matrix(gaussian_weights(sigma, truncate), _COLUMN_TILE))


def _read_only(array: np.ndarray) -> np.ndarray:
    array.flags.writeable = False  # shared by every call that asks for the same kernel
    return array


def band_matrix(weights: np.ndarray, tile: int) -> np.ndarray:
    """``K`` with ``(x @ K)[j] = sum_k weights[k] * x[j + k]``: a (tile + 2r) x tile band."""
    span = len(weights)
    band = np.zeros((tile + span - 1, tile), dtype=np.float32)
    for j in range(tile):
        band[j : j + span, j] = weights
    return band


def _vertical_pass(block: np.ndarray, band: np.ndarray, out: np.ndarray) -> None:
    """``out[i] = sum_k weights[k] * block[i + k]`` over rows: one band matrix product per tile.

    ``band`` is the transposed band matrix of the weights (:func:`_vertical_band`). The
    tiles start every ``_ROW_TILE`` rows from the top of ``out``; strips start on
    multiples of it, so the products (and their rounding) are the whole image's.
    """
    extra = band.shape[1] - _ROW_TILE
    for top in range(0, out.shape[0], _ROW_TILE):
        rows = min(_ROW_TILE, out.shape[0] - top)
        np.matmul(
            band[:rows, : rows + extra], block[top : top + rows + extra], out=out[top : top + rows]
        )


def _horizontal_pass(padded: np.ndarray, band: np.ndarray) -> np.ndarray:
    """``out[:, j] = sum_k weights[k] * padded[:, j + k]``, a few matrix products a strip.

    Each column tile with the columns its kernel reaches is copied into a row of its own,
    (rows x tiles, tile + 2r): one product with the band then gives every tile, laid out
    as the output's rows. A product per tile instead costs a BLAS call for a few rows
    each, which on wide images took four times as long. The copies are
    ``(tile + 2r) / tile`` times the strip, so a wide kernel (sigma in the tens) takes
    the rows in groups of at most ``_GATHER_FLOATS``. ``padded`` is
    ``(rows, tiles * _COLUMN_TILE + 2r)``; returns ``(rows, tiles * _COLUMN_TILE)``.
    ``band`` is the weights' band matrix (:func:`_horizontal_band`).
    """
    span = band.shape[0]  # the tile and the columns its kernel reaches
    rows, tiles = padded.shape[0], (padded.shape[1] - span + _COLUMN_TILE) // _COLUMN_TILE
    out = scratch("horizontal", (rows, tiles * _COLUMN_TILE))
    step = max(1, min(rows, _GATHER_FLOATS // (tiles * span)))
    for top in range(0, rows, step):
        part = padded[top : top + step]
        n = part.shape[0]
        windows = as_strided(
            part,
            shape=(n, tiles, span),
            strides=(part.strides[0], _COLUMN_TILE * part.itemsize, part.itemsize),
            writeable=False,
        )
        gathered = scratch("gathered", (n * tiles, span))
        np.copyto(gathered.reshape(n, tiles, span), windows)
        np.matmul(gathered, band, out=out[top : top + n].reshape(-1, _COLUMN_TILE))
    return out
