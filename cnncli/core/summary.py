"""A model summary from the text ``print(model)`` shows: shapes, parameters, MACs, receptive fields.

The repr is read as a tree of named modules (leaves parsed by :mod:`cnncli.core.layers`)
and a tensor shape is pushed through the leaves in execution order, with the window
arithmetic of :mod:`cnncli.core.outsize`. A repr does not show ``forward``: children
run in the order printed, torchvision-style residual blocks (``conv1``/``bn1``/``conv2``/
``bn2``[/``conv3``/``bn3``] with an optional ``downsample``) run as BasicBlock and
Bottleneck do, and the ``torch.flatten`` a forward hides is inserted before a Linear
when the flattened size is exactly its ``in_features``.

MACs convention: multiply-accumulates of Conv and Linear weights only (Conv: output
elements x in/groups x prod(kernel); ConvTranspose: input elements x out/groups x
prod(kernel); Linear: output elements x in_features); bias, norms, pooling and
activations count 0. Standard library only.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace

from cnncli.core.errors import UserError
from cnncli.core.layers import SIGNATURES, Layer, expand, parse_layer, spatial_dims
from cnncli.core.outsize import (
    adaptive_windows,
    conv_output_size,
    pool_output_size,
    transposed_output_size,
)
from cnncli.core.params import layer_params

CONTAINERS = ("Sequential", "ModuleList", "ModuleDict")
DTYPE_BYTES: Mapping[str, int] = {
    "float32": 4,
    "float16": 2,
    "bfloat16": 2,
    "float64": 8,
    "int8": 1,
}
# Child names that suggest a forward with branches the printed order cannot tell.
_BRANCHY = re.compile(r"(downsample|shortcut|skip|branch|residual|attn|attention|proj)", re.I)
_LINE = re.compile(r"^\((?P<name>[^)]*)\):\s*(?:(?P<count>\d+) x )?(?P<body>.*)$")
_OPEN = re.compile(r"^(?P<kind>[A-Za-z_][\w.]*)\($")


@dataclass(frozen=True)
class Module:
    """A node of the printed module tree; ``layer`` is set for leaves."""

    name: str
    path: str
    kind: str
    layer: Layer | None = None
    children: tuple[Module, ...] = ()
    line: int = 0

    @property
    def is_container(self) -> bool:
        return self.layer is None

    def walk(self) -> Iterator[Module]:
        yield self
        for child in self.children:
            yield from child.walk()


# ------------------------------------------------------------------ parsing ---


def parse_model(text: str) -> Module:
    """Parse a full ``print(model)`` repr (any nesting) or a single layer line."""
    lines = [(n + 1, raw.strip()) for n, raw in enumerate(text.splitlines()) if raw.strip()]
    if not lines:
        raise UserError("the model text is empty", hint="paste the output of print(model)")
    number, first = lines[0]
    opened = _OPEN.match(first)
    if opened is None:
        return Module("", "", *_leaf(first, "", number))
    children, end = _parse_children(lines, 1, "")
    if end != len(lines):
        raise UserError(
            f"line {lines[end][0]}: text after the model's closing ')': {lines[end][1]!r}"
        )
    return Module("", "", _short(opened["kind"]), None, tuple(children), number)


def _short(kind: str) -> str:
    return kind.rsplit(".", 1)[-1]


def _leaf(body: str, path: str, number: int) -> tuple[str, Layer | None, tuple[Module, ...], int]:
    where = f"line {number}" + (f" ({path})" if path else "")
    head = body.split("(", 1)[0].strip()
    kind = _short(head)
    if kind in CONTAINERS and body.endswith("()"):
        return kind, None, (), number  # an empty container: the identity
    if kind not in SIGNATURES and re.fullmatch(r"[A-Za-z_][\w.]*\(\)", body):
        raise UserError(
            f"{where}: unknown module {kind!r} without arguments; cnncli cannot tell its shape",
            hint="replace it by an equivalent built-in layer (e.g. SiLU for Swish)",
        )
    try:
        layer = parse_layer(body)
    except UserError as exc:
        raise UserError(f"{where}: {exc.message}", exc.hint) from None
    return layer.kind, layer, (), number


def _parse_children(
    lines: list[tuple[int, str]], start: int, prefix: str
) -> tuple[list[Module], int]:
    children: list[Module] = []
    index = start
    while index < len(lines):
        number, text = lines[index]
        if text == ")":
            return children, index + 1
        match = _LINE.match(text)
        if match is None:
            raise UserError(
                f"line {number}: expected '(name): Layer(...)' or ')', got {text!r}",
                hint="paste the whole output of print(model)",
            )
        names = _expand_names(match["name"], match["count"], number)
        body = match["body"]
        opened = _OPEN.match(body)
        if opened is not None:
            first_path = _join(prefix, names[0])
            sub, index = _parse_children(lines, index + 1, first_path)
            for name in names:
                path = _join(prefix, name)
                children.append(
                    Module(
                        name,
                        path,
                        _short(opened["kind"]),
                        None,
                        _reprefix(sub, first_path, path),
                        number,
                    )
                )
            continue
        for name in names:
            path = _join(prefix, name)
            kind, layer, _, _ = _leaf(body, path, number)
            children.append(Module(name, path, kind, layer, (), number))
        index += 1
    raise UserError("unbalanced parentheses: the model text ends before a closing ')'")


def _expand_names(name: str, count: str | None, number: int) -> list[str]:
    """``(0-2): 3 x Block(...)`` is how ModuleList prints repeats."""
    if count is None:
        return [name]
    bounds = re.fullmatch(r"(\d+)-(\d+)", name)
    if bounds is None:
        raise UserError(f"line {number}: cannot read the repeated module range {name!r}")
    first, last = int(bounds[1]), int(bounds[2])
    if last - first + 1 != int(count):
        raise UserError(f"line {number}: range {name} does not hold {count} modules")
    return [str(i) for i in range(first, last + 1)]


def _reprefix(
    children: tuple[Module, ...] | list[Module], old: str, new: str
) -> tuple[Module, ...]:
    if old == new:
        return tuple(children)
    return tuple(
        replace(
            child,
            path=new + child.path[len(old) :],
            children=_reprefix(child.children, old, new),
        )
        for child in children
    )


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


# -------------------------------------------------------------- propagation ---


@dataclass(frozen=True)
class Row:
    """One leaf-module call, in execution order."""

    path: str
    kind: str
    output_shape: tuple[int, ...]  # with the batch dimension
    params: int
    macs: int
    receptive_field: tuple[float, ...] | None = None
    jump: tuple[float, ...] | None = None


@dataclass(frozen=True)
class Summary:
    name: str
    input_shape: tuple[int, ...]
    rows: tuple[Row, ...]
    containers: Mapping[str, str]
    total_params: int
    buffers: int
    macs: int
    dtype: str
    notes: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()

    @property
    def trainable_params(self) -> int:
        # A repr cannot show requires_grad=False: every parameter counts as trainable.
        return self.total_params

    @property
    def param_bytes(self) -> int:
        return (self.total_params + self.buffers) * DTYPE_BYTES[self.dtype]

    @property
    def activation_bytes(self) -> int:
        """Every leaf output of one forward pass (what backward keeps), plus the input."""
        elements = math.prod(self.input_shape) + sum(math.prod(r.output_shape) for r in self.rows)
        return elements * DTYPE_BYTES[self.dtype]


@dataclass
class _State:
    shape: tuple[int, ...]  # without the batch dimension
    rf: tuple[float, ...] | None
    jump: tuple[float, ...] | None


@dataclass
class _Run:
    batch: int
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def summarize(
    model: Module, input_shape: tuple[int, ...], *, batch: int = 1, dtype: str = "float32"
) -> Summary:
    """Propagate ``(batch, *input_shape)`` through ``model`` and total it up."""
    if batch < 1:
        raise UserError(f"--batch must be at least 1, got {batch}")
    if not input_shape or any(n < 1 for n in input_shape):
        raise UserError(f"input sizes must be positive, got {input_shape}")
    if dtype not in DTYPE_BYTES:
        raise UserError(f"unknown dtype {dtype!r}; choose one of {', '.join(DTYPE_BYTES)}")
    spatial = len(input_shape) - 1
    start = _State(
        input_shape,
        (1.0,) * spatial if spatial else None,
        (1.0,) * spatial if spatial else None,
    )
    run = _Run(batch)
    try:
        _forward(model, start, run)
    except UserError as exc:
        if run.warnings and exc.hint is None:  # the warning is likely why shapes broke
            raise UserError(exc.message, hint=run.warnings[0]) from None
        raise
    leaves = {m.path: m for m in model.walk() if m.layer is not None}
    counted = [layer_params(m.layer) for m in leaves.values() if m.layer is not None]
    return Summary(
        name=model.kind,
        input_shape=(batch, *input_shape),
        rows=tuple(run.rows),
        containers={m.path: m.kind for m in model.walk() if m.is_container},
        total_params=sum(p.total for p in counted),
        buffers=sum(p.buffers for p in counted),
        macs=sum(r.macs for r in run.rows),
        dtype=dtype,
        notes=tuple(run.notes),
        warnings=tuple(run.warnings),
    )


def _label(module: Module) -> str:
    """How errors name a module: its path, or its type at the top level."""
    return f"{module.path or module.kind} ({module.kind})"


def _forward(module: Module, state: _State, run: _Run) -> _State:
    if module.layer is not None:
        return _leaf_forward(module, module.layer, state, run)
    if module.kind in _UNSUPPORTED:  # e.g. MultiheadAttention prints as a container
        raise _unsupported(module.kind, f"{_label(module)}: ")
    names = {c.name for c in module.children}
    if {"conv1", "bn1", "conv2", "bn2"} <= names:
        return _residual_forward(module, state, run)
    if any(_BRANCHY.search(c.name) for c in module.children) or module.kind == "ModuleDict":
        run.warnings.append(
            f"{_label(module)}: its forward may not be a plain sequence; "
            "shapes assume its children run in the printed order"
        )
    for child in module.children:
        state = _forward(child, state, run)
    return state


def _residual_forward(block: Module, state: _State, run: _Run) -> _State:
    """torchvision's BasicBlock / Bottleneck: main path, shortcut, add, ReLU."""
    children = {c.name: c for c in block.children}
    relu = children.get("relu")
    main = ["conv1", "bn1", "relu", "conv2", "bn2"]
    if "conv3" in children:
        main += ["relu", "conv3", "bn3"]
    out = state
    for name in main:
        if name not in children:
            if name == "relu":
                continue
            raise UserError(f"{_label(block)}: residual block without {name}")
        out = _forward(children[name], out, run)
    shortcut = state
    if "downsample" in children:
        shortcut = _forward(children["downsample"], state, run)
    if shortcut.shape != out.shape:
        raise UserError(
            f"{_label(block)}: the residual add needs equal shapes, but the main "
            f"path gives {_fmt(out.shape, run.batch)} and the shortcut "
            f"{_fmt(shortcut.shape, run.batch)}",
            hint="a downsample branch (1x1 conv with the block's stride) is missing or wrong",
        )
    extra = set(children) - {"conv1", "bn1", "conv2", "bn2", "conv3", "bn3", "relu", "downsample"}
    if extra:
        run.warnings.append(
            f"{_label(block)}: residual block children {sorted(extra)} were not run"
        )
    if relu is not None:
        out = _forward(relu, out, run)
    return out


def _fmt(shape: tuple[int, ...], batch: int) -> str:
    return "[" + ", ".join(str(n) for n in (batch, *shape)) + "]"


def _leaf_forward(module: Module, layer: Layer, state: _State, run: _Run) -> _State:
    try:
        new, macs = _apply(layer, state, run, module.path)
    except UserError as exc:
        raise UserError(f"{_label(module)}: {exc.message}", exc.hint) from None
    run.rows.append(
        Row(
            path=module.path or layer.kind,
            kind=layer.kind,
            output_shape=(run.batch, *new.shape),
            params=layer_params(layer).total,
            macs=macs,
            receptive_field=new.rf,
            jump=new.jump,
        )
    )
    return new


_SAME_SHAPE = {
    "ReLU", "ReLU6", "LeakyReLU", "ELU", "SELU", "CELU", "GELU", "SiLU", "Mish", "Sigmoid",
    "Tanh", "Hardtanh", "Hardsigmoid", "Hardswish", "Hardshrink", "Softshrink", "Tanhshrink",
    "Softplus", "Softsign", "LogSigmoid", "Softmax", "LogSoftmax", "Softmin", "Softmax2d",
    "Threshold", "Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout",
    "FeatureAlphaDropout", "Identity", "LocalResponseNorm", "ChannelShuffle",
}  # fmt: skip
_UNSUPPORTED = {"RNN", "LSTM", "GRU", "MultiheadAttention", "Bilinear", "EmbeddingBag"}


def _unsupported(kind: str, where: str = "") -> UserError:
    return UserError(
        f"{where}summary cannot propagate shapes through {kind} (not a feed-forward CNN layer)",
        hint=f"'cnncli params \"{kind}(...)\"' counts its parameters",
    )


def _ints(layer: Layer, name: str, ndim: int) -> tuple[int, ...]:
    return expand(layer.args[name], ndim, name)


def _require_rank(layer: Layer, state: _State, ndim: int) -> None:
    if len(state.shape) != ndim + 1:
        wanted = {1: "(C, L)", 2: "(C, H, W)", 3: "(C, D, H, W)"}[ndim]
        raise UserError(
            f"expects {wanted} per sample, but {list(state.shape)} arrives",
            hint="check --input (channels first, without the batch)",
        )


def _require_channels(state: _State, expected: int, what: str) -> None:
    if state.shape[0] != expected:
        raise UserError(
            f"expects {expected} {what}, but {state.shape[0]} arrive (shape {list(state.shape)})"
        )


def _windowed(
    state: _State, kernels: tuple[int, ...], strides: tuple[float, ...], new_shape: tuple[int, ...]
) -> _State:
    if state.rf is None or state.jump is None:
        return _State(new_shape, None, None)
    rf = tuple(r + (k - 1) * j for r, k, j in zip(state.rf, kernels, state.jump, strict=True))
    jump = tuple(j * s for j, s in zip(state.jump, strides, strict=True))
    return _State(new_shape, rf, jump)


def _apply(layer: Layer, state: _State, run: _Run, path: str) -> tuple[_State, int]:
    kind = layer.kind
    ndim = spatial_dims(kind)
    args = layer.args
    if kind in _UNSUPPORTED:
        raise _unsupported(kind)
    if kind in _SAME_SHAPE:
        return _State(state.shape, state.rf, state.jump), 0
    if kind == "PReLU":
        n = int(str(args["num_parameters"]))
        if n not in (1, state.shape[0]):
            raise UserError(f"has {n} parameters but {state.shape[0]} channels arrive")
        return state, 0
    if kind.startswith(("Conv", "ConvTranspose")):
        _require_rank(layer, state, ndim)
        _require_channels(state, int(str(args["in_channels"])), "input channels")
        kernel = _ints(layer, "kernel_size", ndim)
        stride = _ints(layer, "stride", ndim)
        dilation = _ints(layer, "dilation", ndim)
        out_c, groups = int(str(args["out_channels"])), int(str(args["groups"]))
        spans = tuple(d * (k - 1) + 1 for k, d in zip(kernel, dilation, strict=True))
        if kind.startswith("ConvTranspose"):
            padding = _ints(layer, "padding", ndim)
            output_padding = _ints(layer, "output_padding", ndim)
            sizes = tuple(
                transposed_output_size(n, k, s, p, d, op)
                for n, k, s, p, d, op in zip(
                    state.shape[1:], kernel, stride, padding, dilation, output_padding, strict=True
                )
            )
            new = _State((out_c, *sizes), None, None)
            macs = run.batch * math.prod(state.shape) * (out_c // groups) * math.prod(kernel)
            return new, macs
        raw_padding = args["padding"]
        paddings: tuple[int | str, ...] = (
            (raw_padding,) * ndim if isinstance(raw_padding, str) else _ints(layer, "padding", ndim)
        )
        sizes = tuple(
            conv_output_size(n, k, s, p, d)
            for n, k, s, p, d in zip(
                state.shape[1:], kernel, stride, paddings, dilation, strict=True
            )
        )
        new = _windowed(state, spans, tuple(float(s) for s in stride), (out_c, *sizes))
        macs = (
            run.batch
            * out_c
            * math.prod(sizes)
            * (int(str(args["in_channels"])) // groups)
            * math.prod(kernel)
        )
        return new, macs
    if kind.startswith(("MaxPool", "AvgPool", "LPPool")):
        _require_rank(layer, state, ndim)
        kernel = _ints(layer, "kernel_size", ndim)
        stride = kernel if args["stride"] is None else _ints(layer, "stride", ndim)
        padding = _ints(layer, "padding", ndim) if "padding" in args else (0,) * ndim
        dilation = _ints(layer, "dilation", ndim) if "dilation" in args else (1,) * ndim
        ceil_mode = bool(args["ceil_mode"])
        sizes = tuple(
            pool_output_size(n, k, s, p, d, ceil_mode)
            for n, k, s, p, d in zip(
                state.shape[1:], kernel, stride, padding, dilation, strict=True
            )
        )
        spans = tuple(d * (k - 1) + 1 for k, d in zip(kernel, dilation, strict=True))
        return _windowed(state, spans, tuple(float(s) for s in stride), (state.shape[0], *sizes)), 0
    if kind.startswith(("AdaptiveAvgPool", "AdaptiveMaxPool")):
        _require_rank(layer, state, ndim)
        wanted = args["output_size"]
        targets = wanted if isinstance(wanted, tuple) else (wanted,) * ndim
        if len(targets) == 1:
            targets = targets * ndim
        if len(targets) != ndim:
            raise UserError(f"output_size needs {ndim} values, got {wanted!r}")
        sizes = tuple(
            n if t is None else int(str(t)) for n, t in zip(state.shape[1:], targets, strict=True)
        )
        widths = tuple(
            max((w.end - w.start for w in adaptive_windows(n, t)), default=1)
            for n, t in zip(state.shape[1:], sizes, strict=True)
        )
        strides = tuple(n / t if t else 1.0 for n, t in zip(state.shape[1:], sizes, strict=True))
        return _windowed(state, widths, strides, (state.shape[0], *sizes)), 0
    if kind.startswith(("BatchNorm", "InstanceNorm")):
        allowed = {1: (1, 2), 2: (3,), 3: (4,)}[ndim]
        if len(state.shape) not in allowed:
            raise UserError(f"expects {ndim}D features, but {list(state.shape)} arrives")
        if kind.startswith("BatchNorm") or args["affine"] or args["track_running_stats"]:
            _require_channels(state, int(str(args["num_features"])), "channels")
        return state, 0
    if kind == "GroupNorm":
        _require_channels(state, int(str(args["num_channels"])), "channels")
        return state, 0
    if kind in ("LayerNorm", "RMSNorm"):
        shape = args["normalized_shape"]
        trailing = shape if isinstance(shape, tuple) else (shape,)
        if tuple(state.shape[-len(trailing) :]) != trailing:
            raise UserError(f"normalizes over {list(trailing)}, but {list(state.shape)} arrives")
        return state, 0
    if kind == "Linear":
        return _linear(layer, state, run, path)
    if kind == "Flatten":
        return _flatten(layer, state, run.batch), 0
    if kind == "Unflatten":
        dim = _dim(int(str(args["dim"])), len(state.shape) + 1)
        sizes = tuple(int(str(n)) for n in args["unflattened_size"])  # type: ignore[attr-defined]
        full = (run.batch, *state.shape)
        if math.prod(sizes) != full[dim]:
            raise UserError(f"cannot unflatten {full[dim]} into {list(sizes)}")
        return _State((*full[1:dim], *sizes, *full[dim + 1 :]), None, None), 0
    if kind in ("Upsample", "UpsamplingNearest2d", "UpsamplingBilinear2d"):
        return _upsample(layer, state), 0
    if kind in ("PixelShuffle", "PixelUnshuffle"):
        return _pixel_shuffle(layer, state), 0
    if "Pad" in kind:
        return _pad(layer, state), 0
    if kind == "GLU":
        dim = _dim(int(str(args["dim"])), len(state.shape) + 1) - 1
        if dim < 0 or state.shape[dim] % 2:
            raise UserError(
                f"GLU halves dimension {args['dim']}, which must be even: {list(state.shape)}"
            )
        shape = list(state.shape)
        shape[dim] //= 2
        return _State(tuple(shape), None, None), 0
    if kind == "Embedding":
        return _State((*state.shape, int(str(args["embedding_dim"]))), None, None), 0
    raise UserError(f"summary does not know how {kind} changes shapes")


def _dim(dim: int, rank: int) -> int:
    index = dim + rank if dim < 0 else dim
    if not 0 <= index < rank:
        raise UserError(f"dimension {dim} is out of range for a {rank}-d tensor")
    return index


def _linear(layer: Layer, state: _State, run: _Run, path: str) -> tuple[_State, int]:
    in_features = int(str(layer.args["in_features"]))
    out_features = int(str(layer.args["out_features"]))
    shape = state.shape
    # A spatial tensor whose flattened size is in_features was flattened in forward
    # (torch.flatten(x, 1)); a Linear applied to the last dimension is the other reading.
    if len(shape) > 1 and math.prod(shape) == in_features:
        _flatten_hidden(path, shape, run)
        shape = (in_features,)
    elif shape[-1] != in_features:
        flat = f" ({math.prod(shape)} when flattened)" if len(shape) > 1 else ""
        raise UserError(
            f"expects {in_features} input features, but {_fmt(shape, run.batch)} arrives{flat}",
            hint=f"in_features should be {math.prod(shape) if len(shape) > 1 else shape[-1]}",
        )
    new_shape = (*shape[:-1], out_features)
    return _State(new_shape, None, None), run.batch * math.prod(new_shape) * in_features


def _flatten_hidden(path: str, shape: tuple[int, ...], run: _Run) -> None:
    """Record the hidden flatten where forward must have done it: on entering this container.

    Inside one Sequential nothing can flatten unseen, so shape-preserving layers that
    precede the Linear in its own container (AlexNet's Dropout) already saw the flat tensor.
    """
    parent = path.rsplit(".", 1)[0] + "." if "." in path else ""
    flat = (run.batch, math.prod(shape))
    index = len(run.rows)
    while (
        index > 0
        and run.rows[index - 1].path.startswith(parent)
        and run.rows[index - 1].kind in _SAME_SHAPE
    ):
        index -= 1
        run.rows[index] = replace(
            run.rows[index], output_shape=flat, receptive_field=None, jump=None
        )
    where = run.rows[index].path if index < len(run.rows) else path
    run.notes.append(
        f"inserted a flatten before {where}: {_fmt(shape, run.batch)} -> [{run.batch}, "
        f"{math.prod(shape)}] (the torch.flatten in forward, which a repr does not show)"
    )


def _flatten(layer: Layer, state: _State, batch: int) -> _State:
    full = (batch, *state.shape)
    start = _dim(int(str(layer.args["start_dim"])), len(full))
    end = _dim(int(str(layer.args["end_dim"])), len(full))
    if start == 0:
        raise UserError("flattening the batch dimension (start_dim=0) is not supported")
    if end < start:
        return _State(state.shape, state.rf, state.jump)
    merged = math.prod(full[start : end + 1])
    return _State((*full[1:start], merged, *full[end + 1 :]), None, None)


def _upsample(layer: Layer, state: _State) -> _State:
    spatial = state.shape[1:]
    if not spatial:
        raise UserError(f"needs spatial dimensions, but {list(state.shape)} arrives")
    size, scale = layer.args["size"], layer.args["scale_factor"]
    if size is not None:
        sizes = size if isinstance(size, tuple) else (size,) * len(spatial)
        new = tuple(int(str(n)) for n in sizes)
        factors = tuple(n / o for n, o in zip(new, spatial, strict=True))
    elif scale is not None:
        scales = scale if isinstance(scale, tuple) else (scale,) * len(spatial)
        new = tuple(math.floor(n * float(str(s))) for n, s in zip(spatial, scales, strict=True))
        factors = tuple(float(str(s)) for s in scales)
    else:
        raise UserError("Upsample needs size or scale_factor")
    jump = (
        None
        if state.jump is None
        else tuple(j / f for j, f in zip(state.jump, factors, strict=True))
    )
    return _State((state.shape[0], *new), state.rf, jump)


def _pixel_shuffle(layer: Layer, state: _State) -> _State:
    if len(state.shape) != 3:
        raise UserError(f"expects (C, H, W) per sample, but {list(state.shape)} arrives")
    c, h, w = state.shape
    if layer.kind == "PixelShuffle":
        r = int(str(layer.args["upscale_factor"]))
        if c % (r * r):
            raise UserError(f"{c} channels are not divisible by upscale_factor^2 = {r * r}")
        return _State((c // (r * r), h * r, w * r), None, None)
    r = int(str(layer.args["downscale_factor"]))
    if h % r or w % r:
        raise UserError(f"height {h} and width {w} must be divisible by downscale_factor {r}")
    return _State((c * r * r, h // r, w // r), None, None)


def _pad(layer: Layer, state: _State) -> _State:
    ndim = spatial_dims(layer.kind)
    padding = layer.args["padding"]
    amounts = (padding,) * (2 * ndim) if isinstance(padding, int) else padding
    if not isinstance(amounts, tuple) or len(amounts) != 2 * ndim:
        raise UserError(f"padding needs {2 * ndim} values, got {padding!r}")
    shape = list(state.shape)
    # (left, right, top, bottom, front, back): the last dimension first, as F.pad reads it.
    for i in range(ndim):
        shape[-1 - i] += int(str(amounts[2 * i])) + int(str(amounts[2 * i + 1]))
    return _State(tuple(shape), state.rf, state.jump)


# ----------------------------------------------------------------- display ---


@dataclass(frozen=True)
class DisplayRow:
    """A row of the table: a leaf call, or a container collapsed by ``--depth``."""

    path: str
    kind: str
    depth: int
    output_shape: tuple[int, ...] | None
    params: int
    macs: int
    receptive_field: tuple[float, ...] | None
    jump: tuple[float, ...] | None
    is_container: bool


def display_rows(summary: Summary, max_depth: int | None = None) -> list[DisplayRow]:
    """Leaf calls with container headers; below ``max_depth`` calls fold into their ancestor."""
    rows: list[DisplayRow] = []
    shown: set[str] = set()
    for row in summary.rows:
        parts = row.path.split(".")
        limit = len(parts) if max_depth is None else min(len(parts), max_depth)
        for depth in range(1, limit):
            prefix = ".".join(parts[:depth])
            if prefix not in shown and prefix in summary.containers:
                shown.add(prefix)
                rows.append(
                    DisplayRow(
                        prefix, summary.containers[prefix], depth - 1, None, 0, 0, None, None, True
                    )
                )
        if max_depth is not None and len(parts) > max_depth:
            prefix = ".".join(parts[:max_depth])
            last = rows[-1] if rows else None
            if last is not None and last.path == prefix and not last.is_container:
                rows[-1] = replace(
                    last,
                    output_shape=row.output_shape,
                    params=last.params + row.params,
                    macs=last.macs + row.macs,
                    receptive_field=row.receptive_field or last.receptive_field,
                    jump=row.jump or last.jump,
                )
            else:
                rows.append(
                    DisplayRow(
                        prefix,
                        summary.containers.get(prefix, row.kind),
                        max_depth - 1,
                        row.output_shape,
                        row.params,
                        row.macs,
                        row.receptive_field,
                        row.jump,
                        False,
                    )
                )
            continue
        rows.append(
            DisplayRow(
                row.path,
                row.kind,
                len(parts) - 1,
                row.output_shape,
                row.params,
                row.macs,
                row.receptive_field,
                row.jump,
                False,
            )
        )
    return rows
