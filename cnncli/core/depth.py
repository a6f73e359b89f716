"""Bit depth: 8- or 16-bit integer samples, their range, and the conversions between them.

Every image command writes ``uint8`` (0..255) or ``uint16`` (0..65535) samples. Filters
compute in float32 and scale by :func:`depth_scale` when the output depth differs from
the input's (``65535 / 255 = 257`` keeps 255 -> 65535 exact); rounding is ``np.rint``
(ties to even) then clipping, block by block, so no image-sized float temporary exists.
"""

from __future__ import annotations

import numpy as np

# Rows of this many values at a time: the rounding temporary stays small.
_QUANTIZE_BLOCK = 1 << 20
# Rows of this many values at a time when copying a plane to another depth.
_COPY_BLOCK = 1 << 18


def max_value(bits: int) -> float:
    """The largest sample of a ``bits``-bit image: 255.0 or 65535.0."""
    return float((1 << bits) - 1)


def bits_of(image: np.ndarray) -> int:
    """The depth of an image array: 16 for ``uint16``, else 8."""
    return 16 if image.dtype == np.uint16 else 8


def dtype_of(bits: int) -> type[np.unsignedinteger]:
    """The sample type of a ``bits``-bit image: ``uint16`` for 16, else ``uint8``."""
    return np.uint16 if bits == 16 else np.uint8


def top_value(dtype: np.dtype) -> float | None:
    """The largest sample of an integer output dtype; None for a float output (no rounding)."""
    if dtype == np.uint8:  # what nearly every call asks, without numpy's type machinery
        return 255.0
    return float(np.iinfo(dtype).max) if np.issubdtype(dtype, np.integer) else None


def output_array(shape: tuple[int, ...], bits: int) -> np.ndarray:
    """The preallocated output every filter writes into, strip by strip."""
    return np.empty(shape, dtype=dtype_of(bits))


def depth_scale(bits_in: int, bits_out: int) -> float:
    """What brings values on the ``bits_in`` scale to the ``bits_out`` scale."""
    return 1.0 if bits_in == bits_out else max_value(bits_out) / max_value(bits_in)


def store(values: np.ndarray, target: np.ndarray) -> None:
    """Write a float strip into ``target``: as is if it is float, else rounded and clipped.

    Rounding is ``np.rint`` (ties to even) then clipping to the dtype's range, the same
    arithmetic as rounding a whole float image at once: a strip's samples come out
    byte-identical to the one-pass result. ``values`` may be overwritten.
    """
    top = top_value(target.dtype)
    if top is None:
        target[...] = values
        return
    np.rint(values, out=values)
    # np.clip in place: a 256x256 strip took 62 us with np.maximum and np.minimum (numpy's
    # float32 versions are slow here), 21 us so. NaN goes through either unchanged.
    np.clip(values, 0, top, out=values)
    target[...] = values


def copy_scaled(plane: np.ndarray, target: np.ndarray, scale: float) -> None:
    """``plane * scale`` rounded into ``target``, in row blocks (no image-sized temporary)."""
    if scale == 1.0 and plane.dtype == target.dtype:
        target[...] = plane
        return
    step = max(1, _COPY_BLOCK // max(1, plane.shape[1]))
    for start in range(0, plane.shape[0], step):
        block = plane[start : start + step].astype(np.float32)
        block *= np.float32(scale)
        store(block, target[start : start + step])


def quantize(values: np.ndarray, bits: int) -> np.ndarray:
    """Round to nearest and store as uint8 or uint16 (values already within range)."""
    top = max_value(bits)
    out = np.empty(values.shape, dtype=dtype_of(bits))
    if values.ndim == 0 or not values.size:
        out[...] = np.clip(np.rint(values), 0, top)
        return out
    step = max(1, _QUANTIZE_BLOCK // (values.size // values.shape[0]))
    for start in range(0, values.shape[0], step):
        rounded = np.rint(values[start : start + step])
        np.clip(rounded, 0, top, out=rounded)
        out[start : start + step] = rounded
    return out
