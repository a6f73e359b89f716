"""`cnncli summary` through the CLI: the table, JSON/CSV/markdown, the zoo and every refusal."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

GOLDEN = json.loads((Path(__file__).parents[1] / "golden" / "summary.json").read_text())
ALEXNET = next(m for m in GOLDEN["models"] if m["name"] == "alexnet")


def test_table_for_a_builtin(run_cli) -> None:
    result = run_cli("summary", "alexnet")
    assert result.exit_code == 0
    assert "61,100,840" in result.stdout
    assert "[1, 64, 55, 55]" in result.stdout
    assert result.stderr == ""  # a built-in model needs no notes


def test_json_layers_match_torch(run_cli) -> None:
    data = json.loads(run_cli("summary", "alexnet", "--json").stdout)
    assert [(x["name"], x["type"], x["output_shape"]) for x in data["layers"]] == [
        (c["name"], c["type"], c["output_shape"]) for c in ALEXNET["layers"]
    ]
    assert data["total_params"] == ALEXNET["total_params"]
    assert data["params_exact"] is True and data["shapes_known"] is True
    assert data["macs"] == ALEXNET["macs"]


def test_pasted_repr_from_stdin_with_batch(run_cli) -> None:
    data = json.loads(
        run_cli(
            "summary", "-", "--input", "3,224,224", "--batch", "4", "--json", input=ALEXNET["repr"]
        ).stdout
    )
    assert data["layers"][0]["output_shape"] == [4, 64, 55, 55]
    assert data["macs"] == 4 * ALEXNET["macs"]


def test_file_csv_and_markdown(run_cli, tmp_path) -> None:
    path = tmp_path / "model.txt"
    path.write_text(ALEXNET["repr"])
    rows = list(
        csv.DictReader(
            io.StringIO(run_cli("summary", str(path), "--input", "3,224,224", "--csv").stdout)
        )
    )
    assert len(rows) == len(ALEXNET["layers"]) and rows[0]["output_shape"] == "1x64x55x55"
    md = run_cli("summary", str(path), "--input", "3,224,224", "--markdown").stdout
    assert md.startswith("| layer (type) |") and "**total params**: 61,100,840" in md


def test_list(run_cli) -> None:
    out = run_cli("summary", "--list").stdout
    for name in ("myconvnet", "alexnet", "vgg16", "lenet5", "resnet18"):
        assert name in out


@pytest.mark.parametrize(
    ("args", "stdin", "fragment"),
    [
        (["nope.txt"], None, "no such file or built-in model"),
        (["-"], "Sequential(\n  (0): Conv2d(3, 8, 3)\n)", "--input is required"),
        (
            ["-", "--input", "3,32,32"],
            "Net(\n  (fc): Linear(in_features=10, out_features=2, bias=True)\n)",
            "fc (Linear): expects 10 input features",
        ),
        (["alexnet", "--json", "--csv"], None, "choose one output format"),
        (["alexnet", "--depth", "0"], None, "--depth must be at least 1"),
        (["alexnet", "--input", "3,x"], None, "--input expects integers"),
        ([], None, "give a model file"),
    ],
)
def test_errors_exit_2_with_one_line(run_cli, args, stdin, fragment) -> None:
    result = run_cli("summary", *args, input=stdin)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: ")
    assert fragment in result.stderr


def test_directory_and_binary_files(run_cli, tmp_path) -> None:
    assert "is a directory" in run_cli("summary", str(tmp_path), "--input", "3").stderr
    binary = tmp_path / "x.bin"
    binary.write_bytes(b"\xff\xfe\x00\x81")
    assert "not UTF-8 text" in run_cli("summary", str(binary), "--input", "3").stderr


UNKNOWN_LEAF = "Net(\n  (conv): Conv2d(3, 8, 3)\n  (act): Swish()\n  (fc): Linear(8, 2)\n)\n"


def test_unknown_shapes_show_as_question_marks_and_null_but_params_are_counted(run_cli) -> None:
    table = run_cli("summary", "-", "--input", "3,8,8", input=UNKNOWN_LEAF)
    assert table.exit_code == 0
    assert "?" in table.stdout
    assert f"{8 * 27 + 8 + 8 * 2 + 2:,}" in table.stdout
    assert "warning: act (Swish): unknown module" in table.stderr
    data = json.loads(
        run_cli("summary", "-", "--input", "3,8,8", "--json", input=UNKNOWN_LEAF).stdout
    )
    assert [layer["output_shape"] for layer in data["layers"]] == [[1, 8, 6, 6], None, None]
    assert data["shapes_known"] is False
    assert any("Swish" in w for w in data["warnings"])


def test_strict_turns_unknown_shapes_into_exit_2(run_cli) -> None:
    result = run_cli("summary", "-", "--input", "3,8,8", "--strict", input=UNKNOWN_LEAF)
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines()[-1].startswith("error: --strict")


def test_strict_passes_an_exact_model(run_cli) -> None:
    assert run_cli("summary", "resnet18", "--strict").exit_code == 0


def test_hidden_parameters_are_listed_in_json(run_cli) -> None:
    text = (Path(__file__).parents[1] / "golden" / "real_models" / "vit_b_16.txt").read_text()
    data = json.loads(run_cli("summary", "-", "--input", "3,224,224", "--json", input=text).stdout)
    hidden = {h["name"]: h["shape"] for h in data["hidden"]}
    assert hidden["class_token"] == [1, 1, 768]
    assert hidden["encoder.pos_embedding"] == [1, 197, 768]


# forward: conv (padding 1 keeps 8x8), then pool (8x8 -> 4x4); printed: pool, then conv.
REORDERED = """Net(
  (pool): MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)
  (conv): Conv2d(3, 4, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))
)
"""


def test_shapes_that_follow_a_guessed_order_are_marked(run_cli) -> None:
    """PyTorch's conv output here is [1, 4, 8, 8] (by hand: padding 1 keeps 8x8, the pool
    comes after it); the printed order gives [1, 4, 4, 4]. Nothing in the text can tell,
    so every shape after the unknown forward's first child is marked as a guess."""
    import json

    result = run_cli("summary", "-", "--input", "3,8,8", "--json", input=REORDERED)
    assert result.exit_code == 0
    rows = {r["name"]: r for r in json.loads(result.stdout)["layers"]}
    assert rows["pool"]["shape_guessed"] is False  # the first child sees the input itself
    assert rows["conv"]["output_shape"] != [1, 4, 8, 8]
    assert rows["conv"]["shape_guessed"] is True
    table = run_cli("summary", "-", "--input", "3,8,8", input=REORDERED).stdout
    assert "~[1, 4, 4, 4]" in table
    csv = run_cli("summary", "-", "--input", "3,8,8", "--csv", input=REORDERED).stdout
    assert "conv,Conv2d,1x4x4x4," in csv and csv.splitlines()[0].endswith(",shape_guessed")
    assert [line.rsplit(",", 1)[1] for line in csv.splitlines()[1:]] == ["", "yes"]


def test_a_known_forward_marks_no_shape(run_cli) -> None:
    import json

    result = run_cli("summary", "resnet18", "--json")
    assert result.exit_code == 0
    assert not any(r["shape_guessed"] for r in json.loads(result.stdout)["layers"])
