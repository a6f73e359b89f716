"""Issue 15's examples through the CLI: each gets PyTorch's answer (or a hand-checked
formula's), or exit 2 with exactly one ``error:`` line naming the problem."""

from __future__ import annotations

import json

import pytest


def refused(result, fragment: str) -> None:
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert fragment in lines[0], lines[0]


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("Conv2d(3, 5, 3, bias=false)", "Conv2d: bias must be True or False, got 'false'"),
        ("BatchNorm2d(64, affine=false)", "did you mean False?"),
        ("Conv2d(3, 5, 3, stride='foo')", "Conv2d: stride must be an integer, got 'foo'"),
        ("Linear(4.0, 2)", "Linear: in_features must be an integer, got 4.0"),
        ("Conv2d(3, 6, 3, groups=True)", "Conv2d: groups must be an integer, got True"),
        ("AdaptiveAvgPool2d(2.5)", "AdaptiveAvgPool2d: output_size must be an integer, got 2.5"),
        ("MultiheadAttention(8, 2, kdim=4.5)", "MultiheadAttention: kdim must be an integer"),
        ("PixelShuffle(upscale_factor=0)", "PixelShuffle: upscale_factor must be at least 1"),
        ("Upsample(scale_factor=0.0)", "Upsample: scale_factor must be a positive finite"),
        ("Upsample(scale_factor=nan)", "Upsample: scale_factor must be a positive finite"),
        (f"Linear({'1' * 5000}, 2)", "more than 4,300 digits"),
        (f"Linear({'1' * 4000}, 2)", "at most 2**63 - 1"),
        ("Conv2d(3,\n5, q)", "Conv2d: kernel_size must be an integer, got 'q'"),
    ],
)
def test_params_refusals(run_cli, text: str, fragment: str) -> None:
    refused(run_cli("params", text), fragment)


def test_params_bias_false_is_torchs_135(run_cli) -> None:
    # out * in * k * k = 5 * 3 * 3 * 3 = 135 (PyTorch's Conv2d(3, 5, 3, bias=False))
    assert run_cli("params", "Conv2d(3, 5, 3, bias=False)", "--total").stdout == "135\n"


def test_params_invalid_utf8_on_stdin(run_cli) -> None:
    refused(run_cli("params", "-", input=b"Conv2d(3, 5, 3)\n\xff\xfe\n"), "not UTF-8")


def test_params_trillion_layer_lstm_by_arithmetic(run_cli) -> None:
    # PyTorch's LSTM(10, 20): layer 0 has 4*20*(10 + 20) + 2*4*20 = 2560 parameters, every
    # further layer 4*20*(20 + 20) + 2*4*20 = 3360.
    layers = 10**12
    result = run_cli("params", f"LSTM(10, 20, num_layers={layers})", "--json")
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert data["params"] == 2560 + (layers - 1) * 3360
    assert data["layers"][0]["copies"]["weight_ih_l1..l999999999999"] == layers - 1
    table = run_cli("params", f"LSTM(10, 20, num_layers={layers})").stdout
    assert f"total params: {2560 + (layers - 1) * 3360:,}" in table
    assert "(999,999,999,999 tensors)" in table


def test_params_json_has_one_layout_for_one_or_many(run_cli) -> None:
    one = json.loads(run_cli("params", "Linear(4, 2)", "--json").stdout)
    two = json.loads(run_cli("params", "Linear(4, 2)", "ReLU()", "--json").stdout)
    assert one.keys() == two.keys() == {"layers", "params", "trainable", "buffers"}
    assert one["layers"][0].keys() == two["layers"][0].keys() == two["layers"][1].keys()
    assert one["params"] == two["params"] == 4 * 2 + 2


def test_params_many_piped_layers_plain_table(run_cli) -> None:
    lines = "\n".join(f"Linear({n}, 3)" for n in range(1, 2001))
    result = run_cli("params", "-", input=lines)
    assert result.exit_code == 0
    total = sum(3 * n + 3 for n in range(1, 2001))
    assert result.stdout.splitlines()[-1] == f"total params: {total:,}"
    assert " 1999: Linear │ weight" in result.stdout


def test_outsize_huge_pool_lists_windows_up_to_a_bound(run_cli) -> None:
    data = json.loads(run_cli("outsize", "--lin", "1000000", "--k", "1", "--pool", "--json").stdout)
    assert data["out"] == 1000000  # floor((1000000 - 1) / 1) + 1
    assert data["windows_total"] == 1000000
    assert len(data["windows"]) == 1000 and data["windows"][999] == [999, 1000]


def test_outsize_huge_adaptive_lists_windows_up_to_a_bound(run_cli) -> None:
    data = json.loads(run_cli("outsize", "--lin", "3", "--adaptive", "1000000", "--json").stdout)
    assert data["out"] == 1000000 and data["windows_total"] == 1000000
    # window i = [floor(3i / 10**6), ceil(3(i+1) / 10**6))
    assert data["windows"][:2] == [[0, 1], [0, 1]] and len(data["windows"]) == 1000
    explain = run_cli("outsize", "--lin", "3", "--adaptive", "1000000", "--explain").stdout
    assert "... 999,000 more windows, the same way, up to 999999:[2,3)" in explain


def test_outsize_largest_input_length_is_arithmetic(run_cli) -> None:
    lin = 2**63 - 1
    assert run_cli("outsize", "--lin", str(lin), "--k", "3").stdout == f"{lin - 2}\n"
    refused(run_cli("outsize", "--lin", str(lin + 1), "--k", "3"), "beyond 2**63 - 1")
    refused(run_cli("outsize", "--lin", "9" * 5000, "--k", "3"), "--lin")


@pytest.mark.parametrize(
    ("chain", "outs"),
    [
        # floor((10 + 1 + 1 - 2 - 1) / 1) + 1 = 10 with padding 'same' for k3
        ("conv k3 p same", ["10"]),
        ("conv k3 p valid", ["8"]),
        ("conv k3 p=same, pool k2", ["10", "5"]),
        ("conv k3 d2", ["6"]),  # floor((10 - 2*(3-1) - 1) / 1) + 1
        ("tconv k2 s2 op1", ["21"]),  # (10-1)*2 - 0 + 1*(2-1) + 1 + 1
        ("conv k 3 s 2", ["4"]),  # floor((10 - 3) / 2) + 1
        ("pool k3 s2 ceil", ["5"]),  # ceil((10 - 3) / 2) + 1 = 5; start 8 < 10: kept
    ],
)
def test_chain_accepts_everything_the_flags_do(run_cli, chain: str, outs: list[str]) -> None:
    result = run_cli("outsize", "--lin", "10", "--chain", chain)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.split() == outs


@pytest.mark.parametrize(
    ("chain", "fragment"),
    [
        ("conv k3 op1", "'op1': output padding applies only to transposed"),
        ("conv k3 k5", "'k5' repeats 'k'"),
        ("pool k3 ceil ceil", "'ceil' repeats"),
        ("tconv k3 ceil", "'ceil' applies only to pooling"),
        ("pool k2 p same", "'p same': padding='same' exists only for conv"),
        ("conv k3 x5", "cannot read 'x5'"),
        ("conv k3 s", "'s' needs an integer"),
        ("conv k3 p foo", "'p foo' needs an integer"),
    ],
)
def test_chain_refuses_unknown_duplicate_or_inapplicable_tokens(
    run_cli, chain: str, fragment: str
) -> None:
    refused(run_cli("outsize", "--lin", "10", "--chain", chain), fragment)


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        ("1e308,1e308", "1e+308"),  # (1e308 + 1e308) / 2, overflowing a plain float sum
        ("1.7e308,1.7e308,1.7e308", "1.7e+308"),
        ("1,nan,2", "nan"),  # avg of a window holding NaN
        ("inf,-inf", "nan"),  # IEEE: inf + -inf
    ],
)
def test_pool_average_of_extreme_values(run_cli, values: str, expected: str) -> None:
    k = str(len(values.split(",")))
    result = run_cli("pool", "--values", values, "--k", k, "--op", "avg")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == f"{expected}\n"


def test_pool_max_with_nan_is_nan_wherever_it_sits(run_cli) -> None:
    for values in ("nan,1,2", "1,nan,2", "1,2,nan"):
        assert run_cli("pool", "--values", values, "--k", "3").stdout == "nan\n"


def test_pool_refuses_unbounded_outputs_and_unreadable_numbers(run_cli) -> None:
    refused(run_cli("pool", "--values", "1,2,3", "--adaptive", "1000000"), "100,000")
    refused(run_cli("pool", "--values", f"[1{'0' * 400}]", "--k", "1"), "too large for a float")
    refused(run_cli("pool", "--values", "[" * 3000 + "1" + "]" * 3000, "--k", "1"), "cannot read")
    refused(run_cli("pool", "--file", "-", "--k", "1", input=b"1 2\n\xff\n"), "not UTF-8")


def test_pool_image_refuses_an_absurd_adaptive_size_before_work(run_cli, tmp_path) -> None:
    out = tmp_path / "out.png"
    refused(run_cli("pool", "--sample", str(out), "--adaptive", "100000000,2"), "100000000")
    # Past the pixel limit too, no side is longer than 2**24.
    args = ("--adaptive", "20000000,1", "--max-pixels", str(10**12))
    refused(run_cli("pool", "--sample", str(out), *args), "16,777,216")
    assert not out.exists()
