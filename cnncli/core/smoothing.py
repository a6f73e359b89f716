"""Gaussian smoothing, exactly ``scipy.ndimage.gaussian_filter`` per channel.

Computed in float32 on row strips extended by the kernel radius, so the result is
the whole-image filter's while the work spreads over every core.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from cnncli.core.errors import UserError
from cnncli.core.strips import default_jobs, iter_channels, map_strips

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
# Modes that read the opposite edge of the image cannot be split into strips.
_WRAPPING_MODES = ("wrap", "grid-wrap")


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
    return (sigma[0], sigma[-1])


def kernel_radius(sigma: float, truncate: float = 4.0) -> int:
    """scipy's Gaussian kernel radius: ``int(truncate * sigma + 0.5)``."""
    return int(truncate * sigma + 0.5)


def gaussian_smooth(
    image: np.ndarray,
    sigma: Sequence[float] = (1.0,),
    *,
    mode: str = "reflect",
    truncate: float = 4.0,
    cval: float = 0.0,
    jobs: int | None = None,
) -> np.ndarray:
    """Smooth each channel with ``gaussian_filter(plane, (sy, sx), mode=mode, truncate=truncate)``.

    Returns float32 with the input's value range (no rounding, no clipping needed:
    a Gaussian is an average).
    """
    sy, sx = check_smoothing(sigma, mode, truncate)
    result = np.empty(image.shape, dtype=np.float32)  # one output, no stacking copy
    outputs = [result] if image.ndim == 2 else [result[:, :, c] for c in range(image.shape[2])]
    for plane, out in zip(iter_channels(image), outputs, strict=True):
        _smooth_plane(plane, out, sy, sx, mode, truncate, cval, jobs or default_jobs())
    return result


def _smooth_plane(
    plane: np.ndarray,
    result: np.ndarray,
    sy: float,
    sx: float,
    mode: str,
    truncate: float,
    cval: float,
    jobs: int,
) -> None:
    """Smooth ``plane`` into ``result`` (a float32 view of the same height and width)."""
    from scipy.ndimage import gaussian_filter

    height, width = plane.shape
    halo = kernel_radius(sy, truncate)

    def compute(start: int, stop: int) -> None:
        top, bottom = max(start - halo, 0), min(stop + halo, height)
        block = plane[top:bottom].astype(np.float32)
        smoothed = gaussian_filter(block, (sy, sx), mode=mode, truncate=truncate, cval=cval)
        result[start:stop] = smoothed[start - top : stop - top]

    if mode in _WRAPPING_MODES:
        compute(0, height)
    else:
        # A strip must be at least as tall as the halo, so reflections stay inside real rows.
        map_strips(compute, height, width, jobs, min_rows=max(halo, 1))
