"""Image encoding choices that change speed and size, never pixels."""

from __future__ import annotations

import io
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cnncli.core.edges import quantize
from cnncli.core.sobel import sobel
from cnncli.imageio import ImageMeta, output_format, read_image, write_image

SAMPLE_L = np.asarray(
    Image.open(Path(__file__).parents[1] / "cnncli/data/chelsea.png").convert("L")
)


def pillow_png_size(array: np.ndarray, **options: object) -> int:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG", **options)
    return len(buffer.getvalue())


@pytest.mark.parametrize(
    "array",
    [SAMPLE_L, quantize(sobel(SAMPLE_L).image, 8), (SAMPLE_L.astype(np.uint16) * 257)],
    ids=["photo", "sobel", "16-bit"],
)
def test_default_png_level_is_lossless_and_no_bigger_than_zlib_level_1(tmp_path, array) -> None:
    out = tmp_path / "out.png"
    write_image(array, out, ImageMeta(name="x", bits=8, format="PNG"))
    assert np.array_equal(np.asarray(Image.open(out)), array)
    assert out.stat().st_size <= pillow_png_size(array, compress_level=1)


def test_default_png_level_uses_run_length_deflate_for_8_bits_only(tmp_path) -> None:
    out = tmp_path / "out.png"
    write_image(SAMPLE_L, out, ImageMeta(name="x", bits=8, format="PNG"))
    rle = pillow_png_size(SAMPLE_L, compress_level=1, compress_type=zlib.Z_RLE)
    assert out.stat().st_size == rle
    wide = SAMPLE_L.astype(np.uint16) * 257
    write_image(wide, out, ImageMeta(name="x", bits=16, format="PNG"))
    assert out.stat().st_size == pillow_png_size(wide, compress_level=1)


def test_other_png_levels_keep_pillows_default_strategy(tmp_path) -> None:
    out = tmp_path / "out.png"
    write_image(SAMPLE_L, out, ImageMeta(name="x", bits=8, format="PNG"), compress_level=9)
    assert out.stat().st_size == pillow_png_size(SAMPLE_L, compress_level=9)


@pytest.mark.parametrize(
    ("name", "fmt"),
    [("a.png", "PNG"), ("a.JPG", "JPEG"), ("a.tif", "TIFF"), ("a.webp", "WEBP"), ("a.bmp", "BMP")],
)
def test_output_format_from_common_and_plugin_extensions(name: str, fmt: str) -> None:
    assert output_format(name, None) == fmt


def test_read_without_orientation_gives_the_stored_pixels(tmp_path) -> None:
    path = tmp_path / "in.png"
    Image.fromarray(SAMPLE_L).save(path)
    array, meta = read_image(path)
    assert np.array_equal(array, SAMPLE_L)
    assert meta.bits == 8
