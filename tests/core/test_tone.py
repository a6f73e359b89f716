"""White point and gamma for edge images (expected values from the formulas, by hand)."""

from __future__ import annotations

import numpy as np
import pytest

from cnncli.core.errors import UserError
from cnncli.core.tone import NONE, PERCENTILE, Tone, apply_tone, parse_tone


def test_parse() -> None:
    assert parse_tone("max") == Tone()
    assert parse_tone("P99.5", 2.0) == Tone(PERCENTILE, 99.5, 2.0)
    assert parse_tone("none").normalize is False
    assert parse_tone("max").is_reference and parse_tone("none").is_reference
    assert not parse_tone("max", 2.0).is_reference


@pytest.mark.parametrize("text", ["p0", "p101", "99", "brightest", "p-5", ""])
def test_bad_normalize_is_refused(text: str) -> None:
    with pytest.raises(UserError, match="--normalize"):
        parse_tone(text)


@pytest.mark.parametrize("gamma", [0.0, -1.0, float("nan"), float("inf")])
def test_bad_gamma_is_refused(gamma: float) -> None:
    with pytest.raises(UserError, match="--gamma must be a positive number"):
        parse_tone("max", gamma)


def test_percentile_white_point_by_hand() -> None:
    values = np.array([0.0, 10.0, 20.0, 40.0, 255.0])
    # p50 of five values is the middle one, 20: 20 -> 255, 10 -> 127.5, 40 and 255 clip
    out = apply_tone(values, Tone(PERCENTILE, 50.0), 255.0)
    assert out.tolist() == [0.0, 127.5, 255.0, 255.0, 255.0]
    assert values.tolist() == [0.0, 10.0, 20.0, 40.0, 255.0]  # the input is left alone


def test_gamma_by_hand() -> None:
    out = apply_tone(np.array([0.0, 63.75, 255.0]), Tone(gamma=2.0), 255.0)
    # 255 * (63.75 / 255) ** (1 / 2) = 255 * 0.5
    assert out.tolist() == pytest.approx([0.0, 127.5, 255.0])


def test_a_zero_percentile_keeps_the_maximum_as_white() -> None:
    values = np.array([0.0] * 99 + [255.0])
    assert apply_tone(values, Tone(PERCENTILE, 50.0), 255.0).tolist() == values.tolist()


def test_none_and_max_change_nothing() -> None:
    values = np.array([0.0, 3.0, 255.0])
    for white in ("max", NONE):
        assert apply_tone(values, Tone(white), 255.0).tolist() == values.tolist()
