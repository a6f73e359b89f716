"""How each ``torch.nn`` leaf layer changes a shape, and the MACs it costs.

Shapes follow the layers' documented ``Shape:`` sections and the window arithmetic of
:mod:`cnncli.core.outsize`. MACs convention: multiply-accumulates of Conv and Linear
weights only (Conv: output elements x in/groups x prod(kernel); ConvTranspose: input
elements x out/groups x prod(kernel); Linear: output elements x in_features);
MultiheadAttention and recurrent layers count their weight products the same way
(see :mod:`cnncli.core.forward.sequence`); bias, norms, pooling, activations and
attention's activation-by-activation products (q·k, attn·v) count 0.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace
from types import MappingProxyType

from cnncli.core.errors import UserError
from cnncli.core.forward.base import Dims, Flow, normalize_dim
from cnncli.core.forward.sequence import recurrent
from cnncli.core.layers import Layer, spatial_dims
from cnncli.core.outsize import (
    adaptive_windows,
    conv_output_size,
    pool_output_size,
    transposed_output_size,
)
from cnncli.core.parsing import shape_text

LeafForward = Callable[[Layer, Flow], tuple[Flow, int]]

SAME_SHAPE = frozenset(
    {
        "ReLU", "ReLU6", "LeakyReLU", "ELU", "SELU", "CELU", "GELU", "SiLU", "Mish", "Sigmoid",
        "Tanh", "Hardtanh", "Hardsigmoid", "Hardswish", "Hardshrink", "Softshrink", "Tanhshrink",
        "Softplus", "Softsign", "LogSigmoid", "Softmax", "LogSoftmax", "Softmin", "Softmax2d",
        "Threshold", "Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout",
        "FeatureAlphaDropout", "Identity", "LocalResponseNorm", "ChannelShuffle",
    }
)  # fmt: skip
MAX_ELEMENTS = 10**30  # beyond any machine: answered by arithmetic, but refused past this


def _sample_rank(layer: Layer, x: Flow, ndim: int) -> None:
    if x.rank != ndim + 2:
        wanted = {1: "(N, C, L)", 2: "(N, C, H, W)", 3: "(N, C, D, H, W)"}[ndim]
        raise UserError(
            f"expects {wanted}, but {shape_text(x.shape)} arrives",
            hint="check --input (channels first, without the batch)",
        )


def _channels(x: Flow, expected: int, what: str, dim: int = 1) -> None:
    if x.shape[dim] != expected:
        raise UserError(
            f"expects {expected} {what}, but {x.shape[dim]} arrive (shape {shape_text(x.shape)})"
        )


def _windowed(x: Flow, spans: tuple[int, ...], strides: Dims, shape: tuple[int, ...]) -> Flow:
    if x.rf is None or x.jump is None:
        return Flow(shape)
    rf = tuple(r + (k - 1) * j for r, k, j in zip(x.rf, spans, x.jump, strict=True))
    jump = tuple(j * s for j, s in zip(x.jump, strides, strict=True))
    return Flow(shape, rf, jump)


def conv(layer: Layer, x: Flow, same_padding: bool = False) -> tuple[Flow, int]:
    """Conv1d/2d/3d; ``same_padding`` is timm's Conv2dSame (pads to ceil(in / stride))."""
    ndim = spatial_dims(layer.kind)
    _sample_rank(layer, x, ndim)
    c_in = layer.integer("in_channels")
    _channels(x, c_in, "input channels")
    kernel = layer.integers("kernel_size", ndim)
    stride = layer.integers("stride", ndim)
    dilation = layer.integers("dilation", ndim)
    out_c, groups = layer.integer("out_channels"), layer.integer("groups")
    spans = tuple(d * (k - 1) + 1 for k, d in zip(kernel, dilation, strict=True))
    spatial = x.shape[2:]
    if same_padding:
        sizes = tuple(-(-n // s) for n, s in zip(spatial, stride, strict=True))
    else:
        raw = layer.args["padding"]
        paddings: tuple[int | str, ...] = (
            (raw,) * ndim if isinstance(raw, str) else layer.integers("padding", ndim, 0)
        )
        sizes = tuple(
            conv_output_size(n, k, s, p, d)
            for n, k, s, p, d in zip(spatial, kernel, stride, paddings, dilation, strict=True)
        )
    shape = (x.shape[0], out_c, *sizes)
    macs = math.prod(shape) * (c_in // groups) * math.prod(kernel)
    return _windowed(x, spans, tuple(float(s) for s in stride), shape), macs


def conv_transpose(layer: Layer, x: Flow) -> tuple[Flow, int]:
    ndim = spatial_dims(layer.kind)
    _sample_rank(layer, x, ndim)
    _channels(x, layer.integer("in_channels"), "input channels")
    kernel = layer.integers("kernel_size", ndim)
    stride = layer.integers("stride", ndim)
    dilation = layer.integers("dilation", ndim)
    padding = layer.integers("padding", ndim, 0)
    output_padding = layer.integers("output_padding", ndim, 0)
    out_c, groups = layer.integer("out_channels"), layer.integer("groups")
    sizes = tuple(
        transposed_output_size(n, k, s, p, d, op)
        for n, k, s, p, d, op in zip(
            x.shape[2:], kernel, stride, padding, dilation, output_padding, strict=True
        )
    )
    macs = math.prod(x.shape) * (out_c // groups) * math.prod(kernel)
    return Flow((x.shape[0], out_c, *sizes)), macs


def pool(layer: Layer, x: Flow) -> tuple[Flow, int]:
    ndim = spatial_dims(layer.kind)
    _sample_rank(layer, x, ndim)
    kernel = layer.integers("kernel_size", ndim)
    stride = kernel if layer.args["stride"] is None else layer.integers("stride", ndim)
    padding = layer.integers("padding", ndim, 0) if "padding" in layer.args else (0,) * ndim
    dilation = layer.integers("dilation", ndim) if "dilation" in layer.args else (1,) * ndim
    ceil_mode = layer.flag("ceil_mode")
    sizes = tuple(
        pool_output_size(n, k, s, p, d, ceil_mode)
        for n, k, s, p, d in zip(x.shape[2:], kernel, stride, padding, dilation, strict=True)
    )
    spans = tuple(d * (k - 1) + 1 for k, d in zip(kernel, dilation, strict=True))
    return _windowed(x, spans, tuple(float(s) for s in stride), (*x.shape[:2], *sizes)), 0


def unprinted_ceil_mode(layer: Layer, x: Flow) -> tuple[int, ...] | None:
    """The output shape with ``ceil_mode=True`` where AvgPool's repr hides it and it matters.

    PyTorch prints AvgPool1d/2d/3d without ``ceil_mode`` (nor ``count_include_pad``, which
    changes no shape). None when the text gives it, or when both modes give the same size
    (ATen's ``pooling_output_shape`` drops a last window that would start in the padding).
    """
    if not layer.kind.startswith("AvgPool") or "ceil_mode" in layer.given:
        return None
    args = {**layer.args, "ceil_mode": not layer.flag("ceil_mode")}
    other, _ = pool(replace(layer, args=MappingProxyType(args)), x)
    floor, _ = pool(layer, x)
    return None if other.shape == floor.shape else other.shape


def adaptive_pool(layer: Layer, x: Flow) -> tuple[Flow, int]:
    ndim = spatial_dims(layer.kind)
    if x.rank not in (ndim + 1, ndim + 2):
        _sample_rank(layer, x, ndim)
    wanted = layer.args["output_size"]
    targets = wanted if isinstance(wanted, tuple) else (wanted,)
    if len(targets) == 1:
        targets = targets * ndim
    if len(targets) != ndim:
        raise UserError(f"output_size needs {ndim} values, got {wanted!r}")
    spatial = x.shape[-ndim:]
    sizes = tuple(
        n if t is None else _positive(t, "output_size")
        for n, t in zip(spatial, targets, strict=True)
    )
    return adaptive_to(x, sizes), 0


def adaptive_to(x: Flow, sizes: tuple[int, ...]) -> Flow:
    """An adaptive pool of the last ``len(sizes)`` dimensions: PyTorch's start/end windows."""
    spatial = x.shape[-len(sizes) :]
    shape = (*x.shape[: -len(sizes)], *sizes)
    if x.rf is None or x.jump is None or len(x.rf) != len(sizes):
        return Flow(shape)
    widths = tuple(_widest_window(n, t) for n, t in zip(spatial, sizes, strict=True))
    strides = tuple(n / t for n, t in zip(spatial, sizes, strict=True))
    return _windowed(x, widths, strides, shape)


def _widest_window(n: int, t: int) -> int:
    if t > 10_000:  # a window per output: bounded work (the widest is 1 or 2 here)
        return 1 if n <= t else -(-n // t) + 1
    return max((w.end - w.start for w in adaptive_windows(n, t)), default=1)


def _positive(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise UserError(f"{name} must hold positive integers or None, got {value!r}")
    return value


def batch_norm(layer: Layer, x: Flow) -> tuple[Flow, int]:
    ndim = spatial_dims(layer.kind)
    allowed = {1: (2, 3), 2: (4,), 3: (5,)}[ndim]
    if x.rank not in allowed:
        raise UserError(f"expects {ndim}D features, but {shape_text(x.shape)} arrives")
    if (
        layer.kind.startswith("BatchNorm")
        or layer.flag("affine")
        or layer.flag("track_running_stats")
    ):
        _channels(x, layer.integer("num_features"), "channels")
    return x, 0


def group_norm(layer: Layer, x: Flow) -> tuple[Flow, int]:
    _channels(x, layer.integer("num_channels"), "channels")
    if x.shape[1] % layer.integer("num_groups"):
        raise UserError(
            f"{x.shape[1]} channels do not split into {layer.args['num_groups']} groups"
        )
    return x, 0


def layer_norm(layer: Layer, x: Flow) -> tuple[Flow, int]:
    trailing = normalized_shape(layer)
    if tuple(x.shape[-len(trailing) :]) != trailing:
        raise UserError(f"normalizes over {list(trailing)}, but {shape_text(x.shape)} arrives")
    return x, 0


def normalized_shape(layer: Layer) -> tuple[int, ...]:
    value = layer.args["normalized_shape"]
    items = value if isinstance(value, tuple) else (value,)
    return tuple(_positive(n, "normalized_shape") for n in items)


def channel_layer_norm(layer: Layer, x: Flow) -> tuple[Flow, int]:
    """torchvision/timm ``LayerNorm2d``: LayerNorm over the channels of (N, C, H, W)."""
    (channels,) = normalized_shape(layer)[-1:]
    _channels(x, channels, "channels")
    return x, 0


def linear(layer: Layer, x: Flow) -> tuple[Flow, int]:
    in_features = layer.integer("in_features", 0)
    out_features = layer.integer("out_features", 0)
    if x.shape[-1] != in_features:
        raise UserError(
            f"expects {in_features} input features, but {shape_text(x.shape)} arrives",
            hint=f"in_features should be {x.shape[-1]}",
        )
    shape = (*x.shape[:-1], out_features)
    return Flow(shape), math.prod(shape) * in_features


def flatten_layer(layer: Layer, x: Flow) -> tuple[Flow, int]:
    start = normalize_dim(layer.integer("start_dim", None), x.rank)
    end = normalize_dim(layer.integer("end_dim", None), x.rank)
    if end < start:
        return x, 0
    merged = math.prod(x.shape[start : end + 1])
    return x.reshaped((*x.shape[:start], merged, *x.shape[end + 1 :])), 0


def unflatten(layer: Layer, x: Flow) -> tuple[Flow, int]:
    dim = normalize_dim(layer.integer("dim", None), x.rank)
    raw = layer.args["unflattened_size"]
    sizes = tuple(
        _positive(n, "unflattened_size") for n in (raw if isinstance(raw, tuple) else (raw,))
    )
    if math.prod(sizes) != x.shape[dim]:
        raise UserError(f"cannot unflatten {x.shape[dim]} into {list(sizes)}")
    return x.reshaped((*x.shape[:dim], *sizes, *x.shape[dim + 1 :])), 0


def upsample(layer: Layer, x: Flow) -> tuple[Flow, int]:
    spatial = x.shape[2:]
    if not spatial:
        raise UserError(f"needs spatial dimensions, but {shape_text(x.shape)} arrives")
    size, scale = layer.args["size"], layer.args["scale_factor"]
    if size is not None:
        sizes = size if isinstance(size, tuple) else (size,) * len(spatial)
        new = tuple(_positive(n, "size") for n in sizes)
        factors = tuple(n / o for n, o in zip(new, spatial, strict=True))
    elif scale is not None:  # positive and finite: checked when the layer was parsed
        scales = scale if isinstance(scale, tuple) else (scale,) * len(spatial)
        factors = tuple(float(s) for s in scales)  # type: ignore[arg-type]  # numbers, parsed
        new = tuple(math.floor(n * f) for n, f in zip(spatial, factors, strict=True))
        if any(n > MAX_ELEMENTS or n < 1 for n in new):
            raise UserError(f"scale_factor {scale!r} gives an output size of {list(new)}")
    else:
        raise UserError("Upsample needs size or scale_factor")
    if len(new) != len(spatial):
        raise UserError(f"size needs {len(spatial)} values, got {size!r}")
    jump = None if x.jump is None else tuple(j / f for j, f in zip(x.jump, factors, strict=True))
    return Flow((*x.shape[:2], *new), x.rf if jump else None, jump), 0


def pixel_shuffle(layer: Layer, x: Flow) -> tuple[Flow, int]:
    if x.rank != 4:
        raise UserError(f"expects (N, C, H, W), but {shape_text(x.shape)} arrives")
    n, c, h, w = x.shape
    if layer.kind == "PixelShuffle":
        r = layer.integer("upscale_factor")
        if c % (r * r):
            raise UserError(f"{c} channels are not divisible by upscale_factor^2 = {r * r}")
        return Flow((n, c // (r * r), h * r, w * r)), 0
    r = layer.integer("downscale_factor")
    if h % r or w % r:
        raise UserError(f"height {h} and width {w} must be divisible by downscale_factor {r}")
    return Flow((n, c * r * r, h // r, w // r)), 0


def pad(layer: Layer, x: Flow) -> tuple[Flow, int]:
    """F.pad's order: (left, right) of the last dimension, then (top, bottom), then
    (front, back); the amounts (integers, negative ones crop) were checked when parsed."""
    ndim = spatial_dims(layer.kind)
    padding = layer.args["padding"]
    count = len(padding) if isinstance(padding, tuple) else 2 * ndim
    amounts = layer.integers("padding", count, minimum=None)
    shape = list(x.shape)
    for i in range(count // 2):
        shape[-1 - i] += amounts[2 * i] + amounts[2 * i + 1]
        if shape[-1 - i] < 1:
            raise UserError(f"padding {padding!r} leaves no elements in {shape_text(x.shape)}")
    return Flow(tuple(shape), x.rf, x.jump), 0


def glu(layer: Layer, x: Flow) -> tuple[Flow, int]:
    dim = normalize_dim(layer.integer("dim", None), x.rank)
    if x.shape[dim] % 2:
        raise UserError(f"GLU halves dimension {dim}, which must be even: {shape_text(x.shape)}")
    shape = list(x.shape)
    shape[dim] //= 2
    return Flow(tuple(shape)), 0


def prelu(layer: Layer, x: Flow) -> tuple[Flow, int]:
    n = layer.integer("num_parameters")
    if n != 1 and (x.rank < 2 or x.shape[1] != n):
        raise UserError(f"has {n} parameters but {x.shape[1] if x.rank > 1 else 1} channels arrive")
    return x, 0


def embedding(layer: Layer, x: Flow) -> tuple[Flow, int]:
    return Flow((*x.shape, layer.integer("embedding_dim", 0))), 0


def same(layer: Layer, x: Flow) -> tuple[Flow, int]:
    return x, 0


def _by_prefix(kind: str) -> LeafForward | None:
    for prefix, function in _PREFIXES:
        if kind.startswith(prefix):
            return function
    return None


_PREFIXES: tuple[tuple[str, LeafForward], ...] = (
    ("ConvTranspose", conv_transpose),
    ("Conv", conv),
    ("MaxPool", pool),
    ("AvgPool", pool),
    ("LPPool", pool),
    ("AdaptiveAvgPool", adaptive_pool),
    ("AdaptiveMaxPool", adaptive_pool),
    ("BatchNorm", batch_norm),
    ("InstanceNorm", batch_norm),
    ("ZeroPad", pad),
    ("ConstantPad", pad),
    ("ReflectionPad", pad),
    ("ReplicationPad", pad),
)
_EXACT: dict[str, LeafForward] = {
    **{kind: same for kind in SAME_SHAPE},
    "PReLU": prelu,
    "GroupNorm": group_norm,
    "LayerNorm": layer_norm,
    "RMSNorm": layer_norm,
    "Linear": linear,
    "Flatten": flatten_layer,
    "Unflatten": unflatten,
    "Upsample": upsample,
    "UpsamplingNearest2d": upsample,
    "UpsamplingBilinear2d": upsample,
    "PixelShuffle": pixel_shuffle,
    "PixelUnshuffle": pixel_shuffle,
    "GLU": glu,
    "Embedding": embedding,
    "LSTM": recurrent,
    "GRU": recurrent,
    "RNN": recurrent,
}
# Printed subclasses whose shape rule differs from the layer they bind like.
_SUBCLASSES: dict[str, LeafForward] = {
    "Conv2dSame": lambda layer, x: conv(layer, x, same_padding=True),
    "StdConv2dSame": lambda layer, x: conv(layer, x, same_padding=True),
    "ScaledStdConv2dSame": lambda layer, x: conv(layer, x, same_padding=True),
    "LayerNorm2d": channel_layer_norm,
}
LEAVES = MappingProxyType(_EXACT)


def leaf_rule(printed_kind: str, layer: Layer) -> LeafForward | None:
    """The shape function for a printed leaf class bound as ``layer``, or None if unknown."""
    return _SUBCLASSES.get(printed_kind) or _EXACT.get(layer.kind) or _by_prefix(layer.kind)
