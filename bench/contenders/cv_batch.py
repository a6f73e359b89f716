"""The OpenCV batch as a user would write it: one process, two threads (cv2 releases
the GIL). argv: [--durable] KIND OUT_DIR FILE...

With ``--durable`` each output is written as cnncli writes it, for a like-for-like
comparison: encoded in memory, written to a temporary file beside it, fsynced, then
renamed into place (so a crash or a power cut never leaves a cut file)."""

import os
import sys
from concurrent.futures import ThreadPoolExecutor

import cv2

cv2.setNumThreads(1)
durable = sys.argv[1] == "--durable"
KIND, out_dir, *files = sys.argv[2:] if durable else sys.argv[1:]
os.makedirs(out_dir, exist_ok=True)


def save(path, image):
    if not durable:
        cv2.imwrite(path, image)
        return
    encoded = cv2.imencode(".png", image)[1]
    folder, name = os.path.split(path)
    tmp = os.path.join(folder, f".{name}.{os.getpid()}.part")
    with open(tmp, "wb") as out:
        out.write(encoded)
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, path)


def one(path):
    img = cv2.imread(path, cv2.IMREAD_GRAYSCALE)
    if KIND == "smooth":
        result = cv2.GaussianBlur(img, (0, 0), 3)
    else:
        gx = cv2.Sobel(img, cv2.CV_32F, 1, 0)
        magnitude = cv2.magnitude(gx, cv2.Sobel(img, cv2.CV_32F, 0, 1))
        result = cv2.convertScaleAbs(magnitude, alpha=255.0 / max(float(magnitude.max()), 1e-9))
    save(os.path.join(out_dir, os.path.basename(path)), result)


with ThreadPoolExecutor(2) as pool:
    list(pool.map(one, files))
