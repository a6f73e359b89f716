"""What an output file's container says matches its pixels: TIFF inputs' layout tags are
not carried over, formats that cannot hold 16-bit samples are refused, not clipped.

Expected pixels come from numpy in the test (a 2x2 max pool: each output pixel is the
largest of its block), on the pixels Pillow itself decodes from the input.
"""

from __future__ import annotations

import os
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


def gray16(folder: Path) -> Path:
    path = folder / "gray16.png"
    Image.fromarray(RNG.integers(0, 65536, (40, 56), dtype=np.uint16)).save(path)
    return path


def rgba(folder: Path) -> Path:
    path = folder / "rgba.png"
    Image.fromarray(RNG.integers(0, 256, (40, 56, 4), dtype=np.uint8)).save(path)
    return path


# What Pillow would otherwise write after changing the pixels, checked below without cnncli.
LOSSY = [
    (gray16, "webp", "cannot store 16-bit samples"),
    (gray16, "gif", "cannot store 16-bit samples"),
    (gray16, "avif", "cannot store 16-bit samples"),
    (rgba, "bmp", "cannot store the alpha channel"),
    (rgba, "ppm", "cannot store the alpha channel"),
    (rgba, "gif", "cannot store the alpha channel"),
    (lambda folder: tiff_inputs(folder)["rgb"][0], "gif", "the image would be quantized"),
    (lambda folder: tiff_inputs(folder)["rgb"][0], "icns", "the image would be resized"),
]


@pytest.mark.parametrize(
    ("make", "ext", "reason"), LOSSY, ids=[f"{m.__name__}-{e}" for m, e, _ in LOSSY]
)
def test_a_format_that_would_change_the_pixels_is_refused(
    run_cli, tmp_path, make, ext, reason
) -> None:
    source = make(tmp_path)
    out = tmp_path / f"out.{ext}"
    result = run_cli("pool", str(source), str(out), "--k", "2")
    assert result.exit_code == 2
    assert reason in result.stderr and len(result.stderr.strip().splitlines()) <= 2  # error, hint
    assert not out.exists()


@pytest.mark.parametrize(
    ("make", "ext", "_reason"), LOSSY[:6], ids=[f"{m.__name__}-{e}" for m, e, _ in LOSSY[:6]]
)
def test_pillow_itself_would_change_those_pixels(tmp_path, make, ext, _reason) -> None:
    """Why the refusals above: Pillow writes these without an error, and reads back other
    pixels (the test that the refusals are not needless)."""
    with Image.open(make(tmp_path)) as image:
        pixels = np.asarray(image)
        out = tmp_path / f"pillow.{ext}"
        image.save(out, **({"lossless": True} if ext == "webp" else {}))
    with Image.open(out) as reread:
        assert np.asarray(reread).shape != pixels.shape or not np.array_equal(
            np.asarray(reread), pixels
        )


def test_lossless_webp_keeps_the_colour_under_full_transparency(run_cli, tmp_path) -> None:
    pixels = RNG.integers(0, 256, (40, 56, 4), dtype=np.uint8)
    pixels[..., 3] = 0  # every pixel fully transparent: a lossy encoder may drop their colours
    Image.fromarray(pixels).save(tmp_path / "clear.png")
    out = tmp_path / "out.webp"
    assert run_cli("pool", str(tmp_path / "clear.png"), str(out), "--k", "2").exit_code == 0
    with Image.open(out) as written:
        assert np.array_equal(np.asarray(written.convert("RGBA")), block_max(pixels))


def test_the_hint_for_16_bits_to_jpeg_offers_8_bits(run_cli, tmp_path) -> None:
    result = run_cli("smooth", str(gray16(tmp_path)), str(tmp_path / "out.jpg"))
    assert result.exit_code == 2 and "--bits 8" in result.stderr


def input_and_its_names(folder: Path) -> tuple[Path, list[Path]]:
    """An input PNG, and the other names that are the same file: a symlink, a hard link."""
    source = folder / "a.png"
    Image.fromarray(RGB).save(source)
    (folder / "link.png").symlink_to(source.name)
    os.link(source, folder / "hard.png")
    return source, [source, folder / "link.png", folder / "hard.png", folder / "." / "a.png"]


@pytest.mark.parametrize("which", [0, 1, 3], ids=["same name", "symlink", "./"])
def test_the_input_file_is_never_the_output(run_cli, tmp_path, which) -> None:
    source, names = input_and_its_names(tmp_path)
    before = source.read_bytes()
    result = run_cli("sobel", str(source), str(names[which]))
    assert result.exit_code == 2
    assert "would overwrite the input file" in result.stderr
    assert source.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png", "hard.png", "link.png"]


@pytest.mark.parametrize("other", ["copy.png", "hard.png"], ids=["a copy", "a hard link"])
def test_another_name_may_be_replaced_and_the_input_stays(run_cli, tmp_path, other) -> None:
    """A hard link is a name of its own: the atomic rename gives it a new file and leaves
    the input's bytes alone."""
    source, _ = input_and_its_names(tmp_path)
    before = source.read_bytes()
    target = tmp_path / other
    if not target.exists():
        target.write_bytes(before)
    assert run_cli("pool", str(source), str(target), "--k", "2").exit_code == 0
    assert source.read_bytes() == before
    with Image.open(target) as written:
        assert np.array_equal(np.asarray(written), block_max(RGB))


@pytest.mark.parametrize("dest", ["-", "/dev/stdout"])
def test_stdout_opened_on_the_input_is_refused(tmp_path, dest) -> None:
    """`cnncli sobel f.png - 1<>f.png` would write the edges over the picture being read
    (as `cat f >> f` would; cat refuses, 'input file is output file')."""
    import subprocess

    from tests.terminal import CNNCLI

    source, _ = input_and_its_names(tmp_path)
    before = source.read_bytes()
    with open(source, "r+b") as same:  # the shell's 1<>f.png: no truncation
        proc = subprocess.run(
            [CNNCLI, "sobel", str(source), dest, "--format", "png"],
            stdout=same,
            stderr=subprocess.PIPE,
            text=True,
            timeout=120,
            check=False,
        )
    assert proc.returncode == 2
    assert "input file" in proc.stderr and len(proc.stderr.splitlines()) == 1
    assert source.read_bytes() == before


@pytest.mark.parametrize(
    ("dpi", "ext", "extra"),
    [
        (2e8, "png", ["--compress-level", "1"]),  # 7.9e9 pixels a metre; cnncli's own writer
        (2e8, "png", ["--compress-level", "9"]),  # Pillow's writer
        ("nan", "tif", []),  # TIFF to TIFF: the 0/0 stayed in the EXIF
        (1e9, "bmp", []),  # pixels a metre in a signed 32-bit field
        (1e5, "jpg", []),  # JFIF density: 16 bits (Pillow wrapped it to 34464)
        ("nan", "png", []),  # a 0/0 resolution
        ("nan", "jpg", []),
    ],
    ids=["png-own", "png-pillow", "nan-tiff", "bmp", "jpeg", "nan-png", "nan-jpeg"],
)
def test_a_resolution_a_format_cannot_hold_is_left_out_with_a_warning(
    run_cli, tmp_path, dpi, ext, extra
) -> None:
    from PIL.TiffImagePlugin import IFDRational

    source = tmp_path / "in.tif"
    if dpi == "nan":
        nothing = IFDRational(0, 0)
        Image.fromarray(RGB).save(source, tiffinfo={282: nothing, 283: nothing, 296: 2})
    else:
        Image.fromarray(RGB).save(source, dpi=(dpi, dpi))
    out = tmp_path / f"out.{ext}"
    result = run_cli("pool", str(source), str(out), "--k", "2", *extra)
    assert result.exit_code == 0, result.stderr
    (line,) = result.stderr.splitlines()
    assert line.startswith("warning: ") and "does not fit in a" in line and "left out" in line
    with Image.open(out) as written:
        # No wrapped or cut value, none from the EXIF either: none, or a writer's default.
        for shown in written.info.get("dpi", ()):
            assert round(float(shown)) in (0, 1, 72, 96)
        assert not set(written.getexif()) & {0x011A, 0x011B, 0x0128}
        if ext != "jpg":
            assert np.array_equal(np.asarray(written), block_max(RGB))


def test_a_resolution_that_fits_is_kept(run_cli, tmp_path) -> None:
    Image.fromarray(RGB).save(tmp_path / "in.tif", dpi=(300, 150))
    for ext in ("png", "jpg", "bmp", "tif"):
        out = tmp_path / f"out.{ext}"
        assert run_cli("pool", str(tmp_path / "in.tif"), str(out), "--k", "2").exit_code == 0
        with Image.open(out) as written:
            assert tuple(round(float(d)) for d in written.info["dpi"]) == (300, 150), ext


def float_tiff(folder: Path, values: np.ndarray) -> Path:
    path = folder / "float.tif"
    Image.fromarray(values.astype(np.float32), "F").save(path)
    return path


def test_float_samples_in_0_to_1_are_rounded_with_a_warning(run_cli, tmp_path) -> None:
    values = RNG.random((40, 56))
    out = tmp_path / "out.png"
    result = run_cli("pool", str(float_tiff(tmp_path, values)), str(out), "--k", "2")
    assert result.exit_code == 0
    (line,) = result.stderr.splitlines()
    assert line.startswith("warning: ") and "fractional samples rounded" in line
    assert "scale it to 0..65535 first" in line
    with Image.open(out) as written:
        expected = block_max(np.rint(values.astype(np.float32)).astype(np.uint16))
        assert np.array_equal(np.asarray(written), expected)


def test_whole_float_samples_in_range_pass_without_a_word(run_cli, tmp_path) -> None:
    values = RNG.integers(0, 65536, (40, 56)).astype(np.float64)
    out = tmp_path / "out.png"
    result = run_cli("pool", str(float_tiff(tmp_path, values)), str(out), "--k", "2")
    assert result.exit_code == 0 and not result.stderr
    with Image.open(out) as written:
        assert np.array_equal(np.asarray(written), block_max(values.astype(np.uint16)))


def test_32_bit_samples_outside_16_bits_are_clipped_with_a_warning(run_cli, tmp_path) -> None:
    values = RNG.integers(-1000, 70000, (40, 56)).astype(np.int32)
    Image.fromarray(values, "I").save(tmp_path / "wide.tif")
    out = tmp_path / "out.png"
    result = run_cli("pool", str(tmp_path / "wide.tif"), str(out), "--k", "2")
    assert result.exit_code == 0
    outside = int(np.count_nonzero((values < 0) | (values > 65535)))
    assert f"{outside:,} samples outside 0..65535 clipped" in result.stderr
    with Image.open(out) as written:
        assert np.array_equal(
            np.asarray(written), block_max(np.clip(values, 0, 65535).astype(np.uint16))
        )


def png_16_bits(path: Path, samples: np.ndarray, colour_type: int) -> Path:
    """A 16-bit PNG written byte by byte (Pillow cannot write 16-bit colour)."""
    import struct
    import zlib

    height, width = samples.shape[:2]
    rows = b"".join(b"\x00" + samples[row].astype(">u2").tobytes() for row in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", width, height, 16, colour_type, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )
    return path


@pytest.mark.parametrize(
    ("channels", "colour_type", "shown"), [(3, 2, "RGB"), (2, 4, "gray with alpha")]
)
def test_16_bit_colour_read_as_8_bit_says_so(
    run_cli, tmp_path, channels, colour_type, shown
) -> None:
    samples = RNG.integers(0, 65536, (40, 56, channels))
    source = png_16_bits(tmp_path / "wide.png", samples, colour_type)
    result = run_cli("smooth", str(source), str(tmp_path / "out.png"))
    assert result.exit_code == 0
    (line,) = result.stderr.splitlines()
    assert (
        line
        == f"warning: {source}: 16-bit {shown} read as 8-bit (Pillow keeps 16 bits for gray images only)"
    )


def test_16_bit_gray_keeps_its_bits_without_a_word(run_cli, tmp_path) -> None:
    samples = RNG.integers(0, 65536, (40, 56))
    source = png_16_bits(tmp_path / "gray.png", samples, 0)
    out = tmp_path / "out.png"
    result = run_cli("pool", str(source), str(out), "--k", "2")
    assert result.exit_code == 0 and not result.stderr
    with Image.open(out) as written:
        assert np.array_equal(np.asarray(written), block_max(samples.astype(np.uint16)))


def test_dev_stdout_as_the_output_name_writes_the_pipe(tmp_path) -> None:
    """/dev/stdout is a symlink to a /proc link with no path behind it (pipe:[...]): it is
    written as the stream it is, like a FIFO, not replaced by a file."""
    import io
    import subprocess

    from tests.terminal import CNNCLI

    Image.fromarray(RGB).save(tmp_path / "in.png")
    args = [CNNCLI, "pool", str(tmp_path / "in.png"), "/dev/stdout", "--k", "2", "--format", "png"]
    proc = subprocess.run(args, capture_output=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    with Image.open(io.BytesIO(proc.stdout)) as written:
        assert np.array_equal(np.asarray(written), block_max(RGB))


@pytest.mark.parametrize("mode", ["L", "RGB"])
def test_a_png_colour_key_becomes_alpha_as_a_palettes_does(run_cli, tmp_path, mode) -> None:
    """tRNS on a gray or RGB PNG makes one value transparent; Pillow's own conversion to
    LA / RGBA (what browsers show) is the expected input of the filter."""
    pixels = RNG.integers(0, 4, (40, 56, 3), dtype=np.uint8) * 60
    image = Image.fromarray(pixels[..., 0] if mode == "L" else pixels)
    key = 0 if mode == "L" else (0, 0, 0)
    image.save(tmp_path / "keyed.png", transparency=key)
    out = tmp_path / "out.png"
    result = run_cli("pool", str(tmp_path / "keyed.png"), str(out), "--k", "2")
    assert result.exit_code == 0, result.stderr
    with Image.open(tmp_path / "keyed.png") as keyed:
        expected = block_max(np.asarray(keyed.convert("LA" if mode == "L" else "RGBA")))
    with Image.open(out) as written:
        assert written.mode == ("LA" if mode == "L" else "RGBA")
        assert np.array_equal(np.asarray(written), expected)


@pytest.mark.parametrize("ext", ["png", "jpg", "bmp"])
def test_a_colour_key_that_marks_no_pixel_adds_no_alpha(run_cli, tmp_path, ext) -> None:
    """A tRNS key no pixel has makes nothing transparent: the image stays RGB, and a
    format without alpha still takes it (the first version of the colour-key change
    refused JPEG here)."""
    pixels = np.full((40, 56, 3), 100, dtype=np.uint8)
    Image.fromarray(pixels).save(tmp_path / "nokey.png", transparency=(1, 2, 3))
    out = tmp_path / f"out.{ext}"
    result = run_cli("pool", str(tmp_path / "nokey.png"), str(out), "--k", "2")
    assert result.exit_code == 0, result.stderr
    with Image.open(out) as written:
        assert written.mode == "RGB"


def test_an_icon_holds_the_image_as_it_is_up_to_256_pixels(run_cli, tmp_path) -> None:
    """One icon of the image's own size (Pillow's default set of sizes shrank a 56x40
    image to 32x23): exact up to 256 a side, refused beyond."""
    source = rgba(tmp_path)  # 56 x 40: pooled to 28 x 20, not a square
    out = tmp_path / "out.ico"
    assert run_cli("pool", str(source), str(out), "--k", "2").exit_code == 0
    with Image.open(source) as image, Image.open(out) as written:
        assert written.size == (28, 20)
        assert np.array_equal(np.asarray(written.convert("RGBA")), block_max(np.asarray(image)))
    big = tmp_path / "big.png"
    Image.fromarray(RNG.integers(0, 256, (300, 200), dtype=np.uint8)).save(big)
    result = run_cli("smooth", str(big), str(tmp_path / "big.ico"))
    assert result.exit_code == 2
    assert "ICO holds at most 256x256 pixels, the image is 200x300" in result.stderr


def test_16_bit_colour_ppm_read_as_8_bit_says_so(run_cli, tmp_path) -> None:
    """dcraw -4 writes these: P6 with a maximum of 65535 (Pillow's tile gives that number,
    not a ;16 raw mode)."""
    samples = RNG.integers(0, 65536, (8, 6, 3)).astype(">u2")
    source = tmp_path / "wide.ppm"
    source.write_bytes(b"P6 6 8 65535\n" + samples.tobytes())
    result = run_cli("smooth", str(source), str(tmp_path / "out.png"))
    assert result.exit_code == 0
    assert result.stderr.splitlines() == [
        f"warning: {source}: 16-bit RGB read as 8-bit (Pillow keeps 16 bits for gray images only)"
    ]


def test_the_exif_pixel_dimensions_of_the_input_are_not_carried(run_cli, tmp_path) -> None:
    """A camera's EXIF says the picture is 56x40 (PixelXDimension, PixelYDimension); the
    pooled output is 28x20, so those go, and the rest of the EXIF stays."""
    exif = Image.Exif()
    exif[0x010F] = "a camera"
    details = exif.get_ifd(0x8769)
    details[0xA002], details[0xA003], details[0x9003] = 56, 40, "2020:01:01 00:00:00"
    Image.fromarray(RGB).save(tmp_path / "in.jpg", exif=exif)
    out = tmp_path / "out.png"
    assert run_cli("pool", str(tmp_path / "in.jpg"), str(out), "--k", "2").exit_code == 0
    with Image.open(out) as written:
        kept = written.getexif()
        assert kept[0x010F] == "a camera"
        assert dict(kept.get_ifd(0x8769)) == {0x9003: "2020:01:01 00:00:00"}


def sobel_over_a_bind_mount(tmp_path: Path, *, hard_link_elsewhere: bool) -> None:
    """``cnncli sobel one/p.png two/p.png`` with ``two`` a bind mount of ``one`` (in a
    private mount namespace): refused, and the input kept."""
    import shutil
    import subprocess

    from tests.terminal import CNNCLI

    unshare = shutil.which("unshare")
    if unshare is None:
        pytest.skip("no unshare")
    for folder in ("one", "two", "kept"):
        (tmp_path / folder).mkdir()
    Image.fromarray(RGB).save(tmp_path / "one" / "p.png")
    if hard_link_elsewhere:
        os.link(tmp_path / "one" / "p.png", tmp_path / "kept" / "p.png")
    before = (tmp_path / "one" / "p.png").read_bytes()
    script = f'mount --bind one two && exec "{CNNCLI}" sobel one/p.png two/p.png'
    proc = subprocess.run(
        [unshare, "-rm", "sh", "-c", script],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if "mount" in proc.stderr and proc.returncode != 2:
        pytest.skip(f"no private mount here: {proc.stderr.strip()}")
    assert proc.returncode == 2, proc.stderr
    assert "would overwrite the input file one/p.png" in proc.stderr
    assert (tmp_path / "one" / "p.png").read_bytes() == before


def test_the_input_by_another_path_is_refused(tmp_path) -> None:
    """The same directory entry reached by another path (a bind mount here; a
    case-insensitive disk does the same) is the input itself: the rename would replace it."""
    sobel_over_a_bind_mount(tmp_path, hard_link_elsewhere=False)


@pytest.mark.parametrize("ext", ["bmp", "pcx"])
def test_an_8_bit_image_gets_no_16_bit_warning(run_cli, tmp_path, ext) -> None:
    """BMP's and PCX's decoders get a row stride where PPM's gets its maximum value: a
    wide 8-bit image is not 16-bit."""
    pixels = RNG.integers(0, 256, (20, 100, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(tmp_path / f"wide.{ext}")
    result = run_cli("smooth", str(tmp_path / f"wide.{ext}"), str(tmp_path / "out.png"))
    assert result.exit_code == 0 and not result.stderr, result.stderr


def png_with_chunks(path: Path, header: bytes, rows: bytes, extra: bytes = b"") -> Path:
    """A PNG written chunk by chunk: IHDR, the extra chunks (tRNS), IDAT, IEND."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    body = (
        chunk(b"IHDR", header) + extra + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")
    )
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + body)
    return path


def trns(data: bytes) -> bytes:
    import struct
    import zlib

    return (
        struct.pack(">I", len(data))
        + b"tRNS"
        + data
        + struct.pack(">I", zlib.crc32(b"tRNS" + data))
    )


def test_a_16_bit_colour_key_is_left_out_with_a_warning(run_cli, tmp_path) -> None:
    """The key is in 16-bit units; Pillow's samples are 8-bit (here 25600 reads as 100, and
    a key of 100 would make every pixel transparent though no pixel has it)."""
    import struct

    samples = np.full((4, 4, 3), 25600, dtype=">u2")
    rows = b"".join(b"\x00" + samples[r].tobytes() for r in range(4))
    header = struct.pack(">IIBBBBB", 4, 4, 16, 2, 0, 0, 0)
    source = png_with_chunks(
        tmp_path / "key16.png", header, rows, trns(struct.pack(">HHH", 100, 100, 100))
    )
    out = tmp_path / "out.png"
    result = run_cli("smooth", str(source), str(out))
    assert result.exit_code == 0
    assert "the transparent colour of a 16-bit image is left out" in result.stderr
    with Image.open(out) as written:
        assert written.mode == "RGB"


def test_a_palette_transparency_no_pixel_uses_adds_no_alpha(run_cli, tmp_path) -> None:
    pixels = RNG.integers(0, 2, (40, 56), dtype=np.uint8)  # indices 0 and 1 only
    image = Image.fromarray(pixels, "P")
    image.putpalette([0, 0, 0, 255, 255, 255, 255, 0, 0])
    image.save(tmp_path / "pal.png", transparency=2)  # index 2: unused
    result = run_cli("smooth", str(tmp_path / "pal.png"), str(tmp_path / "out.jpg"))
    assert result.exit_code == 0, result.stderr


def test_a_2_bit_gray_key_is_in_stored_units(run_cli, tmp_path) -> None:
    """2-bit gray: stored 0..3, Pillow's samples 0, 85, 170, 255; a key of 1 marks the
    pixels Pillow reads as 85."""
    import struct

    levels = np.tile(np.array([0, 1, 2, 3], dtype=np.uint8), (4, 2))  # 4 rows of 8 pixels
    packed = [
        bytes(np.packbits(np.unpackbits(row[:, None], axis=1)[:, 6:].ravel())) for row in levels
    ]
    rows = b"".join(b"\x00" + p for p in packed)
    header = struct.pack(">IIBBBBB", 8, 4, 2, 0, 0, 0, 0)
    source = png_with_chunks(tmp_path / "g2.png", header, rows, trns(struct.pack(">H", 1)))
    out = tmp_path / "out.png"
    assert run_cli("pool", str(source), str(out), "--k", "1").exit_code == 0
    with Image.open(out) as written:
        assert written.mode == "LA"
        gray, alpha = np.asarray(written)[..., 0], np.asarray(written)[..., 1]
    assert np.array_equal(gray, levels * 85)
    assert np.array_equal(alpha, np.where(levels == 1, 0, 255))


def test_a_16_bit_gray_key_is_left_out_with_a_warning(run_cli, tmp_path) -> None:
    import struct

    samples = RNG.integers(0, 65536, (4, 4)).astype(">u2")
    rows = b"".join(b"\x00" + samples[r].tobytes() for r in range(4))
    header = struct.pack(">IIBBBBB", 4, 4, 16, 0, 0, 0, 0)
    key = trns(struct.pack(">H", int(samples[0, 0])))
    source = png_with_chunks(tmp_path / "g16.png", header, rows, key)
    out = tmp_path / "out.png"
    result = run_cli("pool", str(source), str(out), "--k", "1")
    assert result.exit_code == 0
    assert "the transparent gray of a 16-bit image is left out" in result.stderr
    with Image.open(out) as written:
        assert np.array_equal(np.asarray(written), samples.astype(np.uint16))


def test_the_input_by_another_path_is_refused_even_with_a_hard_link_elsewhere(tmp_path) -> None:
    """A link count above 1 does not tell a hard link from the input's own name reached by
    another path: the folder and the name do."""
    sobel_over_a_bind_mount(tmp_path, hard_link_elsewhere=True)


def test_an_unused_palette_alpha_table_is_dropped_without_pillows_warning(
    run_cli, tmp_path
) -> None:
    image = Image.new("P", (4, 2), 0)
    image.putpalette([255, 0, 0, 0, 255, 0])
    image.save(tmp_path / "pal.png", transparency=bytes([255, 128]))  # entry 1: unused
    out = tmp_path / "out.png"
    result = run_cli("smooth", str(tmp_path / "pal.png"), str(out))
    assert result.exit_code == 0 and not result.stderr, result.stderr
    with Image.open(out) as written:
        assert written.mode == "RGB"


def test_a_1_bit_key_becomes_alpha_as_pillow_makes_it(run_cli, tmp_path) -> None:
    image = Image.new("1", (4, 2), 0)
    image.putpixel((0, 0), 1)
    image.save(tmp_path / "one.png", transparency=1)
    out = tmp_path / "out.png"
    assert run_cli("pool", str(tmp_path / "one.png"), str(out), "--k", "1").exit_code == 0
    with Image.open(tmp_path / "one.png") as stored, Image.open(out) as written:
        assert written.mode == "LA"
        assert np.array_equal(np.asarray(written), np.asarray(stored.convert("LA")))


@pytest.mark.parametrize("ext", ["jpg", "png"])
def test_a_resolution_only_in_the_exif_is_checked_too(run_cli, tmp_path, ext) -> None:
    """A PNG with an eXIf chunk and no pHYs: Pillow gives no dpi, but a JPEG reader takes
    the output's from the EXIF (4e9 dpi here, which JFIF's 16 bits cannot hold)."""
    from PIL.TiffImagePlugin import IFDRational

    exif = Image.Exif()
    exif[0x011A] = exif[0x011B] = IFDRational(4_000_000_000, 1)
    exif[0x0128] = 2
    exif[0x010F] = "a camera"
    Image.fromarray(RGB).save(tmp_path / "in.png", exif=exif.tobytes())
    out = tmp_path / f"out.{ext}"
    result = run_cli("pool", str(tmp_path / "in.png"), str(out), "--k", "2")
    assert result.exit_code == 0
    assert "4e+09 x 4e+09 dpi does not fit" in result.stderr
    with Image.open(out) as written:
        for shown in written.info.get("dpi", ()):
            assert round(float(shown)) in (0, 1, 72, 96)
        assert written.getexif()[0x010F] == "a camera"
        assert not set(written.getexif()) & {0x011A, 0x011B, 0x0128}
