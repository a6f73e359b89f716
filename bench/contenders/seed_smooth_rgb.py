"""The seed's smoothing on colour: each channel on its own, in float64. argv: IN OUT."""

import sys

import numpy as np
from PIL import Image
from scipy import ndimage

orig = np.asarray(Image.open(sys.argv[1]).convert("RGB")).astype("float64")
smoothed = np.stack([ndimage.gaussian_filter(orig[..., c], 3) for c in range(3)], axis=-1)
Image.fromarray(np.rint(smoothed).astype(np.uint8)).save(sys.argv[2])
