"""Pooling core against torch's max/avg/adaptive pooling (tests/golden/pool.json) and the seed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from cnncli.core.errors import UserError
from cnncli.core.pool import PoolSpec, check_dims, ndim_of, parse_values, pool_image, pool_values

GOLDEN = json.loads((Path(__file__).parents[1] / "golden" / "pool.json").read_text())
CASES: list[dict[str, Any]] = GOLDEN["cases"]


def spec_of(case: dict[str, Any]) -> PoolSpec:
    if "adaptive" in case:
        return PoolSpec(case["op"], adaptive=tuple(case["adaptive"]))
    return PoolSpec(
        case["op"],
        tuple(case["k"]),
        tuple(case["s"]),
        tuple(case["p"]),
        tuple(case["d"]),
        case["ceil"],
        case["include_pad"],
    )


def values_of(result: list[list[Any]], one_d: bool) -> list[Any]:
    grid = [[w.value for w in row] for row in result]
    return grid[0] if one_d else grid


@pytest.mark.parametrize("index", range(len(CASES)))
def test_numeric_pooling_matches_torch(index: int) -> None:
    case = CASES[index]
    one_d = not isinstance(case["input"][0], list)
    if case["output"] is None:
        with pytest.raises(UserError):
            spec = spec_of(case)
            check_dims(spec, ndim_of(case["input"]))
            pool_values(case["input"], spec)
        return
    spec = spec_of(case)
    got = values_of(pool_values(case["input"], spec), one_d)
    np.testing.assert_allclose(np.array(got), np.array(case["output"]), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize(
    "index",
    [i for i, c in enumerate(CASES) if c["output"] is not None and isinstance(c["input"][0], list)],
)
def test_image_pooling_matches_torch(index: int) -> None:
    case = CASES[index]
    got = pool_image(np.array(case["input"]), spec_of(case))
    np.testing.assert_allclose(got, np.array(case["output"]), rtol=1e-12, atol=1e-12)


def test_image_pooling_is_per_channel() -> None:
    rng = np.random.default_rng(1)
    image = rng.integers(0, 256, (9, 7, 3)).astype(np.uint8)
    spec = PoolSpec("avg", (3,), (2,), (1,), ceil_mode=True, count_include_pad=False)
    stacked = pool_image(image, spec)
    for c in range(3):
        np.testing.assert_allclose(stacked[:, :, c], pool_image(image[:, :, c], spec))


def test_the_seed_examples() -> None:
    seed = [
        [-1.1195, -2.3749, -0.4088, 0.7293],
        [0.2177, 2.2577, 1.3515, -2.0341],
        [0.2819, 0.7313, 0.3734, -0.6688],
        [-0.3654, 0.5156, -2.4215, 0.4078],
    ]
    maxima = values_of(pool_values(seed, PoolSpec("max", (2,), (1,))), False)
    assert maxima == [[2.2577, 2.2577, 1.3515], [2.2577, 2.2577, 1.3515], [0.7313, 0.7313, 0.4078]]
    assert values_of(pool_values([1, 2, 3], PoolSpec("avg", adaptive=(8,))), True) == [
        1.0,
        1.0,
        1.5,
        2.0,
        2.0,
        2.5,
        3.0,
        3.0,
    ]
    assert values_of(pool_values([1, 2, 3], PoolSpec("max", adaptive=(10,))), True) == [
        1,
        1,
        1,
        2,
        2,
        2,
        3,
        3,
        3,
        3,
    ]


def test_parse_values_forms() -> None:
    assert parse_values("1,2,3") == [1.0, 2.0, 3.0]
    assert parse_values("[[1, 2], [3, 4]]") == [[1.0, 2.0], [3.0, 4.0]]
    assert parse_values("1 2\n3 4\n") == [[1.0, 2.0], [3.0, 4.0]]
    assert parse_values("# header\n1,2\n3,4") == [[1.0, 2.0], [3.0, 4.0]]
    assert parse_values("-1.5e2 3") == [-150.0, 3.0]


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("1,2\n3", "ragged matrix: row 2 has 1 values, row 1 has 2"),
        ("1,x,3", "row 1, column 2: 'x' is not a number"),
        ("[[1, 2], [3]]", "ragged matrix"),
        ("[[[1]]]", "only 1-D lists and 2-D matrices"),
        ("[1, [2]]", "mix of numbers and rows"),
        ("[1, 2", "cannot read"),
        ("", "no numbers given"),
        ("[True, 2]", "is not a number"),
    ],
)
def test_bad_values(text: str, fragment: str) -> None:
    with pytest.raises(UserError, match=fragment.replace("[", r"\[")):
        parse_values(text)


def test_bad_specs() -> None:
    with pytest.raises(UserError, match="unknown pooling op"):
        PoolSpec("min", (2,))
    with pytest.raises(UserError, match="no dilation"):
        PoolSpec("avg", (2,), dilation=(2,))
    with pytest.raises(UserError, match="give a kernel size"):
        PoolSpec("max")
    with pytest.raises(UserError, match="--k has 3 values but the data is 2-D"):
        check_dims(PoolSpec("max", (1, 2, 3)), 2)
    with pytest.raises(UserError, match="does not fit"):
        pool_values([1.0, 2.0], PoolSpec("max", (5,)))


@pytest.mark.parametrize(
    ("options", "dropped"),
    [
        ({"kernel": (2,), "stride": (5,)}, "--k, --s"),
        ({"padding": (1,)}, "--p"),
        ({"ceil_mode": True, "count_include_pad": False}, "--ceil, --no-count-include-pad"),
    ],
)
def test_adaptive_refuses_fixed_window_options(options, dropped) -> None:
    with pytest.raises(UserError, match=f"--adaptive chooses its own windows; drop {dropped}$"):
        PoolSpec("avg", adaptive=(3,), **options)


@pytest.mark.parametrize("op", ["max", "avg"])
@pytest.mark.parametrize("adaptive", [False, True])
def test_image_pooling_rounded_into_an_integer_output(op: str, adaptive: bool) -> None:
    """Pooled by strips of output rows (jobs) into uint16 with a depth change: the
    float64 result, scaled and rounded."""
    rng = np.random.default_rng(5)
    image = rng.integers(0, 256, (103, 61, 2)).astype(np.uint8)
    spec = (
        PoolSpec(op, adaptive=(17, 9))
        if adaptive
        else PoolSpec(op, kernel=(3,), stride=(2,), padding=(1,), ceil_mode=True)
    )
    floats = pool_image(image, spec, jobs=1)
    out = np.empty(floats.shape, dtype=np.uint16)
    pool_image(image, spec, out=out, scale=257.0, jobs=7)
    assert np.array_equal(out, np.clip(np.rint(floats * 257.0), 0, 65535).astype(np.uint16))
