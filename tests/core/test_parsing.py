"""Shapes as people type them: summary --input and the like."""

from __future__ import annotations

import pytest

from cnncli.core.errors import UserError
from cnncli.core.parsing import parse_shape


@pytest.mark.parametrize(
    "text",
    [
        *("3,32,32", "3x32x32", "3X32X32", "(3, 32, 32)", "[3, 32, 32]", " 3 , 32,32 "),
        *("(3,32,32,)", "torch.Size([3, 32, 32])"),
    ],
)
def test_every_usual_spelling_is_the_same_shape(text: str) -> None:
    assert parse_shape(text, "--input") == (3, 32, 32)


def test_one_dimension() -> None:
    assert parse_shape("(784,)", "--input") == (784,)
    assert parse_shape("784", "--input") == (784,)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("3;32", "expects integers"),
        ("3x32.5", "expects integers"),
        ("3,,32", "expects integers"),
        ("3,0,32", "positive"),
        ("3,-1", "positive"),
        ("", "empty"),
        ("()", "empty"),
    ],
)
def test_bad_shapes_are_refused_naming_the_option(text: str, words: str) -> None:
    with pytest.raises(UserError, match=r"^--input") as info:
        parse_shape(text, "--input")
    assert words in str(info.value)
