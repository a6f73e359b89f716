"""The OpenCV batch as a user would write it: one process, two threads (cv2 releases
the GIL). argv: KIND OUT_DIR FILE..."""

import os
import sys
from concurrent.futures import ThreadPoolExecutor

import cv2

cv2.setNumThreads(1)
KIND, out_dir, files = sys.argv[1], sys.argv[2], sys.argv[3:]
os.makedirs(out_dir, exist_ok=True)


def one(path):
    img = cv2.imread(path, cv2.IMREAD_GRAYSCALE)
    if KIND == "smooth":
        result = cv2.GaussianBlur(img, (0, 0), 3)
    else:
        gx = cv2.Sobel(img, cv2.CV_32F, 1, 0)
        magnitude = cv2.magnitude(gx, cv2.Sobel(img, cv2.CV_32F, 0, 1))
        result = cv2.convertScaleAbs(magnitude, alpha=255.0 / max(float(magnitude.max()), 1e-9))
    cv2.imwrite(os.path.join(out_dir, os.path.basename(path)), result)


with ThreadPoolExecutor(2) as pool:
    list(pool.map(one, files))
