"""Layer parser and parameter rules against torch's own named parameters (golden file)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from cnncli.core.errors import UserError
from cnncli.core.layers import known_layers, parse_layer
from cnncli.core.params import explain_params, layer_params, layer_tensors

GOLDEN = json.loads((Path(__file__).parents[1] / "golden" / "params.json").read_text())
CASES: list[dict[str, Any]] = GOLDEN["cases"]


def _spellings(case: dict[str, Any]) -> list[str]:
    # A multi-line repr (MultiheadAttention prints its out_proj child) is a module tree,
    # which `summary` reads; `params` takes the constructor call.
    single_line = [] if "\n" in case["repr"] else [case["repr"]]
    return single_line + case["calls"]


def _tensors(text: str) -> dict[str, tuple[list[int], bool]]:
    return {t.name: (list(t.shape), not t.buffer) for t in layer_tensors(parse_layer(text))}


def test_golden_covers_every_parameterised_type_and_many_layers() -> None:
    kinds = {parse_layer(c["calls"][0]).kind for c in CASES}
    for kind in (
        "Conv3d",
        "ConvTranspose2d",
        "Bilinear",
        "BatchNorm1d",
        "LayerNorm",
        "GroupNorm",
        "InstanceNorm2d",
        "Embedding",
        "LSTM",
        "GRU",
        "RNN",
        "MultiheadAttention",
        "PReLU",
    ):
        assert kind in kinds
    assert len(CASES) > 200


@pytest.mark.parametrize("index", range(len(CASES)))
def test_every_spelling_gives_torchs_tensors(index: int) -> None:
    case = CASES[index]
    expected = {t["name"]: (t["shape"], t["trainable"]) for t in case["tensors"]}
    for text in _spellings(case):
        assert _tensors(text) == expected, text
        params = layer_params(parse_layer(text))
        assert params.total == case["params"], text
        assert params.buffers == case["buffers"], text


@pytest.mark.parametrize("case", GOLDEN["refused"], ids=lambda c: c["text"])
def test_what_torch_refuses_we_refuse(case: dict[str, str]) -> None:
    with pytest.raises(UserError):
        layer_tensors(parse_layer(case["text"]))


def test_seed_example_conv2d_3_5_3() -> None:
    # The seed: weight torch.Size([5, 3, 3, 3]), bias torch.Size([5]); 3*5*3^2 + 5 = 140.
    params = layer_params(
        parse_layer("nn.Conv2d(in_channels=3, out_channels=5, kernel_size=3, stride=1, padding=1)")
    )
    assert [(t.name, t.shape) for t in params.tensors] == [("weight", (5, 3, 3, 3)), ("bias", (5,))]
    assert params.total == 3 * 5 * 3**2 + 5 == 140


def test_repr_quirks_parse() -> None:
    assert (
        parse_layer("Conv2d(3, 16, kernel_size=(3, 3), stride=(1, 1), padding=same)").args[
            "padding"
        ]
        == "same"
    )
    assert parse_layer("Conv1d(2, 4, kernel_size=(3,), stride=(1,))").args["kernel_size"] == (3,)
    assert parse_layer("BatchNorm2d(64, eps=1e-05, momentum=0.1, affine=True)").args["eps"] == 1e-05
    assert parse_layer("ReLU(inplace=True)").args["inplace"] is True
    assert parse_layer("AdaptiveAvgPool2d(output_size=(6, 6))").args["output_size"] == (6, 6)
    layer_norm = parse_layer("LayerNorm((512,), eps=1e-05, elementwise_affine=True)")
    assert layer_norm.args["normalized_shape"] == (512,)
    assert (
        parse_layer(
            "  (3): Conv2d(64, 192, kernel_size=(5, 5), stride=(1, 1), padding=(2, 2))"
        ).kind
        == "Conv2d"
    )
    assert parse_layer("torch.nn.modules.activation.ReLU()").kind == "ReLU"
    assert parse_layer("nn.Flatten").kind == "Flatten"
    assert parse_layer("Hardtanh(min_val=-1.0, max_val=1.0)").args["min_val"] == -1.0
    assert (
        parse_layer(
            "NonDynamicallyQuantizableLinear(in_features=8, out_features=8, bias=True)"
        ).kind
        == "Linear"
    )
    # defaults are filled in as the constructor would
    assert parse_layer("MaxPool2d(2)").args["stride"] is None
    assert parse_layer("Conv2d(1, 2, 3)").args["groups"] == 1


def test_integers_repeat_one_value_as_torchs_ntuple_does() -> None:
    assert parse_layer("Conv2d(1, 2, 3)").integers("kernel_size", 2) == (3, 3)
    assert parse_layer("Conv2d(1, 2, (3, 5))").integers("kernel_size", 2) == (3, 5)
    assert parse_layer("Conv1d(1, 2, (3,))").integers("kernel_size", 1) == (3,)
    with pytest.raises(UserError, match="kernel_size needs 2 values"):
        parse_layer("Conv2d(1, 2, (1, 2, 3))").integers("kernel_size", 2)


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("Conv2d(3, 5", "cannot parse"),
        ("Conv2d(3, 5, 3, stride=__import__('os'))", "only literal values"),
        ("Conv2d(3, 5, 3, stride=2+1)", "only literal values"),
        ("Convv2d(3, 5, 3)", "Did you mean Conv2d"),
        ("Blur(3)", "unknown layer 'Blur'"),
        ("Conv2d(3, 5)", "missing the required argument 'kernel_size'"),
        ("Linear(3, 4, biass=False)", "did you mean 'bias'"),
        ("Linear(3, 4, in_features=3)", "twice"),
        ("Linear(1, 2, True, 4)", "at most 3 positional"),
        ("", "empty layer text"),
        ("42", "expected a layer"),
    ],
)
def test_parse_errors_point_at_the_problem(text: str, fragment: str) -> None:
    with pytest.raises(UserError, match=fragment.replace("(", r"\(")):
        parse_layer(text)


def test_unknown_layer_points_to_the_list_instead_of_printing_it() -> None:
    with pytest.raises(UserError) as info:
        parse_layer("Blur(3)")
    assert "cnncli params --list" in str(info.value)
    assert "Linear" not in str(info.value)
    assert len(known_layers()) > 80


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("Conv2d(3, 6, 3, groups=2)", "in_channels=3 is not divisible by groups=2"),
        ("Conv2d(-3, 5, 3)", "in_channels must be at least 0"),
        ("Linear(-1, 4)", "in_features must be at least 0"),
        ("Conv2d(3, 5, kernel_size=(3, 3, 3))", "kernel_size needs 2 values"),
        ("Conv2d(3, 5, 'x')", "kernel_size must be an integer"),
    ],
)
def test_impossible_layers(text: str, fragment: str) -> None:
    with pytest.raises(UserError, match=fragment):
        layer_tensors(parse_layer(text))


def test_explain_conv_and_linear_formulas() -> None:
    text = explain_params(layer_params(parse_layer("Conv2d(4, 8, 3, groups=2)")))
    assert text is not None and text.endswith(f"= {8 * (4 // 2) * 9 + 8}")
    assert "out * (in / groups) * prod(kernel) + out" in text
    linear = explain_params(layer_params(parse_layer("Linear(9216, 4096)")))
    assert linear is not None and linear.endswith(f"= {9216 * 4096 + 4096}")
    assert explain_params(layer_params(parse_layer("ReLU()"))) is None
