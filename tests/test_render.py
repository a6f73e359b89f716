"""The plain table writer against rich itself: the same layout, line for line."""

from __future__ import annotations

import io

import pytest
from rich.console import Console
from rich.table import Table

from cnncli.render import plain_grid, plain_table


def rich_lines(
    headers: tuple[str, ...],
    right: tuple[bool, ...],
    sections: list[list[list[str]]],
    title: str | None,
) -> list[str]:
    buffer = io.StringIO()
    console = Console(file=buffer, width=200, highlight=False, soft_wrap=True, no_color=True)
    table = Table(title=title, show_edge=False)
    for header, flush_right in zip(headers, right, strict=True):
        table.add_column(header, justify="right" if flush_right else "left")
    for section in sections:
        for index, row in enumerate(section):
            table.add_row(*row, end_section=index == len(section) - 1)
    console.print(table)
    return [line.rstrip() for line in buffer.getvalue().splitlines()]


CASES = [
    (("layer", "tensor", "shape", "count"), (False, False, False, True), [[["Conv2d", "weight", "[5, 3, 3, 3]", "135"], ["", "bias", "[5]", "5"]]], None),
    (("a", "n"), (False, True), [[["xyz", "12345"], ["", ""]], [["1", "2"]], [["long cell here", "0"]]], "title"),
    (("wide header", "x"), (True, False), [[["é", "日本"]]], None),
]  # fmt: skip


@pytest.mark.parametrize(("headers", "right", "sections", "title"), CASES)
def test_plain_table_is_rich_layout(
    headers: tuple[str, ...],
    right: tuple[bool, ...],
    sections: list[list[list[str]]],
    title: str | None,
) -> None:
    mine = [line.rstrip() for line in plain_table(headers, right, sections, title).splitlines()]
    assert mine == rich_lines(headers, right, sections, title)


def test_plain_grid_is_rich_grid() -> None:
    rows = [("input", "[1, 3, 224, 224]"), ("total params", "11,689,512"), ("MACs", "0")]
    buffer = io.StringIO()
    console = Console(file=buffer, width=200, highlight=False, soft_wrap=True, no_color=True)
    grid = Table.grid(padding=(0, 2))
    grid.add_column()
    grid.add_column(justify="right")
    for row in rows:
        grid.add_row(*row)
    console.print(grid)
    expected = [line.rstrip() for line in buffer.getvalue().splitlines()]
    assert [line.rstrip() for line in plain_grid(rows).splitlines()] == expected


@pytest.mark.parametrize(
    ("env", "tty", "expected"),
    [
        ({}, False, False),
        ({}, True, True),
        ({"FORCE_COLOR": "1"}, False, True),
        ({"FORCE_COLOR": ""}, False, False),  # set but empty: rich says no
        ({"TTY_COMPATIBLE": "1"}, False, True),
        ({"TTY_COMPATIBLE": "0"}, True, False),
    ],
)
def test_rich_is_asked_about_a_terminal_wherever_it_could_say_yes(
    env, tty, expected, monkeypatch
) -> None:
    """The check that spares a batch in a pipe rich's import: rich's own verdict is the
    reference, and wherever rich would show a progress bar, the check lets it."""
    from cnncli.render import _may_be_terminal

    for name in ("FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)

    class Stream(io.StringIO):
        def isatty(self) -> bool:
            return tty

    stream = Stream()
    rich_says = Console(file=stream).is_terminal
    assert rich_says == expected
    if rich_says:
        assert _may_be_terminal(stream)
