"""An ONNX graph's nodes with output shapes (ONNX shape inference), parameters and MACs.

Needs the ``onnx`` package (the ``cnncli[onnx]`` extra), imported here only. Unlike a
printed model, the graph is the real forward, so its shapes hold for any architecture.

Parameters are the elements of the floating-point initializers, each counted at the
first node that reads it. Exporters fold BatchNorm into the convolution before it and
turn constants (and sometimes buffers) into initializers, so the count can differ from
``sum(p.numel() for p in model.parameters())``.

MACs follow :mod:`cnncli.core.summary`'s convention: Conv = output elements x in/groups
x prod(kernel) (from the weight's shape ``(out, in/groups, *kernel)``); ConvTranspose =
input elements x out/groups x prod(kernel) (weight ``(in, out/groups, *kernel)``);
Gemm = output elements x K; MatMul with an initializer operand = output elements x K;
everything else 0. A count that needs a symbolic size is unknown (``None``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any

from cnncli.core.errors import UserError
from cnncli.core.modelfile import FileFormat, ModelFile, TensorInfo

if TYPE_CHECKING:
    import onnx

Dim = int | str | None  # a size, a symbolic name, or unknown
EXTRA_HINT = "pip install 'cnncli[onnx]'"
NOTE = (
    "ONNX exporters fold BatchNorm into convolutions and turn constants into initializers, "
    "so parameter counts can differ from torch's"
)

# A ModelProto has a handful of top-level fields (opset imports, metadata, functions).
MAX_TOP_FIELDS = 100_000

# onnx.TensorProto.DataType -> torch's dtype names.
ONNX_DTYPES = {
    1: "float32",
    2: "uint8",
    3: "int8",
    4: "uint16",
    5: "int16",
    6: "int32",
    7: "int64",
    9: "bool",
    10: "float16",
    11: "float64",
    12: "uint32",
    13: "uint64",
    14: "complex64",
    15: "complex128",
    16: "bfloat16",
    17: "float8_e4m3fn",
    18: "float8_e4m3fnuz",
    19: "float8_e5m2",
    20: "float8_e5m2fnuz",
}
FLOATING = {"float32", "float16", "float64", "bfloat16"} | {
    name for name in ONNX_DTYPES.values() if name.startswith("float8")
}


@dataclass(frozen=True)
class OnnxNode:
    name: str
    op: str
    output_shape: tuple[Dim, ...] | None
    params: int
    macs: int | None


@dataclass(frozen=True)
class OnnxSummary:
    graph: str
    inputs: tuple[tuple[str, tuple[Dim, ...]], ...]
    outputs: tuple[tuple[str, tuple[Dim, ...] | None], ...]
    nodes: tuple[OnnxNode, ...]
    total_params: int
    notes: tuple[str, ...]

    @property
    def shapes_known(self) -> bool:
        """Every node's output shape is known and has no symbolic size."""
        return all(
            n.output_shape is not None and all(isinstance(d, int) for d in n.output_shape)
            for n in self.nodes
        )

    @property
    def macs(self) -> int | None:
        """The total, or None when a node's count needs a symbolic size."""
        counts = [n.macs for n in self.nodes]
        return None if None in counts else sum(c for c in counts if c is not None)


def _varint(stream: IO[bytes]) -> int | None:
    """A protobuf base-128 varint (at most 10 bytes), or None at the end of the stream."""
    value = 0
    for shift in range(0, 70, 7):
        byte = stream.read(1)
        if not byte:
            return None
        value |= (byte[0] & 0x7F) << shift
        if not byte[0] & 0x80:
            return value
    raise UserError("not an ONNX model (a malformed varint)")


def check_frame(stream: IO[bytes]) -> None:
    """Walk the top-level fields of the ModelProto without reading their contents: a
    random or truncated file fails here in a few reads, before protobuf gets it whole.

    Wire format: https://protobuf.dev/programming-guides/encoding/ (tag = field << 3 |
    wire type; 0 varint, 1 fixed64, 2 length-delimited, 5 fixed32).
    """
    size = stream.seek(0, 2)
    stream.seek(0)
    fields = 0
    while True:
        start = stream.tell()
        tag = _varint(stream)
        if tag is None:
            break
        wire, number = tag & 7, tag >> 3
        if number == 0 or wire not in (0, 1, 2, 5):
            raise UserError(f"not an ONNX model (byte {start:,} is no protobuf field)")
        if wire == 0:
            if _varint(stream) is None:
                raise UserError("not an ONNX model (truncated)")
        else:
            length = {1: 8, 5: 4}.get(wire)
            if length is None:
                length = _varint(stream)
                if length is None:
                    raise UserError("not an ONNX model (truncated)")
            end = stream.tell() + length
            if end > size:
                raise UserError(
                    f"not an ONNX model, or truncated (a field at byte {start:,} runs "
                    f"{end - size:,} bytes past the end)"
                )
            stream.seek(end)
        fields += 1
        if fields > MAX_TOP_FIELDS:
            raise UserError("not an ONNX model (too many top-level fields)")


def _onnx() -> Any:
    try:
        import onnx
    except ImportError:
        raise UserError("reading .onnx files needs the onnx package", hint=EXTRA_HINT) from None
    return onnx


def load(data: bytes) -> onnx.ModelProto:
    lib = _onnx()
    try:
        model: onnx.ModelProto = lib.load_model_from_string(data)
    except Exception as exc:  # protobuf's DecodeError and friends
        raise UserError(f"not an ONNX model ({type(exc).__name__})") from None
    if not model.graph.node and not model.graph.initializer:
        raise UserError("not an ONNX model (an empty graph)")
    return model


def _shape_of(value: Any) -> tuple[Dim, ...] | None:
    tensor = value.type.tensor_type
    if not tensor.HasField("shape"):
        return None
    return tuple(
        d.dim_value if d.HasField("dim_value") else _symbol(d.dim_param) for d in tensor.shape.dim
    )


def _symbol(name: str | bytes) -> str | None:
    """A named size; the ``unk__N`` names shape inference makes up are unknown sizes."""
    text = _text(name)
    return None if not text or text.startswith("unk__") else text


def _text(value: str | bytes) -> str:
    """A protobuf string field: ``bytes`` when the file holds invalid UTF-8."""
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


def onnx_tensors(data: bytes) -> ModelFile:
    """The initializers as a model file's tensors (``params FILE.onnx``)."""
    model = load(data)
    tensors = []
    for init in model.graph.initializer:
        dtype = ONNX_DTYPES.get(init.data_type)
        if dtype is None:
            raise UserError(f"initializer {init.name!r} has an unknown data type {init.data_type}")
        tensors.append(TensorInfo(_text(init.name), tuple(init.dims), dtype))
    memory = sum(t.nbytes for t in tensors)
    return ModelFile(FileFormat.ONNX, tuple(tensors), len(data), memory, notes=(NOTE,))


def _real_inputs(model: onnx.ModelProto) -> list[Any]:
    initializers = {i.name for i in model.graph.initializer}
    return [v for v in model.graph.input if v.name not in initializers]


def _set_input(model: onnx.ModelProto, shape: tuple[int, ...], batch: int) -> str | None:
    """Give the first graph input ``(batch, *shape)`` (or ``shape`` if it has the full rank)."""
    inputs = _real_inputs(model)
    if not inputs:
        raise UserError("the graph has no input to give --input to")
    value = inputs[0]
    dims = value.type.tensor_type.shape.dim
    if len(shape) == len(dims) - 1:
        shape = (batch, *shape)
    elif len(shape) != len(dims):
        raise UserError(
            f"input {_text(value.name)!r} has {len(dims)} dimensions; --input gives {len(shape)}",
            hint=f"give {len(dims) - 1} sizes (without the batch) or {len(dims)}",
        )
    for index, (dim, size) in enumerate(zip(dims, shape, strict=True)):
        if dim.HasField("dim_value") and dim.dim_value not in (0, size):
            raise UserError(
                f"input {_text(value.name)!r} has a fixed size {dim.dim_value} in dimension "
                f"{index}, not {size}"
            )
    for dim, size in zip(dims, shape, strict=True):
        dim.ClearField("dim_param")
        dim.dim_value = size
    return _text(value.name)


def summarize_onnx(
    data: bytes, input_shape: tuple[int, ...] | None = None, *, batch: int = 1
) -> OnnxSummary:
    """Nodes in graph order with inferred output shapes, parameters and MACs."""
    lib = _onnx()
    if batch < 1:
        raise UserError(f"--batch must be at least 1, got {batch}")
    model = load(data)
    if input_shape is not None:
        if any(n < 1 for n in input_shape):
            raise UserError(f"input sizes must be positive, got {input_shape}")
        _set_input(model, input_shape, batch)
    notes = [NOTE]
    try:
        inferred = lib.shape_inference.infer_shapes(model, strict_mode=True, data_prop=True)
    except Exception as exc:  # InferenceError: the graph and the input disagree
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if input_shape is not None:
            raise UserError(f"ONNX shape inference failed: {first[:300]}") from None
        # Unknown (custom) operators: keep the shapes inference can give, say so.
        try:
            inferred = lib.shape_inference.infer_shapes(model, data_prop=True)
        except Exception:  # it can refuse the graph even then (a damaged node): no shapes
            inferred = model
        notes.append(f"shape inference was incomplete ({first[:200]}): missing shapes are '?'")
    graph = inferred.graph
    shapes: dict[str, tuple[Dim, ...] | None] = {}
    for value in (*graph.input, *graph.value_info, *graph.output):
        shapes[value.name] = _shape_of(value)
    weights: dict[str, tuple[int, ...]] = {}
    floating: set[str] = set()
    for init in graph.initializer:
        weights[init.name] = tuple(init.dims)
        shapes[init.name] = tuple(init.dims)
        if ONNX_DTYPES.get(init.data_type) in FLOATING:
            floating.add(init.name)
    counted: set[str] = set()
    nodes = []
    for index, node in enumerate(graph.node):
        params = 0
        for name in node.input:
            if name in floating and name not in counted:
                counted.add(name)
                params += math.prod(weights[name])
        output = shapes.get(node.output[0]) if node.output else None
        if output is not None and any(isinstance(d, int) and d < 1 for d in output):
            # Shape inference computes the size torch refuses ("output size is too small").
            shown = ", ".join("?" if d is None else str(d) for d in output)
            raise UserError(
                f"node {_text(node.name) or index} ({_text(node.op_type)}): output shape "
                f"[{shown}]: "
                "the input is too small for this graph"
            )
        nodes.append(
            OnnxNode(
                _text(node.name) or f"{_text(node.op_type)}_{index}",
                _text(node.op_type),
                output,
                params,
                _macs(node, shapes, weights),
            )
        )
    total = sum(math.prod(weights[name]) for name in floating)
    if total != sum(n.params for n in nodes):
        notes.append("some initializers are read by no node (counted in the total)")
    return OnnxSummary(
        _text(graph.name),
        tuple((_text(v.name), _shape_of(v) or ()) for v in _real_inputs(inferred)),
        tuple((_text(v.name), shapes.get(v.name)) for v in graph.output),
        tuple(nodes),
        total,
        tuple(notes),
    )


def _known(shape: tuple[Dim, ...] | None) -> tuple[int, ...] | None:
    if shape is None or not all(isinstance(d, int) and d > 0 for d in shape):
        return None
    return tuple(int(d) for d in shape if d is not None)


def _macs(
    node: Any, shapes: dict[str, tuple[Dim, ...] | None], weights: dict[str, tuple[int, ...]]
) -> int | None:
    op = node.op_type
    if op not in ("Conv", "ConvTranspose", "Gemm", "MatMul"):
        return 0
    inputs = list(node.input)
    output = _known(shapes.get(node.output[0]))
    if op == "MatMul":
        if inputs[1] in weights:
            b = weights[inputs[1]]
            k = b[-2] if len(b) >= 2 else b[0]
        elif inputs[0] in weights:
            k = weights[inputs[0]][-1]
        else:
            return 0  # activations times activations: no weights, not counted
        return None if output is None else math.prod(output) * k
    weight = _known(shapes.get(inputs[1]))
    if weight is None:
        return None
    if op == "Gemm":
        trans_b = next((a.i for a in node.attribute if a.name == "transB"), 0)
        k = weight[1] if trans_b else weight[0]
        return None if output is None else math.prod(output) * k
    per_output = weight[1] * math.prod(weight[2:])
    if op == "Conv":
        return None if output is None else math.prod(output) * per_output
    source = _known(shapes.get(inputs[0]))
    return None if source is None else math.prod(source) * per_output
