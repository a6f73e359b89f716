"""The seed's gradient: ``[-1, 0, 1]`` convolved both ways, float64. argv: IN OUT."""

import sys

import numpy as np
from PIL import Image
from scipy import ndimage

orig = np.asarray(Image.open(sys.argv[1]).convert("L")).astype("float64")
edge_v = ndimage.convolve(orig, np.array([[-1, 0, 1]]))
edge_h = ndimage.convolve(orig, np.array([[-1], [0], [1]]))
magnitude = np.sqrt(edge_h**2 + edge_v**2)
magnitude *= 255.0 / magnitude.max()
Image.fromarray(np.rint(magnitude).astype(np.uint8)).save(sys.argv[2])
