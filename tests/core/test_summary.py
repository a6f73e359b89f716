"""Summary core against torch's forward hooks on real models (tests/golden/summary.json)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from cnncli import zoo
from cnncli.core.errors import UserError
from cnncli.core.summary import parse_model, summarize
from cnncli.core.summary_display import display_rows

GOLDEN = json.loads((Path(__file__).parents[1] / "golden" / "summary.json").read_text())
MODELS: dict[str, dict[str, Any]] = {m["name"]: m for m in GOLDEN["models"]}


@pytest.mark.parametrize("name", sorted(MODELS))
def test_every_leaf_call_matches_torch(name: str) -> None:
    model = MODELS[name]
    result = summarize(parse_model(model["repr"]), tuple(model["input"]), batch=model["batch"])
    got = [(r.path, r.kind, list(r.output_shape), r.macs) for r in result.rows]
    expected = [(c["name"], c["type"], c["output_shape"], c["macs"]) for c in model["layers"]]
    assert got == expected
    assert result.total_params == model["total_params"]
    assert result.buffers == model["buffers"]
    assert result.macs == model["macs"]


def test_zoo_ships_the_golden_reprs_with_default_inputs() -> None:
    assert set(zoo.names()) == {"myconvnet", "alexnet", "vgg16", "lenet5", "resnet18"}
    for name in zoo.names():
        source = zoo.builtin(name)
        assert source.text == MODELS[name]["repr"] + "\n"
        assert list(source.default_input or ()) == MODELS[name]["input"]


def test_alexnet_has_the_published_parameter_count() -> None:
    source = zoo.builtin("alexnet")
    result = summarize(parse_model(source.text), source.default_input or ())
    assert result.total_params == 61_100_840  # torchvision's documented number


def test_hidden_flatten_is_noted_for_a_net_whose_forward_is_unknown() -> None:
    text = zoo.builtin("alexnet").text.replace("AlexNet(", "MyAlexNet(", 1)
    result = summarize(parse_model(text), (3, 224, 224))
    assert any("inserted a flatten before classifier.0" in n for n in result.notes)
    assert result.output_shape == (1, 1000)


def test_builtin_models_are_quiet() -> None:
    for name in zoo.names():
        source = zoo.builtin(name)
        result = summarize(parse_model(source.text), source.default_input or ())
        assert result.notes == () and result.warnings == ()


def test_receptive_field_of_textbook_stacks() -> None:
    # Three 3x3 stride-1 convs see 7x7; a 2x2/2 pool then doubles the jump.
    text = "Sequential(\n(0): Conv2d(1, 1, 3)\n(1): Conv2d(1, 1, 3)\n(2): Conv2d(1, 1, 3)\n(3): MaxPool2d(2)\n)"
    rows = summarize(parse_model(text), (1, 32, 32)).rows
    assert [r.receptive_field for r in rows] == [(3.0, 3.0), (5.0, 5.0), (7.0, 7.0), (8.0, 8.0)]
    assert rows[-1].jump == (2.0, 2.0)


def test_resnet18_receptive_field_is_the_known_435() -> None:
    source = zoo.builtin("resnet18")
    rows = summarize(parse_model(source.text), (3, 224, 224)).rows
    last_block = [r for r in rows if r.path.startswith("layer4.1")][-1]
    assert last_block.receptive_field == (435.0, 435.0)


def test_depth_folds_children_into_parents() -> None:
    source = zoo.builtin("resnet18")
    result = summarize(parse_model(source.text), (3, 224, 224))
    rows = display_rows(result, 2)
    blocks = [r for r in rows if r.kind == "BasicBlock"]
    assert len(blocks) == 8
    assert sum(r.params for r in rows if not r.is_container) == result.total_params
    assert sum(r.macs for r in rows) == result.macs


def test_moduelist_repeat_notation_is_expanded() -> None:
    text = "Net(\n  (blocks): ModuleList(\n    (0-2): 3 x Linear(in_features=8, out_features=8, bias=True)\n  )\n)"
    result = summarize(parse_model(text), (8,))
    assert [r.path for r in result.rows] == ["blocks.0", "blocks.1", "blocks.2"]
    assert result.total_params == 3 * (64 + 8)


def test_an_unknown_block_with_several_children_is_run_in_order_with_a_warning() -> None:
    text = "MyBlock(\n  (branch1): Conv2d(3, 3, 1)\n  (branch2): Conv2d(3, 3, 1)\n)"
    result = summarize(parse_model(text), (3, 8, 8))
    assert result.output_shape == (1, 3, 8, 8)
    assert any("MyBlock: forward not known" in w for w in result.warnings)


def test_a_known_class_name_with_other_children_falls_back_with_a_warning() -> None:
    # Research code has its own BasicBlock: torchvision's rule must not apply to it.
    text = (
        "BasicBlock(\n  (conv_a): Conv2d(3, 3, 3, padding=1)\n"
        "  (conv_b): Conv2d(3, 3, 3, padding=1)\n)"
    )
    result = summarize(parse_model(text), (3, 8, 8))
    assert result.output_shape == (1, 3, 8, 8)
    assert any("BasicBlock: its children (conv_a, conv_b) differ" in w for w in result.warnings)


@pytest.mark.parametrize(
    ("text", "shape", "fragment"),
    [
        (
            "Sequential(\n  (0): Linear(in_features=100, out_features=10, bias=True)\n)",
            (3, 8, 8),
            "0 (Linear): expects 100 input features, but [1, 3, 8, 8] arrives",
        ),
        (
            "Sequential(\n  (0): Conv2d(4, 8, 3)\n)",
            (3, 8, 8),
            "0 (Conv2d): expects 4 input channels, but 3 arrive",
        ),
        ("Sequential(\n  (0): Conv2d(3, 8, 3)\n)", (3, 8), "expects (N, C, H, W)"),
        ("Sequential(\n  (0): Conv2d(3, 8, 3)\n", (3, 8, 8), "before the ')' that closes"),
        ("Sequential(\n  (0): Conv2d(3, 8, 9)\n)", (3, 8, 8), "larger than the padded input"),
        ("Sequential(\n  (0): junk\n)", (3, 8, 8), "expected a module like"),
        ("", (3,), "empty"),
    ],
)
def test_shape_errors_name_the_layer_and_the_numbers(
    text: str, shape: tuple[int, ...], fragment: str
) -> None:
    with pytest.raises(UserError) as info:
        summarize(parse_model(text), shape)
    assert fragment in str(info.value)


def test_residual_mismatch_without_downsample() -> None:
    text = (
        "BasicBlock(\n  (conv1): Conv2d(8, 16, 3, stride=2, padding=1, bias=False)\n"
        "  (bn1): BatchNorm2d(16)\n  (relu): ReLU(inplace=True)\n"
        "  (conv2): Conv2d(16, 16, 3, padding=1, bias=False)\n  (bn2): BatchNorm2d(16)\n)"
    )
    with pytest.raises(UserError, match=r"cannot add shapes \[1, 16, 8, 8\] and \[1, 8, 16, 16\]"):
        summarize(parse_model(text), (8, 16, 16))


def test_bad_options() -> None:
    model = parse_model("Sequential(\n  (0): ReLU()\n)")
    with pytest.raises(UserError, match="batch size"):
        summarize(model, (3,), batch=0)
    with pytest.raises(UserError, match="unknown dtype"):
        summarize(model, (3,), dtype="float8")
    with pytest.raises(UserError, match="positive"):
        summarize(model, (3, 0))


def test_printed_attention_counts_its_hidden_projections() -> None:
    # nn.MultiheadAttention(64, 4): in_proj_weight [192, 64] + in_proj_bias [192] + out_proj.
    text = (
        "MultiheadAttention(\n  (out_proj): NonDynamicallyQuantizableLinear"
        "(in_features=64, out_features=64, bias=True)\n)\n"
    )
    result = summarize(parse_model(text), (16, 64))
    assert result.total_params == 3 * 64 * 64 + 3 * 64 + 64 * 64 + 64
    assert result.output_shape == (1, 16, 64)
    assert result.macs == 4 * 16 * 64 * 64


def test_a_plain_net_named_like_a_resnet_block_is_a_sequence() -> None:
    text = (
        "Net(\n  (conv1): Conv2d(1, 8, 3)\n  (bn1): BatchNorm2d(8)\n  (conv2): Conv2d(8, 16, 3)\n"
        "  (bn2): BatchNorm2d(16)\n  (pool): AdaptiveAvgPool2d(1)\n  (fc): Linear(16, 10)\n)\n"
    )
    result = summarize(parse_model(text), (1, 28, 28))
    assert [r.path for r in result.rows] == ["conv1", "bn1", "conv2", "bn2", "pool", "fc"]
    assert result.output_shape == (1, 10)


def test_a_mismatch_inside_an_unknown_forward_keeps_the_parameters() -> None:
    # PyTorch's CIFAR-10 tutorial Net applies one pool after each conv: the printed order
    # cannot show it, so shapes after fc1 are unknown, but every parameter is counted.
    text = (
        "Net(\n  (conv1): Conv2d(3, 6, kernel_size=(5, 5), stride=(1, 1))\n"
        "  (pool): MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)\n"
        "  (conv2): Conv2d(6, 16, kernel_size=(5, 5), stride=(1, 1))\n"
        "  (fc1): Linear(in_features=400, out_features=120, bias=True)\n"
        "  (fc2): Linear(in_features=120, out_features=84, bias=True)\n"
        "  (fc3): Linear(in_features=84, out_features=10, bias=True)\n)\n"
    )
    result = summarize(parse_model(text), (3, 32, 32))
    assert result.total_params == 62006  # the tutorial's published count
    assert not result.shapes_known
    assert [r.output_shape for r in result.rows][-3:] == [None, None, None]
    assert any("more than once" in w for w in result.warnings)


def test_an_unknown_leaf_makes_later_shapes_unknown_but_counts_the_rest() -> None:
    text = "Sequential(\n  (0): Conv2d(3, 8, 3)\n  (1): Swish()\n  (2): Conv2d(8, 8, 3)\n)"
    result = summarize(parse_model(text), (3, 16, 16))
    assert [r.output_shape for r in result.rows] == [(1, 8, 14, 14), None, None]
    assert result.total_params == (8 * 3 * 9 + 8) + (8 * 8 * 9 + 8)
    assert any("1 (Swish): unknown module" in w for w in result.warnings)
