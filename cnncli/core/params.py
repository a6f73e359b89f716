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

from cnncli.core.errors import UserError
from cnncli.core.layers import Layer, expand, spatial_dims


@dataclass(frozen=True)
class ParamTensor:
    """One named tensor of a layer."""

    name: str
    shape: tuple[int, ...]
    trainable: bool = True

    @property
    def numel(self) -> int:
        return math.prod(self.shape)


@dataclass(frozen=True)
class LayerParams:
    """A layer's tensors with the totals people ask for."""

    layer: Layer
    tensors: tuple[ParamTensor, ...]

    @property
    def trainable(self) -> int:
        return sum(t.numel for t in self.tensors if t.trainable)

    @property
    def buffers(self) -> int:
        return sum(t.numel for t in self.tensors if not t.trainable)

    @property
    def total(self) -> int:
        """Parameters, as ``sum(p.numel() for p in layer.parameters())`` counts them."""
        return self.trainable


def _int(layer: Layer, name: str, minimum: int = 1) -> int:
    value = layer.args[name]
    if isinstance(value, bool) or not isinstance(value, int):
        raise UserError(f"{layer.kind}: {name} must be an integer, got {value!r}")
    if value < minimum:
        raise UserError(f"{layer.kind}: {name} must be at least {minimum}, got {value}")
    return value


def _shape(layer: Layer, name: str) -> tuple[int, ...]:
    value = layer.args[name]
    shape = (value,) if isinstance(value, int) and not isinstance(value, bool) else value
    if not isinstance(shape, tuple) or not shape:
        raise UserError(f"{layer.kind}: {name} must be an integer or a tuple, got {value!r}")
    for v in shape:
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise UserError(f"{layer.kind}: {name} must hold positive integers, got {value!r}")
    return shape


def _conv(layer: Layer) -> list[ParamTensor]:
    ndim = spatial_dims(layer.kind)
    c_in, c_out = _int(layer, "in_channels", 0), _int(layer, "out_channels", 0)
    groups = _int(layer, "groups")
    kernel = expand(layer.args["kernel_size"], ndim, "kernel_size")
    if any(k < 1 for k in kernel):
        raise UserError(
            f"{layer.kind}: kernel_size must be positive, got {layer.args['kernel_size']!r}"
        )
    if c_in % groups:
        raise UserError(f"{layer.kind}: in_channels={c_in} is not divisible by groups={groups}")
    if c_out % groups:
        raise UserError(f"{layer.kind}: out_channels={c_out} is not divisible by groups={groups}")
    padding = layer.args.get("padding")
    if isinstance(padding, str):
        if padding not in ("same", "valid"):
            raise UserError(
                f"{layer.kind}: padding must be an int, tuple, 'same' or 'valid', got {padding!r}"
            )
        if padding == "same" and any(s != 1 for s in expand(layer.args["stride"], ndim, "stride")):
            raise UserError(
                f"{layer.kind}: padding='same' is not supported for strided convolutions"
            )
    if layer.kind.startswith("ConvTranspose"):
        weight = (c_in, c_out // groups, *kernel)
    else:
        weight = (c_out, c_in // groups, *kernel)
    tensors = [ParamTensor("weight", weight)]
    if layer.args["bias"]:
        tensors.append(ParamTensor("bias", (c_out,)))
    return tensors


def _linear(layer: Layer) -> list[ParamTensor]:
    c_in, c_out = _int(layer, "in_features", 0), _int(layer, "out_features", 0)
    tensors = [ParamTensor("weight", (c_out, c_in))]
    if layer.args["bias"]:
        tensors.append(ParamTensor("bias", (c_out,)))
    return tensors


def _bilinear(layer: Layer) -> list[ParamTensor]:
    in1, in2 = _int(layer, "in1_features"), _int(layer, "in2_features")
    out = _int(layer, "out_features")
    tensors = [ParamTensor("weight", (out, in1, in2))]
    if layer.args["bias"]:
        tensors.append(ParamTensor("bias", (out,)))
    return tensors


def _norm_stats(layer: Layer) -> list[ParamTensor]:
    """BatchNorm and InstanceNorm: affine weight/bias, then the running-statistics buffers."""
    channels = _int(layer, "num_features")
    tensors = []
    if layer.args["affine"]:
        tensors.append(ParamTensor("weight", (channels,)))
        if layer.args["bias"]:
            tensors.append(ParamTensor("bias", (channels,)))
    if layer.args["track_running_stats"]:
        tensors += [
            ParamTensor("running_mean", (channels,), trainable=False),
            ParamTensor("running_var", (channels,), trainable=False),
            ParamTensor("num_batches_tracked", (), trainable=False),
        ]
    return tensors


def _layer_norm(layer: Layer) -> list[ParamTensor]:
    shape = _shape(layer, "normalized_shape")
    if not layer.args["elementwise_affine"]:
        return []
    tensors = [ParamTensor("weight", shape)]
    if layer.args.get("bias", False):
        tensors.append(ParamTensor("bias", shape))
    return tensors


def _group_norm(layer: Layer) -> list[ParamTensor]:
    groups, channels = _int(layer, "num_groups"), _int(layer, "num_channels")
    if channels % groups:
        raise UserError(
            f"GroupNorm: num_channels={channels} is not divisible by num_groups={groups}"
        )
    if not layer.args["affine"]:
        return []
    tensors = [ParamTensor("weight", (channels,))]
    if layer.args["bias"]:
        tensors.append(ParamTensor("bias", (channels,)))
    return tensors


def _embedding(layer: Layer) -> list[ParamTensor]:
    return [
        ParamTensor("weight", (_int(layer, "num_embeddings", 0), _int(layer, "embedding_dim", 0)))
    ]


_GATES = {"RNN": 1, "LSTM": 4, "GRU": 3}


def _recurrent(layer: Layer) -> list[ParamTensor]:
    """Per layer and direction: weight_ih, weight_hh, bias_ih, bias_hh (and LSTM's weight_hr)."""
    input_size, hidden = _int(layer, "input_size", 0), _int(layer, "hidden_size")
    num_layers = _int(layer, "num_layers")
    proj = _int(layer, "proj_size", 0) if layer.kind == "LSTM" else 0
    if proj >= hidden:
        raise UserError(f"LSTM: proj_size={proj} must be smaller than hidden_size={hidden}")
    gates = _GATES[layer.kind] * hidden
    real_hidden = proj or hidden
    directions = 2 if layer.args["bidirectional"] else 1
    tensors = []
    for index in range(num_layers):
        layer_input = input_size if index == 0 else real_hidden * directions
        for suffix in ("", "_reverse")[:directions]:
            tag = f"l{index}{suffix}"
            tensors += [
                ParamTensor(f"weight_ih_{tag}", (gates, layer_input)),
                ParamTensor(f"weight_hh_{tag}", (gates, real_hidden)),
            ]
            if layer.args["bias"]:
                tensors += [
                    ParamTensor(f"bias_ih_{tag}", (gates,)),
                    ParamTensor(f"bias_hh_{tag}", (gates,)),
                ]
            if proj:
                tensors.append(ParamTensor(f"weight_hr_{tag}", (proj, hidden)))
    return tensors


def _attention(layer: Layer) -> list[ParamTensor]:
    embed, heads = _int(layer, "embed_dim"), _int(layer, "num_heads")
    if embed % heads:
        raise UserError(
            f"MultiheadAttention: embed_dim={embed} is not divisible by num_heads={heads}"
        )
    kdim = layer.args["kdim"] if layer.args["kdim"] is not None else embed
    vdim = layer.args["vdim"] if layer.args["vdim"] is not None else embed
    if kdim == embed and vdim == embed:
        tensors = [ParamTensor("in_proj_weight", (3 * embed, embed))]
    else:
        tensors = [
            ParamTensor("q_proj_weight", (embed, embed)),
            ParamTensor("k_proj_weight", (embed, int(str(kdim)))),
            ParamTensor("v_proj_weight", (embed, int(str(vdim)))),
        ]
    bias = bool(layer.args["bias"])
    if bias:
        tensors.append(ParamTensor("in_proj_bias", (3 * embed,)))
    if layer.args["add_bias_kv"]:
        tensors += [ParamTensor("bias_k", (1, 1, embed)), ParamTensor("bias_v", (1, 1, embed))]
    tensors.append(ParamTensor("out_proj.weight", (embed, embed)))
    if bias:
        tensors.append(ParamTensor("out_proj.bias", (embed,)))
    return tensors


def _prelu(layer: Layer) -> list[ParamTensor]:
    return [ParamTensor("weight", (_int(layer, "num_parameters"),))]


def _rms_norm(layer: Layer) -> list[ParamTensor]:
    shape = _shape(layer, "normalized_shape")
    return [ParamTensor("weight", shape)] if layer.args["elementwise_affine"] else []


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
        ndim = spatial_dims(kind)
        kernel = expand(layer.args["kernel_size"], ndim, "kernel_size")
        c_in, c_out, groups = (
            int(str(layer.args[n])) for n in ("in_channels", "out_channels", "groups")
        )
        k_text = "*".join(str(k) for k in kernel)
        weight = c_out * (c_in // groups) * math.prod(kernel)
        bias = c_out if layer.args["bias"] else 0
        bias_text = " + out" if bias else ""
        return (
            f"params = out * (in / groups) * prod(kernel){bias_text}"
            f" = {c_out} * ({c_in} / {groups}) * {k_text}{f' + {c_out}' if bias else ''}"
            f" = {weight}{f' + {bias}' if bias else ''} = {weight + bias}"
        )
    if kind == "Linear":
        c_in, c_out = int(str(layer.args["in_features"])), int(str(layer.args["out_features"]))
        bias = c_out if layer.args["bias"] else 0
        return (
            f"params = out * in{' + out' if bias else ''} = {c_out} * {c_in}"
            f"{f' + {c_out}' if bias else ''} = {c_out * c_in + bias}"
        )
    return None
