"""Did-you-mean and folder globs (expected values worked out by hand)."""

from __future__ import annotations

from cnncli.core.suggest import glob_for, nearest


def test_a_swapped_or_missing_letter_is_found() -> None:
    names = ["camera.png", "coins.png", "notes.txt"]
    assert nearest("camera.pgn", names) == "camera.png"
    assert nearest("camra.png", names) == "camera.png"
    assert nearest("Conv2D", ["Conv2d", "Linear"]) == "Conv2d"


def test_nothing_unrelated_is_offered() -> None:
    assert nearest("zebra.png", ["camera.png", "coins.png"]) is None
    assert nearest("x", []) is None


def test_glob_for_the_most_common_extension() -> None:
    assert glob_for(["a.jpg", "b.jpg", "c.png", "notes"]) == "*.jpg"
    assert glob_for(["README", ".hidden"]) == "*"
    assert glob_for([]) == "*"
