"""Bounded input: reading stops past a byte limit from --max-pixels, and a header that
promises more than the limits, the memory or its own file can hold is refused before
any pixel is decoded."""

from __future__ import annotations

import struct
import subprocess
import zlib

import numpy as np
import pytest
from PIL import Image

from cnncli.core.errors import UserError
from cnncli.imageio import (
    DEFLATE_MAX_RATIO,
    MAX_FILE_BYTES_PER_PIXEL,
    METADATA_ALLOWANCE,
    available_memory,
    max_input_bytes,
    read_image,
)
from tests.cli.test_batch_cli import CNNCLI

LIMIT_1000 = MAX_FILE_BYTES_PER_PIXEL * 1000 + METADATA_ALLOWANCE  # the byte limit of 1000 px


def png_with_header(width: int, height: int, colour_type: int = 0, body: bytes = b"") -> bytes:
    """A PNG whose IHDR claims ``width`` x ``height`` and whose IDAT holds ``body``."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data)
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, colour_type, 0, 0, 0)
    idat = zlib.compress(body or b"\0" * 10)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def test_the_byte_limit_follows_the_pixel_limit() -> None:
    assert max_input_bytes(1000) == 8 * 1000 + 16 * 2**20
    assert max_input_bytes(None) is None


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/urandom"])
def test_an_endless_device_as_input_stops_at_the_limit(run_cli, tmp_path, device) -> None:
    out = tmp_path / "o.png"
    result = run_cli("smooth", device, str(out), "--max-pixels", "1000")
    assert result.exit_code == 2
    assert result.stderr == (
        f"error: {device}: more than {LIMIT_1000:,} bytes, too large for an image file "
        "(the limit for --max-pixels: 8 bytes a pixel + 16 MiB) "
        "(hint: raise --max-pixels if the file is a real image)\n"
    )
    assert not out.exists()


def test_an_endless_stdin_stops_at_the_limit(tmp_path) -> None:
    done = subprocess.run(
        ["bash", "-c", f"cat /dev/zero | '{CNNCLI}' sobel - '{tmp_path}/o.png' --max-pixels 10"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 2
    limit = MAX_FILE_BYTES_PER_PIXEL * 10 + METADATA_ALLOWANCE
    assert done.stderr.startswith(f"error: <stdin>: more than {limit:,} bytes")
    assert done.stderr.count("\n") == 1


def test_a_large_regular_file_is_refused_without_reading_it(run_cli, tmp_path) -> None:
    sparse = tmp_path / "huge.png"
    with open(sparse, "wb") as handle:  # 1 TB of holes: reading it would take hours
        handle.truncate(10**12)
    result = run_cli("sobel", str(sparse), str(tmp_path / "o.png"), "--max-pixels", "1000")
    assert result.exit_code == 2
    assert result.stderr.startswith(f"error: {sparse}: more than {LIMIT_1000:,} bytes")


def test_a_lying_png_header_is_refused_before_decoding(run_cli, tmp_path) -> None:
    liar = tmp_path / "liar.png"
    liar.write_bytes(png_with_header(89_478_485, 1, colour_type=6))
    assert len(liar.read_bytes()) == 68
    result = run_cli("smooth", str(liar), str(tmp_path / "o.png"))
    assert result.exit_code == 2
    samples = 89_478_485 * 4
    assert samples > DEFLATE_MAX_RATIO * 68
    assert result.stderr == (
        f"error: {liar}: the header promises 89478485x1 pixels ({samples:,} bytes of "
        f"samples) but the file has 68 bytes, less than deflate's limit of 1:1032 allows: "
        "a truncated or lying header\n"
    )


def test_a_header_over_the_pixel_limit_is_refused_with_the_numbers(run_cli, tmp_path) -> None:
    liar = tmp_path / "wide.png"
    liar.write_bytes(png_with_header(100_000, 1000))
    result = run_cli("sobel", str(liar), str(tmp_path / "o.png"))
    assert result.exit_code == 2
    assert result.stderr.startswith(
        f"error: {liar}: 100000x1000 = 100,000,000 pixels is over the limit of 89,478,485"
    )


def test_a_header_beyond_pillows_own_guard_is_refused_our_way(run_cli, tmp_path) -> None:
    liar = tmp_path / "huge.png"
    liar.write_bytes(png_with_header(20_000, 10_000))  # over twice Pillow's default guard
    result = run_cli("sobel", str(liar), str(tmp_path / "o.png"))
    assert result.exit_code == 2
    assert result.stderr == (
        f"error: {liar}: 200,000,000 pixels is over the limit of 89,478,485 (a decompression-"
        "bomb guard) (hint: raise it with --max-pixels if you trust the file)\n"
    )


def test_a_header_beyond_the_memory_is_refused_before_decoding(run_cli, tmp_path) -> None:
    available = available_memory()
    if available is None:
        pytest.skip("this system does not say how much memory is available")
    side = 1_000_000  # 10**12 pixels: more than any machine this runs on has bytes
    assert side * side > available
    liar = tmp_path / "vast.png"
    liar.write_bytes(png_with_header(side, side))
    result = run_cli(
        "pool", "--k", "2", str(liar), str(tmp_path / "o.png"), "--max-pixels", str(10**13)
    )
    assert result.exit_code == 2, result.stderr
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"error: {liar}: 1000000x1000000 L needs at least 5,000,000 MB")
    assert line.endswith("MB available")


def test_pillows_guard_is_applied_per_open_not_switched_off(tmp_path, monkeypatch) -> None:
    path = tmp_path / "a.png"
    Image.fromarray(np.zeros((40, 50), np.uint8)).save(path)
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 100)  # a program that wants a low guard
    # Under twice Pillow's guard, Pillow's is left as it is (it refuses first, said our way).
    with pytest.raises(UserError, match="2,000 pixels is over the limit of 150"):
        read_image(path, max_pixels=150)
    assert Image.MAX_IMAGE_PIXELS == 100
    # Beyond it (5,000 > 2 x 100): raised for this open only, then put back.
    array, _ = read_image(path, max_pixels=5000)
    assert array.shape == (40, 50)
    assert Image.MAX_IMAGE_PIXELS == 100
    array, _ = read_image(path, max_pixels=None)
    assert array.shape == (40, 50)
    assert Image.MAX_IMAGE_PIXELS == 100
    with pytest.raises(Image.DecompressionBombError):
        Image.open(path)  # the program's own opens keep its guard


def test_an_empty_input_is_refused(run_cli, tmp_path) -> None:
    empty = tmp_path / "e.png"
    empty.write_bytes(b"")
    result = run_cli("sobel", str(empty), str(tmp_path / "o.png"))
    assert result.exit_code == 2
    assert result.stderr == f"error: {empty}: empty file (0 bytes), not an image\n"
