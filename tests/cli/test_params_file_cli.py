"""`cnncli params FILE`: model files through the CLI, and every way a file can be bad."""

from __future__ import annotations

import json
import pickle
import struct
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.cli.test_app import heavy_modules_loaded
from tests.core.test_modelfile import Trap, safetensors_bytes, torch_zip
from tests.modelfiles import expected, golden_file

CHECKPOINTS = [name for name, e in expected().items() if e["format"] != "onnx"]


@pytest.mark.parametrize("name", CHECKPOINTS)
def test_json_is_torchs_count(name: str, run_cli) -> None:
    want = expected()[name]
    result = run_cli("params", str(golden_file(name)), "--json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["total_params"] == want["total_params"]
    assert data["buffers"] == want["buffers"]
    assert sorted([t["name"], t["shape"], t["dtype"]] for t in data["tensors"]) == sorted(
        want["tensors"]
    )
    assert data["format"] == want["format"]


def test_total_for_shell_capture(run_cli) -> None:
    result = run_cli("params", str(golden_file("resnet18.pth.gz")), "--total")
    assert result.stdout == "11689512\n"  # torchvision's documented count for ResNet-18


def test_table_groups_by_module(run_cli) -> None:
    result = run_cli("params", str(golden_file("tiny_cnn.pt")))
    assert result.exit_code == 0
    out = result.stdout
    assert "running_mean (buffer)" in out
    # features.1 (BatchNorm2d(8)): weight + bias + 2 x 8 statistics + num_batches_tracked.
    assert "subtotal" in out and "33" in out
    assert f"total params: {expected()['tiny_cnn.pt']['total_params']:,}  (buffers: 17)" in out
    assert "float32" in out and "int64" in out and "on disk:" in out


def test_checkpoint_notes_name_the_entry_and_prefix(run_cli) -> None:
    result = run_cli("params", str(golden_file("tiny_cnn.ckpt")))
    assert "'state_dict' entry" in result.stderr and "'model.'" in result.stderr


def test_explain_is_for_layer_texts(run_cli) -> None:
    result = run_cli("params", str(golden_file("tiny_cnn.pt")), "--explain")
    assert result.exit_code == 2 and "--explain applies to layer texts" in result.stderr


def one_error_line(result) -> str:
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.output
    return lines[0]


def test_malicious_pickle_exit_2_and_no_trace(run_cli, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    path = tmp_path / "evil.pt"
    path.write_bytes(torch_zip(pickle.dumps({"w": Trap(marker)}, protocol=2)))
    line = one_error_line(run_cli("params", str(path)))
    assert "refusing to load" in line and str(path) in line
    assert not marker.exists()


def test_malicious_legacy_pickle(run_cli, tmp_path: Path) -> None:
    marker = tmp_path / "ran"
    path = tmp_path / "evil.pth"
    head = b"".join(
        pickle.dumps(x, protocol=2) for x in (0x1950A86A20F9469CFC6C, 1001, {"little_endian": True})
    )
    path.write_bytes(head + pickle.dumps({"w": Trap(marker)}, protocol=2))
    assert "refusing to load" in one_error_line(run_cli("params", str(path)))
    assert not marker.exists()


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("empty.safetensors", b"", "empty file"),
        ("random.pt", bytes(range(256)) * 16, "not a torch.save"),
        ("random.safetensors", b"\xff" * 64, "not a safetensors file: its first bytes"),
        ("lying.safetensors", b"\xff" * 8 + b"{}", "the header claims"),
        ("zip.safetensors", b"PK\x03\x04" + bytes(60), "the extension says a safetensors"),
        ("header.pt", safetensors_bytes({}, b""), "content is a safetensors file"),
        ("plain.zip.pt", torch_zip(b"N.")[:-30], "torch.save zip"),
        ("nopickle.pt", b"PK\x05\x06" + bytes(18), "torch.save"),
    ],
)
def test_bad_files(name: str, content: bytes, message: str, run_cli, tmp_path: Path) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    line = one_error_line(run_cli("params", str(path)))
    assert message in line and str(path) in line


def test_a_directory(run_cli, tmp_path: Path) -> None:
    path = tmp_path / "weights.pt"
    path.mkdir()
    assert "is a directory" in one_error_line(run_cli("params", str(path)))


def test_a_missing_file(run_cli, tmp_path: Path) -> None:
    assert "no such file" in one_error_line(run_cli("params", str(tmp_path / "none.bin")))


def test_a_pickle_without_tensors(run_cli, tmp_path: Path) -> None:
    path = tmp_path / "numbers.pt"
    path.write_bytes(torch_zip(pickle.dumps({"epoch": 3}, protocol=2)))
    assert "no state_dict" in one_error_line(run_cli("params", str(path)))


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    data=st.binary(max_size=2048),
    extension=st.sampled_from([".safetensors", ".pt", ".pth", ".bin", ".ckpt", ".onnx"]),
    prefix=st.sampled_from(
        [
            b"",
            b"PK\x03\x04",
            b"\x80\x02\x8a\x0al\xfc\x9cF\xf9 j\xa8P\x19",
            struct.pack("<Q", 40) + b"{",
            b"\x08\x07\x12",
        ]
    ),
)
def test_garbage_bytes_are_one_error_line(
    data: bytes, extension: str, prefix: bytes, run_cli, tmp_path: Path
) -> None:
    path = tmp_path / f"garbage{extension}"
    path.write_bytes(prefix + data)
    result = run_cli("params", str(path), "--json")
    if result.exit_code != 0:
        one_error_line(result)


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(data=st.data())
def test_damaged_golden_files_are_one_error_line_or_read(data, run_cli) -> None:
    name = data.draw(
        st.sampled_from(
            ["tiny_cnn.pt", "tiny_cnn.legacy.pth", "tiny_cnn.f16.safetensors", "tiny_cnn.onnx"]
        )
    )
    raw = bytearray(golden_file(name).read_bytes())
    for _ in range(data.draw(st.integers(1, 4))):
        raw[data.draw(st.integers(0, len(raw) - 1))] = data.draw(st.integers(0, 255))
    path = golden_file(name).parent / f"damaged-{name}"
    path.write_bytes(bytes(raw))
    for command in ("params", "summary"):
        result = run_cli(command, str(path), "--json")
        if result.exit_code != 0:
            one_error_line(result)


# The peak resident memory of the process running this (Linux's VmHWM, which an exec
# resets: ru_maxrss would start at the size of the pytest process that forked it).
PEAK_KIB = """\
def peak_kib():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
"""


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux's /proc")
def test_a_lying_zip_directory_is_quick_and_small(tmp_path: Path) -> None:
    """A 1 GB sparse file with a zip end record claiming a huge directory: refused without
    reading the file (whole-process peak memory checked, not time)."""
    path = tmp_path / "huge.pt"
    with path.open("wb") as f:
        f.write(b"PK\x03\x04")
        f.seek(1_000_000_000)
        f.write(b"PK\x05\x06" + struct.pack("<HHHHIIH", 0, 0, 60000, 60000, 900_000_000, 10, 0))
    code = (
        PEAK_KIB + "from typer.testing import CliRunner\n"
        "from cnncli.cli import app\n"
        f"r = CliRunner().invoke(app, ['params', {str(path)!r}])\n"
        "print(r.exit_code, peak_kib())\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    status, peak_kb = map(int, out.stdout.split())
    assert status == 2
    assert peak_kb < 200_000


def test_a_bin_file_that_is_not_torch_keeps_its_old_meaning(run_cli, tmp_path: Path) -> None:
    """.bin is any binary file: it is read as a checkpoint only when it starts like one."""
    path = tmp_path / "x.bin"
    path.write_bytes(b"\xff\xfe\x00\x81")
    assert "not UTF-8 text" in one_error_line(run_cli("summary", str(path), "--input", "3"))
    path.write_bytes(golden_file("tiny_cnn.pt").read_bytes())
    data = json.loads(run_cli("params", str(path), "--json").stdout)
    assert data["total_params"] == expected()["tiny_cnn.pt"]["total_params"]


@pytest.mark.parametrize(
    "args",
    [
        ["params", "tiny_cnn.pt"],
        ["params", "tiny_cnn.legacy.pth", "--json"],
        ["params", "tiny_cnn.safetensors"],
        ["summary", "tiny_cnn.txt", "--input", "3,16,16", "--weights", "tiny_cnn.ckpt"],
    ],
    ids=lambda args: "-".join(args[:2]),
)
def test_model_files_import_no_heavy_modules(args: list[str]) -> None:
    """The readers are standard library (json, struct, zipfile, pickle): no numpy."""
    args = [str(golden_file(a)) if a.startswith("tiny_cnn.") else a for a in args]
    assert heavy_modules_loaded(args, ("numpy", "scipy", "PIL", "torch", "onnx")) == []


def test_an_onnx_graph_that_inference_refuses_even_loosely_is_one_line_or_read(run_cli) -> None:
    """Byte 917 of the golden ONNX file set to 106 (the example the test above found): onnx's
    shape inference then raises even outside strict mode, which was an internal error."""
    raw = bytearray(golden_file("tiny_cnn.onnx").read_bytes())
    raw[917] = 106
    path = golden_file("tiny_cnn.onnx").parent / "damaged-917.onnx"
    path.write_bytes(bytes(raw))
    for command in ("params", "summary"):
        result = run_cli(command, str(path), "--json")
        if result.exit_code != 0:
            one_error_line(result)
