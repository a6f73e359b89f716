"""PyTorch's own argument names work as options; the expected sizes are PyTorch's
formula computed here (docs: torch.nn.Conv2d / MaxPool2d, "Shape" section)."""

from __future__ import annotations

import math

import pytest


def conv_out(lin: int, k: int, s: int = 1, p: int = 0, d: int = 1, ceil: bool = False) -> int:
    steps = (lin + 2 * p - d * (k - 1) - 1) / s
    return (math.ceil(steps) if ceil else math.floor(steps)) + 1


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--kernel-size", "11", "--stride", "4", "--padding", "2"], conv_out(224, 11, 4, 2)),
        (["--kernel", "3", "--dilation", "2"], conv_out(224, 3, d=2)),
        (["--k", "11", "--s", "4", "--p", "2"], conv_out(224, 11, 4, 2)),
    ],
)
def test_outsize_takes_pytorch_names(run_cli, args: list[str], expected: int) -> None:
    result = run_cli("outsize", "--lin", "224", *args)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.strip() == str(expected)


def test_outsize_ceil_mode_and_output_padding(run_cli) -> None:
    result = run_cli(
        "outsize", "--lin", "5", "--kernel-size", "2", "--stride", "2", "--pool", "--ceil-mode"
    )
    assert result.stdout.strip() == str(conv_out(5, 2, 2, ceil=True))  # 3, not 2
    # ConvTranspose2d: (lin - 1) * s - 2p + d(k - 1) + output_padding + 1
    result = run_cli(
        "outsize", "--lin", "16", "--kernel-size", "3", "--stride", "2", "--padding", "1",
        "--output-padding", "1", "--transposed",
    )  # fmt: skip
    assert result.stdout.strip() == str((16 - 1) * 2 - 2 + 2 + 1 + 1)


def test_pool_takes_pytorch_names(run_cli) -> None:
    # max over windows [0,2) [2,4) and, with ceil_mode, the partial [4,5)
    result = run_cli(
        "pool", "--values", "1,2,3,4,5", "--kernel-size", "2", "--stride", "2", "--ceil-mode"
    )
    assert result.exit_code == 0, result.stderr
    assert result.stdout.split() == ["2", "4", "5"]
    result = run_cli(
        "pool", "--values", "1,2,3,4,5", "--kernel", "2", "--padding", "1", "--dilation", "2"
    )
    # padded: -inf 1 2 3 4 5 -inf; two taps two apart from 0, 2, 4 (stride = kernel = 2)
    assert len(result.stdout.split()) == conv_out(5, 2, s=2, p=1, d=2)
    assert result.stdout.split() == ["2", "4", "4"]


@pytest.mark.parametrize("text", ["3,32,32", "3x32x32", "(3, 32, 32)"])
def test_summary_input_in_every_spelling(run_cli, text: str) -> None:
    result = run_cli("summary", "myconvnet", "--input", text, "--json")
    assert result.exit_code == 0, result.stderr
    assert '"input_shape": [1, 3, 32, 32]' in result.stdout


def test_summary_input_spelling_error_is_one_line(run_cli) -> None:
    result = run_cli("summary", "myconvnet", "--input", "3;32;32")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: --input expects integers such as 3,32,32")
    assert len(result.stderr.splitlines()) == 1
