"""`cnncli params` through the CLI: table, JSON, totals, stdin and every refusal."""

from __future__ import annotations

import json

import pytest


def test_seed_example_table(run_cli) -> None:
    result = run_cli("params", "Conv2d(3, 5, 3)")
    assert result.exit_code == 0
    out = result.stdout
    assert "[5, 3, 3, 3]" in out and "135" in out and "[5]" in out
    assert "total params: 140" in out


def test_json_shapes_and_counts(run_cli) -> None:
    data = json.loads(
        run_cli(
            "params", "nn.Conv2d(in_channels=3, out_channels=5, kernel_size=3)", "--json"
        ).stdout
    )
    assert data["params"] == 140
    assert data["layers"][0]["tensors"] == {"weight": [5, 3, 3, 3], "bias": [5]}
    assert data["trainable"] == 140 and data["buffers"] == 0


def test_buffers_are_listed_but_not_counted(run_cli) -> None:
    data = json.loads(run_cli("params", "BatchNorm2d(64)", "--json").stdout)
    assert data["params"] == 128  # weight + bias; running stats are buffers
    assert data["buffers"] == 64 + 64 + 1
    assert set(data["layers"][0]["buffer_tensors"]) == {
        "running_mean",
        "running_var",
        "num_batches_tracked",
    }


def test_several_layers_grand_total_with_separators(run_cli) -> None:
    result = run_cli("params", "Linear(9216, 4096)", "Linear(4096, 4096)")
    expected = 9216 * 4096 + 4096 + 4096 * 4096 + 4096
    assert f"total params: {expected:,}" in result.stdout
    data = json.loads(
        run_cli("params", "Linear(9216, 4096)", "Linear(4096, 4096)", "--json").stdout
    )
    assert data["params"] == expected and len(data["layers"]) == 2


def test_total_only_for_shell_capture(run_cli) -> None:
    assert (
        run_cli(
            "params",
            "Conv2d(3, 64, kernel_size=(11, 11), stride=(4, 4), padding=(2, 2))",
            "--total",
        ).stdout
        == f"{64 * 3 * 121 + 64}\n"
    )


def test_layers_from_stdin(run_cli) -> None:
    text = (
        "  (0): Conv2d(3, 16, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))\n\n"
        "  (1): ReLU()\n"
        "  (2): Linear(in_features=512, out_features=128, bias=True)\n"
    )
    result = run_cli("params", "-", "--total", input=text)
    assert result.stdout == f"{16 * 3 * 9 + 16 + 512 * 128 + 128}\n"


def test_explain_shows_the_conv_formula(run_cli) -> None:
    result = run_cli("params", "Conv2d(4, 8, 3, groups=2)", "--explain")
    assert "out * (in / groups) * prod(kernel) + out = 8 * (4 / 2) * 3*3 + 8" in result.stdout


def test_parameter_free_layers_are_zero(run_cli) -> None:
    assert run_cli("params", "ReLU(inplace=True)", "--total").stdout == "0\n"


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["Conv2d(3, 5"], "cannot parse"),
        (["Conv2d(3, 5)"], "missing the required argument 'kernel_size'"),
        (["Conv2d(3, 6, 3, groups=2)"], "not divisible by groups"),
        (["Conv2d(-3, 5, 3)"], "in_channels must be at least 0"),
        (["Blur(3)"], "unknown layer 'Blur'"),
        (["Conv2d(3, 5, 3, stride=eval('1'))"], "only literal values"),
        # Python: "keyword argument repeated"; PyTorch never sees it
        (["Linear(in_features=4, in_features=5, out_features=2)"], "got 'in_features' twice"),
        # PyTorch: "input_size must be greater than zero" (Linear(0, 2) is fine there)
        (["LSTM(0, 8)"], "input_size must be at least 1"),
        # TypeError in PyTorch: only layers built with parameters take factory arguments
        (["ReLU(device='cpu')"], "ReLU() got an unexpected argument 'device'"),
        (["Linear(4, 2, device='a', device='b')"], "got 'device' twice"),
        (["GRU(0, 8)"], "input_size must be at least 1"),
    ],
)
def test_bad_layers_exit_2_with_one_line(run_cli, args, fragment) -> None:
    result = run_cli("params", *args)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: ")
    assert fragment in result.stderr


def test_no_layer_on_stdin(run_cli) -> None:
    result = run_cli("params", "-", input="\n")
    assert result.exit_code == 2 and "no layer given" in result.stderr


@pytest.mark.parametrize(
    ("layer", "total"),
    [
        ("Linear(4, 2, device='cuda', dtype=torch.float16)", 4 * 2 + 2),
        ("Conv2d(3, 5, 3, device=device)", 3 * 5 * 3 * 3 + 5),  # a variable, as code has it
        ("nn.LSTM(8, 16, dtype=torch.bfloat16)", 4 * 16 * (8 + 16) + 2 * 4 * 16),
    ],
)
def test_device_and_dtype_change_no_count(run_cli, layer, total) -> None:
    """PyTorch's factory arguments place and type the tensors; the counts (by hand) stay."""
    result = run_cli("params", layer, "--total")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == f"{total}\n"
