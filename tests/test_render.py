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
    ("env", "tty"),
    [
        ({}, False),
        ({}, True),
        ({"FORCE_COLOR": "1"}, False),
        ({"FORCE_COLOR": ""}, False),
        ({"TTY_COMPATIBLE": "1"}, False),
        ({"TTY_COMPATIBLE": "0"}, True),
    ],
)
def test_rich_is_asked_about_a_terminal_wherever_it_could_say_yes(env, tty, monkeypatch) -> None:
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
    if Console(file=stream).is_terminal:  # rich's verdict, whichever version is installed
        assert _may_be_terminal(stream)
    if not env and not tty:  # a pipe or a file: rich need not even be imported
        assert not _may_be_terminal(stream)
    assert not _may_be_terminal(None)  # stderr closed
