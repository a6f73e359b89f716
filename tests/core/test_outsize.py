"""outsize core against PyTorch's own answers (tests/golden/shapes.json) and hand-checked cases."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cnncli.core.errors import UserError
from cnncli.core.outsize import (
    Window,
    adaptive_windows,
    broadcast,
    conv_output_size,
    explain_pool,
    pool_output_size,
    pool_windows,
    same_padding,
    transposed_output_size,
)
from cnncli.core.parsing import parse_floats, parse_ints

GOLDEN = json.loads((Path(__file__).parents[1] / "golden" / "shapes.json").read_text())
CASES: list[dict[str, Any]] = GOLDEN["cases"]


def _compute(case: dict[str, Any]) -> int:
    op = case["op"]
    if op == "conv":
        return conv_output_size(case["lin"], case["k"], case["s"], case["p"], case["d"])
    if op == "transposed":
        return transposed_output_size(
            case["lin"], case["k"], case["s"], case["p"], case["d"], case["output_padding"]
        )
    if op in ("maxpool", "avgpool"):
        return pool_output_size(
            case["lin"], case["k"], case["s"], case["p"], case["d"], case["ceil"]
        )
    if op == "adaptive":
        return len(adaptive_windows(case["lin"], case["n"]))
    raise AssertionError(op)


def test_golden_file_covers_every_operation_and_refusals() -> None:
    ops = {c["op"] for c in CASES}
    assert ops == {"conv", "transposed", "maxpool", "avgpool", "adaptive"}
    assert sum(c["out"] is None for c in CASES) > 500
    assert len(CASES) > 3000


@pytest.mark.parametrize("op", ["conv", "transposed", "maxpool", "avgpool", "adaptive"])
def test_every_golden_case_matches_torch(op: str) -> None:
    mismatches = []
    for case in (c for c in CASES if c["op"] == op):
        try:
            got: int | None = _compute(case)
        except UserError:
            got = None
        if got != case["out"]:
            mismatches.append((case, got))
    assert not mismatches, f"{len(mismatches)} mismatches, first: {mismatches[:3]}"


def _evaluate(expression: str) -> float:
    """An explained formula's right-hand side, computed here with Python's own math."""
    code = expression.replace("ceil", "math.ceil").replace("floor", "math.floor")
    assert set(code) <= set("0123456789+-*/() mathceilfor."), code
    return float(eval(code, {"math": math}))


@pytest.mark.parametrize("op", ["maxpool", "avgpool"])
def test_every_explained_equality_holds_and_ends_at_torchs_answer(op: str) -> None:
    """Each ``= ...`` of --explain evaluates to the value it claims, and the steps after the
    formula (ceil mode's dropped window) end at PyTorch's size, for every golden case."""
    checked = dropped = 0
    for case in (c for c in CASES if c["op"] == op and c["out"] is not None):
        result = explain_pool(case["lin"], case["k"], case["s"], case["p"], case["d"], case["ceil"])
        parts = [part.strip() for part in result.substituted.removeprefix("out = ").split("=")]
        claimed = int(parts[-1])
        assert all(_evaluate(part) == claimed for part in parts[:-1]), result.substituted
        value = claimed
        for step in result.steps:
            before, after = step.removeprefix("out = ").split(":")[0].split("=")
            assert _evaluate(before) == int(after)
            value = int(after)
        assert value == result.out == case["out"], (case, result)
        checked += 1
        dropped += bool(result.steps)
    assert checked > 300 and dropped > 20


def test_adaptive_windows_match_torch() -> None:
    for case in (c for c in CASES if c["op"] == "adaptive" and c["out"] is not None):
        got = [[w.start, w.end] for w in adaptive_windows(case["lin"], case["n"])]
        assert got == case["windows"], case


def test_textbook_cases() -> None:
    # AlexNet's first layer (the example), and its max pool.
    assert conv_output_size(224, 11, 4, 2) == 55
    assert pool_output_size(55, 3, 2) == 27
    # A 3x3 'same' conv keeps the size; a stride-2 pool halves it.
    assert conv_output_size(32, 3, 1, "same") == 32
    assert pool_output_size(32, 2) == 16
    # ceil_mode: 5 -> ceil((5-2)/2)+1 = 3 windows starting at 0, 2, 4.
    assert pool_output_size(5, 2, 2, ceil_mode=True) == 3
    # the seed: MaxPool2d(2, stride=1) on 4x4 gives 3x3.
    assert pool_output_size(4, 2, 1) == 3


def test_same_padding_puts_the_extra_zero_on_the_right() -> None:
    assert same_padding(4) == (1, 2)
    assert same_padding(3) == (1, 1)
    assert same_padding(3, dilation=2) == (2, 2)


def test_pool_windows_follow_the_contract() -> None:
    assert pool_windows(5, 2, 2, 1, ceil_mode=True) == [Window(-1, 1), Window(1, 3), Window(3, 5)]
    assert pool_windows(7, 3, 2, 0, dilation=2) == [Window(0, 5), Window(2, 7)]


def test_seed_adaptive_examples() -> None:
    # AdaptiveAvgPool1d([1,2,3] -> 8) averages these windows to 1,1,1.5,2,2,2.5,3,3
    windows = adaptive_windows(3, 8)
    values = [1.0, 2.0, 3.0]
    means = [sum(values[w.start : w.end]) / (w.end - w.start) for w in windows]
    assert means == [1.0, 1.0, 1.5, 2.0, 2.0, 2.5, 3.0, 3.0]
    maxima = [max(values[w.start : w.end]) for w in adaptive_windows(3, 10)]
    assert maxima == [1, 1, 1, 2, 2, 2, 3, 3, 3, 3]


@pytest.mark.parametrize(
    ("call", "fragment"),
    [
        (lambda: conv_output_size(10, 3, 0), "stride must be at least 1"),
        (lambda: conv_output_size(10, 3, 1, -1), "padding must be non-negative"),
        (lambda: conv_output_size(10, 12), "larger than the padded input"),
        (lambda: conv_output_size(10, 3, 2, "same"), "padding='same' is not supported"),
        (lambda: conv_output_size(10, 3, 1, "full"), "'same' or 'valid'"),
        (lambda: pool_output_size(10, 3, 1, 2), "at most half the kernel"),
        (lambda: transposed_output_size(5, 3, 2, 0, 1, 2), "smaller than either stride"),
        (lambda: adaptive_windows(5, -1), "must be non-negative"),
        (lambda: conv_output_size(0, 3), "input length must be at least 1"),
    ],
)
def test_refusals_name_the_constraint(call: Any, fragment: str) -> None:
    with pytest.raises(UserError, match=fragment):
        call()


def test_parse_ints_and_broadcast() -> None:
    assert parse_ints("224, 160", "--lin") == (224, 160)
    with pytest.raises(UserError, match="--k expects integers"):
        parse_ints("3,x", "--k")
    assert parse_floats("2, 1.5", "--sigma") == (2.0, 1.5)
    with pytest.raises(UserError, match="--sigma expects numbers"):
        parse_floats("two", "--sigma")
    assert broadcast({"lin": (224, 160), "k": (3,)}) == 2
    with pytest.raises(UserError, match="different numbers of dimensions"):
        broadcast({"lin": (224, 160), "k": (3, 3, 3)})


@given(
    lin=st.integers(1, 300),
    k=st.integers(1, 9),
    s=st.integers(1, 5),
    p=st.integers(0, 4),
    d=st.integers(1, 3),
)
def test_transposed_conv_inverts_conv_with_the_right_output_padding(
    lin: int, k: int, s: int, p: int, d: int
) -> None:
    try:
        out = conv_output_size(lin, k, s, p, d)
    except UserError:
        return
    # The conv drops (lin + 2p - d(k-1) - 1) mod s trailing positions; output_padding restores them.
    output_padding = (lin + 2 * p - d * (k - 1) - 1) % s
    if not (output_padding < s or output_padding < d):
        return
    try:
        back = transposed_output_size(out, k, s, p, d, output_padding)
    except UserError:
        return
    assert back == lin


def test_adaptive_output_zero_is_empty_as_in_torch() -> None:
    assert adaptive_windows(5, 0) == []


@given(lin=st.integers(1, 500), out=st.integers(1, 200))
def test_adaptive_windows_cover_the_input_in_order(lin: int, out: int) -> None:
    windows = adaptive_windows(lin, out)
    assert len(windows) == out
    assert windows[0].start == 0
    assert windows[-1].end == lin
    for i, w in enumerate(windows):
        assert w.start == (i * lin) // out
        assert 0 <= w.start < w.end <= lin
        assert i == 0 or windows[i - 1].start <= w.start
