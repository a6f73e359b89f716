"""`cnncli summary REPR --weights FILE`: printed layers joined to a file's tensors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cnncli.core.modelfile import ModelFile
from cnncli.core.summary import parse_model
from cnncli.core.weights import join_weights
from cnncli.modelfiles import read_model
from tests.cli.test_params_file_cli import one_error_line
from tests.modelfiles import GOLDEN, expected, golden_file

TINY = (GOLDEN / "tiny_cnn.txt").read_text()
TINY_FILES = [n for n in expected() if n.startswith("tiny_cnn.") and not n.endswith(".onnx")]


def summary(run_cli, text_path: Path, weights: str, *args: str) -> dict:
    result = run_cli(
        "summary", str(text_path), "--weights", str(golden_file(weights)), "--json", *args
    )
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


@pytest.mark.parametrize("name", TINY_FILES)
def test_hidden_parameters_count(name: str, run_cli) -> None:
    """TinyNet has an nn.Parameter its repr does not show (scale): the file counts it."""
    data = summary(run_cli, GOLDEN / "tiny_cnn.txt", name, "--input", "3,16,16")
    assert data["total_params"] == expected()[name]["total_params"] == 987
    assert data["buffers"] == expected()[name]["buffers"]
    assert any("scale [1]" in note for note in data["notes"])
    by_name = {layer["name"]: layer["params"] for layer in data["layers"]}
    # torch's tensors under each module path, from the golden record.
    for module in ("features.0", "features.4", "classifier.1"):
        prefix = "model." if name.endswith(".ckpt") else ""
        want = sum(
            _numel(shape)
            for tensor, shape, _ in expected()[name]["tensors"]
            if tensor.startswith(f"{prefix}{module}.")
        )
        assert by_name[module] == want


def test_the_file_makes_the_totals_exact(run_cli) -> None:
    """Without the file TinyNet's total is a lower bound (scale is not printed); with it, exact."""
    alone = run_cli("summary", str(GOLDEN / "tiny_cnn.txt"), "--input", "3,16,16", "--json")
    assert json.loads(alone.stdout)["params_exact"] is False
    data = summary(run_cli, GOLDEN / "tiny_cnn.txt", TINY_FILES[0], "--input", "3,16,16")
    assert data["params_exact"] is True
    assert not any("lower bound" in warning for warning in data["warnings"])
    result = run_cli(
        "summary", str(GOLDEN / "tiny_cnn.txt"), "--input", "3,16,16", "--strict",
        "--weights", str(golden_file(TINY_FILES[0])),
    )  # fmt: skip
    assert result.exit_code == 0, result.output


def _numel(shape: list[int]) -> int:
    count = 1
    for n in shape:
        count *= n
    return count


@pytest.mark.parametrize("name", ["resnet18.f16.safetensors.gz", "resnet18.pth.gz"])
def test_resnet18_totals_from_the_file(name: str, run_cli) -> None:
    data = summary(run_cli, GOLDEN / "resnet18.txt", name, "--input", "3,224,224")
    assert data["total_params"] == expected()[name]["total_params"]
    assert data["buffers"] == expected()[name]["buffers"]
    assert sum(layer["params"] for layer in data["layers"]) == data["total_params"]
    assert not any("no printed layer claims" in note for note in data["notes"])
    assert not data["warnings"]


def test_an_lstm_and_an_embedding_join_in_core() -> None:
    """The sequence model's layers claim every tensor (summary cannot run an LSTM)."""
    model: ModelFile = read_model(str(golden_file("tagger.pt")))
    join = join_weights(parse_model((GOLDEN / "tagger.txt").read_text()), model, "tagger.pt")
    assert join.unclaimed == () and join.bare == ()
    lstm = sum(_numel(s) for n, s, _ in expected()["tagger.pt"]["tensors"] if n.startswith("lstm."))
    assert join.layers["lstm"].params == lstm
    assert join.layers["embed"].params == 100 * 16
    assert join.total_params == expected()["tagger.pt"]["total_params"]


def test_a_mismatch_names_the_layer_before_shapes_propagate(run_cli, tmp_path: Path) -> None:
    """layer2.0.conv2 printed with 96 outputs: its bn2 (128) would stop the propagation,
    but the weights check comes first and names the conv."""
    bad = tmp_path / "resnet18.txt"
    text = (GOLDEN / "resnet18.txt").read_text()
    bad.write_text(text.replace("(conv2): Conv2d(128, 128", "(conv2): Conv2d(128, 96", 1))
    result = run_cli(
        "summary",
        str(bad),
        "--input",
        "3,224,224",
        "--weights",
        str(golden_file("resnet18.pth.gz")),
    )
    line = one_error_line(result)
    assert "layer2.0.conv2 (Conv2d): weight is [128, 128, 3, 3]" in line
    assert "[96, 128, 3, 3]" in line
    without = run_cli("summary", str(bad), "--input", "3,224,224")
    assert without.exit_code == 2 and "layer2.0.conv2" not in without.stderr


def test_a_tensor_the_printed_layer_does_not_make(run_cli, tmp_path: Path) -> None:
    bad = tmp_path / "tiny.txt"
    bad.write_text(TINY.replace("Conv2d(3, 8, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))",
                                "Conv2d(3, 8, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1), bias=False)"))  # fmt: skip
    result = run_cli(
        "summary", str(bad), "--input", "3,16,16", "--weights", str(golden_file("tiny_cnn.pt"))
    )
    assert "features.0 (Conv2d): " in one_error_line(result)
    assert "features.0.bias, which the printed layer does not make" in result.stderr


def test_a_tensor_missing_from_the_file(run_cli, tmp_path: Path) -> None:
    bad = tmp_path / "tiny.txt"
    bad.write_text(TINY.replace("(4): Conv2d(8, 16, kernel_size=(3, 3), stride=(2, 2), groups=2, bias=False)",
                                "(4): Conv2d(8, 16, kernel_size=(3, 3), stride=(2, 2), groups=2)"))  # fmt: skip
    line = one_error_line(
        run_cli(
            "summary", str(bad), "--input", "3,16,16", "--weights", str(golden_file("tiny_cnn.pt"))
        )
    )
    assert "features.4 (Conv2d): the printed layer has bias [16]" in line


def test_layers_with_no_tensors_are_listed(run_cli, tmp_path: Path) -> None:
    extra = tmp_path / "tiny.txt"
    extra.write_text(TINY.replace("(1): Linear(in_features=16, out_features=10, bias=True)",
                                  "(1): Linear(in_features=16, out_features=10, bias=True)\n"
                                  "    (2): Linear(in_features=10, out_features=10, bias=True)"))  # fmt: skip
    data = summary(run_cli, extra, "tiny_cnn.safetensors", "--input", "3,16,16")
    assert any(
        "layers with no tensors" in w and "classifier.2 (Linear)" in w for w in data["warnings"]
    )
    assert data["total_params"] == 987  # the file's count: the extra layer has no weights


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--weights", "tiny_cnn.onnx"), "--weights takes a .safetensors"),
        (("--weights", "nothing.pt"), "no such file"),
    ],
)
def test_weights_refusals(args: tuple[str, ...], message: str, run_cli) -> None:
    weights = str(golden_file(args[1])) if args[1] != "nothing.pt" else "nothing.pt"
    line = one_error_line(
        run_cli("summary", str(GOLDEN / "tiny_cnn.txt"), "--input", "3,16,16", "--weights", weights)
    )
    assert message in line


def test_weights_need_a_printed_model(run_cli) -> None:
    line = one_error_line(
        run_cli(
            "summary", str(golden_file("tiny_cnn.pt")), "--weights", str(golden_file("tiny_cnn.pt"))
        )
    )
    assert "--weights goes with a printed model" in line


REAL = GOLDEN.parent / "real_models"


@pytest.mark.parametrize(
    ("printed", "weights", "hidden"),
    [
        ("timm_vit_tiny_patch16_224", "vit_tiny.bin.gz", ["cls_token", "pos_embed"]),
        ("timm_efficientnet_b0", "efficientnet_b0.bf16.safetensors.gz", []),
        ("mobilenet_v3_small", "mobilenet_v3_small.legacy.pt.gz", []),
    ],
)
def test_library_models_total_torchs_count(
    printed: str, weights: str, hidden: list[str], run_cli
) -> None:
    """timm and torchvision reprs (tests/golden/real_models) against their weights files:
    every layer matches and the totals are torch's, ViT's cls_token and pos_embed included."""
    data = summary(run_cli, REAL / f"{printed}.txt", weights, "--input", "3,224,224")
    assert data["total_params"] == expected()[weights]["total_params"]
    assert data["buffers"] == expected()[weights]["buffers"]
    claims = [note for note in data["notes"] if "no printed layer claims" in note]
    assert all(any(f"{name} [" in note for note in claims) for name in hidden)
    assert bool(claims) == bool(hidden)
