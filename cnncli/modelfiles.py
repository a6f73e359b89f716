"""Opening model files (checkpoints, safetensors, ONNX) for the core readers.

The readers in :mod:`cnncli.core.modelfile` take a seekable stream and read only what
they need (a header, a pickle, a zip directory); this module opens the file and puts
its name in front of every error.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, TypeVar

from cnncli.core.errors import UserError
from cnncli.core.modelfile import ModelFile
from cnncli.core.modelfile.detect import EXTENSIONS, kind_for_name, read_model_file

T = TypeVar("T")


def model_kind(argument: str) -> str | None:
    """``safetensors``, ``torch`` or ``onnx`` when ``argument`` names a model file."""
    return kind_for_name(argument)


@contextmanager
def _opened(path: str) -> Iterator[IO[bytes]]:
    target = Path(path)
    if target.is_dir():
        raise UserError(f"{path}: is a directory, not a model file")
    try:
        stream = target.open("rb")
    except FileNotFoundError:
        raise UserError(f"{path}: no such file") from None
    except PermissionError:
        raise UserError(f"{path}: permission denied") from None
    except OSError as exc:
        raise UserError(f"{path}: cannot read ({exc.strerror or exc})") from None
    with stream:
        yield stream


def with_model_file(path: str, read: Callable[[IO[bytes]], T]) -> T:
    """``read(stream)`` on the open file; errors (user or I/O) name the file."""
    with _opened(path) as stream:
        try:
            return read(stream)
        except UserError as exc:
            raise UserError(f"{path}: {exc.message}", exc.hint) from None
        except OSError as exc:
            raise UserError(f"{path}: cannot read ({exc.strerror or exc})") from None


def read_model(path: str) -> ModelFile:
    """The tensors of a ``.safetensors`` or ``torch.save`` file."""
    kind = kind_for_name(path)
    if kind is None:
        raise UserError(f"{path}: not a model file name (expected {', '.join(EXTENSIONS)})")
    return with_model_file(path, lambda stream: read_model_file(stream, kind))
