"""Files written by ``torch.save``: the pickle read with a restricted unpickler, data untouched.

Two layouts (torch/serialization.py): the zip archive torch >= 1.6 writes
(``ARCHIVE/data.pkl`` plus one stored entry per storage, ``ARCHIVE/data/KEY``) and the
legacy stream (pickled magic number, protocol version and system info, the object, the
list of storage keys, then each storage as an 8-byte element count and its bytes).

The object pickle is read by :class:`MetaUnpickler`, whose ``find_class`` yields only
stand-ins of its own: containers (``collections.OrderedDict``), the tensor rebuild
functions of ``torch._utils`` (which return a :class:`TensorMeta`: storage, offset,
shape, strides), the storage classes and dtype names. Any other global (``os.system``,
a user's class) is refused before anything is called, as the Python documentation's
"Restricting Globals" recipe does; a storage is a persistent id turned into a
:class:`StorageRef`, so no tensor byte is read.
"""

from __future__ import annotations

import io
import math
import pickle
import struct
import zipfile
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import IO, Any

from cnncli.core.errors import UserError
from cnncli.core.modelfile import DTYPE_SIZES, TORCH_MAGICS, FileFormat, ModelFile, TensorInfo

# A state_dict's pickle takes ~150 bytes per tensor: 16 MB is some 100,000 tensors. The
# objects a pickle builds can take ~20x its size, so this also bounds a crafted file's memory.
MAX_PICKLE_BYTES = 16 * 1024 * 1024
# A zip directory entry is ~100 bytes: this allows some 600,000 tensors.
MAX_DIRECTORY_BYTES = 64 * 1024 * 1024
LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
LEGACY_PROTOCOL = 1001

_STORAGE_DTYPES = {
    "DoubleStorage": "float64",
    "FloatStorage": "float32",
    "HalfStorage": "float16",
    "BFloat16Storage": "bfloat16",
    "ComplexDoubleStorage": "complex128",
    "ComplexFloatStorage": "complex64",
    "LongStorage": "int64",
    "IntStorage": "int32",
    "ShortStorage": "int16",
    "CharStorage": "int8",
    "ByteStorage": "uint8",
    "BoolStorage": "bool",
    "QInt8Storage": "qint8",
    "QUInt8Storage": "quint8",
    "QInt32Storage": "qint32",
    "UntypedStorage": "uint8",  # bytes; the tensor's dtype comes with _rebuild_tensor_v3
}

# Where checkpoints keep the model's state_dict, most specific first.
STATE_DICT_KEYS = (
    "state_dict",
    "model_state_dict",
    "model",
    "module",
    "net",
    "network",
    "model_ema",
    "ema",
    "params",
)
# Prefixes wrappers add to every name: Lightning's LightningModule attribute, DataParallel.
COMMON_PREFIXES = ("model.", "module.", "_orig_mod.")


@dataclass(frozen=True)
class DType:
    """A ``torch.<dtype>`` global, as ``_rebuild_tensor_v3`` receives it."""

    name: str


@dataclass(frozen=True)
class StorageType:
    """A ``torch.<X>Storage`` class named in a persistent id."""

    dtype: str


@dataclass(frozen=True)
class StorageRef:
    """A storage the pickle points to: its key, element type and element count."""

    key: str
    dtype: str
    numel: int

    @property
    def nbytes(self) -> int:
        return self.numel * DTYPE_SIZES[self.dtype]


@dataclass(frozen=True)
class TensorMeta:
    storage: StorageRef
    offset: int
    shape: tuple[int, ...]
    stride: tuple[int, ...]
    dtype: str


def _ints(value: object, what: str) -> tuple[int, ...]:
    if not isinstance(value, (tuple, list)) or not all(
        isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in value
    ):
        raise UserError(f"torch file: a tensor's {what} is not a tuple of sizes: {value!r}")
    return tuple(value)


def _tensor(
    storage: object, offset: object, size: object, stride: object, dtype: str
) -> TensorMeta:
    if not isinstance(storage, StorageRef):
        raise UserError("torch file: a tensor without a storage")
    if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0:
        raise UserError(f"torch file: a tensor has a bad storage offset {offset!r}")
    shape, strides = _ints(size, "size"), _ints(stride, "stride")
    if len(shape) != len(strides):
        raise UserError(f"torch file: a tensor's size {shape} and stride {strides} disagree")
    if dtype not in DTYPE_SIZES:
        raise UserError(f"torch file: unknown dtype {dtype!r}")
    if math.prod(shape):
        # The last element a view reaches, in units of the tensor's dtype, must be stored.
        last = (offset + sum((n - 1) * s for n, s in zip(shape, strides, strict=True)) + 1) * (
            DTYPE_SIZES[dtype]
        )
        if last > storage.nbytes:
            raise UserError(
                f"torch file: a tensor of shape {list(shape)} reaches byte {last:,} of a "
                f"{storage.nbytes:,}-byte storage"
            )
    return TensorMeta(storage, offset, shape, strides, dtype)


def _rebuild_tensor_v2(
    storage: object, offset: object, size: object, stride: object, *_: object
) -> TensorMeta:
    """``torch._utils._rebuild_tensor_v2(storage, storage_offset, size, stride, ...)``."""
    dtype = storage.dtype if isinstance(storage, StorageRef) else ""
    return _tensor(storage, offset, size, stride, dtype)


def _rebuild_tensor_v3(
    storage: object, offset: object, size: object, stride: object, _rg: object, _h: object,
    dtype: object, *_: object,
) -> TensorMeta:  # fmt: skip
    """``_rebuild_tensor_v3(storage, offset, size, stride, requires_grad, hooks, dtype, ...)``:
    an untyped (byte) storage with the dtype given apart (float8 and newer types)."""
    if not isinstance(dtype, DType):
        raise UserError("torch file: a tensor without a dtype")
    return _tensor(storage, offset, size, stride, dtype.name)


def _rebuild_parameter(data: object, *_: object) -> object:
    """``torch._utils._rebuild_parameter(data, requires_grad, backward_hooks)``: the tensor."""
    return data


def _ordered_dict(*args: Any) -> OrderedDict[Any, Any]:
    return OrderedDict(*args)


_GLOBALS: Mapping[tuple[str, str], object] = {
    ("collections", "OrderedDict"): _ordered_dict,
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
    ("torch._utils", "_rebuild_tensor_v3"): _rebuild_tensor_v3,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter,
    **{("torch", name): StorageType(dtype) for name, dtype in _STORAGE_DTYPES.items()},
    ("torch.storage", "UntypedStorage"): StorageType("uint8"),
    **{("torch", name): DType(name) for name in DTYPE_SIZES},
}


class MetaUnpickler(pickle.Unpickler):
    """Rebuilds plain containers and tensor metadata; refuses every other global."""

    def __init__(self, stream: io.RawIOBase, storages: Callable[[StorageRef], object]) -> None:
        super().__init__(stream)
        self._seen = storages

    def find_class(self, module: str, name: str) -> Any:
        found = _GLOBALS.get((module, name))
        if found is None:
            hint = (
                "a TorchScript archive: save model.state_dict() instead"
                if module.startswith("__torch__")
                else "only tensors, numbers, strings and containers are read; nothing is run"
            )
            raise UserError(f"refusing to load {module}.{name} from the pickle", hint=hint)
        return found

    def persistent_load(self, pid: Any) -> StorageRef:
        """``('storage', storage_type, key, location, numel[, view_metadata])``."""
        if (
            not isinstance(pid, tuple)
            or len(pid) < 5
            or pid[0] != "storage"
            or not isinstance(pid[1], StorageType)
            or not isinstance(pid[4], int)
            or isinstance(pid[4], bool)
            or pid[4] < 0
        ):
            raise UserError(f"torch file: an unknown persistent id {str(pid)[:60]}")
        if len(pid) > 5 and pid[5] is not None:
            raise UserError("torch file: storage views (torch < 0.4) are not supported")
        ref = StorageRef(str(pid[2]), pid[1].dtype, pid[4])
        self._seen(ref)
        return ref


class _Bounded(io.RawIOBase):
    """A window on a stream that refuses to read past ``limit`` bytes: a pickle that
    claims a huge string fails there instead of allocating it."""

    def __init__(self, stream: IO[bytes], limit: int) -> None:
        self._stream, self._left = stream, limit

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer).cast("B")
        want = len(view)
        if want > self._left:
            raise UserError(f"torch file: the pickle is larger than {MAX_PICKLE_BYTES:,} bytes")
        data = self._stream.read(want)
        view[: len(data)] = data
        self._left -= len(data)
        return len(data)


def _unpickle(stream: IO[bytes], storages: Callable[[StorageRef], object]) -> Any:
    try:
        return MetaUnpickler(_Bounded(stream, MAX_PICKLE_BYTES), storages).load()
    except UserError:
        raise
    except RecursionError:
        raise UserError("torch file: the pickle nests too deeply") from None
    except MemoryError:
        raise UserError("torch file: the pickle asks for more memory than a file can") from None
    except Exception as exc:  # any malformed pickle: UnpicklingError, EOFError, TypeError...
        raise UserError(f"torch file: not a readable pickle ({type(exc).__name__})") from None


# ------------------------------------------------------------------------ zip ---


def looks_like_zip(head: bytes) -> bool:
    return head.startswith(TORCH_MAGICS[0])


def read_torch_zip(stream: IO[bytes]) -> ModelFile:
    """A ``torch.save`` zip archive: ``*/data.pkl`` unpickled, storage entries only sized."""
    size = stream.seek(0, 2)
    _check_directory_size(stream, size)
    stream.seek(0)
    try:
        archive = zipfile.ZipFile(stream)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError, OSError, EOFError):
        raise UserError("not a torch.save zip archive (unreadable zip directory)") from None
    except (struct.error, UnicodeDecodeError, OverflowError, KeyError, IndexError):
        raise UserError("not a torch.save zip archive (a damaged zip directory)") from None
    with archive:
        entries = {info.filename: info for info in archive.infolist()}
        pickles = [n for n in entries if n.endswith("/data.pkl") and n.count("/") == 1]
        if len(pickles) != 1:
            raise UserError(
                "a zip file without a torch.save data.pkl"
                if not pickles
                else "a zip file with several data.pkl archives"
            )
        root = pickles[0][: -len("data.pkl")]
        info = entries[pickles[0]]
        if info.file_size > MAX_PICKLE_BYTES:
            raise UserError(
                f"torch file: data.pkl of {info.file_size:,} bytes is over the "
                f"{MAX_PICKLE_BYTES:,} limit"
            )
        storages: dict[str, StorageRef] = {}
        try:
            with archive.open(info) as member:
                raw = member.read(MAX_PICKLE_BYTES + 1)
        except (zipfile.BadZipFile, OSError, EOFError, ValueError, NotImplementedError) as exc:
            raise UserError(f"torch file: cannot read data.pkl ({exc})") from None
        except Exception as exc:  # zlib / struct errors from a damaged entry
            raise UserError(f"torch file: cannot read data.pkl ({type(exc).__name__})") from None
        obj = _unpickle(io.BytesIO(raw), lambda ref: storages.setdefault(ref.key, ref))
        for key, ref in storages.items():
            entry = entries.get(f"{root}data/{key}")
            if entry is None:
                raise UserError(f"torch file: storage {key} is missing from the archive")
            if entry.file_size != ref.nbytes:
                raise UserError(
                    f"torch file: storage {key} holds {entry.file_size:,} bytes, "
                    f"its tensors need {ref.nbytes:,}"
                )
            _check_inside(entry, size)
        data = sum(ref.nbytes for ref in storages.values())
    return _model_file(FileFormat.TORCH_ZIP, obj, size, data)


def _check_directory_size(stream: IO[bytes], size: int) -> None:
    """Refuse a zip whose end record claims a directory beyond the file or the limit
    before ``zipfile`` allocates it (APPNOTE.TXT 4.3.16, and 4.3.14 for ZIP64)."""
    tail = min(size, 22 + 65535)
    stream.seek(size - tail)
    data = stream.read(tail)
    at = data.rfind(b"PK\x05\x06")
    if at < 0 or len(data) - at < 22:
        raise UserError("not a torch.save zip archive (no end of central directory)")
    directory, offset = struct.unpack("<II", data[at + 12 : at + 20])
    locator = data[at - 20 : at] if at >= 20 else b""
    if 0xFFFFFFFF in (directory, offset) and locator[:4] == b"PK\x06\x07":
        (record,) = struct.unpack("<Q", locator[8:16])
        if record + 56 <= size:
            stream.seek(record)
            zip64 = stream.read(56)
            if zip64[:4] == b"PK\x06\x06":
                directory, offset = struct.unpack("<QQ", zip64[40:56])
    if directory > MAX_DIRECTORY_BYTES or offset + directory > size:
        raise UserError(
            f"not a torch.save zip archive (its directory claims {directory:,} bytes "
            f"at byte {offset:,} of {size:,})"
        )


def _check_inside(entry: zipfile.ZipInfo, size: int) -> None:
    """A stored entry's bytes lie inside the file (a truncated download fails here)."""
    if entry.header_offset + 30 + len(entry.filename) + entry.compress_size > size:
        raise UserError(f"torch file: {entry.filename} runs past the end of the file (truncated?)")


# --------------------------------------------------------------------- legacy ---


def looks_like_legacy(head: bytes) -> bool:
    """The pickled magic number that starts a legacy ``torch.save`` stream."""
    return (
        head[:2] == b"\x80\x02"
        and head[2:3] == b"\x8a"
        and head[4:14] == (LEGACY_MAGIC.to_bytes(10, "little"))
    )


def read_torch_legacy(stream: IO[bytes]) -> ModelFile:
    """The legacy ``torch.save`` stream; storage headers are checked, their data skipped."""
    size = stream.seek(0, 2)
    stream.seek(0)
    ignore: Callable[[StorageRef], object] = lambda ref: None  # noqa: E731
    if _unpickle(stream, ignore) != LEGACY_MAGIC:
        raise UserError("not a legacy torch.save file (no magic number)")
    version = _unpickle(stream, ignore)
    if version != LEGACY_PROTOCOL:
        raise UserError(f"torch file: unknown legacy protocol version {version!r}")
    info = _unpickle(stream, ignore)
    if not isinstance(info, dict) or info.get("little_endian") is False:
        raise UserError("torch file: only little-endian legacy files are read")
    storages: dict[str, StorageRef] = {}
    obj = _unpickle(stream, lambda ref: storages.setdefault(ref.key, ref))
    keys = _unpickle(stream, ignore)
    if not isinstance(keys, list) or set(map(str, keys)) != set(storages):
        raise UserError("torch file: the list of storages does not match the tensors")
    position = stream.tell()
    for key in keys:
        ref = storages[str(key)]
        stream.seek(position)
        header = stream.read(8)
        if len(header) < 8:
            raise UserError("torch file: truncated (a storage is missing)")
        (count,) = struct.unpack("<q", header)
        if count != ref.numel:
            raise UserError(
                f"torch file: storage {key} holds {count:,} elements, not {ref.numel:,}"
            )
        position += 8 + ref.nbytes
        if position > size:
            raise UserError("torch file: truncated (a storage runs past the end of the file)")
    data = sum(ref.nbytes for ref in storages.values())
    return _model_file(FileFormat.TORCH_LEGACY, obj, size, data)


# ----------------------------------------------------------------- state_dict ---


def _model_file(fmt: FileFormat, obj: object, size: int, data: int) -> ModelFile:
    location, state = find_state_dict(obj)
    tensors = tuple(TensorInfo(name, t.shape, t.dtype) for name, t in state.items())
    prefix = common_prefix(list(state))
    notes = []
    if location:
        notes.append(f"the state_dict is the checkpoint's {location!r} entry")
    if prefix:
        notes.append(f"every name starts with {prefix!r} (a wrapper's attribute)")
    return ModelFile(fmt, tensors, size, data, location, prefix, tuple(notes))


def _tensor_dict(obj: object) -> dict[str, TensorMeta] | None:
    """``obj`` as a state_dict (string keys, tensor values; other values are extra state)."""
    if not isinstance(obj, dict) or not all(isinstance(k, str) for k in obj):
        return None
    if any(isinstance(v, (dict, list)) for v in obj.values()):
        return None  # a checkpoint: the state_dict is one of its entries
    tensors = {k: v for k, v in obj.items() if isinstance(v, TensorMeta)}
    return tensors or None


def find_state_dict(obj: object) -> tuple[str, dict[str, TensorMeta]]:
    """The state_dict in what ``torch.save`` stored: itself, or a checkpoint's entry.

    Returns where it was (``""`` for the object itself, ``"state_dict"``, ``"model/ema"``).
    """
    found = _search(obj, "", depth=3)
    if found is not None:
        return found
    raise UserError(
        "no state_dict in this file (a dict of tensors, or a checkpoint with one under "
        f"{', '.join(repr(k) for k in STATE_DICT_KEYS[:4])}, ...)"
    )


def _search(obj: object, where: str, depth: int) -> tuple[str, dict[str, TensorMeta]] | None:
    """Breadth first: a checkpoint's own entries before the entries of its entries
    (``{"model": {"state_dict": ...}}`` is found as ``model/state_dict``)."""
    direct = _tensor_dict(obj)
    if direct is not None:
        return where, direct
    if not isinstance(obj, dict) or depth <= 1:
        return None
    entries = list(_candidates(obj))
    for key, value in entries:
        found = _tensor_dict(value)
        if found is not None:
            return f"{where}/{key}" if where else key, found
    for key, value in entries:
        nested = _search(value, f"{where}/{key}" if where else key, depth - 1)
        if nested is not None:
            return nested
    return None


def _candidates(checkpoint: dict[Any, Any]) -> Iterator[tuple[str, object]]:
    for key in STATE_DICT_KEYS:
        if key in checkpoint:
            yield key, checkpoint[key]
    for key, value in checkpoint.items():
        if isinstance(key, str) and key not in STATE_DICT_KEYS and isinstance(value, dict):
            yield key, value


def common_prefix(names: list[str]) -> str:
    """``model.`` (Lightning) or ``module.`` (DataParallel) when every name has it."""
    for prefix in COMMON_PREFIXES:
        if names and all(n.startswith(prefix) for n in names):
            return prefix
    return ""
