"""`cnncli pool` through the CLI: numbers (values, files, stdin) and images, and every refusal."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image

from cnncli.imageio import sample_path


def test_seed_adaptive_avg_example(run_cli) -> None:
    result = run_cli("pool", "--values", "1,2,3", "--adaptive", "8", "--op", "avg")
    assert result.exit_code == 0
    assert [float(v) for v in result.stdout.split()] == [1.0, 1.0, 1.5, 2.0, 2.0, 2.5, 3.0, 3.0]


def test_seed_maxpool_2x2_stride_1_on_a_matrix(run_cli) -> None:
    matrix = "[[-1.1195, -2.3749, -0.4088, 0.7293], [0.2177, 2.2577, 1.3515, -2.0341], [0.2819, 0.7313, 0.3734, -0.6688], [-0.3654, 0.5156, -2.4215, 0.4078]]"
    result = run_cli("pool", "--values", matrix, "--k", "2", "--s", "1")
    rows = [[float(v) for v in line.split()] for line in result.stdout.splitlines()]
    assert rows == [[2.2577, 2.2577, 1.3515], [2.2577, 2.2577, 1.3515], [0.7313, 0.7313, 0.4078]]


def test_json_and_windows(run_cli) -> None:
    data = json.loads(
        run_cli(
            "pool",
            "--values",
            "1,2,3,4,5",
            "--k",
            "2",
            "--s",
            "2",
            "--p",
            "1",
            "--ceil",
            "--op",
            "avg",
            "--json",
        ).stdout
    )
    # count_include_pad: the left window [-1, 1) holds a padding zero and 1, divided by 2.
    assert data["output"] == [0.5, 2.5, 4.5]
    assert data["windows"] == [[-1, 1], [1, 3], [3, 5]]


def test_count_include_pad_off(run_cli) -> None:
    data = json.loads(
        run_cli(
            "pool",
            "--values",
            "1,2,3,4,5",
            "--k",
            "2",
            "--s",
            "2",
            "--p",
            "1",
            "--op",
            "avg",
            "--no-count-include-pad",
            "--json",
        ).stdout
    )
    assert data["output"] == [1.0, 2.5, 4.5]


def test_explain_shows_each_window(run_cli) -> None:
    out = run_cli(
        "pool", "--values", "[[1, 2, 3, 4], [5, 6, 7, 8]]", "--k", "2", "--explain"
    ).stdout
    assert "out (0, 0): window [0,2) x [0,2) -> 6" in out
    assert "out (0, 1): window [0,2) x [2,4) -> 8" in out


def test_file_and_stdin(run_cli, tmp_path) -> None:
    path = tmp_path / "m.csv"
    path.write_text("1,2,3,4\n5,6,7,8\n")
    assert run_cli("pool", "--file", str(path), "--k", "2", "--op", "avg").stdout == "3.5 5.5\n"
    assert run_cli("pool", "--file", "-", "--k", "2", input="1 2 3 4\n5 6 7 8\n").stdout == "6 8\n"


def test_image_max_pool_matches_a_direct_reference(run_cli, tmp_path) -> None:
    out = tmp_path / "small.png"
    assert run_cli("pool", "--sample", str(out), "--k", "2", "--op", "max").exit_code == 0
    rgb = np.asarray(Image.open(sample_path()).convert("RGB")).astype(int)
    h, w = rgb.shape[0] // 2, rgb.shape[1] // 2
    blocks = rgb[: 2 * h, : 2 * w].reshape(h, 2, w, 2, 3)
    expected = blocks.max(axis=(1, 3))
    got = np.asarray(Image.open(out))
    assert got.shape == expected.shape and np.array_equal(got, expected)


def test_image_adaptive_avg(run_cli, tmp_path) -> None:
    src = tmp_path / "g.png"
    data = np.arange(6 * 9, dtype=np.uint8).reshape(6, 9) * 4
    Image.fromarray(data).save(src)
    out = tmp_path / "a.png"
    assert run_cli("pool", str(src), str(out), "--adaptive", "3,3", "--op", "avg").exit_code == 0
    expected = np.rint(data.reshape(3, 2, 3, 3).mean(axis=(1, 3)))  # even split: 2x3 blocks
    assert np.array_equal(np.asarray(Image.open(out)), expected)


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--values", "1,2\n3", "--k", "2"], "ragged matrix: row 2 has 1 values"),
        (["--values", "1,two", "--k", "1"], "row 1, column 2: 'two' is not a number"),
        # a dropped number would shift every window after it
        (["--values", "1,,2", "--k", "1"], "row 1, column 2: an empty value"),
        (["--values", "1;2;;3", "--k", "1"], "row 1, column 3: an empty value"),
        (["--values", ",1,2", "--k", "1"], "row 1, column 1: an empty value (no number between "),
        (["--values", "[[1, 2], [3]]", "--k", "1"], "ragged matrix"),
        (["--values", "1,2,3", "--k", "5"], "kernel span 5 does not fit in lin+2p = 3"),
        (["--values", "1,2,3", "--k", "3", "--p", "2"], "at most half"),
        (
            ["--values", "1,2,3", "--k", "2", "--op", "median"],
            "'median' is not one of 'max', 'avg'",
        ),
        (["--values", "1,2,3"], "give a kernel size"),
        (["--values", "1,2,3", "--k", "2,2"], "--k has 2 values but the data is 1-D"),
        (["--values", "1,2", "--file", "x.csv", "--k", "1"], "not both"),
        (["--file", "nope.csv", "--k", "1"], "nope.csv: no such file"),
        (["--k", "2", "--explain", "a.png", "b.png"], "apply to numbers"),
        (["--k", "2", "only-one.png"], "expected INPUT and OUTPUT"),
    ],
)
def test_errors_exit_2_with_one_line(run_cli, args, fragment) -> None:
    result = run_cli("pool", *args)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr.count("\n") == 1 and result.stderr.startswith("error: ")
    assert fragment in result.stderr


def test_bad_image_writes_nothing(run_cli, tmp_path) -> None:
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not an image")
    out = tmp_path / "out.png"
    result = run_cli("pool", str(bad), str(out), "--k", "2")
    assert result.exit_code == 2 and "not an image" in result.stderr
    assert not out.exists()


@pytest.mark.parametrize("values", ["1, 2, 3,", "1 2   3", "1;2;3", "1 ,2 , 3"])
def test_separators_that_leave_no_empty_value(run_cli, values) -> None:
    """A trailing separator, runs of spaces, semicolons, spaces around commas: 1 2 3 each.
    MaxPool1d(2, stride=1) of [1, 2, 3] is [2, 3] (by hand)."""
    result = run_cli("pool", "--values", values, "--k", "2", "--s", "1")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.split() == ["2", "3"]
