"""A printed model joined to a weights file: the file's tensors checked against each layer.

Each leaf of the printed tree claims the file's tensors under its module path
(``layer1.0.conv1`` claims ``layer1.0.conv1.weight``), which must be exactly the
tensors :func:`cnncli.core.params.layer_params` says the layer creates, with the same
shapes; the first layer that disagrees is the error (checked before any shape is
propagated, so a wrong layer is named even when the printed model cannot run). Tensors
no leaf claims are parameters a repr does not show (``nn.Parameter`` attributes of a
container, e.g. a ViT's ``cls_token``): they count in the totals and are listed.
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping
from dataclasses import dataclass, replace

from cnncli.core.errors import UserError
from cnncli.core.model_text import Module
from cnncli.core.modelfile import ModelFile, TensorInfo
from cnncli.core.params import layer_params
from cnncli.core.summary import OWN_PARAMETERS, Hidden, Summary

SHOWN_NAMES = 8  # how many unclaimed tensors / bare layers a note names


@dataclass(frozen=True)
class LayerWeights:
    """A printed layer's tensors as the file has them."""

    path: str
    params: int
    buffers: int


@dataclass(frozen=True)
class WeightsJoin:
    source: str
    layers: Mapping[str, LayerWeights]
    unclaimed: tuple[TensorInfo, ...]  # under no printed layer: hidden parameters
    bare: tuple[str, ...]  # printed layers with parameters that the file has none for
    total_params: int
    buffers: int


def _shape(shape: tuple[int, ...]) -> str:
    return "[" + ", ".join(map(str, shape)) + "]"


def _names(model: ModelFile, leaves: list[Module]) -> dict[str, TensorInfo]:
    """The file's tensors by name, without a wrapper's prefix unless the model has it too."""
    if model.prefix and not any(leaf.path.startswith(model.prefix) for leaf in leaves):
        return model.unprefixed()
    return {t.name: t for t in model.tensors}


def join_weights(tree: Module, model: ModelFile, source: str) -> WeightsJoin:
    """Check every printed layer against the file's tensors and count from the file."""
    leaves = [m for m in tree.walk() if m.layer is not None]
    tensors = _names(model, leaves)
    names = sorted(tensors)
    claimed: set[str] = set()
    layers: dict[str, LayerWeights] = {}
    bare: list[str] = []
    for leaf in leaves:
        assert leaf.layer is not None
        prefix = f"{leaf.path}." if leaf.path else ""
        start = bisect.bisect_left(names, prefix)
        end = bisect.bisect_left(names, prefix + "\U0010ffff")
        found = {name[len(prefix) :]: tensors[name] for name in names[start:end]}
        expected = {t.name: t.shape for t in layer_params(leaf.layer).tensors}
        label = f"{leaf.path or leaf.kind} ({leaf.kind})"
        if not found:
            if expected:
                bare.append(label)
            layers[leaf.path] = LayerWeights(leaf.path, 0, 0)
            continue
        for name, shape in expected.items():
            if name not in found:
                raise UserError(
                    f"{label}: the printed layer has {name} {_shape(shape)}, "
                    f"{source} has no {prefix}{name}"
                )
            if found[name].shape != shape:
                raise UserError(
                    f"{label}: {name} is {_shape(found[name].shape)} in {source}, "
                    f"but the printed layer makes it {_shape(shape)}"
                )
        extra = [name for name in found if name not in expected]
        if extra:
            raise UserError(
                f"{label}: {source} has {', '.join(prefix + n for n in extra[:3])}, "
                "which the printed layer does not make"
            )
        claimed.update(prefix + name for name in found)
        layers[leaf.path] = LayerWeights(
            leaf.path,
            sum(t.numel for t in found.values() if not t.is_buffer),
            sum(t.numel for t in found.values() if t.is_buffer),
        )
    unclaimed = tuple(tensors[name] for name in tensors if name not in claimed)
    return WeightsJoin(source, layers, unclaimed, tuple(bare), model.total_params, model.buffers)


def _listed(items: list[str]) -> str:
    more = len(items) - SHOWN_NAMES
    return ", ".join(items[:SHOWN_NAMES]) + (f" and {more} more" if more > 0 else "")


def apply_weights(summary: Summary, join: WeightsJoin) -> Summary:
    """The summary with every layer's parameters, and the totals, from the file.

    A layer's first call gets its tensors' count (later calls of a shared module 0, as
    the engine counts); the unclaimed tensors become the summary's hidden parameters, so
    each shows on the row of the module that owns it.
    """
    seen: set[str] = set()
    rows = []
    for row in summary.rows:
        if row.path in join.layers:
            params = 0 if row.path in seen else join.layers[row.path].params
            seen.add(row.path)
            row = replace(row, params=params)
        rows.append(row)
    notes = [f"parameters from {join.source}, checked against every printed layer"]
    if join.unclaimed:
        hidden = [f"{t.name} {_shape(t.shape)}" for t in join.unclaimed]
        count = sum(t.numel for t in join.unclaimed if not t.is_buffer)
        notes.append(
            f"tensors no printed layer claims, counted in the totals ({count:,} "
            f"parameter{'s' if count != 1 else ''}; "
            f"a repr does not show nn.Parameter attributes): {_listed(hidden)}"
        )
    # The file holds every nn.Parameter, so the totals are no longer a lower bound.
    warnings = [w for w in summary.warnings if not w.endswith(OWN_PARAMETERS)]
    if join.bare:
        warnings.append(f"layers with no tensors in {join.source}: {_listed(list(join.bare))}")
    return replace(
        summary,
        rows=tuple(rows),
        total_params=join.total_params,
        buffers=join.buffers,
        hidden=tuple(Hidden(t.name, t.shape, t.is_buffer) for t in join.unclaimed),
        params_exact=True,
        notes=(*summary.notes, *notes),
        warnings=tuple(warnings),
    )
