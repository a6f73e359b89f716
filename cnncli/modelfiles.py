"""Opening model files (checkpoints, safetensors, ONNX) for the core readers.

The readers in :mod:`cnncli.core.modelfile` take a seekable stream and read only what
they need (a header, a pickle, a zip directory); this module opens the file and puts
its name in front of every error.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import IO, TYPE_CHECKING, TypeVar

from cnncli.core.errors import UserError
from cnncli.core.modelfile import (
    EXTENSIONS,
    TORCH_MAGICS,
    ModelFile,
    is_ambiguous,
    kind_for_name,
)
from cnncli.core.modelfile.detect import HEAD_BYTES, check_format, read_model_file
from cnncli.files import open_input

if TYPE_CHECKING:
    from cnncli.core.modelfile.onnx_graph import OnnxSummary

T = TypeVar("T")
MAX_ONNX_BYTES = 2**31


def model_file_kind(argument: str) -> str | None:
    """The reader ``argument`` needs, if it names a model file.

    By extension; an existing ``.bin`` file counts only when it starts as a ``torch.save``
    file does, so other binary files keep their old meaning (and error).
    """
    kind = kind_for_name(argument)
    if kind is None or not is_ambiguous(argument):
        return kind
    if not Path(argument).is_file():
        return kind  # missing, or a directory: the reader says so
    try:
        with open(argument, "rb") as stream:
            head = stream.read(len(TORCH_MAGICS[1]))
    except OSError:
        return kind
    return kind if head.startswith(TORCH_MAGICS) else None


def with_model_file(path: str, read: Callable[[IO[bytes]], T]) -> T:
    """``read(stream)`` on the open file; errors (user or I/O) name the file."""
    with open_input(path, "a model file") as stream:
        try:
            return read(stream)
        except UserError as exc:
            raise UserError(f"{path}: {exc.message}", exc.hint) from None
        except OSError as exc:
            raise UserError(f"{path}: cannot read ({exc.strerror or exc})") from None


def read_model(path: str) -> ModelFile:
    """The tensors of a ``.safetensors``, ``torch.save`` or ONNX file."""
    kind = kind_for_name(path)
    if kind is None:
        raise UserError(f"{path}: not a model file name (expected {', '.join(EXTENSIONS)})")
    if kind == "onnx":
        from cnncli.core.modelfile.onnx_graph import onnx_tensors

        return with_model_file(path, lambda stream: onnx_tensors(_onnx_bytes(stream)))
    return with_model_file(path, lambda stream: read_model_file(stream, kind))


def _onnx_bytes(stream: IO[bytes]) -> bytes:
    """The whole file (protobuf has no partial reads), after its first bytes are checked."""
    from cnncli.core.modelfile.onnx_graph import check_frame

    check_format("onnx", stream.read(HEAD_BYTES))
    check_frame(stream)  # a random or truncated file fails here, before it is read whole
    size = stream.seek(0, 2)
    if size > MAX_ONNX_BYTES:
        raise UserError(
            f"{size:,} bytes is over protobuf's 2 GB limit for one ONNX file",
            hint="large models keep weights in external data files; give the .onnx graph",
        )
    stream.seek(0)
    return stream.read()


def summarize_onnx_file(path: str, input_shape: tuple[int, ...] | None, batch: int) -> OnnxSummary:
    from cnncli.core.modelfile.onnx_graph import summarize_onnx

    return with_model_file(
        path, lambda stream: summarize_onnx(_onnx_bytes(stream), input_shape, batch=batch)
    )
