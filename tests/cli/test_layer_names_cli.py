"""An unknown layer name: the near names and where to find all, not a 1,200-character list."""

from __future__ import annotations

import pytest

from cnncli.core.errors import UserError
from cnncli.core.layers import parse_layer


@pytest.mark.parametrize(
    ("text", "suggestion"),
    [
        ("Conv2D(3, 4, 3)", ". Did you mean Conv2d? ("),  # only the case differs: only it
        ("nn.batchnorm2d(8)", ". Did you mean BatchNorm2d? ("),
        ("Convv2d(3, 4, 3)", ". Did you mean Conv2d, "),
        ("Blur(3)", " ("),
    ],
)
def test_unknown_layer_is_one_short_line_with_the_near_names(
    run_cli, text: str, suggestion: str
) -> None:
    result = run_cli("params", text)
    assert result.exit_code == 2
    (line,) = result.stderr.splitlines()
    name = text.split("(")[0].split(".")[-1]
    assert line.startswith(f"error: unknown layer {name!r}{suggestion}")
    assert line.endswith("known layers)")
    assert "cnncli params --list" in line
    assert len(line) < 160
    assert "MaxPool3d" not in line and "ZeroPad1d" not in line  # no list of every name


def test_params_list_names_every_layer_it_parses(run_cli) -> None:
    result = run_cli("params", "--list")
    assert result.exit_code == 0, result.stderr
    names = result.stdout.splitlines()
    assert names == sorted(names)
    for known in ("Conv2d", "Linear", "BatchNorm2d", "LSTM", "MultiheadAttention"):
        assert known in names
    for name in names:  # each is known to the parser: may lack arguments, never "unknown"
        try:
            parse_layer(f"{name}()")
        except UserError as exc:
            assert "unknown layer" not in str(exc), name
    count = run_cli("params", "Blur(3)").stderr.split("shows the ")[1].split()[0]
    assert int(count) == len(names)


def test_params_list_takes_no_layers(run_cli) -> None:
    result = run_cli("params", "--list", "Conv2d(1, 1, 1)")
    assert result.exit_code == 2
    assert result.stderr == "error: --list takes no layers\n"
