"""``--skip-existing`` trusts an output only if it is a whole image (is_complete_image)."""

from __future__ import annotations

import os

import numpy as np
import pytest
from PIL import Image

from cnncli.imageio import is_complete_image

RNG = np.random.default_rng(8)


@pytest.mark.parametrize("ext", ["png", "jpg", "tif", "bmp", "webp"])
def test_a_whole_image_is_complete(tmp_path, ext) -> None:
    path = tmp_path / f"a.{ext}"
    Image.fromarray(RNG.integers(0, 256, (20, 30, 3), dtype=np.uint8)).save(path)
    assert is_complete_image(path)


@pytest.mark.parametrize("ext", ["png", "jpg", "tif", "bmp"])
def test_every_cut_of_an_image_is_incomplete(tmp_path, ext) -> None:
    whole = tmp_path / f"whole.{ext}"
    Image.fromarray(RNG.integers(0, 256, (20, 30, 3), dtype=np.uint8)).save(whole)
    data = whole.read_bytes()
    cut = tmp_path / f"cut.{ext}"
    for length in sorted({0, 1, 8, 33, len(data) // 2, len(data) - 12, len(data) - 1}):
        cut.write_bytes(data[:length])
        assert not is_complete_image(cut), length


def test_what_is_not_a_regular_file_is_not_a_complete_image(tmp_path) -> None:
    assert not is_complete_image(tmp_path)
    assert not is_complete_image(tmp_path / "missing.png")
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)
    assert not is_complete_image(fifo)  # and no open() that would wait for a writer
