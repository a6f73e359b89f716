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
    ],
)
def test_non_finite_or_negative_smoothing_options(run_cli, tmp_path, args, message) -> None:
    assert refused(run_cli, tmp_path, "smooth", *args) == message


@pytest.mark.parametrize("sigma", ["1e9", "100000", "1e300"])
def test_a_kernel_far_beyond_the_image_is_refused(run_cli, tmp_path, sigma) -> None:
    line = refused(run_cli, tmp_path, "smooth", "--sigma", sigma)
    radius = int(4 * float(sigma) + 0.5)
    assert line.startswith(f"error: --sigma {float(sigma):g} reaches {radius:,} pixels")
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
