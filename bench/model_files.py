"""``make bench``'s model-file section: ``cnncli params`` on big checkpoints, whole process.

The files are made here without torch: a BERT-base-like state_dict (embeddings, then
encoder layers of attention and MLP weights with LayerNorms) of float32 zeros, as
``torch.save`` writes it (a zip: ``archive/data.pkl`` and one stored entry per tensor)
and as a ``.safetensors`` file, with enough layers to pass the requested size. cnncli
reads only the pickle or the JSON header, so time and memory should not grow with the
file (goal: well under a second and under 100 MB).
"""

from __future__ import annotations

import collections
import json
import pickle
import struct
import sys
import types
import zipfile
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

HIDDEN, MLP, VOCAB = 768, 3072, 30522
CHUNK = bytes(8 << 20)


def bert_like(megabytes: int) -> list[tuple[str, tuple[int, ...]]]:
    """(name, shape) of a BERT-base-like state_dict of at least ``megabytes`` in float32."""
    tensors: list[tuple[str, tuple[int, ...]]] = [
        ("embeddings.word_embeddings.weight", (VOCAB, HIDDEN)),
        ("embeddings.position_embeddings.weight", (512, HIDDEN)),
        ("embeddings.LayerNorm.weight", (HIDDEN,)),
        ("embeddings.LayerNorm.bias", (HIDDEN,)),
    ]
    layer = 0
    while sum(4 * _numel(s) for _, s in tensors) < megabytes * 1_000_000:
        p = f"encoder.layer.{layer}."
        for name in ("query", "key", "value", "output"):
            tensors += [(f"{p}attention.{name}.weight", (HIDDEN, HIDDEN)),
                        (f"{p}attention.{name}.bias", (HIDDEN,))]  # fmt: skip
        tensors += [
            (f"{p}attention.LayerNorm.weight", (HIDDEN,)),
            (f"{p}attention.LayerNorm.bias", (HIDDEN,)),
            (f"{p}intermediate.dense.weight", (MLP, HIDDEN)),
            (f"{p}intermediate.dense.bias", (MLP,)),
            (f"{p}output.dense.weight", (HIDDEN, MLP)),
            (f"{p}output.dense.bias", (HIDDEN,)),
            (f"{p}output.LayerNorm.weight", (HIDDEN,)),
            (f"{p}output.LayerNorm.bias", (HIDDEN,)),
        ]
        layer += 1
    return tensors


def _numel(shape: tuple[int, ...]) -> int:
    count = 1
    for n in shape:
        count *= n
    return count


def _zeros(nbytes: int) -> Iterator[bytes]:
    while nbytes > 0:
        yield CHUNK[: min(nbytes, len(CHUNK))]
        nbytes -= len(CHUNK)


class _Storage:
    def __init__(self, key: str, numel: int) -> None:
        self.key, self.numel = key, numel


def _torch_pickle(tensors: Sequence[tuple[str, tuple[int, ...]]]) -> bytes:
    """The ``data.pkl`` torch.save writes for these float32 tensors, pickled without torch:
    stand-in ``torch`` modules give the globals their names for the time of the dump."""
    torch, utils = types.ModuleType("torch"), types.ModuleType("torch._utils")
    float_storage = type(
        "FloatStorage", (), {"__module__": "torch", "__qualname__": "FloatStorage"}
    )
    torch.FloatStorage = float_storage  # type: ignore[attr-defined]

    def _rebuild_tensor_v2(*args: Any) -> None:
        raise AssertionError("only pickled here")

    _rebuild_tensor_v2.__module__ = "torch._utils"
    _rebuild_tensor_v2.__qualname__ = "_rebuild_tensor_v2"
    utils._rebuild_tensor_v2 = _rebuild_tensor_v2  # type: ignore[attr-defined]
    torch._utils = utils  # type: ignore[attr-defined]

    class Tensor:
        def __init__(self, key: str, shape: tuple[int, ...]) -> None:
            self.storage, self.shape = _Storage(key, _numel(shape)), shape

        def __reduce__(self) -> tuple[Callable[..., None], tuple[Any, ...]]:
            stride = tuple(_numel(self.shape[i + 1 :]) for i in range(len(self.shape)))
            hooks: collections.OrderedDict[str, Any] = collections.OrderedDict()
            return _rebuild_tensor_v2, (self.storage, 0, self.shape, stride, False, hooks)

    class Pickler(pickle.Pickler):
        def persistent_id(self, obj: Any) -> Any:
            if isinstance(obj, _Storage):
                return ("storage", float_storage, obj.key, "cpu", obj.numel)
            return None

    state = collections.OrderedDict(
        (name, Tensor(str(index), shape)) for index, (name, shape) in enumerate(tensors)
    )
    saved = {name: sys.modules.get(name) for name in ("torch", "torch._utils")}
    sys.modules["torch"], sys.modules["torch._utils"] = torch, utils
    try:
        import io

        buffer = io.BytesIO()
        Pickler(buffer, protocol=2).dump(state)
        return buffer.getvalue()
    finally:
        for name, module in saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module


def make_torch_checkpoint(path: Path, megabytes: int) -> int:
    """A torch.save zip of zeros; returns the number of parameters."""
    tensors = bert_like(megabytes)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED, allowZip64=True) as archive:
        archive.writestr("archive/data.pkl", _torch_pickle(tensors))
        archive.writestr("archive/byteorder", "little")
        for index, (_, shape) in enumerate(tensors):
            with archive.open(f"archive/data/{index}", "w", force_zip64=True) as entry:
                for chunk in _zeros(4 * _numel(shape)):
                    entry.write(chunk)
        archive.writestr("archive/version", "3\n")
    return sum(_numel(s) for _, s in tensors)


def make_safetensors(path: Path, megabytes: int) -> int:
    """A .safetensors file of zeros; returns the number of parameters."""
    tensors = bert_like(megabytes)
    header: dict[str, Any] = {}
    offset = 0
    for name, shape in tensors:
        size = 4 * _numel(shape)
        header[name] = {
            "dtype": "F32",
            "shape": list(shape),
            "data_offsets": [offset, offset + size],
        }
        offset += size
    raw = json.dumps(header).encode()
    with path.open("wb") as out:
        out.write(struct.pack("<Q", len(raw)) + raw)
        for chunk in _zeros(offset):
            out.write(chunk)
    return sum(_numel(s) for _, s in tensors)
