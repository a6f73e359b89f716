"""`cnncli summary` at the edges of tests/golden/summary_cases.json, through the CLI."""

from __future__ import annotations

import json
from pathlib import Path

GOLDEN = json.loads((Path(__file__).parents[1] / "golden" / "summary_cases.json").read_text())
CASES = GOLDEN["cases"]


def _run(run_cli, name: str, *extra: str):  # type: ignore[no-untyped-def]
    case = CASES[name]
    size = ",".join(map(str, case["input"]))
    return run_cli("summary", "-", "--input", size, *extra, input=case["repr"])


def test_a_linear_in_a_sequential_keeps_the_leading_dims(run_cli) -> None:
    result = _run(run_cli, "sequential_linear_3d", "--json", "--strict")
    assert result.exit_code == 0
    data = json.loads(result.stdout)
    assert data["layers"][-1]["output_shape"] == CASES["sequential_linear_3d"]["output_shape"]
    assert "flatten" not in result.stderr


def test_swin_at_a_small_size_runs(run_cli) -> None:
    result = _run(run_cli, "swin_t_32", "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["layers"][-1]["output_shape"] == [1, 1000]


def test_convnext_where_torch_refuses_is_one_error_line(run_cli) -> None:
    result = _run(run_cli, "convnext_tiny_31")
    assert result.exit_code == 2
    assert result.stderr.startswith("error: features.") and result.stderr.count("\n") == 1
    assert "internal error" not in result.stderr and "Traceback" not in result.stderr


def test_strict_refuses_a_total_that_misses_hidden_parameters(run_cli) -> None:
    result = _run(run_cli, "timm_beit_base_patch16_224", "--strict")
    assert result.exit_code == 2
    assert f">= {86_387_944:,}" in result.stdout  # PyTorch: 86,530,984
    assert result.stderr.splitlines()[-1].startswith("error: --strict")
    data = json.loads(_run(run_cli, "timm_beit_base_patch16_224", "--json").stdout)
    assert data["params_exact"] is False


def test_strict_refuses_an_assumed_ceil_mode(run_cli) -> None:
    result = _run(run_cli, "avgpool_ceil_true_7", "--strict")
    assert result.exit_code == 2
    assert "does not print ceil_mode" in result.stderr
    assert result.stderr.splitlines()[-1].startswith("error: --strict")
    data = json.loads(_run(run_cli, "avgpool_ceil_true_7", "--json").stdout)
    assert data["assumed"] is True
    assert _run(run_cli, "avgpool_ceil_true_8", "--strict").exit_code == 0


def test_timm_resnet_d_at_an_odd_size(run_cli) -> None:
    result = _run(run_cli, "timm_resnet26d_233", "--strict", "--json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["layers"][-1]["output_shape"] == [1, 1000]


def test_strict_refuses_a_vit_sized_from_the_input(run_cli) -> None:
    result = _run(run_cli, "vit_b_16_256", "--strict")
    assert result.exit_code == 2
    assert "image_size assumed" in result.stderr
    assert result.stderr.splitlines()[-1].startswith("error: --strict")
