"""--format and the output's extension must agree: no JPEG bytes behind a .png name."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image


@pytest.mark.parametrize("command", ["smooth", "sobel", "pool"])
def test_a_contradicting_extension_is_refused_in_one_line(
    run_cli, tmp_path: Path, command: str
) -> None:
    out = tmp_path / "out.png"
    out.write_bytes(b"old")
    extra = ["--k", "2"] if command == "pool" else []
    result = run_cli(command, "--sample", str(out), "--format", "jpeg", *extra)
    assert result.exit_code == 2
    assert result.stderr == (
        f"error: {out}: --format jpeg does not match the extension .png (PNG) "
        f"(hint: name it {tmp_path / 'out.jpeg'}, or drop --format)\n"
    )
    assert out.read_bytes() == b"old"


@pytest.mark.parametrize(
    ("name", "fmt", "pillow_format"),
    [("out.jpg", "jpeg", "JPEG"), ("out.tiff", "tif", "TIFF"), ("out", "png", "PNG")],
)
def test_agreeing_or_unknown_extensions_are_written(
    run_cli, tmp_path: Path, name: str, fmt: str, pillow_format: str
) -> None:
    out = tmp_path / name
    result = run_cli("sobel", "--sample", str(out), "--format", fmt)
    assert result.exit_code == 0, result.stderr
    with Image.open(out) as image:
        assert image.format == pillow_format


def test_a_batch_names_its_outputs_after_the_format(run_cli, tmp_path: Path) -> None:
    result = run_cli("sobel", "--sample", "--out-dir", str(tmp_path / "o"), "--format", "jpeg")
    assert result.exit_code == 0, result.stderr
    (out,) = (tmp_path / "o").iterdir()
    assert out.name == "chelsea.jpeg"
    with Image.open(out) as image:
        assert image.format == "JPEG"


def test_a_batch_name_template_that_contradicts_the_format_is_refused_first(
    run_cli, tmp_path: Path
) -> None:
    args = ["--out-dir", str(tmp_path / "o"), "--format", "jpeg", "--name", "{stem}.png"]
    result = run_cli("sobel", "--sample", *args)
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1
    assert "does not match the extension .png" in result.stderr
    assert not (tmp_path / "o").exists()
