"""The seed's Sobel as a user of scipy writes it: float64, ``255 / max``. argv: IN OUT."""

import sys

import numpy as np
from PIL import Image
from scipy import ndimage

orig = np.asarray(Image.open(sys.argv[1]).convert("L")).astype("float64")
magnitude = np.hypot(ndimage.sobel(orig, 0), ndimage.sobel(orig, 1))
magnitude *= 255.0 / magnitude.max()
Image.fromarray(np.rint(magnitude).astype(np.uint8)).save(sys.argv[2])
