"""`cnncli summary FILE`: ONNX graphs against torch's forward, checkpoints as parameter views."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from tests.cli.test_params_file_cli import PEAK_KIB, one_error_line
from tests.modelfiles import expected, golden_file

ONNX = [name for name, e in expected().items() if e["format"] == "onnx"]


def summary_json(run_cli, *args: str) -> dict:
    result = run_cli("summary", *args, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.mark.parametrize("name", ONNX)
@pytest.mark.parametrize("run", [0, 1])
def test_shapes_and_macs_are_torchs_forward(name: str, run: int, run_cli) -> None:
    """Conv/Gemm outputs in graph order are torch's Conv2d/Linear outputs in call order,
    at the export size and at another one (the exports have symbolic batch, height, width)."""
    forward = expected()[name]["forward"][run]
    batch, *sample = forward["input_shape"]
    data = summary_json(
        run_cli,
        str(golden_file(name)),
        "--input",
        ",".join(map(str, sample)),
        "--batch",
        str(batch),
    )
    weighted = [
        layer
        for layer in data["layers"]
        if layer["op"] in ("Conv", "ConvTranspose", "Gemm", "MatMul")
    ]
    assert [layer["output_shape"] for layer in weighted] == [
        c["output_shape"] for c in forward["calls"]
    ]
    assert [layer["macs"] for layer in weighted] == [c["macs"] for c in forward["calls"]]
    assert data["macs"] == forward["macs"]
    assert data["outputs"][0]["shape"] == forward["output_shape"]
    assert data["inputs"][0]["shape"] == forward["input_shape"]


@pytest.mark.parametrize("name", ONNX)
def test_params_are_the_floating_initializers(name: str, run_cli) -> None:
    data = summary_json(run_cli, str(golden_file(name)))
    assert data["total_params"] == expected()[name]["initializer_params"]
    assert len(data["layers"]) == expected()[name]["nodes"]
    assert all(set(layer) >= {"name", "op", "output_shape"} for layer in data["layers"])


def test_batchnorm_is_folded_so_the_count_differs_and_says_so(run_cli) -> None:
    result = run_cli("summary", str(golden_file("tiny_cnn.onnx")))
    assert result.exit_code == 0
    # torch: 987 parameters; the export folds BatchNorm2d(8) (16 parameters) into the conv.
    assert expected()["tiny_cnn.pt"]["total_params"] - 16 == 971
    assert "971" in result.stdout
    assert "fold BatchNorm" in result.stderr


def test_symbolic_sizes_leave_macs_unknown(run_cli) -> None:
    data = summary_json(run_cli, str(golden_file("tiny_cnn.onnx")))
    assert data["inputs"][0]["shape"] == ["batch", 3, "height", "width"]
    assert data["macs"] is None
    conv = data["layers"][0]
    assert conv["op"] == "Conv" and conv["macs"] is None
    assert conv["output_shape"] == ["batch", 8, None, None]
    table = run_cli("summary", str(golden_file("tiny_cnn.onnx"))).stdout
    assert "[batch, 3, height, width]" in table and "give --input" in table


def test_params_lists_the_initializers(run_cli) -> None:
    data = json.loads(run_cli("params", str(golden_file("tiny_cnn.onnx")), "--json").stdout)
    assert data["format"] == "onnx"
    assert data["total_params"] == expected()["tiny_cnn.onnx"]["initializer_params"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--input", "3,16"), "has 4 dimensions; --input gives 2"),
        (("--input", "1,16,16"), "fixed size 3 in dimension 1, not 1"),
        (("--input", "3,0,16"), "must be positive"),
        (("--csv",), "--csv is for printed models"),
    ],
)
def test_onnx_refusals(args: tuple[str, ...], message: str, run_cli) -> None:
    line = one_error_line(run_cli("summary", str(golden_file("tiny_cnn.onnx")), *args))
    assert message in line


def test_a_graph_too_small_for_its_layers(run_cli) -> None:
    line = one_error_line(run_cli("summary", str(golden_file("tiny_cnn.onnx")), "--input", "3,1,1"))
    assert "Conv): output shape [1, 16, 0, 0]: the input is too small" in line


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"\x08" + bytes(range(200)), "not an ONNX model"),
        (b"", "empty file"),
        (b"\x08\x07", "not an ONNX model"),
        (b"PK\x03\x04" + bytes(30), "the content is a torch.save zip"),
    ],
)
def test_bad_onnx_files(content: bytes, message: str, run_cli, tmp_path) -> None:
    path = tmp_path / "model.onnx"
    path.write_bytes(content)
    assert message in one_error_line(run_cli("summary", str(path)))


def test_without_the_onnx_extra_the_error_names_it(run_cli, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "onnx", None)  # import onnx raises ImportError
    line = one_error_line(run_cli("summary", str(golden_file("tiny_cnn.onnx"))))
    assert "needs the onnx package" in line and "cnncli[onnx]" in line


def test_a_checkpoint_summary_is_its_parameter_view(run_cli) -> None:
    result = run_cli("summary", str(golden_file("tiny_cnn.pt")), "--json")
    assert result.exit_code == 0
    assert json.loads(result.stdout)["total_params"] == expected()["tiny_cnn.pt"]["total_params"]
    assert "not the forward" in result.stderr and "--weights" in result.stderr


def test_a_checkpoint_has_no_input(run_cli) -> None:
    line = one_error_line(run_cli("summary", str(golden_file("tiny_cnn.pt")), "--input", "3,8,8"))
    assert "--input needs a forward" in line


def matmul_graph(path) -> None:
    """X[batch, n] @ W[4, 3] + B[3], built with onnx.helper."""
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [
            helper.make_node("MatMul", ["x", "w"], ["y"], name="mm"),
            helper.make_node("Add", ["y", "b"], ["z"], name="add"),
        ],
        "linear",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", "n"])],
        [helper.make_tensor_value_info("z", TensorProto.FLOAT, ["batch", 3])],
        [
            helper.make_tensor("w", TensorProto.FLOAT, [4, 3], [0.0] * 12),
            helper.make_tensor("b", TensorProto.FLOAT, [3], [0.0] * 3),
        ],
    )
    onnx.save(helper.make_model(graph), str(path))


def test_matmul_with_a_weight_counts_output_elements_times_k(run_cli, tmp_path) -> None:
    path = tmp_path / "linear.onnx"
    matmul_graph(path)
    data = summary_json(run_cli, str(path), "--input", "4", "--batch", "2")
    assert [(n["name"], n["op"], n["output_shape"]) for n in data["layers"]] == [
        ("mm", "MatMul", [2, 3]),
        ("add", "Add", [2, 3]),
    ]
    assert data["macs"] == 2 * 3 * 4
    assert data["total_params"] == 12 + 3


def test_an_input_the_graph_cannot_take(run_cli, tmp_path) -> None:
    path = tmp_path / "linear.onnx"
    matmul_graph(path)
    assert "shape inference failed" in one_error_line(run_cli("summary", str(path), "--input", "5"))


def test_the_table_shows_module_paths_of_exporter_names(run_cli) -> None:
    table = run_cli("summary", str(golden_file("tiny_cnn.onnx")), "--input", "3,16,16").stdout
    rows = [line.split("│")[0].strip() for line in table.splitlines() if "│" in line]
    assert rows[:2] == ["features.0", "features.2"] and "classifier.1" in rows and "/Mul" in rows


def test_a_truncated_onnx_file_fails_before_it_is_parsed(run_cli, tmp_path) -> None:
    path = tmp_path / "cut.onnx"
    path.write_bytes(golden_file("tiny_cnn.onnx").read_bytes()[:3000])
    line = one_error_line(run_cli("summary", str(path)))
    assert "runs" in line and "bytes past the end" in line


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs Linux's /proc")
def test_a_huge_onnx_lookalike_is_refused_without_reading_it(tmp_path) -> None:
    """1 GB of zeros after a plausible start (ir_version 7): the frame check stops at the
    first zero tag instead of handing a gigabyte to protobuf (peak memory checked)."""
    import subprocess

    path = tmp_path / "huge.onnx"
    with path.open("wb") as f:
        f.write(b"\x08\x07")
        f.truncate(1_000_000_000)
    code = (
        PEAK_KIB + "from typer.testing import CliRunner\n"
        "from cnncli.cli import app\n"
        f"r = CliRunner().invoke(app, ['summary', {str(path)!r}])\n"
        "print(r.exit_code, peak_kib())\n"
        "print(r.stderr)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    status, peak_kb = map(int, out.stdout.split("\n")[0].split())
    assert status == 2 and "byte 2 is no protobuf field" in out.stdout
    assert peak_kb < 200_000


def test_params_takes_one_model_file(run_cli) -> None:
    path = str(golden_file("tiny_cnn.pt"))
    assert "one model file at a time" in one_error_line(run_cli("params", path, path))


def test_strict_wants_every_size_known(run_cli) -> None:
    onnx_file = str(golden_file("tiny_cnn.onnx"))
    result = run_cli("summary", onnx_file, "--strict")
    assert result.exit_code == 2 and "--strict: some shapes or MACs are symbolic" in result.stderr
    assert run_cli("summary", onnx_file, "--strict", "--input", "3,16,16").exit_code == 0


def test_batch_needs_input_for_a_graph(run_cli) -> None:
    line = one_error_line(run_cli("summary", str(golden_file("tiny_cnn.onnx")), "--batch", "4"))
    assert "--batch goes with --input" in line


@pytest.mark.parametrize(
    ("encoding", "mark"),
    [("utf-8", b"\xef\xbb\xbf"), ("utf-16-le", b"\xff\xfe"), ("utf-16-be", b"\xfe\xff")],
    ids=["utf-8 with BOM", "utf-16 LE (PowerShell >)", "utf-16 BE"],
)
def test_a_printed_model_saved_with_a_byte_order_mark_is_read(
    run_cli, tmp_path, encoding, mark
) -> None:
    """Windows editors add a UTF-8 BOM; PowerShell's `>` writes UTF-16 with one. The total
    is PyTorch's (the golden file), as for the plain UTF-8 text."""
    import json

    golden = Path(__file__).parents[1] / "golden"
    text = (golden / "real_models" / "resnet18.txt").read_text(encoding="utf-8")
    saved = tmp_path / "resnet18.txt"
    saved.write_bytes(mark + text.replace("\n", "\r\n").encode(encoding))
    result = run_cli("summary", str(saved), "--input", "3,224,224", "--json")
    assert result.exit_code == 0, result.stderr
    expected = json.loads((golden / "real_models.json").read_text())["models"]["resnet18"]
    assert json.loads(result.stdout)["total_params"] == expected["total_params"]
