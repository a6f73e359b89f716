"""The seed's reference formulas, in float64, exactly as the seed writes them."""

from __future__ import annotations

import numpy as np
from scipy import ndimage


def seed_gradient(image: np.ndarray, top: float = 255.0) -> np.ndarray:
    orig = image.astype("float64")
    k_v = np.array([[-1, 0, 1]])
    k_h = np.array([[-1], [0], [1]])
    edge_h = ndimage.convolve(orig, k_h)
    edge_v = ndimage.convolve(orig, k_v)
    magnitude = np.sqrt(edge_h**2 + edge_v**2)
    return _scaled(magnitude, top)


def seed_sobel(image: np.ndarray, top: float = 255.0) -> np.ndarray:
    orig = image.astype("float64")
    sobel_h = ndimage.sobel(orig, 0)
    sobel_v = ndimage.sobel(orig, 1)
    magnitude = np.sqrt(sobel_h**2 + sobel_v**2)
    return _scaled(magnitude, top)


def seed_smooth(
    image: np.ndarray, sigma: float | tuple[float, float], **kwargs: object
) -> np.ndarray:
    return ndimage.gaussian_filter(image.astype("float64"), sigma, **kwargs)  # type: ignore[arg-type]


def _scaled(magnitude: np.ndarray, top: float) -> np.ndarray:
    peak = magnitude.max()
    # A flat image has no edges: the seed would divide by zero; the right answer is black.
    return magnitude * (top / peak) if peak > 0 else np.zeros_like(magnitude)


def max_abs_diff(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.max(np.abs(a.astype("float64") - b.astype("float64")))) if a.size else 0.0
