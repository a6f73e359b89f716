"""`cnncli outsize` through the CLI: bare answers, JSON, explain, chain and every refusal."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest


def test_bare_number_for_the_issue_example(run_cli) -> None:
    result = run_cli("outsize", "--lin", "224", "--k", "11", "--s", "4", "--p", "2")
    assert result.exit_code == 0
    assert result.stdout == "55\n"
    assert result.stderr == ""


def test_several_dimensions_broadcast_a_single_value(run_cli) -> None:
    # floor((224-3)/2)+1 = 111 and floor((160-3)/2)+1 = 79
    result = run_cli("outsize", "--lin", "224,160", "--k", "3", "--s", "2")
    assert result.stdout.split() == ["111", "79"]


def test_pool_stride_defaults_to_kernel(run_cli) -> None:
    assert run_cli("outsize", "--lin", "32", "--k", "2", "--pool").stdout == "16\n"


def test_json_has_out_and_adaptive_windows(run_cli) -> None:
    result = run_cli("outsize", "--lin", "10", "--adaptive", "4", "--json")
    data = json.loads(result.stdout)
    assert data["out"] == 4
    # floor(i*10/4) and ceil((i+1)*10/4), computed by hand
    assert data["windows"] == [[0, 3], [2, 5], [5, 8], [7, 10]]


def test_json_out_is_a_list_for_several_dimensions(run_cli) -> None:
    data = json.loads(run_cli("outsize", "--lin", "8,6", "--k", "3", "--json").stdout)
    assert data["out"] == [6, 4]


def test_explain_shows_formula_numbers_and_dropped_ceil_window(run_cli) -> None:
    result = run_cli(
        "outsize", "--lin", "5", "--k", "2", "--s", "2", "--p", "1", "--pool", "--ceil", "--explain"
    )
    assert result.exit_code == 0
    # ceil((5 + 2 - 1 - 1) / 2) + 1 = ceil(2.5) + 1 = 4: the formula's own value, then the
    # drop of the window that would start at 2*3 - 1 = 5 = lin, in the right padding.
    assert "ceil((5 + 2*1 - 1*(2 - 1) - 1) / 2) + 1 = ceil(5 / 2) + 1 = 4" in result.stdout
    assert "out = 4 - 1 = 3: PyTorch drops the last window" in result.stdout
    assert result.stdout.splitlines()[0].endswith("out=3")
    assert "0:[-1,1)  1:[1,3)  2:[3,5)" in result.stdout


def test_explain_shows_uneven_same_split(run_cli) -> None:
    result = run_cli("outsize", "--lin", "10", "--k", "4", "--p", "same", "--explain")
    assert result.stdout.splitlines()[0].endswith("out=10")
    assert "1 left and 2 right" in result.stdout


def test_transposed(run_cli) -> None:
    # (16-1)*2 - 2*1 + 1*(4-1) + 0 + 1 = 32
    assert (
        run_cli("outsize", "--lin", "16", "--k", "4", "--s", "2", "--p", "1", "--transposed").stdout
        == "32\n"
    )


def test_chain_prints_the_size_after_each_layer(run_cli) -> None:
    result = run_cli(
        "outsize", "--lin", "224", "--chain", "conv k11 s4 p2, pool k3 s2, conv k5 p2, pool k3 s2"
    )
    assert result.stdout.split() == ["55", "27", "27", "13"]
    data = json.loads(
        run_cli("outsize", "--lin", "224", "--chain", "conv k11 s4 p2, adaptive 6", "--json").stdout
    )
    assert data["out"] == 6
    assert [layer["out"] for layer in data["layers"]] == [55, 6]


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--lin", "10", "--k", "3", "--s", "0"], "stride must be at least 1"),
        (["--lin", "10", "--k", "3", "--p", "-1"], "padding must be non-negative"),
        (["--lin", "4", "--k", "7"], "larger than the padded input"),
        (["--lin", "10", "--k", "3", "--p", "2", "--pool"], "at most half the kernel"),
        (
            ["--lin", "5", "--k", "3", "--s", "2", "--output-padding", "2", "--transposed"],
            "smaller than either",
        ),
        (["--lin", "10", "--k", "3", "--s", "2", "--p", "same"], "strided"),
        (["--lin", "10", "--k", "3.5"], "--k expects integers"),
        (["--lin", "10,12", "--k", "3,3,3"], "different numbers of dimensions"),
        (["--lin", "10", "--k", "3", "--ceil"], "--ceil applies only to pooling"),
        (["--lin", "10", "--k", "3", "--p", "same", "--pool"], "only for convolutions"),
        (["--lin", "10"], "--k (kernel size) is required"),
        (["--lin", "10", "--adaptive", "4", "--k", "3"], "--adaptive takes only --lin"),
        (["--lin", "10", "--chain", "conv k3, blur k3"], "unknown layer 'blur'"),
        (["--lin", "10", "--chain", "conv s2"], "missing the kernel size"),
        (["--lin", "4", "--chain", "conv k3, conv k3"], "--chain layer 2"),
        (["--k", "3"], "--lin"),
    ],
)
def test_refusals_are_one_error_line_exit_2_and_nothing_on_stdout(run_cli, args, fragment) -> None:
    result = run_cli("outsize", *args)
    assert result.exit_code == 2
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert fragment in lines[0]


def test_shell_capture_through_the_installed_script() -> None:
    script = 'size=$("$CNNCLI" outsize --lin 224 --k 11 --s 4 --p 2); echo "got $size"'
    from pathlib import Path

    exe = str(Path(sys.executable).parent / "cnncli")
    proc = subprocess.run(
        ["bash", "-c", script],
        capture_output=True,
        text=True,
        check=True,
        env={"CNNCLI": exe, "PATH": "/usr/bin:/bin"},
    )
    assert proc.stdout == "got 55\n"


@pytest.mark.parametrize(
    ("args", "out"),
    [
        # (lin + 2p - d(k - 1) - 1) / s + 1 with lin = 2**63 - 1: 2**63 + 7
        (["--lin", str(2**63 - 1), "--k", "3", "--p", "5"], 2**63 - 1 + 8),
        # (lin - 1) s - 2p + d(k - 1) + op + 1: 2 * (2**63 - 2) + 1 + 1
        (["--lin", str(2**63 - 1), "--k", "2", "--s", "2", "--transposed"], 2**64 - 2),
    ],
    ids=["conv", "transposed"],
)
def test_an_output_beyond_64_bits_is_refused(run_cli, args, out) -> None:
    result = run_cli("outsize", *args)
    assert result.exit_code == 2 and not result.stdout
    assert result.stderr.splitlines() == [
        f"error: the output length {out:,} is beyond 2**63 - 1 (PyTorch sizes are 64-bit)"
    ]


def test_the_largest_64_bit_output_is_still_answered(run_cli) -> None:
    result = run_cli("outsize", "--lin", str(2**63 - 1), "--k", "1")
    assert result.exit_code == 0 and result.stdout.strip() == str(2**63 - 1)
