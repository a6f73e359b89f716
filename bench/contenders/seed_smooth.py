"""The seed's Gaussian smoothing (sigma 3) in float64 with scipy. argv: IN OUT."""

import sys

import numpy as np
from PIL import Image
from scipy import ndimage

orig = np.asarray(Image.open(sys.argv[1]).convert("L")).astype("float64")
smoothed = ndimage.gaussian_filter(orig, 3)
Image.fromarray(np.rint(smoothed).astype(np.uint8)).save(sys.argv[2])
