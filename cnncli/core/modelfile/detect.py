"""Which reader a model file needs: its extension says, its first bytes must agree."""

from __future__ import annotations

from typing import IO

from cnncli.core.errors import UserError
from cnncli.core.modelfile import FileFormat, ModelFile
from cnncli.core.modelfile.safetensors import looks_like_safetensors, read_safetensors
from cnncli.core.modelfile.torchfile import (
    looks_like_legacy,
    looks_like_zip,
    read_torch_legacy,
    read_torch_zip,
)

HEAD_BYTES = 16
_DESCRIPTIONS = {
    FileFormat.SAFETENSORS: "a safetensors file",
    FileFormat.TORCH_ZIP: "a torch.save zip archive",
    FileFormat.TORCH_LEGACY: "a legacy torch.save file",
    FileFormat.ONNX: "an ONNX model",
}


def sniff(head: bytes) -> FileFormat | None:
    """The format the first bytes show, if any."""
    if looks_like_zip(head):
        return FileFormat.TORCH_ZIP
    if looks_like_legacy(head):
        return FileFormat.TORCH_LEGACY
    if looks_like_safetensors(head):
        return FileFormat.SAFETENSORS
    if head[:1] == b"\x08":  # ModelProto field 1 (ir_version), a varint: ONNX files start so
        return FileFormat.ONNX
    return None


def check_format(kind: str, head: bytes) -> FileFormat:
    """The format for a file whose extension says ``kind``; a clear error when bytes disagree."""
    if not head:
        raise UserError("an empty file (0 bytes)")
    found = sniff(head)
    expected = {
        "safetensors": (FileFormat.SAFETENSORS,),
        "torch": (FileFormat.TORCH_ZIP, FileFormat.TORCH_LEGACY),
        "onnx": (FileFormat.ONNX,),
    }[kind]
    if found in expected:
        return found
    wanted = " or ".join(_DESCRIPTIONS[f] for f in expected)
    if found is None:
        raise UserError(f"not {wanted}: its first bytes are {head[:8].hex(' ')}")
    raise UserError(
        f"the extension says {wanted} but the content is {_DESCRIPTIONS[found]}",
        hint="rename the file to match its content",
    )


def read_model_file(stream: IO[bytes], kind: str) -> ModelFile:
    """The tensors of a safetensors or torch file (``kind`` from :func:`kind_for_name`)."""
    stream.seek(0)
    fmt = check_format(kind, stream.read(HEAD_BYTES))
    if fmt is FileFormat.SAFETENSORS:
        return read_safetensors(stream)
    if fmt is FileFormat.TORCH_ZIP:
        return read_torch_zip(stream)
    if fmt is FileFormat.TORCH_LEGACY:
        return read_torch_legacy(stream)
    raise UserError("an ONNX model has no state_dict", hint="cnncli summary FILE.onnx")
