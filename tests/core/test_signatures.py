"""cnncli's table of layer constructors (core/layers.SIGNATURES) against torch's own.

tests/golden/signatures.json is recorded by tests/golden/make_signatures.py from
``inspect.signature`` of each ``torch.nn`` class (torch 2.13).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cnncli.core.layers import FACTORY_LAYERS, REQUIRED, SIGNATURES

GOLDEN = json.loads((Path(__file__).parents[1] / "golden" / "signatures.json").read_text())
TORCH = GOLDEN["layers"]
# Arguments the repr prints although the constructor has none of that name: accepted so a
# pasted repr parses (UpsamplingNearest2d prints Upsample's mode and align_corners).
REPR_ONLY = {
    "UpsamplingNearest2d": {"mode", "align_corners"},
    "UpsamplingBilinear2d": {"mode", "align_corners"},
}


def _public(params: list[list[object]]) -> list[list[object]]:
    return [p for p in params if not str(p[0]).startswith("_")]


def test_every_known_layer_is_recorded() -> None:
    assert set(TORCH) == set(SIGNATURES)


@pytest.mark.parametrize("name", sorted(SIGNATURES))
def test_signature_matches_torch(name: str) -> None:
    ours = [
        (arg, "<required>" if value is REQUIRED else value)
        for arg, value in SIGNATURES[name]
        if not arg.startswith("_") and arg not in REPR_ONLY.get(name, set())
    ]
    theirs = _public(TORCH[name])
    positional = [(p[0], p[1]) for p in theirs if p[2] == "positional"]
    keyword = {(p[0], p[1]) for p in theirs if p[2] == "keyword"}
    assert ours[: len(positional)] == positional
    assert set(ours[len(positional) :]) == keyword


def test_the_layers_taking_device_and_dtype_are_torchs() -> None:
    assert set(FACTORY_LAYERS) == set(GOLDEN["factory"])
