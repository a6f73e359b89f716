"""The forward rules, by printed class name: torchvision, timm and sequence layers.

A printed class may have several rules (torchvision and timm both have a ``Bottleneck``;
torchvision has three ``InvertedResidual``): the first whose expected children match the
printed ones applies. :data:`SEQUENTIAL` lists classes that run their children in the
printed order (``nn.Sequential`` and its subclasses), so no warning is due for them.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from cnncli.core.forward import sequence, textbook, timm, torchvision
from cnncli.core.forward.base import Rule

SEQUENTIAL = frozenset({"Sequential", "ModuleList"} | torchvision.SEQUENTIAL | timm.SEQUENTIAL)


def _merge(*families: Mapping[str, list[Rule]]) -> Mapping[str, tuple[Rule, ...]]:
    merged: dict[str, list[Rule]] = {}
    for family in families:
        for name, rules in family.items():
            merged.setdefault(name, []).extend(rules)
    return MappingProxyType({name: tuple(rules) for name, rules in merged.items()})


# Printed classes known to own no parameters although their shape effect is not printed.
PARAMETERLESS = frozenset({"Permute", "SwapAxes", "WindowPartition", "WindowDepartition"})
RULES = _merge(torchvision.RULES, timm.RULES, sequence.RULES, textbook.RULES)
