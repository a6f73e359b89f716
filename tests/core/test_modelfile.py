"""Model file readers against what torch said when it wrote the files (tests/golden/modelfiles)."""

from __future__ import annotations

import io
import json
import pickle
import struct
import zipfile
from pathlib import Path

import pytest

from cnncli.core.errors import UserError
from cnncli.core.modelfile import ModelFile, kind_for_name
from cnncli.core.modelfile.detect import read_model_file
from cnncli.core.modelfile.safetensors import read_safetensors
from cnncli.core.modelfile.torchfile import (
    StorageRef,
    TensorMeta,
    common_prefix,
    find_state_dict,
    read_torch_legacy,
    read_torch_zip,
)
from tests.modelfiles import expected, golden_file

CHECKPOINTS = [name for name, e in expected().items() if e["format"] != "onnx"]


def read(path: Path) -> ModelFile:
    kind = kind_for_name(path.name)
    assert kind is not None
    with path.open("rb") as stream:
        return read_model_file(stream, kind)


@pytest.mark.parametrize("name", CHECKPOINTS)
def test_tensors_and_totals_are_torchs(name: str) -> None:
    want = expected()[name]
    got = read(golden_file(name))
    assert got.format.value == want["format"]
    assert got.total_params == want["total_params"]
    assert got.buffers == want["buffers"]
    tensors = [[t.name, list(t.shape), t.dtype] for t in got.tensors]
    if want["format"] == "safetensors":  # the header is a JSON object: its own order
        assert sorted(tensors) == sorted(want["tensors"])
    else:
        assert tensors == want["tensors"]
    assert got.location == want.get("state_dict", "")
    assert got.prefix == want.get("prefix", "")
    assert got.file_bytes == golden_file(name).stat().st_size


@pytest.mark.parametrize("name", CHECKPOINTS)
def test_data_bytes_are_the_stored_tensors(name: str) -> None:
    """Every state_dict tensor here owns its storage, so data = memory = numel x item size
    (the checkpoint also stores its optimizer's momentum buffers)."""
    got = read(golden_file(name))
    if name.endswith(".ckpt"):
        assert got.data_bytes > got.memory_bytes
    else:
        assert got.data_bytes == got.memory_bytes


def test_buffers_are_the_running_statistics() -> None:
    got = read(golden_file("tiny_cnn.pt"))
    assert [t.name for t in got.tensors if t.is_buffer] == [
        "features.1.running_mean",
        "features.1.running_var",
        "features.1.num_batches_tracked",
    ]


# ------------------------------------------------------------- safetensors ---


def safetensors_bytes(header: object, data: bytes, length: int | None = None) -> bytes:
    raw = json.dumps(header).encode()
    return struct.pack("<Q", len(raw) if length is None else length) + raw + data


def test_safetensors_by_hand() -> None:
    header = {
        "__metadata__": {"format": "pt"},
        "a.weight": {"dtype": "F16", "shape": [2, 3], "data_offsets": [0, 12]},
        "a.bias": {"dtype": "BF16", "shape": [2], "data_offsets": [12, 16]},
        "s": {"dtype": "I64", "shape": [], "data_offsets": [16, 24]},
    }
    got = read_safetensors(io.BytesIO(safetensors_bytes(header, bytes(24))))
    assert [(t.name, t.shape, t.dtype) for t in got.tensors] == [
        ("a.bias", (2,), "bfloat16"),
        ("a.weight", (2, 3), "float16"),
        ("s", (), "int64"),
    ]
    assert got.total_params == 6 + 2 + 1


@pytest.mark.parametrize(
    ("entry", "data", "message"),
    [
        ({"dtype": "F32", "shape": [3], "data_offsets": [0, 8]}, 8, "needs 12"),
        ({"dtype": "F32", "shape": [3], "data_offsets": [0, 12]}, 8, "ends at byte 12"),
        ({"dtype": "F32", "shape": [2], "data_offsets": [4, 12]}, 12, "leaves a gap"),
        ({"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}, 12, "cover 8 bytes of a 12"),
        ({"dtype": "X9", "shape": [2], "data_offsets": [0, 8]}, 8, "unknown dtype"),
        ({"dtype": "F32", "shape": [-2], "data_offsets": [0, 8]}, 8, "bad shape"),
        ({"dtype": "F32", "shape": [2], "data_offsets": [8, 0]}, 8, "bad data_offsets"),
        ([1, 2], 8, "is not an object"),
    ],
)
def test_safetensors_lying_headers(entry: object, data: int, message: str) -> None:
    with pytest.raises(UserError, match=message):
        read_safetensors(io.BytesIO(safetensors_bytes({"t": entry}, bytes(data))))


def test_safetensors_overlap() -> None:
    header = {
        "a": {"dtype": "U8", "shape": [4], "data_offsets": [0, 4]},
        "b": {"dtype": "U8", "shape": [4], "data_offsets": [2, 6]},
    }
    with pytest.raises(UserError, match="overlaps"):
        read_safetensors(io.BytesIO(safetensors_bytes(header, bytes(6))))


def test_safetensors_header_length_beyond_the_file() -> None:
    with pytest.raises(UserError, match="the header claims 1,000,000"):
        read_safetensors(io.BytesIO(safetensors_bytes({}, b"", length=1_000_000)))


def test_safetensors_header_over_the_limit_is_refused_unread() -> None:
    class Huge(io.BytesIO):
        """A 2 GB file that has only its first bytes: reading more would fail the test."""

        def seek(self, offset: int, whence: int = 0) -> int:
            return 2_000_000_000 if whence == 2 else super().seek(offset, whence)

    with pytest.raises(UserError, match="over the 16,000,000 limit"):
        read_safetensors(Huge(struct.pack("<Q", 1_500_000_000) + b"{"))


def test_safetensors_header_not_json() -> None:
    with pytest.raises(UserError, match="not JSON"):
        read_safetensors(io.BytesIO(struct.pack("<Q", 3) + b"{x}"))


# ---------------------------------------------------------------- pickles ---


class Trap:
    """Pickles as a call to ``os.system``: loading it with pickle.load would run it."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        import os

        return os.system, (f"touch {self.marker}",)


def torch_zip(obj_pickle: bytes, storages: dict[str, bytes] | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("archive/data.pkl", obj_pickle)
        archive.writestr("archive/version", "3\n")
        for key, data in (storages or {}).items():
            archive.writestr(f"archive/data/{key}", data)
    return buffer.getvalue()


def test_a_pickle_that_calls_os_system_is_refused_and_not_run(tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    payload = pickle.dumps({"weight": Trap(marker)}, protocol=2)
    with pytest.raises(UserError, match=r"refusing to load (posix|os)\.system"):
        read_torch_zip(io.BytesIO(torch_zip(payload)))
    assert not marker.exists()
    pickle.loads(payload)  # the trap is real: plain pickle runs it
    assert marker.exists()


@pytest.mark.parametrize(
    "payload",
    [
        b"cbuiltins\neval\n(S'1'\ntR.",
        b"csubprocess\nPopen\n(S'true'\ntR.",
        b"c__torch__\nNet\n)\x81.",
        b"ctorch._utils\n_rebuild_qtensor\n)R.",
    ],
)
def test_other_globals_are_refused(payload: bytes) -> None:
    with pytest.raises(UserError, match="refusing to load"):
        read_torch_zip(io.BytesIO(torch_zip(payload)))


def test_torchscript_archives_get_a_hint() -> None:
    with pytest.raises(UserError, match="TorchScript"):
        read_torch_zip(io.BytesIO(torch_zip(b"c__torch__\nNet\n)\x81.")))


def test_a_storage_smaller_than_its_tensor_is_refused() -> None:
    raw = bytearray(golden_file("tiny_cnn.pt").read_bytes())
    with zipfile.ZipFile(io.BytesIO(bytes(raw))) as archive:
        names = archive.namelist()
        members = {n: archive.read(n) for n in names}
    key = next(n for n in names if n.endswith("/data/0"))
    members[key] = members[key][:-4]
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in names:
            archive.writestr(name, members[name])
    with pytest.raises(UserError, match="storage 0 holds"):
        read_torch_zip(io.BytesIO(buffer.getvalue()))


@pytest.mark.parametrize("name", ["tiny_cnn.pt", "tiny_cnn.legacy.pth", "tiny_cnn.safetensors"])
def test_truncated_files_are_refused(name: str) -> None:
    raw = golden_file(name).read_bytes()
    kind = kind_for_name(name)
    assert kind is not None
    for cut in (1, 9, 100, len(raw) // 2, len(raw) - 1):
        with pytest.raises(UserError):
            read_model_file(io.BytesIO(raw[:cut]), kind)


def test_legacy_storage_count_must_match() -> None:
    raw = bytearray(golden_file("tiny_cnn.legacy.pth").read_bytes())
    first = 8 * 3 * 3 * 3  # features.0.weight, the first storage
    # Storage records are at the end; find the one with 216 elements and change its count.
    at = raw.rfind(struct.pack("<q", first))
    raw[at : at + 8] = struct.pack("<q", first - 1)
    with pytest.raises(UserError, match="holds 215 elements"):
        read_torch_legacy(io.BytesIO(bytes(raw)))


# -------------------------------------------------------------- state_dict ---


def _t(n: int) -> TensorMeta:
    return TensorMeta(StorageRef("0", "float32", n), 0, (n,), (1,), "float32")


def test_a_plain_state_dict() -> None:
    state = {"w": _t(2), "b": _t(1)}
    assert find_state_dict(state) == ("", state)


@pytest.mark.parametrize("key", ["state_dict", "model_state_dict", "model", "module", "ema"])
def test_a_checkpoint_dict_wrapping_one(key: str) -> None:
    state = {"w": _t(2)}
    assert find_state_dict({"epoch": 3, "optimizer": {"lr": 0.1}, key: state}) == (key, state)


def test_state_dict_wins_over_other_entries() -> None:
    state, ema = {"w": _t(2)}, {"w": _t(2), "x": _t(1)}
    assert find_state_dict({"ema": ema, "state_dict": state})[0] == "state_dict"


def test_a_checkpoint_with_a_stray_tensor_is_not_a_state_dict() -> None:
    state = {"w": _t(2)}
    assert find_state_dict({"state_dict": state, "best": _t(1)}) == ("state_dict", state)


def test_no_state_dict() -> None:
    with pytest.raises(UserError, match="no state_dict"):
        find_state_dict({"epoch": 3})
    with pytest.raises(UserError, match="no state_dict"):
        find_state_dict([1, 2])


@pytest.mark.parametrize(
    ("names", "prefix"),
    [(["model.a", "model.b"], "model."), (["module.a"], "module."), (["model.a", "b"], "")],
)
def test_common_prefix(names: list[str], prefix: str) -> None:
    assert common_prefix(names) == prefix


def test_safetensors_lists_tensors_in_natural_name_order() -> None:
    names = ["layer.10.w", "layer.9.w", "head.w", "layer.9.b"]
    header = {
        n: {"dtype": "U8", "shape": [1], "data_offsets": [i, i + 1]} for i, n in enumerate(names)
    }
    got = read_safetensors(io.BytesIO(safetensors_bytes(header, bytes(4))))
    assert [t.name for t in got.tensors] == ["head.w", "layer.9.b", "layer.9.w", "layer.10.w"]


def test_a_data_pkl_over_the_limit_is_refused_unread() -> None:
    from cnncli.core.modelfile.torchfile import MAX_PICKLE_BYTES

    big = b"\x80\x02N" + b"N0" * (MAX_PICKLE_BYTES // 2) + b"."
    with pytest.raises(UserError, match="over the 16,777,216 limit"):
        read_torch_zip(io.BytesIO(torch_zip(big)))


def test_a_pickle_claiming_a_huge_string_is_refused() -> None:
    """BINBYTES8 with a length of 2**40: refused at the read, nothing that size allocated."""
    head = b"".join(
        pickle.dumps(x, protocol=2) for x in (0x1950A86A20F9469CFC6C, 1001, {"little_endian": True})
    )
    claim = b"\x80\x04\x8e" + struct.pack("<Q", 2**40) + b"abc"
    with pytest.raises(UserError, match="torch file"):
        read_torch_legacy(io.BytesIO(head + claim))


def test_a_state_dict_one_level_deeper() -> None:
    state = {"w": _t(2)}
    found = find_state_dict({"epoch": 1, "model": {"config": {"depth": 3}, "state_dict": state}})
    assert found == ("model/state_dict", state)


def test_the_search_stops_three_levels_down() -> None:
    with pytest.raises(UserError, match="no state_dict"):
        find_state_dict({"a": {"b": {"c": {"w": _t(2)}}}})
