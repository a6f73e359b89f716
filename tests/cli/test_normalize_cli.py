"""A viewable edge image: --normalize pNN and --gamma against the formulas computed here
with scipy (the reference magnitude) and numpy's percentile."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from scipy import ndimage

from cnncli.imageio import sample_path


def _sample_gray() -> np.ndarray:
    with Image.open(sample_path()) as image:
        return np.asarray(image.convert("L")).astype(np.float64)


def _sobel_magnitude() -> np.ndarray:
    gray = _sample_gray()
    return np.hypot(ndimage.sobel(gray, 0), ndimage.sobel(gray, 1))


def _run(run_cli, tmp_path: Path, *args: str) -> np.ndarray:
    out = tmp_path / "e.png"
    result = run_cli("sobel", "--sample", str(out), *args)
    assert result.exit_code == 0, result.stderr
    with Image.open(out) as image:
        return np.asarray(image).astype(np.float64)


def test_percentile_white_point_matches_the_formula(run_cli, tmp_path: Path) -> None:
    magnitude = _sobel_magnitude()
    expected = np.clip(magnitude * 255 / np.percentile(magnitude, 99), 0, 255)
    got = _run(run_cli, tmp_path, "--normalize", "p99")
    assert np.abs(got - expected).max() <= 1
    assert got.mean() > 2 * _run(run_cli, tmp_path).mean()  # the point: a brighter picture


def test_gamma_matches_the_formula(run_cli, tmp_path: Path) -> None:
    magnitude = _sobel_magnitude()
    expected = 255 * (magnitude / magnitude.max()) ** (1 / 2.0)
    got = _run(run_cli, tmp_path, "--gamma", "2")
    assert np.abs(got - expected).max() <= 1


def test_max_is_the_default_and_none_is_the_old_no_normalize(run_cli, tmp_path: Path) -> None:
    default = _run(run_cli, tmp_path)
    assert np.array_equal(_run(run_cli, tmp_path, "--normalize", "max"), default)
    raw = _run(run_cli, tmp_path, "--normalize", "none")
    assert np.abs(raw - np.clip(_sobel_magnitude(), 0, 255)).max() <= 1
    assert np.array_equal(_run(run_cli, tmp_path, "--no-normalize"), raw)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--normalize", "p0"], "error: --normalize 'p0': use max, none, or a percentile"),
        (["--gamma", "0"], "error: --gamma must be a positive number, got 0.0"),
        (["--output", "x", "--normalize", "p99"], "error: --normalize pNN and --gamma apply"),
        (["--output", "angle", "--gamma", "2"], "error: --normalize pNN and --gamma apply"),
    ],
)
def test_bad_tone_options_are_one_line(run_cli, tmp_path: Path, args, message) -> None:
    out = tmp_path / "e.png"
    result = run_cli("gradient", "--sample", str(out), *args)
    assert result.exit_code == 2
    assert result.stderr.startswith(message) and result.stderr.count("\n") == 1
    assert not out.exists()
