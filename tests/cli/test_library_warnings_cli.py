"""Pillow's and numpy's warnings never reach the user raw: one ``warning:`` line naming the
file when the image was still decoded, nothing but the ``error:`` line when it was not."""

from __future__ import annotations

import io
import struct
import subprocess
from pathlib import Path

import numpy as np
from PIL import Image

from tests.cli.test_batch_cli import CNNCLI


def bad_exif_jpeg(path: Path) -> Path:
    """A JPEG whose EXIF entry points past the end of its segment (Pillow warns)."""
    exif = Image.Exif()
    exif[0x010E] = "a description longer than four bytes"  # ImageDescription
    buffer = io.BytesIO()
    Image.fromarray(np.full((16, 16, 3), 90, np.uint8)).save(buffer, "JPEG", exif=exif.tobytes())
    data = bytearray(buffer.getvalue())
    tiff = data.find(b"Exif\x00\x00") + 6
    order = "<" if data[tiff : tiff + 2] == b"II" else ">"
    (ifd,) = struct.unpack(order + "I", data[tiff + 4 : tiff + 8])
    entry = tiff + ifd + 2
    data[entry + 8 : entry + 12] = struct.pack(order + "I", 60_000)  # the value's offset
    path.write_bytes(bytes(data))
    return path


def nan_tiff(path: Path) -> Path:
    values = np.array([[1.0, np.nan], [3.0, 4.0]], np.float32)
    Image.fromarray(values, "F").save(path)
    return path


def test_a_corrupt_exif_block_is_one_warning_line(tmp_path) -> None:
    source = bad_exif_jpeg(tmp_path / "exif.jpg")
    out = tmp_path / "o.png"
    done = subprocess.run(
        [CNNCLI, "sobel", str(source), str(out)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0
    assert done.stderr == f"warning: {source}: Truncated File Read\n"
    assert Image.open(out).size == (16, 16)


def test_nan_samples_are_read_as_zero_and_said_so(run_cli, tmp_path) -> None:
    source = nan_tiff(tmp_path / "nan.tif")
    out = tmp_path / "o.png"
    result = run_cli("pool", "--k", "1", str(source), str(out))
    assert result.exit_code == 0
    assert result.stderr == f"warning: {source}: 1 NaN samples read as 0\n"
    assert np.asarray(Image.open(out)).tolist() == [[1, 0], [3, 4]]


def test_a_warning_before_an_error_leaves_only_the_error(run_cli, tmp_path) -> None:
    whole = bad_exif_jpeg(tmp_path / "whole.jpg").read_bytes()
    source = tmp_path / "cut.jpg"
    source.write_bytes(whole[: len(whole) - 40])  # the EXIF block intact, the scan cut
    result = run_cli("sobel", str(source), str(tmp_path / "o.png"))
    assert result.exit_code == 2
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"error: {source}: truncated or corrupt image")
    assert not (tmp_path / "o.png").exists()


def test_each_file_of_a_batch_reports_its_own_warning(run_cli, tmp_path) -> None:
    inputs = [bad_exif_jpeg(tmp_path / f"e{i}.jpg") for i in range(3)]
    inputs.append(nan_tiff(tmp_path / "n.tif"))
    clean = tmp_path / "clean.png"
    Image.fromarray(np.zeros((4, 4), np.uint8)).save(clean)
    out = tmp_path / "out"
    result = run_cli("sobel", *map(str, [*inputs, clean]), "--out-dir", str(out), "-j", "3")
    assert result.exit_code == 0, result.stderr
    lines = result.stderr.splitlines()
    assert sorted(lines[:-1]) == sorted(
        [f"warning: {p}: Truncated File Read" for p in inputs[:3]]
        + [f"warning: {inputs[3]}: 1 NaN samples read as 0"]
    )
    assert lines[-1].endswith("5 written, 0 failed, 4 with warnings")


def test_libtiffs_own_messages_do_not_reach_stderr(tmp_path) -> None:
    source = tmp_path / "bad.tif"
    Image.fromarray(np.arange(64, dtype=np.uint8).reshape(8, 8)).save(
        source, compression="tiff_deflate"
    )
    with Image.open(source) as image:
        (offset,) = image.tag_v2[273]  # StripOffsets: where the deflate stream starts
    data = bytearray(source.read_bytes())
    data[offset : offset + 2] = b"\x00\x00"  # not a zlib header: libtiff complains, C-side
    source.write_bytes(bytes(data))
    done = subprocess.run(
        [CNNCLI, "sobel", str(source), str(tmp_path / "o.png")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 2
    assert done.stderr == f"error: {source}: truncated or corrupt image (decoder error -2)\n"
