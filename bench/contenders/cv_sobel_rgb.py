"""Sobel magnitude of a colour image's gray conversion with OpenCV. argv: IN OUT."""

import sys

import cv2

img = cv2.cvtColor(cv2.imread(sys.argv[1], cv2.IMREAD_COLOR), cv2.COLOR_BGR2GRAY)
gx = cv2.Sobel(img, cv2.CV_32F, 1, 0)
gy = cv2.Sobel(img, cv2.CV_32F, 0, 1)
magnitude = cv2.magnitude(gx, gy)
cv2.imwrite(sys.argv[2], cv2.convertScaleAbs(magnitude, alpha=255.0 / magnitude.max()))
