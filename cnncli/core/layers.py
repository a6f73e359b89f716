"""PyTorch layer text -> :class:`Layer`: the one parser shared by ``params`` and ``summary``.

Accepts what people have: a printed repr (``Conv2d(3, 64, kernel_size=(11, 11),
stride=(4, 4), padding=(2, 2))``, even with its ``(0): `` name) or a constructor call
(``nn.Conv2d(in_channels=3, out_channels=5, kernel_size=3)``). The text is parsed
with :mod:`ast` and only literals are accepted: nothing is ever evaluated. Arguments
are bound the way the PyTorch constructor binds them, with its defaults filled in.
Standard library only: the calculators must start fast.
"""

from __future__ import annotations

import ast
import difflib
import functools
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType

from cnncli.core.errors import UserError

REQUIRED = object()

_CONV = (
    ("in_channels", REQUIRED),
    ("out_channels", REQUIRED),
    ("kernel_size", REQUIRED),
    ("stride", 1),
    ("padding", 0),
    ("dilation", 1),
    ("groups", 1),
    ("bias", True),
    ("padding_mode", "zeros"),
)
_CONV_T = (
    ("in_channels", REQUIRED),
    ("out_channels", REQUIRED),
    ("kernel_size", REQUIRED),
    ("stride", 1),
    ("padding", 0),
    ("output_padding", 0),
    ("groups", 1),
    ("bias", True),
    ("dilation", 1),
    ("padding_mode", "zeros"),
)
_BATCHNORM = (
    ("num_features", REQUIRED),
    ("eps", 1e-05),
    ("momentum", 0.1),
    ("affine", True),
    ("track_running_stats", True),
    ("bias", True),
)
_INSTANCENORM = (
    ("num_features", REQUIRED),
    ("eps", 1e-05),
    ("momentum", 0.1),
    ("affine", False),
    ("track_running_stats", False),
    ("bias", True),
)
_MAXPOOL = (
    ("kernel_size", REQUIRED),
    ("stride", None),
    ("padding", 0),
    ("dilation", 1),
    ("return_indices", False),
    ("ceil_mode", False),
)
_AVGPOOL1 = (
    ("kernel_size", REQUIRED),
    ("stride", None),
    ("padding", 0),
    ("ceil_mode", False),
    ("count_include_pad", True),
)
_AVGPOOL = (*_AVGPOOL1, ("divisor_override", None))
_RNN_TAIL = (
    ("bias", True),
    ("batch_first", False),
    ("dropout", 0.0),
    ("bidirectional", False),
)
_INPLACE = (("inplace", False),)
_DROPOUT = (("p", 0.5), ("inplace", False))
# The constructor takes size and scale_factor; the repr (Upsample's) also prints mode/align_corners.
_UPSAMPLING = (("size", None), ("scale_factor", None), ("mode", None), ("align_corners", None))
_PAD = (("padding", REQUIRED),)
_CONSTANT_PAD = (("padding", REQUIRED), ("value", REQUIRED))
_SOFTMAX = (("dim", None),)

# Constructor signatures of torch.nn 2.13 (parameter name, default), in positional order.
SIGNATURES: Mapping[str, tuple[tuple[str, object], ...]] = MappingProxyType(
    {
        "Conv1d": _CONV,
        "Conv2d": _CONV,
        "Conv3d": _CONV,
        "ConvTranspose1d": _CONV_T,
        "ConvTranspose2d": _CONV_T,
        "ConvTranspose3d": _CONV_T,
        "Linear": (("in_features", REQUIRED), ("out_features", REQUIRED), ("bias", True)),
        "Bilinear": (
            ("in1_features", REQUIRED),
            ("in2_features", REQUIRED),
            ("out_features", REQUIRED),
            ("bias", True),
        ),
        "BatchNorm1d": _BATCHNORM,
        "BatchNorm2d": _BATCHNORM,
        "BatchNorm3d": _BATCHNORM,
        "InstanceNorm1d": _INSTANCENORM,
        "InstanceNorm2d": _INSTANCENORM,
        "InstanceNorm3d": _INSTANCENORM,
        "LayerNorm": (
            ("normalized_shape", REQUIRED),
            ("eps", 1e-05),
            ("elementwise_affine", True),
            ("bias", True),
        ),
        "GroupNorm": (
            ("num_groups", REQUIRED),
            ("num_channels", REQUIRED),
            ("eps", 1e-05),
            ("affine", True),
            ("bias", True),
        ),
        "RMSNorm": (("normalized_shape", REQUIRED), ("eps", None), ("elementwise_affine", True)),
        "LocalResponseNorm": (("size", REQUIRED), ("alpha", 0.0001), ("beta", 0.75), ("k", 1.0)),
        "Embedding": (
            ("num_embeddings", REQUIRED),
            ("embedding_dim", REQUIRED),
            ("padding_idx", None),
            ("max_norm", None),
            ("norm_type", 2.0),
            ("scale_grad_by_freq", False),
            ("sparse", False),
        ),
        "EmbeddingBag": (
            ("num_embeddings", REQUIRED),
            ("embedding_dim", REQUIRED),
            ("max_norm", None),
            ("norm_type", 2.0),
            ("scale_grad_by_freq", False),
            ("mode", "mean"),
            ("sparse", False),
            ("_weight", None),
            ("include_last_offset", False),
            ("padding_idx", None),
        ),
        "RNN": (
            ("input_size", REQUIRED),
            ("hidden_size", REQUIRED),
            ("num_layers", 1),
            ("nonlinearity", "tanh"),
            *_RNN_TAIL,
        ),
        "LSTM": (
            ("input_size", REQUIRED),
            ("hidden_size", REQUIRED),
            ("num_layers", 1),
            *_RNN_TAIL,
            ("proj_size", 0),
        ),
        "GRU": (("input_size", REQUIRED), ("hidden_size", REQUIRED), ("num_layers", 1), *_RNN_TAIL),
        "MultiheadAttention": (
            ("embed_dim", REQUIRED),
            ("num_heads", REQUIRED),
            ("dropout", 0.0),
            ("bias", True),
            ("add_bias_kv", False),
            ("add_zero_attn", False),
            ("kdim", None),
            ("vdim", None),
            ("batch_first", False),
        ),
        "PReLU": (("num_parameters", 1), ("init", 0.25)),
        "ReLU": _INPLACE,
        "ReLU6": _INPLACE,
        "LeakyReLU": (("negative_slope", 0.01), ("inplace", False)),
        "ELU": (("alpha", 1.0), ("inplace", False)),
        "SELU": _INPLACE,
        "CELU": (("alpha", 1.0), ("inplace", False)),
        "GELU": (("approximate", "none"),),
        "SiLU": _INPLACE,
        "Mish": _INPLACE,
        "Sigmoid": (),
        "Tanh": (),
        "Hardtanh": (
            ("min_val", -1.0),
            ("max_val", 1.0),
            ("inplace", False),
            ("min_value", None),
            ("max_value", None),
        ),
        "Hardsigmoid": _INPLACE,
        "Hardswish": _INPLACE,
        "Hardshrink": (("lambd", 0.5),),
        "Softshrink": (("lambd", 0.5),),
        "Tanhshrink": (),
        "Softplus": (("beta", 1.0), ("threshold", 20.0)),
        "Softsign": (),
        "LogSigmoid": (),
        "Softmax": _SOFTMAX,
        "LogSoftmax": _SOFTMAX,
        "Softmin": _SOFTMAX,
        "Softmax2d": (),
        "Threshold": (("threshold", REQUIRED), ("value", REQUIRED), ("inplace", False)),
        "GLU": (("dim", -1),),
        "MaxPool1d": _MAXPOOL,
        "MaxPool2d": _MAXPOOL,
        "MaxPool3d": _MAXPOOL,
        "AvgPool1d": _AVGPOOL1,
        "AvgPool2d": _AVGPOOL,
        "AvgPool3d": _AVGPOOL,
        "AdaptiveAvgPool1d": (("output_size", REQUIRED),),
        "AdaptiveAvgPool2d": (("output_size", REQUIRED),),
        "AdaptiveAvgPool3d": (("output_size", REQUIRED),),
        "AdaptiveMaxPool1d": (("output_size", REQUIRED), ("return_indices", False)),
        "AdaptiveMaxPool2d": (("output_size", REQUIRED), ("return_indices", False)),
        "AdaptiveMaxPool3d": (("output_size", REQUIRED), ("return_indices", False)),
        "LPPool1d": (
            ("norm_type", REQUIRED),
            ("kernel_size", REQUIRED),
            ("stride", None),
            ("ceil_mode", False),
        ),
        "LPPool2d": (
            ("norm_type", REQUIRED),
            ("kernel_size", REQUIRED),
            ("stride", None),
            ("ceil_mode", False),
        ),
        "Dropout": _DROPOUT,
        "Dropout1d": _DROPOUT,
        "Dropout2d": _DROPOUT,
        "Dropout3d": _DROPOUT,
        "AlphaDropout": _DROPOUT,
        "FeatureAlphaDropout": _DROPOUT,
        "Flatten": (("start_dim", 1), ("end_dim", -1)),
        "Unflatten": (("dim", REQUIRED), ("unflattened_size", REQUIRED)),
        "Identity": (),
        "Upsample": (
            ("size", None),
            ("scale_factor", None),
            ("mode", "nearest"),
            ("align_corners", None),
            ("recompute_scale_factor", None),
        ),
        "UpsamplingNearest2d": _UPSAMPLING,
        "UpsamplingBilinear2d": _UPSAMPLING,
        "PixelShuffle": (("upscale_factor", REQUIRED),),
        "PixelUnshuffle": (("downscale_factor", REQUIRED),),
        "ChannelShuffle": (("groups", REQUIRED),),
        "ZeroPad1d": _PAD,
        "ZeroPad2d": _PAD,
        "ZeroPad3d": _PAD,
        "ConstantPad1d": _CONSTANT_PAD,
        "ConstantPad2d": _CONSTANT_PAD,
        "ConstantPad3d": _CONSTANT_PAD,
        "ReflectionPad1d": _PAD,
        "ReflectionPad2d": _PAD,
        "ReflectionPad3d": _PAD,
        "ReplicationPad1d": _PAD,
        "ReplicationPad2d": _PAD,
        "ReplicationPad3d": _PAD,
    }
)

# Printed names that are another layer in disguise: MultiheadAttention's out_proj prints so.
ALIASES: Mapping[str, str] = MappingProxyType({"NonDynamicallyQuantizableLinear": "Linear"})

# Bare words that reprs print unquoted (``padding=same``) or that mean numbers.
_BARE_WORDS: Mapping[str, object] = MappingProxyType({"inf": math.inf, "nan": math.nan})
_MODULE_NAME = re.compile(r"^\s*\(([\w.\-]+)\):\s*")


# PyTorch sizes and indices are 64-bit: a larger integer can never be a tensor dimension.
INT64_MAX = 2**63 - 1


@dataclass(frozen=True)
class Layer:
    """A parsed layer: its PyTorch class name and every constructor argument, by name."""

    kind: str
    args: Mapping[str, object]
    text: str
    given: frozenset[str] = frozenset()  # the arguments the text gives (the rest: defaults)

    def integer(self, name: str, minimum: int | None = 1) -> int:
        """An integer argument as PyTorch accepts it (no bool, no float), at least ``minimum``."""
        return _checked_int(self.kind, name, self.args[name], minimum)

    def optional_integer(self, name: str, minimum: int | None = 1) -> int | None:
        value = self.args[name]
        return None if value is None else _checked_int(self.kind, name, value, minimum)

    def integers(self, name: str, ndim: int, minimum: int | None = 1) -> tuple[int, ...]:
        """``_ntuple``: ``3 -> (3, 3)``; a tuple must have one or ``ndim`` integers."""
        value = self.args[name]
        items = value if isinstance(value, tuple) else (value,)
        if len(items) == 1:
            items = items * ndim
        if len(items) != ndim:
            raise UserError(
                f"{self.kind}: {name} needs {ndim} values, got {len(items)}: {_show(value)}"
            )
        return tuple(_checked_int(self.kind, name, v, minimum) for v in items)

    def flag(self, name: str) -> bool:
        """True or False; 0 and 1 too, which PyTorch's ``if bias:`` reads the same way."""
        value = self.args[name]
        if isinstance(value, bool):
            return value
        if isinstance(value, int) and value in (0, 1):
            return bool(value)
        if isinstance(value, str) and value.lower() in ("true", "false"):
            raise UserError(
                f"{self.kind}: {name} must be True or False, got {_show(value)}",
                hint=f"did you mean {value.capitalize()}?",
            )
        raise UserError(f"{self.kind}: {name} must be True or False, got {_show(value)}")

    def number(self, name: str, *, positive: bool = False) -> float:
        """A finite real number (ints are accepted, as Python's float() does)."""
        value = self.args[name]
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise UserError(
                f"{self.kind}: {name} must be a number, got {_show(value)}", hint=_word_hint(value)
            )
        number = float(value) if abs(value) < 1e308 else math.inf
        if not math.isfinite(number) or (positive and number <= 0):
            need = "a positive finite number" if positive else "a finite number"
            raise UserError(f"{self.kind}: {name} must be {need}, got {_show(value)}")
        return number


def _show(value: object, limit: int = 60) -> str:
    """``repr`` cut to ``limit`` characters: a 5,000-digit number stays one readable line."""
    text = repr(value) if not isinstance(value, int) or abs(value) < 10**30 else "a huge integer"
    return text if len(text) <= limit else f"{text[: limit - 3]}..."


def _word_hint(value: object) -> str | None:
    """``false`` / ``none`` typed in lower case: Python's spelling is capitalised."""
    if isinstance(value, str) and value.lower() in ("true", "false", "none"):
        return f"did you mean {value.capitalize()}?"
    return None


def _checked_int(kind: str, name: str, value: object, minimum: int | None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float) and value.is_integer():
            hint: str | None = f"did you mean {int(value)}?"
        else:
            hint = _word_hint(value)
        raise UserError(f"{kind}: {name} must be an integer, got {_show(value)}", hint=hint)
    if minimum is not None and value < minimum:
        raise UserError(f"{kind}: {name} must be at least {minimum}, got {_show(value)}")
    if abs(value) > INT64_MAX:
        raise UserError(
            f"{kind}: {name} must be at most 2**63 - 1 (PyTorch sizes are 64-bit), "
            f"got {_show(value)}"
        )
    return value


# ----------------------------------------------------------- argument types ---
# Every argument of every known layer is checked once, when the layer is parsed, with the
# rules of its PyTorch constructor (and of its forward, where every call would fail: a
# kernel of 0, an upscale factor of 0): a typo never becomes a silently different layer.

Check = Callable[[Layer, str], None]


def _ndim(layer: Layer) -> int:
    return spatial_dims(layer.kind) or 1


def _positive(layer: Layer, name: str) -> None:
    layer.integer(name, 1)


def _non_negative(layer: Layer, name: str) -> None:
    layer.integer(name, 0)


def _any_integer(layer: Layer, name: str) -> None:
    layer.integer(name, None)


def _optional(check: Check) -> Check:
    def optional(layer: Layer, name: str) -> None:
        if layer.args[name] is not None:
            check(layer, name)

    return optional


def _flag(layer: Layer, name: str) -> None:
    layer.flag(name)


def _real(layer: Layer, name: str) -> None:
    """A real number; infinities pass (a threshold may be one), NaN never does."""
    value = layer.args[name]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise UserError(
            f"{layer.kind}: {name} must be a number, got {_show(value)}", hint=_word_hint(value)
        )
    if isinstance(value, float) and math.isnan(value):
        raise UserError(f"{layer.kind}: {name} must be a number, got nan")


def _probability(layer: Layer, name: str) -> None:
    _real(layer, name)
    value = layer.args[name]
    assert isinstance(value, (int, float))
    if not 0 <= value <= 1:
        raise UserError(
            f"{layer.kind}: {name} is a probability and must be between 0 and 1, got {value!r}"
        )


def _choice(*options: str) -> Check:
    def choice(layer: Layer, name: str) -> None:
        value = layer.args[name]
        if value not in options:
            close = (
                difflib.get_close_matches(value.lower(), options, n=1)
                if isinstance(value, str)
                else []
            )
            raise UserError(
                f"{layer.kind}: {name} must be one of {', '.join(map(repr, options))}, "
                f"got {_show(value)}",
                hint=f"did you mean {close[0]!r}?" if close else None,
            )

    return choice


def _must_be_none(layer: Layer, name: str) -> None:
    if layer.args[name] is not None:
        raise UserError(f"{layer.kind}: {name} must be None in a layer text (it is a tensor)")


def _spatial(minimum: int | None) -> Check:
    """One integer for every dimension, or a tuple of one per dimension (``_ntuple``)."""

    def spatial(layer: Layer, name: str) -> None:
        layer.integers(name, _ndim(layer), minimum)

    return spatial


def _pad_padding(layer: Layer, name: str) -> None:
    """``ZeroPad2d(1)`` pads every side; a tuple gives (left, right, top, bottom, ...) for the
    last dimensions, an even number of them up to two per dimension (F.pad's rule).
    Negative values crop, as in PyTorch."""
    value = layer.args[name]
    count = len(value) if isinstance(value, tuple) else 1
    if isinstance(value, tuple) and (count % 2 or not 2 <= count <= 2 * _ndim(layer)):
        raise UserError(
            f"{layer.kind}: {name} needs an even number of values, at most {2 * _ndim(layer)}, "
            f"got {count}: {_show(value)}"
        )
    layer.integers(name, count, None)


def _conv_padding(layer: Layer, name: str) -> None:
    value = layer.args[name]
    if isinstance(value, str) and not layer.kind.startswith("ConvTranspose"):
        _choice("same", "valid")(layer, name)
    else:
        layer.integers(name, _ndim(layer), 0)


def _shape(layer: Layer, name: str) -> None:
    value = layer.args[name]
    if isinstance(value, tuple) and not value:
        raise UserError(f"{layer.kind}: {name} must not be empty")
    layer.integers(name, len(value) if isinstance(value, tuple) else 1, 1)


def _output_size(layer: Layer, name: str) -> None:
    """Adaptive pooling: integers (0 gives an empty tensor) or None (keep that size)."""
    value = layer.args[name]
    items = value if isinstance(value, tuple) else (value,)
    if len(items) not in (1, _ndim(layer)):
        raise UserError(
            f"{layer.kind}: {name} needs {_ndim(layer)} values, got {len(items)}: {_show(value)}"
        )
    for item in items:
        if item is not None:
            _checked_int(layer.kind, name, item, 0)


def _scale_factor(layer: Layer, name: str) -> None:
    value = layer.args[name]
    for item in value if isinstance(value, tuple) and value else (value,):
        if isinstance(item, bool) or not isinstance(item, (int, float)):
            raise UserError(
                f"{layer.kind}: {name} must be a positive number, got {_show(value)}",
                hint=_word_hint(item),
            )
        if not (math.isfinite(item) and item > 0):
            raise UserError(
                f"{layer.kind}: {name} must be a positive finite number, got {_show(value)}"
            )


def _upsample_size(layer: Layer, name: str) -> None:
    value = layer.args[name]
    layer.integers(name, len(value) if isinstance(value, tuple) and value else 1, 1)


def _divisor_override(layer: Layer, name: str) -> None:
    if layer.integer(name, None) == 0:
        raise UserError(f"{layer.kind}: {name} must not be 0")


def _unflattened_size(layer: Layer, name: str) -> None:
    value = layer.args[name]
    if not isinstance(value, tuple) or not value:
        raise UserError(
            f"{layer.kind}: {name} must be a non-empty tuple of integers, got {_show(value)}"
        )
    for item in value:
        if _checked_int(layer.kind, name, item, -1) == 0:
            raise UserError(f"{layer.kind}: {name} must not hold 0, got {_show(value)}")


_UPSAMPLE_MODES = ("nearest", "linear", "bilinear", "bicubic", "trilinear", "area", "nearest-exact")

_FLAGS = (
    "bias", "affine", "track_running_stats", "elementwise_affine", "scale_grad_by_freq", "sparse",
    "include_last_offset", "batch_first", "bidirectional", "add_bias_kv", "add_zero_attn",
    "inplace", "return_indices", "ceil_mode", "count_include_pad",
)  # fmt: skip
_REALS = (
    "eps", "alpha", "beta", "k", "norm_type", "init", "negative_slope", "min_val", "max_val",
    "lambd", "threshold", "value",
)  # fmt: skip
# What each argument name means in most layers; _FAMILY_TYPES overrides a few per family.
_ARGUMENT_TYPES: Mapping[str, Check] = MappingProxyType(
    {
        **dict.fromkeys(
            ("in_channels", "out_channels", "in_features", "out_features", "in1_features"),
            _non_negative,
        ),
        **dict.fromkeys(
            ("in2_features", "num_embeddings", "embedding_dim", "proj_size"), _non_negative
        ),
        **dict.fromkeys(
            ("groups", "num_features", "num_groups", "num_channels", "size", "hidden_size"),
            _positive,
        ),
        "input_size": _positive,  # RNN, LSTM, GRU refuse 0 (Linear's in_features may be 0)
        **dict.fromkeys(
            ("num_layers", "embed_dim", "num_heads", "num_parameters", "upscale_factor"),
            _positive,
        ),
        "downscale_factor": _positive,
        **dict.fromkeys(("kdim", "vdim"), _optional(_positive)),
        "kernel_size": _spatial(1),
        "stride": _spatial(1),
        "padding": _conv_padding,
        "dilation": _spatial(1),
        "output_padding": _spatial(0),
        "padding_mode": _choice("zeros", "reflect", "replicate", "circular"),
        **dict.fromkeys(_FLAGS, _flag),
        **dict.fromkeys(("align_corners", "recompute_scale_factor"), _optional(_flag)),
        **dict.fromkeys(_REALS, _real),
        **dict.fromkeys(("momentum", "max_norm", "min_value", "max_value"), _optional(_real)),
        **dict.fromkeys(("p", "dropout"), _probability),
        "normalized_shape": _shape,
        "padding_idx": _optional(_any_integer),
        "mode": _choice("sum", "mean", "max"),
        "_weight": _must_be_none,
        "nonlinearity": _choice("tanh", "relu"),
        "approximate": _choice("none", "tanh"),
        "dim": _optional(_any_integer),
        **dict.fromkeys(("start_dim", "end_dim"), _any_integer),
        "unflattened_size": _unflattened_size,
        "divisor_override": _optional(_divisor_override),
        "output_size": _output_size,
        "scale_factor": _optional(_scale_factor),
    }
)
_FAMILY_TYPES: Mapping[str, Mapping[str, Check]] = MappingProxyType(
    {
        "pool": {"stride": _optional(_spatial(1)), "padding": _spatial(0)},
        "pad": {"padding": _pad_padding},
        "upsample": {
            "size": _optional(_upsample_size),
            "mode": _optional(_choice(*_UPSAMPLE_MODES)),
        },
        "transposed": {"padding_mode": _choice("zeros")},
        "GLU": {"dim": _any_integer},
        "Unflatten": {"dim": _any_integer},
        "RMSNorm": {"eps": _optional(_real)},
    }
)


@functools.lru_cache(maxsize=256)
def _family(kind: str) -> str:
    if kind.startswith("ConvTranspose"):
        return "transposed"
    if re.match(r"(Max|Avg|LP)Pool", kind):
        return "pool"
    if re.search(r"Pad[123]d$", kind):
        return "pad"
    if kind.startswith(("Upsample", "Upsampling")):
        return "upsample"
    return kind


def _cross_checks(layer: Layer) -> None:
    """Constructor checks that involve two arguments (ValueError / assert in PyTorch)."""
    kind, args = layer.kind, layer.args
    if kind.startswith("Conv"):
        groups = layer.integer("groups")
        for name in ("in_channels", "out_channels"):
            if layer.integer(name, 0) % groups:
                raise UserError(f"{kind}: {name}={args[name]} is not divisible by groups={groups}")
        if args["padding"] == "same" and any(
            s != 1 for s in layer.integers("stride", _ndim(layer))
        ):
            raise UserError(f"{kind}: padding='same' is not supported for strided convolutions")
    elif kind == "GroupNorm" and layer.integer("num_channels") % layer.integer("num_groups"):
        raise UserError(
            f"GroupNorm: num_channels={args['num_channels']} is not divisible by "
            f"num_groups={args['num_groups']}"
        )
    elif kind == "MultiheadAttention" and layer.integer("embed_dim") % layer.integer("num_heads"):
        raise UserError(
            f"MultiheadAttention: embed_dim={args['embed_dim']} is not divisible by "
            f"num_heads={args['num_heads']}"
        )
    elif kind == "LSTM" and layer.integer("proj_size", 0) >= layer.integer("hidden_size"):
        raise UserError(
            f"LSTM: proj_size={args['proj_size']} must be smaller than "
            f"hidden_size={args['hidden_size']}"
        )
    elif kind in ("Embedding", "EmbeddingBag") and args["padding_idx"] is not None:
        count, index = layer.integer("num_embeddings", 0), layer.integer("padding_idx", None)
        if not -count <= index < count:
            raise UserError(f"{kind}: padding_idx={index} must be within num_embeddings={count}")
    elif kind == "Hardtanh" and layer.number("max_val") <= layer.number("min_val"):
        raise UserError(
            f"Hardtanh: max_val={args['max_val']} must be greater than min_val={args['min_val']}"
        )
    elif _family(kind) == "pool" and not kind.startswith("LP"):
        ndim = _ndim(layer)
        kernel, padding = layer.integers("kernel_size", ndim), layer.integers("padding", ndim, 0)
        if any(p > k // 2 for k, p in zip(kernel, padding, strict=True)):
            raise UserError(
                f"{kind}: padding={args['padding']!r} must be at most half of "
                f"kernel_size={args['kernel_size']!r}"
            )
    elif _family(kind) == "upsample" and (args["size"] is None) == (args["scale_factor"] is None):
        raise UserError(f"{kind}: give exactly one of size and scale_factor")


def check_arguments(layer: Layer) -> None:
    """Refuse any argument PyTorch would refuse (or could never run with), naming it."""
    overrides = _FAMILY_TYPES.get(_family(layer.kind), {})
    defaults = SIGNATURES.get(layer.kind, ())
    for name, default in defaults:
        value = layer.args[name]
        if type(value) is type(default) and value == default:
            continue  # PyTorch's own default (a printed repr repeats most of them)
        check = overrides.get(name) or _ARGUMENT_TYPES.get(name)
        if check is not None:
            check(layer, name)
    _cross_checks(layer)


def known_layers() -> list[str]:
    return sorted(SIGNATURES)


def parse_layer(text: str) -> Layer:
    """Parse one layer's repr or constructor call, binding arguments as PyTorch does."""
    return _parse_layer(text)


@functools.lru_cache(maxsize=1024)
def _parse_layer(text: str) -> Layer:
    """Cached: a printed model repeats its lines (``ReLU(inplace=True)``); a Layer is frozen."""
    source = _MODULE_NAME.sub("", text.strip(), count=1).rstrip(",").strip()
    if not source:
        raise UserError("empty layer text", hint="e.g. 'Conv2d(3, 5, 3)'")
    try:
        tree = ast.parse(source, mode="eval")
    except SyntaxError as exc:
        if "integer string conversion" in exc.msg:  # Python's 4,300-digit limit
            raise UserError(
                f"cannot parse {_show(source)}: an integer has more than 4,300 digits "
                "(PyTorch sizes are 64-bit)"
            ) from None
        lines_before = source.split("\n")[: (exc.lineno or 1) - 1]
        column = sum(len(line) + 1 for line in lines_before) + (exc.offset or 1) - 1
        raise UserError(
            f"cannot parse {_show(source)}: {exc.msg} at column {column + 1}: "
            f"{_pointer(source, column)}"
        ) from None
    except (ValueError, RecursionError, MemoryError) as exc:  # NUL bytes; absurd nesting
        raise UserError(f"cannot parse {_show(source)}: {exc}") from None
    try:
        return _layer_from_tree(tree, source)
    except RecursionError:
        raise UserError(f"cannot parse {_show(source)}: nested too deeply") from None


# The layers whose constructor also takes ``device=`` and ``dtype=`` (PyTorch's factory
# arguments): they change no shape or count, so their values are not even read (code often
# passes a variable: ``device=device``). Checked against torch in tests/golden.
FACTORY_LAYERS = frozenset(
    {"BatchNorm1d", "BatchNorm2d", "BatchNorm3d", "Bilinear", "Conv1d", "Conv2d", "Conv3d"}
    | {"ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d", "Embedding", "EmbeddingBag"}
    | {"GRU", "GroupNorm", "InstanceNorm1d", "InstanceNorm2d", "InstanceNorm3d", "LSTM"}
    | {"LayerNorm", "Linear", "MultiheadAttention", "PReLU", "RMSNorm", "RNN"}
)
_FACTORY_ARGUMENTS = ("device", "dtype")


def _layer_from_tree(tree: ast.Expression, source: str) -> Layer:
    call = tree.body
    if isinstance(call, (ast.Name, ast.Attribute)):  # "nn.ReLU" without parentheses
        call = ast.Call(func=call, args=[], keywords=[])
    if not isinstance(call, ast.Call):
        raise UserError(f"expected a layer like 'Conv2d(3, 5, 3)', got {_show(source)}")
    name = _dotted_name(call.func, source)
    kind = ALIASES.get(name, name)
    signature = SIGNATURES.get(kind)
    if signature is None:
        raise UserError(_unknown_layer_message(name))
    positional = [_literal(arg, source) for arg in call.args]
    keywords: dict[str, object] = {}
    seen: set[str] = set()
    for keyword in call.keywords:
        if keyword.arg is None:
            raise UserError(f"{kind}: '**' arguments are not literals: {_show(source)}")
        if keyword.arg in seen:  # Python refuses it when compiling, not when parsing
            raise UserError(f"{kind}() got {keyword.arg!r} twice (a keyword argument repeated)")
        seen.add(keyword.arg)
        if keyword.arg in _FACTORY_ARGUMENTS and kind in FACTORY_LAYERS:
            continue  # no shape or count depends on it: its value (often a variable) unread
        keywords[keyword.arg] = _literal(keyword.value, source)
    given = frozenset([name for name, _ in signature][: len(positional)]) | frozenset(keywords)
    args = _bind(kind, signature, positional, keywords)
    layer = Layer(kind=kind, args=args, text=source, given=given)
    check_arguments(layer)
    return layer


def _dotted_name(node: ast.expr, source: str) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr  # torch.nn.Conv2d, nn.Conv2d, torch.nn.modules.conv.Conv2d
    raise UserError(
        f"expected a layer name before '(', got {_show(ast.get_source_segment(source, node))}"
    )


def _literal(node: ast.expr, source: str) -> object:
    """A literal value; bare words (``same``) become strings. Nothing is evaluated."""
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, (ast.Tuple, ast.List)):
        return tuple(_literal(item, source) for item in node.elts)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        value = _literal(node.operand, source)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, ast.Name):
        return _BARE_WORDS.get(node.id, node.id)
    segment = ast.get_source_segment(source, node) or "?"
    column = getattr(node, "col_offset", 0)
    raise UserError(
        f"only literal values are accepted, not {_show(segment)} at column {column + 1}: "
        f"{_pointer(source, column)}"
    )


def _pointer(source: str, column: int) -> str:
    """The source with a marker at ``column``: one line, so it survives the one-line error."""
    column = max(0, min(column, len(source)))
    before, after = source[max(0, column - 30) : column], source[column : column + 30]
    head = "..." if column > 30 else ""
    tail = "..." if column + 30 < len(source) else ""
    return f"{head}{before}>>>{after}{tail}"


def _bind(
    kind: str,
    signature: tuple[tuple[str, object], ...],
    positional: list[object],
    keywords: dict[str, object],
) -> Mapping[str, object]:
    names = [name for name, _ in signature]
    if len(positional) > len(names):
        raise UserError(
            f"{kind}() takes at most {len(names)} positional arguments, got {len(positional)}"
        )
    bound: dict[str, object] = dict(zip(names, positional, strict=False))
    for name, value in keywords.items():
        if name not in names:
            close = difflib.get_close_matches(name[:100], names, n=1)
            raise UserError(
                f"{kind}() got an unexpected argument {_show(name)}",
                hint=f"did you mean {close[0]!r}?" if close else f"it takes {', '.join(names)}",
            )
        if name in bound:
            raise UserError(f"{kind}() got {name!r} twice (positionally and by name)")
        bound[name] = value
    resolved: dict[str, object] = {}
    for name, default in signature:
        if name in bound:
            resolved[name] = bound[name]
        elif default is REQUIRED:
            raise UserError(f"{kind}() is missing the required argument {name!r}")
        else:
            resolved[name] = default
    return MappingProxyType(resolved)


def _unknown_layer_message(name: str) -> str:
    """The nearest names (only the one that differs in case, if any), not the whole list."""
    same = [known for known in SIGNATURES if known.lower() == name.lower()]
    close = same or difflib.get_close_matches(name[:100], list(SIGNATURES), n=3)
    suggestion = f". Did you mean {', '.join(close)}?" if close else ""
    listing = f"cnncli params --list shows the {len(SIGNATURES)} known layers"
    return f"unknown layer {_show(name)}{suggestion} ({listing})"


def spatial_dims(kind: str) -> int:
    """1, 2 or 3 for ``Conv2d``-style names ending in ``Nd``; 0 otherwise."""
    match = re.search(r"([123])d$", kind)
    return int(match.group(1)) if match else 0
