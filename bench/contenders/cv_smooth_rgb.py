"""Gaussian smoothing (sigma 3) of a colour image with OpenCV. argv: IN OUT."""

import sys

import cv2

img = cv2.imread(sys.argv[1], cv2.IMREAD_COLOR)
cv2.imwrite(sys.argv[2], cv2.GaussianBlur(img, (0, 0), 3))
