"""summary at the edges a review found, against PyTorch's own answers.

``tests/golden/summary_cases.json`` comes from ``tests/golden/make_summary_cases.py``: small
models written out there and torchvision/timm models at the input sizes that went wrong,
run on the meta device with forward hooks (or torch's error where it refuses the input).
Where the repr cannot tell, the summary must say so (a lower-bound count, a note with what
it assumed); otherwise it must be exact.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from cnncli.core.errors import UserError
from cnncli.core.summary import Summary, parse_model, summarize
from tests.core.test_summary_real import assert_exact

GOLDEN = json.loads((Path(__file__).parents[1] / "golden" / "summary_cases.json").read_text())
CASES: dict[str, dict[str, Any]] = GOLDEN["cases"]


def _summary(name: str) -> Summary:
    case = CASES[name]
    return summarize(parse_model(case["repr"]), tuple(case["input"]))


def _assert_exact(name: str) -> Summary:
    summary = _summary(name)
    assert_exact(summary, CASES[name])
    return summary


@pytest.mark.parametrize("name", ["sequential_linear_3d", "sequential_linear_4d"])
def test_a_sequential_applies_no_hidden_flatten(name: str) -> None:
    summary = _assert_exact(name)
    golden = CASES[name]["calls"]
    assert [[r.path, r.kind, list(r.output_shape or ())] for r in summary.rows] == golden
    assert summary.notes == ()


@pytest.mark.parametrize("name", ["swin_t_32", "swin_t_5", "swin_v2_t_31", "convnext_tiny_32"])
def test_channels_last_blocks_at_small_sizes(name: str) -> None:
    summary = _assert_exact(name)
    assert not any("flatten" in note for note in summary.notes)


def test_convnext_refuses_what_torch_refuses_naming_the_layer() -> None:
    assert "Kernel size can't be greater" in CASES["convnext_tiny_31"]["error"]
    with pytest.raises(UserError) as raised:
        _summary("convnext_tiny_31")
    assert raised.value.message.startswith("features.")
    assert "(Conv2d)" in raised.value.message


HIDDEN_PARAMETERS = [
    "scaled_net",
    "head_with_offset",
    "timm_beit_base_patch16_224",
    "timm_cait_xxs24_224",
    "timm_convit_tiny",
    "timm_pit_ti_224",
    "timm_xcit_nano_12_p16_224",
]


@pytest.mark.parametrize("name", HIDDEN_PARAMETERS)
def test_a_class_not_known_makes_the_total_a_lower_bound(name: str) -> None:
    golden = CASES[name]
    assert any(kind == "param" for _, _, kind in golden["hidden"])  # torch: it holds some
    summary = _summary(name)
    assert not summary.params_exact
    assert summary.total_params < golden["total_params"]
    assert any("the parameter totals are a lower bound" in w for w in summary.warnings)


@pytest.mark.parametrize(
    "name",
    [
        "timm_resnet26d_233",
        "timm_seresnext26d_32x4d_233",
        "timm_nf_resnet50_233",
        "timm_densenet121_233",
        "densenet121_233",
    ],
)
def test_a_rule_knows_the_ceil_mode_of_its_avgpool(name: str) -> None:
    summary = _assert_exact(name)
    assert not summary.assumed and summary.warnings == ()


@pytest.mark.parametrize("name", ["avgpool_ceil_true_8", "avgpool_ceil_corrected_5"])
def test_ceil_mode_that_changes_nothing_is_not_noted(name: str) -> None:
    summary = _assert_exact(name)
    golden = CASES[name]["calls"]
    assert [[r.path, r.kind, list(r.output_shape or ())] for r in summary.rows] == golden
    assert not summary.assumed and summary.notes == ()


@pytest.mark.parametrize(
    "name", ["avgpool_ceil_true_7", "avgpool_ceil_false_7", "avgpool1d_ceil_true_8"]
)
def test_ceil_mode_that_matters_is_an_assumption(name: str) -> None:
    golden = CASES[name]
    summary = _summary(name)
    assert summary.assumed
    assert any("does not print ceil_mode" in note for note in summary.notes)
    pool = summary.rows[-1]
    torch_shape = tuple(golden["calls"][-1][2])
    # One of the two modes is torch's, and the note names the other one.
    note = next(n for n in summary.notes if "ceil_mode" in n)
    assert pool.output_shape == torch_shape or str(list(torch_shape)) in note


def test_ceil_mode_written_into_the_text_is_exact() -> None:
    text = CASES["avgpool_ceil_true_7"]["repr"].replace("padding=0)", "padding=0, ceil_mode=True)")
    summary = summarize(parse_model(text), (3, 7, 7))
    assert summary.output_shape == tuple(CASES["avgpool_ceil_true_7"]["output_shape"])
    assert not summary.assumed


def test_vit_image_size_is_an_assumption() -> None:
    assert "Wrong image height" in CASES["vit_b_16_256"]["error"]  # built for 224
    summary = _summary("vit_b_16_256")
    assert summary.assumed
    assert any("image_size assumed to be the input's 256 x 256" in n for n in summary.notes)
