"""Image encoding choices that change speed and size, never pixels or metadata."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import cnncli.imageio as imageio
import cnncli.png as png
from cnncli.core.depth import quantize
from cnncli.core.edges import sobel
from cnncli.imageio import ImageMeta, output_format, read_image, sample_path, write_image

RNG = np.random.default_rng(23)
SAMPLE = Image.open(sample_path())
SAMPLE_L = np.asarray(SAMPLE.convert("L"))

ARRAYS = {
    "L": SAMPLE_L,
    "LA": np.asarray(SAMPLE.convert("LA")),
    "RGB": np.asarray(SAMPLE.convert("RGB")),
    "RGBA": np.asarray(SAMPLE.convert("RGBA")),
    "I;16": SAMPLE_L.astype(np.uint16) * 257 + RNG.integers(0, 257, SAMPLE_L.shape, np.uint16),
    "sobel": quantize(sobel(SAMPLE_L).image, 8),
    "one pixel": np.array([[7]], dtype=np.uint8),
    "one row": RNG.integers(0, 256, (1, 33), np.uint8),
    "one column": RNG.integers(0, 256, (33, 1), np.uint8),
}


@pytest.fixture(params=["zlib", "libdeflate"])
def deflater(request, monkeypatch) -> str:
    """Each whole-image deflater the encoder can use: zlib always, libdeflate (the ``fast``
    extra) where installed."""
    if request.param == "zlib":
        monkeypatch.setattr(png, "whole_deflater", lambda: None)
    else:
        pytest.importorskip("deflate")
        assert png.whole_deflater() is not None
    return str(request.param)


def chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    """(type, body) of every chunk, checking each CRC on the way."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    found, at = [], 8
    while at < len(data):
        (length,) = struct.unpack(">I", data[at : at + 4])
        kind, body = data[at + 4 : at + 8], data[at + 8 : at + 8 + length]
        (crc,) = struct.unpack(">I", data[at + 8 + length : at + 12 + length])
        assert crc == zlib.crc32(kind + body), kind
        found.append((kind, body))
        at += 12 + length
    return found


def encode(array: np.ndarray, meta: ImageMeta | None = None, **kwargs: object) -> bytes:
    buffer = io.BytesIO()
    mode = Image.fromarray(array).mode
    options = imageio._save_options("PNG", mode, meta or META, 1)
    png.write_png(array, mode, {**options, **kwargs}, buffer)
    return buffer.getvalue()


META = ImageMeta(name="x", bits=8, format="PNG")


def pillow_png_size(array: np.ndarray, level: int) -> int:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG", compress_level=level)
    return len(buffer.getvalue())


@pytest.mark.parametrize("name", sorted(ARRAYS))
@pytest.mark.parametrize("strip_bytes", [1 << 20, 50])
def test_fast_png_is_lossless_valid_and_about_as_small_as_pillows_level_1(
    monkeypatch, deflater: str, name: str, strip_bytes: int
) -> None:
    monkeypatch.setattr(png, "STRIP_BYTES", strip_bytes)  # 50: a strip per row
    array = ARRAYS[name]
    data = encode(array)
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(data))), array)
    found = chunks(data)
    assert found[0][0] == b"IHDR" and found[-1] == (b"IEND", b"")
    stream = b"".join(body for kind, body in found if kind == b"IDAT")
    raw = zlib.decompress(stream)  # checks the combined Adler-32 trailer
    assert len(raw) == array.shape[0] * (1 + array[0].nbytes)
    if array.size > 1000 and strip_bytes > 50:
        assert len(data) <= 1.1 * pillow_png_size(array, 1)


def test_default_level_writes_the_fast_png_and_other_levels_pillows(
    tmp_path, deflater: str
) -> None:
    out = tmp_path / "out.png"
    write_image(SAMPLE_L, out, META)
    assert out.read_bytes() == encode(SAMPLE_L)
    write_image(SAMPLE_L, out, META, compress_level=9)
    assert out.stat().st_size == pillow_png_size(SAMPLE_L, 9)


def test_fast_png_keeps_icc_dpi_and_exif_as_pillow_writes_them(deflater: str) -> None:
    from PIL import ImageCms

    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    exif = Image.Exif()
    exif[0x010F] = "cnncli camera"
    rgb = ARRAYS["RGB"]
    meta = ImageMeta(
        name="x",
        bits=8,
        format="PNG",
        info={"icc_profile": icc, "dpi": (300, 72), "exif": exif.tobytes()},
    )
    ours = Image.open(io.BytesIO(encode(rgb, meta)))
    theirs_buffer = io.BytesIO()
    Image.fromarray(rgb).save(
        theirs_buffer, format="PNG", icc_profile=icc, dpi=(300, 72), exif=exif.tobytes()
    )
    theirs = Image.open(theirs_buffer)
    assert ours.info["icc_profile"] == theirs.info["icc_profile"] == icc
    assert ours.info["dpi"] == theirs.info["dpi"]
    assert ours.getexif()[0x010F] == "cnncli camera"
    assert [k for k, _ in chunks(encode(rgb, meta)) if k != b"IDAT"] == [
        k for k, _ in chunks(theirs_buffer.getvalue()) if k != b"IDAT"
    ]


def test_the_fast_path_takes_level_1_pngs_of_known_modes_with_pixels() -> None:
    pixels = np.zeros((2, 2), np.uint8)
    assert png.fast_path_applies("PNG", "L", 1, pixels)
    assert png.fast_path_applies("PNG", "I;16", 1, pixels.astype(np.uint16))
    assert not png.fast_path_applies("PNG", "L", 9, pixels)  # other levels: Pillow
    assert not png.fast_path_applies("TIFF", "L", 1, pixels)
    assert not png.fast_path_applies("PNG", "P", 1, pixels)  # no colour type for it here
    assert not png.fast_path_applies("PNG", "L", 1, np.zeros((0, 3), np.uint8))


def test_libdeflate_writes_one_zlib_stream_and_the_same_bytes_in_another_process() -> None:
    """Byte-reproducible outputs: build systems and caches compare files."""
    pytest.importorskip("deflate")
    import subprocess
    import sys

    array = ARRAYS["sobel"]
    ours = encode(array)
    found = chunks(ours)
    assert [kind for kind, _ in found] == [b"IHDR", b"IDAT", b"IEND"]
    assert zlib.decompress(found[1][1])[: 1 + array.shape[1]] == b"\x02" + array[0].tobytes()
    script = (
        "import sys, numpy as np; sys.path[:0] = sys.argv[1:2];"
        "from tests.test_imageio import ARRAYS, encode;"
        "sys.stdout.buffer.write(encode(ARRAYS['sobel']))"
    )
    root = str(Path(__file__).parent.parent)
    again = subprocess.run(
        [sys.executable, "-c", script, root], capture_output=True, check=True, cwd=root
    ).stdout
    assert again == ours


def test_without_the_fast_extra_there_is_no_whole_deflater(monkeypatch) -> None:
    import sys

    png.whole_deflater.cache_clear()
    monkeypatch.setitem(sys.modules, "deflate", None)  # import deflate raises ImportError
    try:
        assert png.whole_deflater() is None
    finally:
        png.whole_deflater.cache_clear()


def test_adler32_combine_matches_zlib() -> None:
    for length_a, length_b in [(0, 5), (5, 0), (1, 1), (70000, 123), (3, 200000)]:
        a = RNG.integers(0, 256, length_a, np.uint8).tobytes()
        b = RNG.integers(0, 256, length_b, np.uint8).tobytes()
        combined = png.adler32_combine(zlib.adler32(a), zlib.adler32(b), len(b))
        assert combined == zlib.adler32(a + b)


@pytest.mark.parametrize(
    ("name", "fmt"),
    [("a.png", "PNG"), ("a.JPG", "JPEG"), ("a.tif", "TIFF"), ("a.webp", "WEBP"), ("a.bmp", "BMP")],
)
def test_output_format_from_common_and_plugin_extensions(name: str, fmt: str) -> None:
    assert output_format(name, None) == fmt


def test_read_without_orientation_gives_the_stored_pixels(tmp_path: Path) -> None:
    path = tmp_path / "in.png"
    Image.fromarray(SAMPLE_L).save(path)
    array, meta = read_image(path)
    assert np.array_equal(array, SAMPLE_L)
    assert meta.bits == 8


def test_fast_png_bytes_do_not_depend_on_the_thread_count(monkeypatch) -> None:
    monkeypatch.setattr(png, "STRIP_BYTES", 4096)  # many strips for few threads
    array = ARRAYS["RGB"]
    options = imageio._save_options("PNG", "RGB", META, 1)
    encoded = []
    for threads in (1, 2, None):
        buffer = io.BytesIO()
        png.write_png(array, "RGB", options, buffer, threads)
        encoded.append(buffer.getvalue())
    assert encoded[0] == encoded[1] == encoded[2]
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(encoded[0]))), array)


@pytest.mark.parametrize("mode", ["L", "LA", "RGB", "RGBA", "I;16"])
def test_pixels_copied_in_bands_equal_pillows_array(monkeypatch, tmp_path, mode) -> None:
    """Large images leave Pillow a band of rows at a time: the same array as np.asarray."""
    rng = np.random.default_rng(3)
    if mode == "I;16":
        picture = Image.fromarray(rng.integers(0, 65536, (53, 21)).astype(np.uint16))
    else:
        picture = Image.fromarray(rng.integers(0, 256, (53, 21, 4)).astype(np.uint8), "RGBA")
        picture = picture.convert(mode)
    path = tmp_path / "in.png"
    picture.save(path)
    monkeypatch.setattr(imageio, "_PIXEL_BAND_BYTES", 100)  # bands of a few rows, last one short
    got, _ = read_image(path)
    assert np.array_equal(got, np.asarray(Image.open(path)))


@pytest.mark.parametrize(
    ("mode", "fmt"),
    [("L", "PNG"), ("L", "TIFF"), ("L", "PPM"), ("L", "BMP"), ("I;16", "PNG"), ("I;16", "TIFF")],
)
def test_gray_decoded_straight_into_the_array_equals_pillows(monkeypatch, tmp_path, mode, fmt):
    """8- and 16-bit gray are decoded into our array, not copied out of Pillow after."""
    rng = np.random.default_rng(5)
    dtype = np.uint16 if mode == "I;16" else np.uint8
    stored = rng.integers(0, np.iinfo(dtype).max + 1, (61, 37)).astype(dtype)
    path = tmp_path / f"in.{fmt.lower()}"
    Image.fromarray(stored).save(path, format=fmt)
    with Image.open(path) as opened:
        if opened.mode != mode:  # older Pillows open 16-bit PNG as "I"
            pytest.skip(f"this Pillow opens it as {opened.mode}")
    copied: list[str] = []
    monkeypatch.setattr(imageio, "_pixels", lambda image: copied.append(image.mode))
    got, meta = read_image(path)
    assert copied == []  # the decoder's own output is what came back
    assert got.dtype == dtype and np.array_equal(got, np.asarray(Image.open(path)))
    assert meta.bits == (16 if mode == "I;16" else 8)


def test_gray_with_an_orientation_is_transposed_not_returned_as_decoded(tmp_path) -> None:
    """A rotation gives Pillow new pixels: those are returned, not the array decoded into."""
    path = tmp_path / "rotated.png"
    stored = Image.fromarray(RNG.integers(0, 256, (40, 70)).astype(np.uint8))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to view
    stored.save(path, exif=exif)
    got, _ = read_image(path)
    from PIL import ImageOps

    with Image.open(path) as opened:
        assert np.array_equal(got, np.asarray(ImageOps.exif_transpose(opened)))
    assert got.shape == (70, 40)


@pytest.mark.parametrize(
    ("dtype", "orientation", "quarter_turns"),
    [(np.uint8, 6, -1), (np.uint16, 8, 1), (np.uint8, 3, 2)],
)
def test_a_rotated_gray_tiff_is_read_as_viewed(tmp_path, dtype, orientation, quarter_turns):
    """Pillow decodes a rotated TIFF at its stored size: never into an array of the
    viewed size (that failed as 'tile cannot extend outside image'). Orientation 6 is
    viewed turned 90 degrees clockwise, 8 counter-clockwise, 3 half a turn."""
    stored = RNG.integers(0, np.iinfo(dtype).max + 1, (30, 20)).astype(dtype)
    path = tmp_path / "rotated.tif"
    Image.fromarray(stored).save(path, tiffinfo={274: orientation})
    got, _ = read_image(path)
    assert np.array_equal(got, np.rot90(stored, quarter_turns))


@pytest.mark.parametrize(
    "shape_dtype",
    [
        ((5, 4), np.uint8),
        ((5, 4, 2), np.uint8),
        ((5, 4, 3), np.uint8),
        ((5, 4, 4), np.uint8),
        ((5, 4), np.uint16),
        ((1, 1), np.uint8),
        ((3, 1, 3), np.uint8),
    ],
)
def test_the_output_mode_is_the_one_pillow_gives_the_array(shape_dtype) -> None:
    shape, dtype = shape_dtype
    array = np.zeros(shape, dtype)
    assert imageio._output_mode(array) == Image.fromarray(array).mode


def test_a_16_bit_colour_output_is_still_refused(tmp_path) -> None:
    from cnncli.core.errors import UserError

    with pytest.raises(UserError, match="16-bit output is possible only for gray"):
        write_image(np.zeros((4, 4, 3), np.uint16), tmp_path / "x.png", META)
    assert not (tmp_path / "x.png").exists()
