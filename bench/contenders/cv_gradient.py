"""The central-difference gradient with OpenCV's filter2D. argv: IN OUT."""

import sys

import cv2
import numpy as np

img = cv2.imread(sys.argv[1], cv2.IMREAD_GRAYSCALE)
kernel = np.array([[-1, 0, 1]], dtype=np.float32)
gx = cv2.filter2D(img, cv2.CV_32F, kernel)
gy = cv2.filter2D(img, cv2.CV_32F, kernel.T)
magnitude = cv2.magnitude(gx, gy)
cv2.imwrite(sys.argv[2], cv2.convertScaleAbs(magnitude, alpha=255.0 / magnitude.max()))
