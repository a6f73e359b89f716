"""Row strips with a halo, processed on threads, stored straight into a preallocated output.

numpy releases the GIL, so a filter applied to horizontal strips (each extended by the
rows its kernel reaches) runs on every core and gives exactly the whole-image result,
while the float temporaries stay strip-sized. Each strip is rounded into the output as
soon as it is done (:func:`cnncli.core.depth.store`), so no image-sized float array ever
exists: peak memory is the decoded input, the output and a few strips per thread.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from math import prod

import numpy as np

# Big enough that per-strip overhead vanishes, small enough that a strip's float
# temporaries (a few per thread) stay in the cache: 1 MB of float32.
STRIP_PIXELS = 1 << 18
# The 3x3 edge kernels read one row beyond a strip, so thin strips cost nothing.
EDGE_STRIP_PIXELS = 1 << 18


def strip_bounds(
    height: int,
    width: int,
    jobs: int,
    min_rows: int = 1,
    strip_pixels: int = STRIP_PIXELS,
    align: int = 1,
) -> list[tuple[int, int]]:
    """Row ranges covering ``[0, height)``: at least ``jobs`` strips when the image allows.

    Every strip but the last is a multiple of ``align`` rows, so strips start on the
    same row tiles as the whole image does.
    """
    by_size = max(1, (height * max(width, 1)) // strip_pixels)
    count = max(1, min(height // max(min_rows, 1), max(jobs, by_size)))
    step = -(-height // count)
    step = -(-step // align) * align
    return [(start, min(start + step, height)) for start in range(0, height, step)]


def map_strips(
    compute: Callable[[int, int], None],
    height: int,
    width: int,
    jobs: int,
    min_rows: int = 1,
    strip_pixels: int = STRIP_PIXELS,
    align: int = 1,
) -> None:
    """Call ``compute(row_start, row_stop)`` for every strip, on ``jobs`` threads."""
    bounds = strip_bounds(height, width, jobs, min_rows, strip_pixels, align)
    if jobs <= 1 or len(bounds) == 1:
        for start, stop in bounds:
            compute(start, stop)
        return
    with ThreadPoolExecutor(max_workers=min(jobs, len(bounds))) as pool:
        # list() re-raises the first exception from a worker.
        list(pool.map(lambda b: compute(*b), bounds))


_SCRATCH = threading.local()
# The largest work array kept for reuse (8 M elements, 32 MB of float32).
_SCRATCH_KEPT = 1 << 23


def scratch(name: str, shape: tuple[int, ...], dtype: type = np.float32) -> np.ndarray:
    """This thread's work array ``name``, reused from strip to strip (and image to image).

    A fresh array per strip is fresh memory to the kernel: mapping a megabyte page by page
    costs about as much as a filter pass over it (measured 0.65 ms/MB on a VM), and
    glibc returns large blocks as soon as they are freed. The contents are garbage.
    Arrays up to ``_SCRATCH_KEPT`` elements live as long as their thread (a batch's
    worker, from image to image); each name holds the largest shape asked for.
    """
    arrays: dict[str, np.ndarray] = _SCRATCH.__dict__.setdefault("arrays", {})
    size = prod(shape)
    array = arrays.get(name)
    if array is None or array.size < size or array.dtype != dtype:
        array = np.empty(size, dtype=dtype)
        if size <= _SCRATCH_KEPT:  # a huge strip is rare: not worth keeping for the thread
            arrays[name] = array
    return array[:size].reshape(shape)


def edge_padded_rows(image: np.ndarray, start: int, stop: int) -> np.ndarray:
    """Rows ``start-1 .. stop`` and columns ``-1 .. width`` as float32, edges replicated.

    Replicating one edge pixel is exactly scipy.ndimage's default ``mode='reflect'``
    for the 3-tap kernels of the gradient and Sobel filters.
    """
    height, width = image.shape[:2]
    rows = np.clip(np.arange(start - 1, stop + 1), 0, height - 1)
    block = np.empty((stop - start + 2, width + 2), dtype=np.float32)
    block[:, 1:-1] = image[rows]
    block[:, 0] = block[:, 1]
    block[:, -1] = block[:, -2]
    return block


def iter_channels(image: np.ndarray) -> Iterator[np.ndarray]:
    """The 2-D planes of a gray (H, W) or multi-channel (H, W, C) array."""
    if image.ndim == 2:
        yield image
    else:
        for c in range(image.shape[2]):
            yield image[:, :, c]


def plane_views(out: np.ndarray) -> list[np.ndarray]:
    """The 2-D planes of an output array, as writable views."""
    return [out] if out.ndim == 2 else [out[:, :, c] for c in range(out.shape[2])]
