"""The parameter and buffer tensors each layer type creates, as its PyTorch constructor does.

Shapes follow the ``__init__`` of each ``torch.nn`` module (e.g. a Conv's weight is
``(out, in / groups, *kernel)``, a ConvTranspose's ``(in, out / groups, *kernel)``);
buffers such as BatchNorm's running statistics are listed as non-trainable.
Pinned by ``tests/golden/make_params.py``, which records torch's own named parameters.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

from cnncli.core.layers import Layer, spatial_dims


@dataclass(frozen=True)
class ParamTensor:
    """One named tensor of a layer."""

    name: str
    shape: tuple[int, ...]
    trainable: bool = True
    copies: int = 1  # a deep RNN's layers 1..N-1: one entry standing for N-1 equal tensors

    @cached_property
    def numel(self) -> int:
        """Elements of this tensor, times ``copies``."""
        return math.prod(self.shape) * self.copies


@dataclass(frozen=True)
class LayerParams:
    """A layer's tensors with the totals people ask for."""

    layer: Layer
    tensors: tuple[ParamTensor, ...]

    @cached_property
    def trainable(self) -> int:
        return sum(t.numel for t in self.tensors if t.trainable)

    @cached_property
    def buffers(self) -> int:
        return sum(t.numel for t in self.tensors if not t.trainable)

    @property
    def total(self) -> int:
        """Parameters, as ``sum(p.numel() for p in layer.parameters())`` counts them."""
        return self.trainable


def _conv(layer: Layer) -> list[ParamTensor]:
    """``_ConvNd``: weight ``(out, in/groups, *k)``; transposed ``(in, out/groups, *k)``."""
    ndim = spatial_dims(layer.kind)
    c_in, c_out = layer.integer("in_channels", 0), layer.integer("out_channels", 0)
    groups = layer.integer("groups")
    kernel = layer.integers("kernel_size", ndim)
    if layer.kind.startswith("ConvTranspose"):
        weight = (c_in, c_out // groups, *kernel)
    else:
        weight = (c_out, c_in // groups, *kernel)
    tensors = [ParamTensor("weight", weight)]
    if layer.flag("bias"):
        tensors.append(ParamTensor("bias", (c_out,)))
    return tensors


def _linear(layer: Layer) -> list[ParamTensor]:
    c_in, c_out = layer.integer("in_features", 0), layer.integer("out_features", 0)
    tensors = [ParamTensor("weight", (c_out, c_in))]
    if layer.flag("bias"):
        tensors.append(ParamTensor("bias", (c_out,)))
    return tensors


def _bilinear(layer: Layer) -> list[ParamTensor]:
    in1, in2 = layer.integer("in1_features", 0), layer.integer("in2_features", 0)
    out = layer.integer("out_features", 0)
    tensors = [ParamTensor("weight", (out, in1, in2))]
    if layer.flag("bias"):
        tensors.append(ParamTensor("bias", (out,)))
    return tensors


def _norm_stats(layer: Layer) -> list[ParamTensor]:
    """BatchNorm and InstanceNorm: affine weight/bias, then the running-statistics buffers."""
    channels = layer.integer("num_features")
    tensors = []
    if layer.flag("affine"):
        tensors.append(ParamTensor("weight", (channels,)))
        if layer.flag("bias"):
            tensors.append(ParamTensor("bias", (channels,)))
    if layer.flag("track_running_stats"):
        tensors += [
            ParamTensor("running_mean", (channels,), trainable=False),
            ParamTensor("running_var", (channels,), trainable=False),
            ParamTensor("num_batches_tracked", (), trainable=False),
        ]
    return tensors


def _shape(layer: Layer, name: str) -> tuple[int, ...]:
    value = layer.args[name]
    return layer.integers(name, len(value) if isinstance(value, tuple) else 1)


def _layer_norm(layer: Layer) -> list[ParamTensor]:
    shape = _shape(layer, "normalized_shape")
    if not layer.flag("elementwise_affine"):
        return []
    tensors = [ParamTensor("weight", shape)]
    if layer.flag("bias"):
        tensors.append(ParamTensor("bias", shape))
    return tensors


def _group_norm(layer: Layer) -> list[ParamTensor]:
    channels = layer.integer("num_channels")
    if not layer.flag("affine"):
        return []
    tensors = [ParamTensor("weight", (channels,))]
    if layer.flag("bias"):
        tensors.append(ParamTensor("bias", (channels,)))
    return tensors


def _embedding(layer: Layer) -> list[ParamTensor]:
    shape = (layer.integer("num_embeddings", 0), layer.integer("embedding_dim", 0))
    return [ParamTensor("weight", shape)]


_GATES = {"RNN": 1, "LSTM": 4, "GRU": 3}
# Stacks deeper than this list their first layer and one entry standing for all the others.
MAX_LISTED_LAYERS = 64


def _recurrent(layer: Layer) -> list[ParamTensor]:
    """``RNNBase.__init__``: per layer and direction weight_ih, weight_hh, bias_ih, bias_hh
    (and LSTM's weight_hr). Every layer after the first has the same shapes, so a deep
    stack is counted by multiplication, not by listing a trillion tensors."""
    input_size, hidden = layer.integer("input_size", 0), layer.integer("hidden_size")
    num_layers = layer.integer("num_layers")
    proj = layer.integer("proj_size", 0) if layer.kind == "LSTM" else 0
    gates = _GATES[layer.kind] * hidden
    real_hidden = proj or hidden
    directions = 2 if layer.flag("bidirectional") else 1
    bias = layer.flag("bias")

    def one_layer(index: int, tag: str, copies: int) -> list[ParamTensor]:
        layer_input = input_size if index == 0 else real_hidden * directions
        tensors = []
        for suffix in ("", "_reverse")[:directions]:
            name = f"{tag}{suffix}"
            tensors += [
                ParamTensor(f"weight_ih_{name}", (gates, layer_input), copies=copies),
                ParamTensor(f"weight_hh_{name}", (gates, real_hidden), copies=copies),
            ]
            if bias:
                tensors += [
                    ParamTensor(f"bias_ih_{name}", (gates,), copies=copies),
                    ParamTensor(f"bias_hh_{name}", (gates,), copies=copies),
                ]
            if proj:
                tensors.append(ParamTensor(f"weight_hr_{name}", (proj, hidden), copies=copies))
        return tensors

    if num_layers <= MAX_LISTED_LAYERS:
        return [t for i in range(num_layers) for t in one_layer(i, f"l{i}", 1)]
    rest = f"l1..l{num_layers - 1}"
    return one_layer(0, "l0", 1) + one_layer(1, rest, num_layers - 1)


def _attention(layer: Layer) -> list[ParamTensor]:
    """``MultiheadAttention.__init__``: one packed in_proj unless kdim/vdim differ."""
    embed = layer.integer("embed_dim")
    kdim = layer.optional_integer("kdim") or embed
    vdim = layer.optional_integer("vdim") or embed
    if kdim == embed and vdim == embed:
        tensors = [ParamTensor("in_proj_weight", (3 * embed, embed))]
    else:
        tensors = [
            ParamTensor("q_proj_weight", (embed, embed)),
            ParamTensor("k_proj_weight", (embed, kdim)),
            ParamTensor("v_proj_weight", (embed, vdim)),
        ]
    bias = layer.flag("bias")
    if bias:
        tensors.append(ParamTensor("in_proj_bias", (3 * embed,)))
    if layer.flag("add_bias_kv"):
        tensors += [ParamTensor("bias_k", (1, 1, embed)), ParamTensor("bias_v", (1, 1, embed))]
    tensors.append(ParamTensor("out_proj.weight", (embed, embed)))
    if bias:
        tensors.append(ParamTensor("out_proj.bias", (embed,)))
    return tensors


def _prelu(layer: Layer) -> list[ParamTensor]:
    return [ParamTensor("weight", (layer.integer("num_parameters"),))]


def _rms_norm(layer: Layer) -> list[ParamTensor]:
    shape = _shape(layer, "normalized_shape")
    return [ParamTensor("weight", shape)] if layer.flag("elementwise_affine") else []


_RULES: dict[str, Callable[[Layer], list[ParamTensor]]] = {
    **dict.fromkeys(("Conv1d", "Conv2d", "Conv3d"), _conv),
    **dict.fromkeys(("ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d"), _conv),
    "Linear": _linear,
    "Bilinear": _bilinear,
    **dict.fromkeys(("BatchNorm1d", "BatchNorm2d", "BatchNorm3d"), _norm_stats),
    **dict.fromkeys(("InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d"), _norm_stats),
    "LayerNorm": _layer_norm,
    "GroupNorm": _group_norm,
    "RMSNorm": _rms_norm,
    "Embedding": _embedding,
    "EmbeddingBag": _embedding,
    **dict.fromkeys(("RNN", "LSTM", "GRU"), _recurrent),
    "MultiheadAttention": _attention,
    "PReLU": _prelu,
}


def layer_tensors(layer: Layer) -> list[ParamTensor]:
    """Every parameter and buffer ``layer`` owns; parameter-free layers have none."""
    rule = _RULES.get(layer.kind)
    return [] if rule is None else rule(layer)


def layer_params(layer: Layer) -> LayerParams:
    return LayerParams(layer, tuple(layer_tensors(layer)))


def explain_params(params: LayerParams) -> str | None:
    """The closed-form count with the numbers substituted, for layers that have one."""
    layer = params.layer
    kind = layer.kind
    if kind.startswith("Conv"):
        kernel = layer.integers("kernel_size", spatial_dims(kind))
        c_in, c_out = layer.integer("in_channels", 0), layer.integer("out_channels", 0)
        groups = layer.integer("groups")
        k_text = "*".join(str(k) for k in kernel)
        weight = c_out * (c_in // groups) * math.prod(kernel)
        bias = c_out if layer.flag("bias") else 0
        bias_text = " + out" if bias else ""
        return (
            f"params = out * (in / groups) * prod(kernel){bias_text}"
            f" = {c_out} * ({c_in} / {groups}) * {k_text}{f' + {c_out}' if bias else ''}"
            f" = {weight}{f' + {bias}' if bias else ''} = {weight + bias}"
        )
    if kind == "Linear":
        c_in, c_out = layer.integer("in_features", 0), layer.integer("out_features", 0)
        bias = c_out if layer.flag("bias") else 0
        return (
            f"params = out * in{' + out' if bias else ''} = {c_out} * {c_in}"
            f"{f' + {c_out}' if bias else ''} = {c_out * c_in + bias}"
        )
    return None
