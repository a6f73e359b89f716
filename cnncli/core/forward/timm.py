"""Forward rules for timm's blocks and layer types, checked against timm 1.0.31."""

from __future__ import annotations

from cnncli.core.forward.base import Flow, Registry, Run, rule
from cnncli.core.model_text import Module

RULES = Registry()
SEQUENTIAL = frozenset[str]()


@RULES.add("StochasticDepth", "DropPath", "DropBlock2d")
@rule("torchvision.ops StochasticDepth / timm DropPath: the identity in eval", "")
def identity(b: Module, x: Flow, run: Run) -> Flow:
    return x
