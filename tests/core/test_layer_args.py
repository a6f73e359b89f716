"""Layer arguments against PyTorch's own outcomes (tests/golden/layer_args.json, made by
tests/golden/make_layer_args.py): typos, wrong types and degenerate values are refused
where PyTorch refuses them (building the layer or running it), and counted where it runs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from cnncli.core.errors import UserError
from cnncli.core.layers import parse_layer
from cnncli.core.params import MAX_LISTED_LAYERS, layer_params

GOLDEN = json.loads((Path(__file__).parents[1] / "golden" / "layer_args.json").read_text())
CASES: list[dict[str, Any]] = GOLDEN["cases"]

# Texts PyTorch accepts that cnncli refuses on purpose, and why.
DELIBERATE_REFUSALS = {
    # bool is an int subclass in Python, so torch builds a Linear with 1 input: a slip.
    "Linear(True, 2)": "in_features must be an integer, got True",
    # torch's range check 0 <= p <= 1 lets NaN through (every comparison with NaN is False).
    "Dropout(p=nan)": "p must be a number, got nan",
}


def test_golden_covers_refusals_at_both_stages_and_accepted_layers() -> None:
    stages = [case["stage"] for case in CASES]
    assert stages.count("construct") > 15 and stages.count("forward") > 15
    assert sum(case["params"] is not None for case in CASES) > 15


@pytest.mark.parametrize("case", CASES, ids=[case["text"] for case in CASES])
def test_layer_text_outcome_matches_torch(case: dict[str, Any]) -> None:
    text = case["text"]
    if case["params"] is None or text in DELIBERATE_REFUSALS:
        with pytest.raises(UserError) as caught:
            layer_params(parse_layer(text))
        message = str(caught.value)
        assert message.startswith(text.split("(")[0]), message  # names the layer
        assert "\n" not in message
        if text in DELIBERATE_REFUSALS:
            assert DELIBERATE_REFUSALS[text] in message
    else:
        assert layer_params(parse_layer(text)).total == case["params"]


@pytest.mark.parametrize("template", sorted(GOLDEN["stacks"]))
@pytest.mark.parametrize("layers", [MAX_LISTED_LAYERS, MAX_LISTED_LAYERS + 1, 10**12])
def test_deep_recurrent_stacks_follow_torchs_per_layer_growth(template: str, layers: int) -> None:
    """torch's counts for 1, 2 and 3 layers grow by a constant; a stack of a trillion layers
    (which torch could never build) is that arithmetic."""
    one, two, three = GOLDEN["stacks"][template]
    assert three - two == two - one
    params = layer_params(parse_layer(template.format(layers)))
    assert params.total == one + (layers - 1) * (two - one)
    if layers > MAX_LISTED_LAYERS:  # the first layer and one entry for the rest, per tensor
        assert len(params.tensors) <= 2 * 2 * 5
        assert {t.copies for t in params.tensors} == {1, layers - 1}


@pytest.mark.parametrize(
    ("text", "fragment", "hint"),
    [
        ("Conv2d(3, 5, 3, bias=false)", "bias must be True or False, got 'false'", "False"),
        ("BatchNorm2d(64, affine=false)", "affine must be True or False, got 'false'", "False"),
        ("Conv2d(3, 5, 3, stride='foo')", "stride must be an integer, got 'foo'", None),
        ("Linear(4.0, 2)", "in_features must be an integer, got 4.0", "4"),
        ("Conv2d(3, 6, 3, groups=True)", "groups must be an integer, got True", None),
        ("AdaptiveAvgPool2d(2.5)", "output_size must be an integer, got 2.5", None),
        ("MultiheadAttention(8, 2, kdim=4.5)", "kdim must be an integer, got 4.5", None),
        ("PixelShuffle(upscale_factor=0)", "upscale_factor must be at least 1, got 0", None),
        ("Upsample(scale_factor=0.0)", "scale_factor must be a positive finite number", None),
        ("Upsample(scale_factor=nan)", "scale_factor must be a positive finite number", None),
        ("Conv2d(3, 5, 3, dilation=none)", "dilation must be an integer, got 'none'", "None"),
    ],
)
def test_issue_examples_name_layer_argument_value_and_need(
    text: str, fragment: str, hint: str | None
) -> None:
    with pytest.raises(UserError) as caught:
        layer_params(parse_layer(text))
    assert text.split("(")[0] + ": " + fragment in caught.value.message
    assert caught.value.hint == (None if hint is None else f"did you mean {hint}?")


def test_huge_integers_are_refused_by_size_not_by_pythons_digit_limit() -> None:
    with pytest.raises(UserError, match="more than 4,300 digits"):
        parse_layer(f"Linear({'9' * 5000}, 2)")
    with pytest.raises(UserError, match=r"at most 2\*\*63 - 1"):
        parse_layer(f"Linear({'9' * 4000}, 2)")


def test_absurd_nesting_and_nul_bytes_are_one_line_refusals() -> None:
    for text in ("Linear(" + "(" * 5000 + "1" + ")" * 5000 + ", 2)", "Linear(1,\x00 2)"):
        with pytest.raises(UserError) as caught:
            parse_layer(text)
        assert len(str(caught.value)) < 400
