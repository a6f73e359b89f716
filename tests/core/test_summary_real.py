"""summary on the printed models people use, against PyTorch's own numbers.

``tests/golden/real_models.json`` comes from ``tests/golden/make_real_models.py``: every
torchvision classification and segmentation model, timm's main families and tutorial-style
nets, built on the meta device, with forward hooks for each top-level child's output, the
final shape, parameters, buffers and MACs. Library models must be exact; for tutorial nets,
whose ``forward`` a repr cannot show, anything not exact must be marked (a warning, unknown
shapes, a lower-bound parameter count), never silently wrong.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from cnncli.core.summary import Summary, parse_model, summarize

GOLDEN_DIR = Path(__file__).parents[1] / "golden"
GOLDEN = json.loads((GOLDEN_DIR / "real_models.json").read_text())
MODELS: dict[str, dict[str, Any]] = GOLDEN["models"]
# Models built with a constructor option the repr does not print, against the assumption a
# rule states in a note: {name: (words the note must contain, parameters it leaves in)}.
ASSUMED = {"timm_deit3_small_patch16_224": ("no_embed_class", 384)}
LIBRARY = sorted(n for n, m in MODELS.items() if m["source"] != "tutorial" and n not in ASSUMED)
TUTORIAL = sorted(n for n, m in MODELS.items() if m["source"] == "tutorial")


def _summary(name: str) -> Summary:
    text = (GOLDEN_DIR / "real_models" / f"{name}.txt").read_text()
    return summarize(parse_model(text), tuple(MODELS[name]["input"]))


def _expected_macs(golden: dict[str, Any]) -> int:
    # cnncli also counts the Linear weights torchvision's Swin applies with F.linear.
    return int(golden["macs"]) + int(golden.get("macs_functional_linear", 0))


def _top_level_calls(summary: Summary, golden: dict[str, Any]) -> list[tuple[str, Any]]:
    calls = [(path, shape) for path, shape in summary.calls if path and "." not in path]
    # A child whose output is a dict (a segmentation backbone) is recorded as null by torch.
    expected_null = {name for name, shape in golden["children"] if shape is None}
    return [(p, None if p in expected_null else list(s or ())) for p, s in calls]


def assert_exact(summary: Summary, golden: dict[str, Any]) -> None:
    """Counts, output, top-level calls and MACs as PyTorch's run recorded them."""
    assert summary.total_params == golden["total_params"]
    assert summary.buffers == golden["buffers"]
    assert summary.output_shape == tuple(golden["output_shape"])
    assert _top_level_calls(summary, golden) == [
        (child, shape) for child, shape in golden["children"]
    ]
    assert summary.macs == _expected_macs(golden)
    assert summary.shapes_known and summary.params_exact


@pytest.mark.parametrize("name", LIBRARY)
def test_library_models_are_exact(name: str) -> None:
    golden = MODELS[name]
    summary = _summary(name)
    assert_exact(summary, golden)
    # torchvision's ViT runs only at the image_size it was built with, which is not printed.
    vit = golden["source"] == "torchvision" and golden["class"] == "VisionTransformer"
    assert summary.assumed == vit
    assert any("image_size assumed" in note for note in summary.notes) == vit
    assert summary.warnings == ()


@pytest.mark.parametrize("name", sorted(ASSUMED))
def test_a_hidden_constructor_option_is_named_in_a_note(name: str) -> None:
    golden = MODELS[name]
    summary = _summary(name)
    words, difference = ASSUMED[name]
    assert any(words in note for note in summary.notes)
    assert summary.total_params - golden["total_params"] == difference
    assert summary.output_shape == tuple(golden["output_shape"])
    assert summary.macs == _expected_macs(golden)


@pytest.mark.parametrize("name", TUTORIAL)
def test_tutorial_models_are_exact_or_marked(name: str) -> None:
    golden = MODELS[name]
    summary = _summary(name)
    if summary.params_exact:
        assert summary.total_params == golden["total_params"]
        assert summary.buffers == golden["buffers"]
    else:  # a lower bound: a class it does not know may hold an nn.Parameter of its own
        assert summary.total_params <= golden["total_params"]
        assert summary.buffers <= golden["buffers"]
    exact = (
        summary.output_shape == tuple(golden["output_shape"])
        and _top_level_calls(summary, golden) == [(c, s) for c, s in golden["children"]]
        and summary.macs == _expected_macs(golden)
    )
    assert exact or summary.warnings, "not exact, and nothing says so"


def test_every_library_family_is_covered() -> None:
    sources = {m["source"] for m in MODELS.values()}
    assert {"torchvision", "tutorial"} <= sources
    assert sum(m["source"] == "torchvision" for m in MODELS.values()) >= 86
    assert sum(m["source"] == "timm" for m in MODELS.values()) >= 40
