"""The ``.safetensors`` header: names, dtypes, shapes and offsets, without the tensor data.

Format (https://github.com/huggingface/safetensors, "Format"): 8 bytes little-endian
``N``, then ``N`` bytes of UTF-8 JSON ``{name: {"dtype", "shape", "data_offsets": [begin,
end]}, "__metadata__": {...}}``, then the data buffer; offsets are relative to the buffer.
We check what the reference loader checks before it trusts the header: the header fits
the file and a size limit, every tensor's byte range matches shape x item size and lies
inside the buffer, and the ranges tile the buffer without gaps or overlaps.
"""

from __future__ import annotations

import json
import math
import struct
from typing import IO

from cnncli.core.errors import UserError
from cnncli.core.modelfile import DTYPE_SIZES, FileFormat, ModelFile, TensorInfo

# A header entry is ~100 bytes, so real headers are well under a megabyte (thousands of
# tensors). The reference loader allows 100 MB (MAX_HEADER_SIZE); parsing that much JSON
# would take a gigabyte, so we stop at 16 MB (some 160,000 tensors).
MAX_HEADER_BYTES = 16_000_000
MAGIC_LENGTH = 8

# safetensors dtype codes -> torch's dtype names.
DTYPES = {
    "F64": "float64",
    "F32": "float32",
    "F16": "float16",
    "BF16": "bfloat16",
    "F8_E4M3": "float8_e4m3fn",
    "F8_E5M2": "float8_e5m2",
    "F8_E8M0": "float8_e8m0fnu",
    "C64": "complex64",
    "C128": "complex128",
    "I64": "int64",
    "I32": "int32",
    "I16": "int16",
    "I8": "int8",
    "U64": "uint64",
    "U32": "uint32",
    "U16": "uint16",
    "U8": "uint8",
    "BOOL": "bool",
}


def looks_like_safetensors(head: bytes) -> bool:
    """8 bytes of length, then the JSON header's opening brace."""
    return len(head) > MAGIC_LENGTH and head[MAGIC_LENGTH : MAGIC_LENGTH + 1] == b"{"


def read_safetensors(stream: IO[bytes]) -> ModelFile:
    """The tensors a ``.safetensors`` file declares, from its header alone."""
    size = stream.seek(0, 2)
    stream.seek(0)
    prefix = stream.read(MAGIC_LENGTH)
    if len(prefix) < MAGIC_LENGTH:
        raise UserError(f"not a safetensors file: {size} bytes, shorter than the header length")
    (length,) = struct.unpack("<Q", prefix)
    if length > size - MAGIC_LENGTH:
        raise UserError(
            f"not a safetensors file (or truncated): the header claims {length:,} bytes "
            f"but the file has {size - MAGIC_LENGTH:,} after the length"
        )
    if length > MAX_HEADER_BYTES:
        raise UserError(
            f"safetensors header of {length:,} bytes is over the {MAX_HEADER_BYTES:,} limit"
        )
    raw = stream.read(length)
    try:
        header = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise UserError("not a safetensors file: its header is not JSON") from None
    if not isinstance(header, dict):
        raise UserError("not a safetensors file: its header is not a JSON object")
    buffer = size - MAGIC_LENGTH - length
    tensors: list[TensorInfo] = []
    ranges: list[tuple[int, int, str]] = []
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        tensor, begin, end = _entry(name, entry, buffer)
        tensors.append(tensor)
        ranges.append((begin, end, name))
    _check_tiling(ranges, buffer)
    tensors.sort(key=lambda t: natural_key(t.name))
    return ModelFile(FileFormat.SAFETENSORS, tuple(tensors), size, buffer)


def natural_key(name: str) -> tuple[tuple[int, int | str], ...]:
    """``layer2.10`` after ``layer2.9``: writers sort the header's keys as strings (or by
    dtype first), an order that means nothing, so tensors are listed by this key."""
    return tuple((0, int(part)) if part.isdigit() else (1, part) for part in name.split("."))


def _entry(name: str, entry: object, buffer: int) -> tuple[TensorInfo, int, int]:
    if not isinstance(entry, dict):
        raise UserError(f"safetensors header: {name!r} is not an object")
    code, shape, offsets = entry.get("dtype"), entry.get("shape"), entry.get("data_offsets")
    if code not in DTYPES:
        raise UserError(f"safetensors header: {name!r} has an unknown dtype {code!r}")
    if not isinstance(shape, list) or not all(_natural(n) for n in shape):
        raise UserError(f"safetensors header: {name!r} has a bad shape {shape!r}")
    if (
        not isinstance(offsets, list)
        or len(offsets) != 2
        or not all(_natural(n) for n in offsets)
        or offsets[0] > offsets[1]
    ):
        raise UserError(f"safetensors header: {name!r} has bad data_offsets {offsets!r}")
    tensor = TensorInfo(name, tuple(shape), DTYPES[code])
    begin, end = offsets
    expected = math.prod(shape) * DTYPE_SIZES[tensor.dtype]
    if end - begin != expected:
        raise UserError(
            f"safetensors header: {name!r} spans {end - begin:,} bytes but its shape "
            f"{shape} of {tensor.dtype} needs {expected:,}"
        )
    if end > buffer:
        raise UserError(
            f"safetensors header: {name!r} ends at byte {end:,} of a {buffer:,}-byte data "
            "buffer (a truncated file?)"
        )
    return tensor, begin, end


def _natural(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _check_tiling(ranges: list[tuple[int, int, str]], buffer: int) -> None:
    """Tensors tile the buffer in order of offset, as the reference loader requires."""
    position = 0
    for begin, end, name in sorted(ranges):
        if begin != position:
            what = "overlaps the tensor before it" if begin < position else "leaves a gap"
            raise UserError(f"safetensors header: {name!r} at byte {begin:,} {what}")
        position = end
    if position != buffer:
        raise UserError(
            f"safetensors header: the tensors cover {position:,} bytes of a "
            f"{buffer:,}-byte data buffer"
        )
