"""Gradient magnitude with the central difference kernel ``[-1, 0, 1]``.

The seed's formula: ``ndimage.convolve`` with ``[[-1, 0, 1]]`` along x and its
transpose along y, ``sqrt(h**2 + v**2)``, scaled by ``255 / max``. Done here with
numpy slices in float32 on row strips, so scipy is not even imported.
"""

from __future__ import annotations

import numpy as np

from cnncli.core.edges import EdgeResult, edge_filter


def central_differences(block: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(d/dy, d/dx) as ``ndimage.convolve`` with ``[-1, 0, 1]`` gives them: ``x[i-1] - x[i+1]``."""
    dy = block[:-2, 1:-1] - block[2:, 1:-1]
    dx = block[1:-1, :-2] - block[1:-1, 2:]
    return dy, dx


def gradient(
    image: np.ndarray,
    *,
    output: str = "magnitude",
    normalize: bool = True,
    out_max: float | None = None,
    jobs: int | None = None,
    out: np.ndarray | None = None,
) -> EdgeResult:
    """Gradient magnitude (or x, y, angle) of each channel, scaled to ``[0, out_max]``.

    Boundary handling is scipy.ndimage's default ``mode='reflect'``. ``out_max`` defaults to
    the top of an integer ``out`` (255 for float); see :func:`cnncli.core.edges.edge_filter`.
    """
    return edge_filter(
        image,
        central_differences,
        output=output,
        normalize=normalize,
        out_max=out_max,
        jobs=jobs,
        out=out,
    )
