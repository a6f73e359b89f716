"""Absurd parameters are one error line and exit 2, before any work (never a crash, a hang
or minutes of computing a flat image)."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from cnncli.pipeline import KERNEL_REACH, SMALL_KERNEL_RADIUS


def image(tmp_path, height: int = 30, width: int = 40):
    path = tmp_path / "in.png"
    rng = np.random.default_rng(2)
    Image.fromarray(rng.integers(0, 256, (height, width), dtype=np.uint8)).save(path)
    return path


def refused(run_cli, tmp_path, *args: str) -> str:
    out = tmp_path / "out.png"
    result = run_cli(*args, str(image(tmp_path)), str(out))
    assert result.exit_code == 2, result.stderr
    (line,) = result.stderr.splitlines()
    assert line.startswith("error: ")
    assert not out.exists()
    return line


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--sigma", "inf"], "error: --sigma must be a finite number, got inf"),
        (["--sigma", "nan"], "error: --sigma must be a finite number, got nan"),
        (["--sigma", "2,-inf"], "error: --sigma must be a finite number, got -inf"),
        (["--sigma", "-1"], "error: sigma must be positive, got -1.0"),
        (["--sigma", "0"], "error: sigma must be positive, got 0.0"),
        (["--truncate", "inf"], "error: --truncate must be a finite number, got inf"),
        (["--truncate", "nan"], "error: --truncate must be a finite number, got nan"),
        (["--truncate", "-4"], "error: truncate must be positive, got -4.0"),
        (
            ["--sigma", "1e308"],
            "error: sigma 1e+308 with truncate 4 gives a kernel of no finite size",
        ),
        (
            ["--truncate", "1e308", "--sigma", "2"],
            "error: sigma 2 with truncate 1e+308 gives a kernel of no finite size",
        ),
    ],
)
def test_non_finite_or_negative_smoothing_options(run_cli, tmp_path, args, message) -> None:
    assert refused(run_cli, tmp_path, "smooth", *args) == message


@pytest.mark.parametrize("sigma", ["1e9", "100000", "1e300"])
def test_a_kernel_far_beyond_the_image_is_refused(run_cli, tmp_path, sigma) -> None:
    line = refused(run_cli, tmp_path, "smooth", "--sigma", sigma)
    radius = int(4 * float(sigma) + 0.5)
    shown = f"{radius:,}" if radius < 10**12 else f"{float(radius):.3g}"  # not 301 digits
    assert line.startswith(f"error: --sigma {float(sigma):g} reaches {shown} pixels")
    assert "across an image of 30 rows; at most 60 (twice the image, or 50)" in line


def test_the_kernel_bound_is_per_axis_and_exact(run_cli, tmp_path) -> None:
    # 30 rows x 40 columns: the y radius may reach 60, the x radius 80 (scipy's radius is
    # int(truncate * sigma + 0.5)); one pixel more is refused.
    assert KERNEL_REACH * 30 == 60 and KERNEL_REACH * 40 == 80
    source = image(tmp_path)
    ok = run_cli("smooth", str(source), str(tmp_path / "a.png"), "--sigma", "15,20")
    assert ok.exit_code == 0, ok.stderr
    line = refused(run_cli, tmp_path, "smooth", "--sigma", "15,20.2")
    assert line.startswith("error: --sigma 20.2 reaches 81 pixels")
    assert "image of 40 columns; at most 80" in line


def test_small_kernels_are_allowed_on_any_image(run_cli, tmp_path) -> None:
    path = tmp_path / "row.png"
    Image.fromarray(np.arange(9, dtype=np.uint8)[None, :]).save(path)  # one row
    sigma = str(SMALL_KERNEL_RADIUS / 4)  # radius exactly the floor of 50
    result = run_cli("smooth", str(path), str(tmp_path / "o.png"), "--sigma", sigma)
    assert result.exit_code == 0, result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--adaptive", "0"], "error: --adaptive 0: an image needs at least one pixel each way"),
        (
            ["--adaptive", "5,0"],
            "error: --adaptive 5,0: an image needs at least one pixel each way",
        ),
        (
            ["--adaptive", "100000,100000"],
            "error: --adaptive 100000x100000 = 10,000,000,000 output pixels is over the limit "
            "of 89,478,485 (hint: raise it with --max-pixels if you have the memory)",
        ),
        (
            ["--adaptive", "40", "--max-pixels", "1500"],
            "error: --adaptive 40x40 = 1,600 output pixels is over the limit of 1,500 "
            "(hint: raise it with --max-pixels if you have the memory)",
        ),
        (["--k", "0"], "error: kernel size must be at least 1, got k=0"),
        (
            ["--k", "31"],
            "error: pooling output size would be 0 (< 1): kernel span 31 does not fit in "
            "lin+2p = 30",
        ),
        (["--k", "2", "--s", "0"], "error: stride must be at least 1, got s=0"),
    ],
)
def test_pooling_sizes_that_make_no_image(run_cli, tmp_path, args, message) -> None:
    assert refused(run_cli, tmp_path, "pool", *args) == message


def test_adaptive_pooling_upwards_within_the_limit_works(run_cli, tmp_path) -> None:
    # PyTorch allows an adaptive output larger than the input (windows overlap).
    out = tmp_path / "up.png"
    result = run_cli("pool", "--adaptive", "45,50", str(image(tmp_path)), str(out))
    assert result.exit_code == 0, result.stderr
    assert Image.open(out).size == (50, 45)


@pytest.mark.parametrize("sigma", ["1e-15", "1e-160", "1e-300", "5e-324", "1e-160,2"])
def test_a_vanishing_sigma_leaves_its_axis_as_scipy_does(run_cli, tmp_path, sigma) -> None:
    """scipy's gaussian_filter skips an axis whose sigma is at most 1e-15 (the kernel's
    formula would divide by a sigma**2 that underflows to zero)."""
    from scipy import ndimage

    source = image(tmp_path)
    out = tmp_path / "out.png"
    result = run_cli("smooth", str(source), str(out), "--sigma", sigma)
    assert result.exit_code == 0 and not result.stderr, result.stderr
    sigmas = [float(v) for v in sigma.split(",")]
    pixels = np.asarray(Image.open(source)).astype(np.float64)
    expected = ndimage.gaussian_filter(pixels, sigmas if len(sigmas) == 2 else sigmas[0])
    got = np.asarray(Image.open(out)).astype(np.float64)
    assert np.abs(got - expected).max() <= 0.5 + 1e-9


def test_a_vanishing_sigma_ignores_truncate_as_scipy_does(run_cli, tmp_path) -> None:
    """scipy skips an axis with sigma <= 1e-15 before it looks at truncate."""
    source = image(tmp_path)
    out = tmp_path / "out.png"
    args = ("smooth", str(source), str(out), "--sigma", "1e-200", "--truncate", "1e308")
    result = run_cli(*args)
    assert result.exit_code == 0, result.stderr
    assert np.array_equal(np.asarray(Image.open(out)), np.asarray(Image.open(source)))
