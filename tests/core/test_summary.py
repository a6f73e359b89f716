"""Summary core against torch's forward hooks on real models (tests/golden/summary.json)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from cnncli import zoo
from cnncli.core.errors import UserError
from cnncli.core.summary import display_rows, parse_model, summarize

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


def test_hidden_flatten_is_noted() -> None:
    source = zoo.builtin("alexnet")
    result = summarize(parse_model(source.text), (3, 224, 224))
    assert any("inserted a flatten before classifier.0" in n for n in result.notes)


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


def test_branchy_containers_get_a_warning() -> None:
    text = "Block(\n  (branch1): Conv2d(3, 3, 1)\n  (branch2): Conv2d(3, 3, 1)\n)"
    result = summarize(parse_model(text), (3, 8, 8))
    assert any("may not be a plain sequence" in w for w in result.warnings)


@pytest.mark.parametrize(
    ("text", "shape", "fragment"),
    [
        (
            "Net(\n  (fc): Linear(in_features=100, out_features=10, bias=True)\n)",
            (3, 8, 8),
            "fc (Linear): expects 100 input features, but [1, 3, 8, 8] arrives (192 when flattened)",
        ),
        (
            "Sequential(\n  (0): Conv2d(4, 8, 3)\n)",
            (3, 8, 8),
            "0 (Conv2d): expects 4 input channels, but 3 arrive",
        ),
        ("Sequential(\n  (0): Conv2d(3, 8, 3)\n)", (3, 8), "expects (C, H, W) per sample"),
        ("Sequential(\n  (0): Conv2d(3, 8, 3)\n", (3, 8, 8), "unbalanced parentheses"),
        ("Sequential(\n  (0): Swish()\n)", (3, 8, 8), "unknown module 'Swish'"),
        ("Sequential(\n  (0): Conv2d(3, 8, 9)\n)", (3, 8, 8), "larger than the padded input"),
        ("Sequential(\n  (0): LSTM(3, 8)\n)", (3, 8), "cannot propagate shapes through LSTM"),
        ("Sequential(\n  junk\n)", (3, 8, 8), "expected '(name): Layer(...)'"),
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
        "Block(\n  (conv1): Conv2d(8, 16, 3, stride=2, padding=1, bias=False)\n"
        "  (bn1): BatchNorm2d(16)\n  (relu): ReLU(inplace=True)\n"
        "  (conv2): Conv2d(16, 16, 3, padding=1, bias=False)\n  (bn2): BatchNorm2d(16)\n)"
    )
    with pytest.raises(UserError, match="residual add needs equal shapes"):
        summarize(parse_model(text), (8, 16, 16))


def test_bad_options() -> None:
    model = parse_model("Sequential(\n  (0): ReLU()\n)")
    with pytest.raises(UserError, match="--batch"):
        summarize(model, (3,), batch=0)
    with pytest.raises(UserError, match="unknown dtype"):
        summarize(model, (3,), dtype="float8")
    with pytest.raises(UserError, match="positive"):
        summarize(model, (3, 0))


def test_printed_attention_is_refused_not_undercounted() -> None:
    text = (
        "Block(\n  (attn): MultiheadAttention(\n    (out_proj): NonDynamicallyQuantizableLinear"
        "(in_features=64, out_features=64, bias=True)\n  )\n)\n"
    )
    with pytest.raises(UserError) as caught:
        summarize(parse_model(text), (16, 64))
    assert caught.value.message.startswith("attn (MultiheadAttention): summary cannot propagate")
    assert "cnncli params" in str(caught.value.hint)


def test_a_top_level_block_is_named_by_its_type() -> None:
    text = (
        "BasicBlock(\n"
        "  (conv1): Conv2d(64, 128, kernel_size=(3, 3), stride=(2, 2), padding=(1, 1))\n"
        "  (bn1): BatchNorm2d(128)\n"
        "  (conv2): Conv2d(128, 128, kernel_size=(3, 3), padding=(1, 1))\n"
        "  (bn2): BatchNorm2d(128)\n"
        ")\n"
    )
    with pytest.raises(UserError, match=r"^BasicBlock \(BasicBlock\): the residual add"):
        summarize(parse_model(text), (64, 56, 56))


def test_a_failure_after_a_branch_warning_carries_the_warning() -> None:
    text = "Inception(\n  (branch1x1): Conv2d(192, 64, 1)\n  (branch3x3): Conv2d(192, 96, 3)\n)\n"
    with pytest.raises(UserError) as caught:
        summarize(parse_model(text), (192, 28, 28))
    assert caught.value.message.startswith("branch3x3 (Conv2d): expects 192 input channels")
    assert "may not be a plain sequence" in str(caught.value.hint)
