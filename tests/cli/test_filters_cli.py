"""smooth / gradient / sobel from file to file, as users run them, against the seed's formulas."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cnncli.imageio import sample_path
from tests.reference import max_abs_diff, seed_gradient, seed_smooth, seed_sobel

RNG = np.random.default_rng(11)
CNNCLI = str(Path(sys.executable).parent / "cnncli")


def load(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path))


def save(tmp_path: Path, name: str, image: Image.Image, **kwargs: object) -> Path:
    path = tmp_path / name
    image.save(path, **kwargs)
    return path


@pytest.mark.parametrize(
    ("command", "reference"), [("sobel", seed_sobel), ("gradient", seed_gradient)]
)
def test_edges_of_the_bundled_photo_match_the_seed(run_cli, tmp_path, command, reference) -> None:
    out = tmp_path / "out.png"
    result = run_cli(command, "--sample", str(out))
    assert result.exit_code == 0, result.stderr
    assert result.stdout == ""
    got = load(out)
    gray = np.asarray(Image.open(sample_path()).convert("L"))  # ITU-R 601-2 luminance, Pillow's "L"
    assert got.dtype == np.uint8 and got.shape == gray.shape
    assert max_abs_diff(got, reference(gray)) <= 1


def test_smooth_keeps_rgb_and_matches_gaussian_filter(run_cli, tmp_path) -> None:
    out = tmp_path / "soft.png"
    assert run_cli("smooth", "--sample", "--sigma", "2", str(out)).exit_code == 0
    got = Image.open(out)
    assert got.mode == "RGB"
    rgb = np.asarray(Image.open(sample_path()).convert("RGB"))
    for c in range(3):
        assert max_abs_diff(np.asarray(got)[:, :, c], seed_smooth(rgb[:, :, c], 2.0)) <= 1


@pytest.mark.parametrize("mode", ["RGBA", "LA", "L"])
def test_smooth_keeps_the_mode_and_filters_alpha_too(run_cli, tmp_path, mode) -> None:
    channels = {"RGBA": 4, "LA": 2, "L": 1}[mode]
    data = RNG.integers(0, 256, (33, 47, channels)).astype(np.uint8)
    src = save(tmp_path, "in.png", Image.fromarray(data[:, :, 0] if channels == 1 else data))
    out = tmp_path / "out.png"
    assert (
        run_cli("smooth", str(src), str(out), "--sigma", "1.5,3", "--mode", "nearest").exit_code
        == 0
    )
    got = Image.open(out)
    assert got.mode == mode
    arr = np.asarray(got).reshape(33, 47, channels)
    for c in range(channels):
        assert (
            max_abs_diff(arr[:, :, c], seed_smooth(data[:, :, c], (1.5, 3.0), mode="nearest")) <= 1
        )


def test_sixteen_bit_png_in_sixteen_bit_out(run_cli, tmp_path) -> None:
    data = (RNG.random((40, 50)) * 65535).astype(np.uint16)
    src = save(tmp_path, "in16.png", Image.fromarray(data))
    out = tmp_path / "edges.png"
    assert run_cli("sobel", str(src), str(out)).exit_code == 0
    got = Image.open(out)
    assert got.mode == "I;16"
    assert max_abs_diff(np.asarray(got), seed_sobel(data, 65535.0)) <= 1


def test_sixteen_bit_tiff_smooth(run_cli, tmp_path) -> None:
    data = (RNG.random((30, 20)) * 65535).astype(np.uint16)
    src = save(tmp_path, "in.tif", Image.fromarray(data))
    out = tmp_path / "out.tif"
    assert run_cli("smooth", str(src), str(out), "--sigma", "1").exit_code == 0
    got = np.asarray(Image.open(out))
    assert got.dtype.itemsize == 2
    assert max_abs_diff(got, seed_smooth(data, 1.0)) <= 1


def test_depth_override(run_cli, tmp_path) -> None:
    out16 = tmp_path / "e16.png"
    assert run_cli("sobel", "--sample", str(out16), "--bits", "16").exit_code == 0
    gray = np.asarray(Image.open(sample_path()).convert("L"))
    assert max_abs_diff(np.asarray(Image.open(out16)), seed_sobel(gray, 65535.0)) <= 1
    data = (RNG.random((20, 20)) * 65535).astype(np.uint16)
    src = save(tmp_path, "in16.png", Image.fromarray(data))
    out8 = tmp_path / "s8.png"
    assert run_cli("smooth", str(src), str(out8), "--bits", "8").exit_code == 0
    assert max_abs_diff(np.asarray(Image.open(out8)), seed_smooth(data, 1.0) / 257) <= 1


def test_palette_and_one_bit_inputs_are_converted_not_garbled(run_cli, tmp_path) -> None:
    rgb = Image.open(sample_path()).convert("RGB").resize((60, 40))
    pal = rgb.quantize(16)
    src = save(tmp_path, "pal.png", pal)
    out = tmp_path / "pal_edges.png"
    assert run_cli("sobel", str(src), str(out)).exit_code == 0
    assert max_abs_diff(load(out), seed_sobel(np.asarray(pal.convert("L")))) <= 1
    bw = Image.fromarray((RNG.random((16, 16)) > 0.5).astype(np.uint8) * 255).convert("1")
    src = save(tmp_path, "bw.png", bw)
    out = tmp_path / "bw_soft.png"
    assert run_cli("smooth", str(src), str(out)).exit_code == 0
    assert Image.open(out).mode == "L"
    assert max_abs_diff(load(out), seed_smooth(np.asarray(bw.convert("L")), 1.0)) <= 1


def test_per_channel_edges_keep_colour(run_cli, tmp_path) -> None:
    out = tmp_path / "rgb_edges.png"
    assert run_cli("sobel", "--sample", str(out), "--per-channel").exit_code == 0
    got = np.asarray(Image.open(out))
    rgb = np.asarray(Image.open(sample_path()).convert("RGB"))
    for c in range(3):
        assert max_abs_diff(got[:, :, c], seed_sobel(rgb[:, :, c])) <= 1


def test_flat_and_one_pixel_images(run_cli, tmp_path) -> None:
    for size in ((1, 1), (5, 3)):
        src = save(tmp_path, f"flat{size}.png", Image.new("L", size, 90))
        out = tmp_path / f"edges{size}.png"
        assert run_cli("gradient", str(src), str(out)).exit_code == 0
        got = load(out)
        assert got.shape == (size[1], size[0]) and got.max() == 0


def test_exif_orientation_is_applied_on_read(run_cli, tmp_path) -> None:
    data = np.zeros((20, 40), dtype=np.uint8)
    data[:, :10] = 255  # bright band on the left of the stored pixels
    image = Image.fromarray(data)
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 CW to view"
    src = save(tmp_path, "rot.jpg", image, exif=exif.tobytes(), quality=100)
    out = tmp_path / "soft.png"
    assert run_cli("smooth", str(src), str(out), "--sigma", "0.5").exit_code == 0
    got = load(out)
    assert got.shape == (40, 20)  # viewed upright: taller than wide
    assert got[:10].mean() > 200 and got[-10:].mean() < 50  # the band is now on top


def test_icc_profile_and_dpi_are_kept(run_cli, tmp_path) -> None:
    from PIL import ImageCms

    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    src = save(
        tmp_path,
        "in.png",
        Image.open(sample_path()).convert("RGB"),
        icc_profile=icc,
        dpi=(300, 300),
    )
    out = tmp_path / "out.png"
    assert run_cli("smooth", str(src), str(out)).exit_code == 0
    got = Image.open(out)
    assert got.info.get("icc_profile") == icc
    assert tuple(round(v) for v in got.info["dpi"]) == (300, 300)


def test_stdin_to_stdout(run_cli, tmp_path) -> None:
    data = sample_path().read_bytes()
    result = run_cli("sobel", "-", "-", "--format", "png", input=data)
    assert result.exit_code == 0
    got = np.asarray(Image.open(io.BytesIO(result.stdout_bytes)))
    gray = np.asarray(Image.open(sample_path()).convert("L"))
    assert max_abs_diff(got, seed_sobel(gray)) <= 1


def test_shell_pipeline_through_the_installed_command(tmp_path) -> None:
    script = (
        f'cat "{sample_path()}" | "$C" smooth --sigma 2 - - | "$C" sobel - edges.png\n'
        f'"$C" smooth --sigma 2 "{sample_path()}" soft.png && "$C" sobel soft.png edges_files.png'
    )
    env = {**os.environ, "C": CNNCLI}
    proc = subprocess.run(
        ["bash", "-ec", script], cwd=tmp_path, env=env, capture_output=True, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == b""
    # Through pipes or through files: the same pixels.
    assert np.array_equal(load(tmp_path / "edges.png"), load(tmp_path / "edges_files.png"))
    # And the first step alone is the seed's smoothing.
    rgb = np.asarray(Image.open(sample_path()).convert("RGB"))
    soft = load(tmp_path / "soft.png")
    assert max(max_abs_diff(soft[:, :, c], seed_smooth(rgb[:, :, c], 2.0)) for c in range(3)) <= 1


def test_the_input_as_its_own_output_is_refused_and_kept(run_cli, tmp_path) -> None:
    """As ffmpeg and cp do: replacing the picture being read is nearly always a slip (a
    batch refuses it too); the refusal leaves the file as it was."""
    src = save(tmp_path, "a.png", Image.open(sample_path()))
    before = src.read_bytes()
    result = run_cli("smooth", str(src), str(src), "--sigma", "1")
    assert result.exit_code == 2 and "would overwrite the input file" in result.stderr
    assert src.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["a.png"]  # no temporary left behind


def test_no_normalize_warns_when_clipping(run_cli, tmp_path) -> None:
    out = tmp_path / "raw.png"
    result = run_cli("sobel", "--sample", str(out), "--no-normalize")
    assert result.exit_code == 0
    assert result.stderr.startswith("warning: ") and "clipped" in result.stderr


# ---------------------------------------------------------------- bad input ---


def _bomb(tmp_path: Path) -> Path:
    return save(tmp_path, "big.png", Image.new("L", (200, 200)))


BAD_INPUTS = {
    "missing": (lambda t: t / "nope.png", "no such file"),
    "directory": (lambda t: t, "is a directory"),
    "not_an_image": (lambda t: _write(t / "notes.png", b"hello, not an image"), "not an image"),
    "zero_bytes": (lambda t: _write(t / "empty.png", b""), "empty file"),
    "truncated": (lambda t: _write(t / "cut.png", sample_path().read_bytes()[:5000]), "truncated"),
}


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
@pytest.mark.parametrize("command", ["smooth", "sobel"])
def test_bad_inputs_exit_2_name_the_file_and_write_nothing(
    run_cli, tmp_path, case, command
) -> None:
    make, fragment = BAD_INPUTS[case]
    src = make(tmp_path)
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    result = run_cli(command, str(src), str(out_dir / "result.png"))
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: ")
    assert fragment in result.stderr
    assert str(src) in result.stderr
    assert list(out_dir.iterdir()) == []


def test_decompression_bomb_guard_and_override(run_cli, tmp_path) -> None:
    src = _bomb(tmp_path)
    out = tmp_path / "o.png"
    result = run_cli("smooth", str(src), str(out), "--max-pixels", "1000")
    assert (
        result.exit_code == 2
        and "over the limit" in result.stderr
        and "--max-pixels" in result.stderr
    )
    assert not out.exists()
    assert run_cli("smooth", str(src), str(out), "--max-pixels", "40000").exit_code == 0


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["smooth", "--sigma", "0"], "sigma must be positive"),
        (["smooth", "--sigma", "-2"], "sigma must be positive"),
        (["smooth", "--sigma", "abc"], "--sigma expects numbers"),
        (["smooth", "--mode", "sideways"], "unknown mode"),
        (["sobel", "--output", "phase"], "'phase' is not one of 'magnitude', 'x', 'y', 'angle'"),
        (["sobel", "--bits", "12"], "--bits must be 8 or 16"),
        (["sobel", "--compress-level", "11"], "--compress-level must be 0..9"),
    ],
)
def test_bad_options_exit_2_and_write_nothing(run_cli, tmp_path, args, fragment) -> None:
    out = tmp_path / "out.png"
    result = run_cli(*args, "--sample", str(out))
    assert result.exit_code == 2
    assert fragment in result.stderr
    assert not out.exists()


def test_bad_outputs(run_cli, tmp_path) -> None:
    (tmp_path / "file.txt").write_text("x")
    cases = [
        (tmp_path / "missing_dir" / "o.png", "does not exist"),
        (tmp_path / "file.txt" / "o.png", "is not a directory"),
        (tmp_path / "o.xyz", "cannot tell the output format"),
        (tmp_path, "is a directory"),
    ]
    for dest, fragment in cases:
        result = run_cli("sobel", "--sample", str(dest))
        assert result.exit_code == 2, dest
        assert fragment in result.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file.txt"]


def test_jpeg_cannot_hold_alpha(run_cli, tmp_path) -> None:
    src = save(tmp_path, "a.png", Image.new("RGBA", (8, 8), (1, 2, 3, 4)))
    result = run_cli("smooth", str(src), str(tmp_path / "a.jpg"))
    assert result.exit_code == 2 and "JPEG cannot store" in result.stderr
    assert not (tmp_path / "a.jpg").exists()


def test_no_clobber_refuses_and_keeps_the_file(run_cli, tmp_path) -> None:
    out = tmp_path / "keep.png"
    out.write_bytes(b"precious")
    result = run_cli("sobel", "--sample", str(out), "--no-clobber")
    assert result.exit_code == 2 and "already exists" in result.stderr
    assert out.read_bytes() == b"precious"


def test_wrong_number_of_paths(run_cli, tmp_path) -> None:
    assert "expected INPUT and OUTPUT" in run_cli("sobel", str(tmp_path / "a.png")).stderr
    assert "only the output" in run_cli("sobel", "--sample", "a.png", "b.png").stderr


def test_failed_write_leaves_an_existing_output_intact(run_cli, tmp_path) -> None:
    out = tmp_path / "old.jpg"
    out.write_bytes(b"old contents")
    src = save(tmp_path, "a.png", Image.new("LA", (8, 8)))
    assert run_cli("smooth", str(src), str(out)).exit_code == 2
    assert out.read_bytes() == b"old contents"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png", "old.jpg"]
