"""Model files read without PyTorch: tensor names, shapes and dtypes, never tensor data.

Each reader takes a seekable binary stream (the CLI opens the file; tests pass
``io.BytesIO``) and returns a :class:`ModelFile`. Everything a reader cannot make
sense of is a :class:`~cnncli.core.errors.UserError`; nothing in a file is executed.
Standard library only (``json``, ``struct``, ``zipfile``, a restricted ``pickle``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from enum import Enum

# torch's dtype names and their item sizes in bytes (``torch.empty((), dtype=d).element_size()``).
DTYPE_SIZES: Mapping[str, int] = {
    "float64": 8,
    "float32": 4,
    "float16": 2,
    "bfloat16": 2,
    "float8_e4m3fn": 1,
    "float8_e4m3fnuz": 1,
    "float8_e5m2": 1,
    "float8_e5m2fnuz": 1,
    "float8_e8m0fnu": 1,
    "complex128": 16,
    "complex64": 8,
    "complex32": 4,
    "int64": 8,
    "int32": 4,
    "int16": 2,
    "int8": 1,
    "uint64": 8,
    "uint32": 4,
    "uint16": 2,
    "uint8": 1,
    "bool": 1,
    "qint8": 1,
    "quint8": 1,
    "qint32": 4,
}

# Names of the buffers torch.nn layers register (BatchNorm/InstanceNorm running statistics):
# tensors in a state_dict that ``model.parameters()`` does not yield.
BUFFER_SUFFIXES = ("running_mean", "running_var", "num_batches_tracked")


# Which reader a file needs, by extension; its first bytes must agree (see detect.py).
EXTENSIONS: Mapping[str, str] = {
    ".safetensors": "safetensors",
    ".pt": "torch",
    ".pth": "torch",
    ".bin": "torch",
    ".ckpt": "torch",
    ".onnx": "onnx",
}


# ``.bin`` is any binary file too: it is a torch file only if its first bytes say so.
AMBIGUOUS_EXTENSIONS = (".bin",)
TORCH_MAGICS = (b"PK\x03\x04", b"\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19")


def kind_for_name(name: str) -> str | None:
    """``safetensors``, ``torch`` or ``onnx`` from a file name's extension, else None."""
    dot = name.rfind(".")
    return None if dot < 0 else EXTENSIONS.get(name[dot:].lower())


def is_ambiguous(name: str) -> bool:
    return name.lower().endswith(AMBIGUOUS_EXTENSIONS)


class FileFormat(str, Enum):
    SAFETENSORS = "safetensors"
    TORCH_ZIP = "torch-zip"
    TORCH_LEGACY = "torch-legacy"
    ONNX = "onnx"


@dataclass(frozen=True)
class TensorInfo:
    """One tensor as the file describes it; its data is never read."""

    name: str
    shape: tuple[int, ...]
    dtype: str

    @property
    def numel(self) -> int:
        return math.prod(self.shape)

    @property
    def nbytes(self) -> int:
        """Bytes of this tensor's elements in memory (numel x item size)."""
        return self.numel * DTYPE_SIZES[self.dtype]

    @property
    def is_buffer(self) -> bool:
        return is_buffer(self.name)

    @property
    def module(self) -> str:
        """The owning module's path: ``layer1.0.conv1`` for ``layer1.0.conv1.weight``."""
        return self.name.rpartition(".")[0]


def is_buffer(name: str) -> bool:
    return name.rpartition(".")[2] in BUFFER_SUFFIXES


@dataclass(frozen=True)
class ModelFile:
    """The tensors of a checkpoint or weights file, in the file's order."""

    format: FileFormat
    tensors: tuple[TensorInfo, ...]
    file_bytes: int  # the whole file
    data_bytes: int  # the tensor data stored in it (shared storages counted once)
    location: str = ""  # where the state_dict sits in a checkpoint dict, e.g. "state_dict"
    prefix: str = ""  # a prefix every name carries ("model." from Lightning, "module." from DDP)
    notes: tuple[str, ...] = ()

    @property
    def total_params(self) -> int:
        return sum(t.numel for t in self.tensors if not t.is_buffer)

    @property
    def buffers(self) -> int:
        return sum(t.numel for t in self.tensors if t.is_buffer)

    @property
    def memory_bytes(self) -> int:
        return sum(t.nbytes for t in self.tensors)

    def per_dtype(self) -> dict[str, tuple[int, int]]:
        """dtype -> (elements, bytes in memory), in order of first appearance."""
        totals: dict[str, tuple[int, int]] = {}
        for t in self.tensors:
            count, size = totals.get(t.dtype, (0, 0))
            totals[t.dtype] = (count + t.numel, size + t.nbytes)
        return totals

    def unprefixed(self) -> dict[str, TensorInfo]:
        """Tensors by name without :attr:`prefix`, as the model's ``state_dict()`` names them."""
        cut = len(self.prefix)
        return {t.name[cut:]: replace(t, name=t.name[cut:]) for t in self.tensors}
