"""What an output file's container says matches its pixels: TIFF inputs' layout tags are
not carried over, formats that cannot hold 16-bit samples are refused, not clipped.

Expected pixels come from numpy in the test (a 2x2 max pool: each output pixel is the
largest of its block), on the pixels Pillow itself decodes from the input.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

RNG = np.random.default_rng(17)
RGB = RNG.integers(0, 256, (40, 56, 3), dtype=np.uint8)


def block_max(pixels: np.ndarray) -> np.ndarray:
    """MaxPool2d(2) of an (H, W[, C]) array with even sides."""
    h, w = pixels.shape[:2]
    return pixels.reshape(h // 2, 2, w // 2, 2, *pixels.shape[2:]).max(axis=(1, 3))


def tiff_inputs(folder: Path) -> dict[str, tuple[Path, np.ndarray]]:
    """TIFFs whose directories carry layout tags unlike the output's, and the pixels
    cnncli is to pool (Pillow's own conversion of each to RGB, or the 16-bit values)."""
    made: dict[str, tuple[Path, np.ndarray]] = {}
    image = Image.fromarray(RGB)
    for name, stored in (
        ("rgb", image),
        ("palette", image.quantize(16)),
        ("cmyk", image.convert("CMYK")),
        ("rgba", image.convert("RGBA")),
    ):
        path = folder / f"{name}.tif"
        stored.save(path)
        with Image.open(path) as reread:
            made[name] = (path, np.asarray(reread.convert("RGBA" if name == "rgba" else "RGB")))
    wide = RNG.integers(0, 60000, (40, 56)).astype(np.int32)
    Image.fromarray(wide, "I").save(folder / "i32.tif")
    made["i32"] = (folder / "i32.tif", wide.astype(np.uint16))
    return made


@pytest.mark.parametrize("kind", ["rgb", "palette", "cmyk", "rgba", "i32"])
def test_a_tiff_written_from_a_tiff_is_readable_and_exact(run_cli, tmp_path, kind) -> None:
    source, pixels = tiff_inputs(tmp_path)[kind]
    out = tmp_path / "out.tif"
    result = run_cli("pool", str(source), str(out), "--k", "2")
    assert result.exit_code == 0, result.stderr
    with Image.open(out) as written:
        written.load()
        assert written.size == (28, 20)
        got = np.asarray(written)
    assert got.dtype == pixels.dtype
    assert np.array_equal(got, block_max(pixels))


def test_a_tiff_inputs_layout_tags_do_not_reach_a_png(run_cli, tmp_path) -> None:
    source, _ = tiff_inputs(tmp_path)["rgb"]
    out = tmp_path / "out.png"
    assert run_cli("pool", str(source), str(out), "--k", "2").exit_code == 0
    with Image.open(out) as written:
        tags = set(written.getexif())
    assert not tags & {256, 257, 258, 262, 273, 277, 278, 279}  # width, height, samples...


def test_a_tiffs_own_description_is_kept(run_cli, tmp_path) -> None:
    image = Image.fromarray(RGB)
    exif = Image.Exif()
    exif[0x010E] = "a test card"  # ImageDescription
    exif[0x013B] = "cnncli"  # Artist
    image.save(tmp_path / "in.tif", exif=exif)
    out = tmp_path / "out.tif"
    assert run_cli("smooth", str(tmp_path / "in.tif"), str(out)).exit_code == 0
    with Image.open(out) as written:
        assert written.getexif()[0x010E] == "a test card"
        assert written.getexif()[0x013B] == "cnncli"
