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
import math
import re
from collections.abc import Mapping
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


@dataclass(frozen=True)
class Layer:
    """A parsed layer: its PyTorch class name and every constructor argument, by name."""

    kind: str
    args: Mapping[str, object]
    text: str

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
            raise UserError(f"{self.kind}: {name} needs {ndim} values, got {len(items)}: {value!r}")
        return tuple(_checked_int(self.kind, name, v, minimum) for v in items)

    def flag(self, name: str) -> bool:
        value = self.args[name]
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            raise UserError(
                f"{self.kind}: {name} must be True or False, got {value!r}",
                hint=f"did you mean {value.capitalize()}?",
            )
        raise UserError(f"{self.kind}: {name} must be True or False, got {value!r}")

    def number(self, name: str, *, positive: bool = False) -> float:
        """A finite real number (ints are accepted, as Python's float() does)."""
        value = self.args[name]
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise UserError(f"{self.kind}: {name} must be a number, got {value!r}")
        number = float(value) if abs(value) < 1e308 else math.inf
        if not math.isfinite(number) or (positive and number <= 0):
            need = "a positive finite number" if positive else "a finite number"
            raise UserError(f"{self.kind}: {name} must be {need}, got {value!r}")
        return number


def _checked_int(kind: str, name: str, value: object, minimum: int | None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float) and value.is_integer():
            hint: str | None = f"did you mean {int(value)}?"
        else:
            hint = None
        raise UserError(f"{kind}: {name} must be an integer, got {value!r}", hint=hint)
    if minimum is not None and value < minimum:
        raise UserError(f"{kind}: {name} must be at least {minimum}, got {value}")
    return value


def known_layers() -> list[str]:
    return sorted(SIGNATURES)


def parse_layer(text: str) -> Layer:
    """Parse one layer's repr or constructor call, binding arguments as PyTorch does."""
    source = _MODULE_NAME.sub("", text.strip(), count=1).rstrip(",").strip()
    if not source:
        raise UserError("empty layer text", hint="e.g. 'Conv2d(3, 5, 3)'")
    try:
        tree = ast.parse(source, mode="eval")
    except SyntaxError as exc:
        column = (exc.offset or 1) - 1
        raise UserError(
            f"cannot parse {source!r}: {exc.msg} at column {column + 1}: {_pointer(source, column)}"
        ) from None
    call = tree.body
    if isinstance(call, (ast.Name, ast.Attribute)):  # "nn.ReLU" without parentheses
        call = ast.Call(func=call, args=[], keywords=[])
    if not isinstance(call, ast.Call):
        raise UserError(f"expected a layer like 'Conv2d(3, 5, 3)', got {source!r}")
    name = _dotted_name(call.func, source)
    kind = ALIASES.get(name, name)
    signature = SIGNATURES.get(kind)
    if signature is None:
        raise UserError(_unknown_layer_message(name))
    positional = [_literal(arg, source) for arg in call.args]
    keywords: dict[str, object] = {}
    for keyword in call.keywords:
        if keyword.arg is None:
            raise UserError(f"{kind}: '**' arguments are not literals: {source!r}")
        keywords[keyword.arg] = _literal(keyword.value, source)
    return Layer(kind=kind, args=_bind(kind, signature, positional, keywords), text=source)


def _dotted_name(node: ast.expr, source: str) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr  # torch.nn.Conv2d, nn.Conv2d, torch.nn.modules.conv.Conv2d
    raise UserError(
        f"expected a layer name before '(', got {ast.get_source_segment(source, node)!r}"
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
        f"only literal values are accepted, not {segment!r} at column {column + 1}: "
        f"{_pointer(source, column)}"
    )


def _pointer(source: str, column: int) -> str:
    """The source with a marker at ``column``: one line, so it survives the one-line error."""
    column = max(0, min(column, len(source)))
    return f"{source[:column]}>>>{source[column:]}"


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
            close = difflib.get_close_matches(name, names, n=1)
            raise UserError(
                f"{kind}() got an unexpected argument {name!r}",
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
    close = difflib.get_close_matches(name, list(SIGNATURES), n=3)
    suggestion = f" Did you mean {', '.join(close)}?" if close else ""
    return f"unknown layer {name!r}.{suggestion} Known layers: {', '.join(known_layers())}"


def expand(value: object, ndim: int, name: str = "value") -> tuple[int, ...]:
    """PyTorch's ``_ntuple``: ``3 -> (3, 3)``; a tuple must already have ``ndim`` entries."""
    if isinstance(value, bool):
        raise UserError(f"{name} must be an integer or a tuple of integers, got {value!r}")
    if isinstance(value, int):
        return (value,) * ndim
    if isinstance(value, tuple) and all(
        isinstance(v, int) and not isinstance(v, bool) for v in value
    ):
        if len(value) == 1:
            return value * ndim
        if len(value) == ndim:
            return value
        raise UserError(f"{name} needs {ndim} values, got {len(value)}: {value!r}")
    raise UserError(f"{name} must be an integer or a tuple of integers, got {value!r}")


def spatial_dims(kind: str) -> int:
    """1, 2 or 3 for ``Conv2d``-style names ending in ``Nd``; 0 otherwise."""
    match = re.search(r"([123])d$", kind)
    return int(match.group(1)) if match else 0
