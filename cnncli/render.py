"""Every byte cnncli prints goes through here: results to stdout, messages to stderr.

Rich is imported lazily so the calculators start fast; rich itself honours
NO_COLOR and drops colour when the stream is not a terminal.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, TextIO

from cnncli.core.enums import OutputFormat
from cnncli.core.errors import UserError
from cnncli.core.parsing import shape_text

if TYPE_CHECKING:
    from pathlib import Path

    from rich.console import Console

    from cnncli.batch import BatchReport, Outcome
    from cnncli.core.outsize import LayerSpec, Question, SizeResult, Window
    from cnncli.core.params import LayerParams
    from cnncli.core.pool import PooledWindow
    from cnncli.core.summary import Summary
    from cnncli.core.summary_display import DisplayRow


def output_format(*, json: bool = False, csv: bool = False, markdown: bool = False) -> OutputFormat:
    """The format that ``--json`` / ``--csv`` / ``--markdown`` ask for (at most one)."""
    flags = (
        (OutputFormat.JSON, json),
        (OutputFormat.CSV, csv),
        (OutputFormat.MARKDOWN, markdown),
    )
    chosen = [fmt for fmt, on in flags if on]
    if len(chosen) > 1:
        raise UserError(
            f"choose one output format, not {' and '.join('--' + f.value for f in chosen)}"
        )
    return chosen[0] if chosen else OutputFormat.TABLE


def stdout_console() -> Console:
    from rich.console import Console

    return Console(file=sys.stdout, highlight=False, soft_wrap=True)


def stderr_console() -> Console:
    from rich.console import Console

    return Console(file=sys.stderr, highlight=False, soft_wrap=True)


def print_result(text: str) -> None:
    """A bare answer for shell capture: ``$(cnncli outsize ...)``."""
    sys.stdout.write(text + "\n")


# An innermost list as json.dumps(indent=2) writes it: "[", then items each on a line, "]".
# A JSON string never holds a raw line break, so every line break here is layout.
_INNERMOST_LIST = re.compile(r'\[\n(?:[^\[\]{}"]|"(?:[^"\\]|\\.)*")*?\]')
_LAYOUT_BREAK = re.compile(r"\n *")


def _one_line(match: re.Match[str]) -> str:
    return _LAYOUT_BREAK.sub("", match.group().replace(",\n", ", \n"))


def to_json(data: Any) -> str:
    """Indented JSON whose innermost lists stay on one line (windows, shapes) for reading;
    json.dumps does the work in C, then only layout line breaks are taken out. json is
    imported here, not at start-up: the bare answers (`outsize` without --json) need none
    of its 1.7 ms."""
    import json

    return _INNERMOST_LIST.sub(_one_line, json.dumps(data, indent=2))


def print_json(data: Any) -> None:
    sys.stdout.write(to_json(data) + "\n")


def one_line(message: str) -> str:
    """``message`` as one printable line: line breaks (whatever ``splitlines`` breaks at)
    shown escaped, lone surrogates from undecodable arguments as ``\\udcff``."""
    if message.isascii() and message.splitlines() == [message]:
        return message
    escaped = "".join(repr(c)[1:-1] if len(f"a{c}b".splitlines()) > 1 else c for c in message)
    return escaped.encode("utf-8", "backslashreplace").decode("utf-8")


def print_error(message: str) -> None:
    _to_stderr(f"error: {one_line(message)}\n")


def print_warning(message: str) -> None:
    _to_stderr(f"warning: {message}\n")


def print_note(message: str) -> None:
    _to_stderr(f"{message}\n")


def _to_stderr(text: str) -> None:
    """Nowhere if stderr is closed (``2>&-``): the exit status still tells."""
    if sys.stderr is not None:
        sys.stderr.write(text)
        sys.stderr.flush()


# Rich lays out a table cell by cell: about 400 rows a second. Past this many rows, or
# when stdout is not a terminal, tables are written as plain text in the same layout.
RICH_TABLE_ROWS = 500


def _cell_width(text: str) -> int:
    if text.isascii():
        return len(text)
    from rich.cells import cell_len

    return cell_len(text)


def plain_table(
    headers: Sequence[str],
    right: Sequence[bool],
    sections: Sequence[Sequence[Sequence[str]]],
    title: str | None = None,
) -> str:
    """Rich's ``Table(show_edge=False)`` layout (heavy header rule, a rule between
    sections), written in one pass: no wrapping, no per-cell objects."""
    rows = [row for section in sections for row in section]
    # ASCII: len, one C call per cell; wide characters need rich's cell_len.
    ascii_only = "".join(cell for row in rows for cell in row).isascii()
    width_of: Callable[[str], int] = len if ascii_only else _cell_width
    widths = [
        max([width_of(h)] + [width_of(row[i]) for row in rows]) for i, h in enumerate(headers)
    ]

    def line(cells: Sequence[str], bar: str) -> str:
        if ascii_only:
            return bar.join(
                f" {cell.rjust(width)} " if flush_right else f" {cell.ljust(width)} "
                for cell, width, flush_right in zip(cells, widths, right, strict=True)
            )
        parts = []
        for cell, width, flush_right in zip(cells, widths, right, strict=True):
            fill = " " * (width - width_of(cell))
            parts.append(f" {fill}{cell} " if flush_right else f" {cell}{fill} ")
        return bar.join(parts)

    lines = [] if title is None else [title]
    lines.append(line(headers, "┃"))
    lines.append("╇".join("━" * (w + 2) for w in widths))
    rule = "┼".join("─" * (w + 2) for w in widths)
    for index, section in enumerate(sections):
        if index:
            lines.append(rule)
        lines += [line(row, "│") for row in section]
    return "\n".join(lines)


def plain_grid(rows: Sequence[tuple[str, str]]) -> str:
    """Rich's ``Table.grid(padding=(0, 2))`` of a left and a right-aligned column."""
    left = max((_cell_width(a) for a, _ in rows), default=0)
    right = max((_cell_width(b) for _, b in rows), default=0)
    return "\n".join(
        f"{a}{' ' * (left - _cell_width(a))}  {' ' * (right - _cell_width(b))}{b}" for a, b in rows
    )


def _use_rich(rows: int) -> bool:
    """Rich for a terminal (or FORCE_COLOR, as rich itself reads it) and a table it lays out
    quickly; plain text otherwise."""
    terminal = sys.stdout.isatty() or bool(os.environ.get("FORCE_COLOR"))
    return terminal and rows <= RICH_TABLE_ROWS


# --explain and --json list this many windows of a dimension, then count the rest.
MAX_LISTED_WINDOWS = 1000


def _windows_text(windows: Sequence[Window], per_line: int = 8) -> list[str]:
    shown = windows[:MAX_LISTED_WINDOWS]
    cells = [f"{i}:[{w.start},{w.end})" for i, w in enumerate(shown)]
    lines = ["    " + "  ".join(cells[i : i + per_line]) for i in range(0, len(cells), per_line)]
    if len(windows) > len(shown):
        rest = len(windows) - len(shown)
        last = windows[len(windows) - 1]
        lines.append(
            f"    ... {rest:,} more windows, the same way, up to {len(windows) - 1}:"
            f"[{last.start},{last.end})"
        )
    return lines


def _size_json(lin: int, result: SizeResult) -> dict[str, Any]:
    data: dict[str, Any] = {
        "lin": lin,
        "out": result.out,
        "formula": result.formula,
        "substituted": result.substituted,
    }
    if result.steps:
        data["steps"] = list(result.steps)
    if result.padding is not None:
        data["padding"] = list(result.padding)
    if result.windows is not None:
        data["windows"] = [[w.start, w.end] for w in result.windows[:MAX_LISTED_WINDOWS]]
        data["windows_total"] = len(result.windows)
    if result.notes:
        data["notes"] = list(result.notes)
    return data


def _explain_lines(lin: int, result: SizeResult, label: str) -> list[str]:
    lines = [
        f"{label}: lin={lin} -> out={result.out}",
        f"  {result.formula}",
        f"  {result.substituted}",
    ]
    lines += [f"  {step}" for step in result.steps]
    lines += [f"  note: {note}" for note in result.notes]
    if result.windows is not None:
        lines.append("  windows [start, end) in input coordinates (negative / >= lin = padding):")
        lines += _windows_text(result.windows)
    return lines


def render_outsize(
    question: Question, results: Sequence[SizeResult], *, explain: bool, as_json: bool
) -> None:
    """Bare numbers by default; ``--json`` keeps ``out`` an int for one dimension."""
    outs = [r.out for r in results]
    if as_json:
        dims = [_size_json(lin, r) for lin, r in zip(question.lin, results, strict=True)]
        data: dict[str, Any] = {
            "out": outs[0] if len(outs) == 1 else outs,
            "layer": question.specs[0].kind,
        }
        windows = [d["windows"] for d in dims if "windows" in d]
        if windows:
            data["windows"] = windows[0] if len(windows) == 1 else windows
            totals = [d["windows_total"] for d in dims]
            data["windows_total"] = totals[0] if len(totals) == 1 else totals
        data["dims"] = dims
        print_json(data)
        return
    if explain:
        lines: list[str] = []
        for i, (lin, spec, result) in enumerate(
            zip(question.lin, question.specs, results, strict=True)
        ):
            label = spec.describe() if len(results) == 1 else f"dim {i}: {spec.describe()}"
            lines += _explain_lines(lin, result, label)
        print_result("\n".join(lines))
        return
    print_result(" ".join(str(o) for o in outs))


def render_outsize_chain(
    lin: Sequence[int],
    specs: Sequence[LayerSpec],
    rows: Sequence[Sequence[SizeResult]],
    *,
    explain: bool,
    as_json: bool,
) -> None:
    """One line per layer: the size after it (the last line is the network's output)."""
    if as_json:
        layers = []
        current = list(lin)
        for spec, results in zip(specs, rows, strict=True):
            layers.append(
                {
                    "layer": spec.describe(),
                    "out": [r.out for r in results] if len(results) > 1 else results[0].out,
                    "dims": [_size_json(n, r) for n, r in zip(current, results, strict=True)],
                }
            )
            current = [r.out for r in results]
        final = [r.out for r in rows[-1]]
        print_json(
            {
                "in": list(lin) if len(lin) > 1 else lin[0],
                "layers": layers,
                "out": final if len(final) > 1 else final[0],
            }
        )
        return
    if explain:
        lines: list[str] = []
        current = list(lin)
        for spec, results in zip(specs, rows, strict=True):
            for i, (n, result) in enumerate(zip(current, results, strict=True)):
                label = spec.describe() if len(results) == 1 else f"{spec.describe()} (dim {i})"
                lines += _explain_lines(n, result, label)
            current = [r.out for r in results]
        print_result("\n".join(lines))
        return
    print_result("\n".join(" ".join(str(r.out) for r in results) for results in rows))


def _params_json(item: LayerParams) -> dict[str, Any]:
    return {
        "layer": item.layer.kind,
        "text": item.layer.text,
        "params": item.total,
        "trainable": item.total,  # every parameter of a layer just built requires grad
        "buffers": item.buffers,
        "tensors": {t.name: list(t.shape) for t in item.tensors},
        "buffer_tensors": [t.name for t in item.tensors if t.buffer],
        "copies": {t.name: t.copies for t in item.tensors if t.copies != 1},
    }


def _params_sections(items: Sequence[LayerParams]) -> list[list[list[str]]]:
    """One section per layer: its tensors, then (with several layers) its total."""
    sections = []
    several = len(items) > 1
    for index, item in enumerate(items):
        label = f"{index}: {item.layer.kind}" if several else item.layer.kind
        rows = [[label, "-", "-", "0"]] if not item.tensors else []
        for row, tensor in enumerate(item.tensors):
            name = f"{tensor.name} (buffer)" if tensor.buffer else tensor.name
            if tensor.copies != 1:
                name = f"{name} ({tensor.copies:,} tensors)"
            rows.append(
                [label if row == 0 else "", name, shape_text(tensor.shape), f"{tensor.numel:,}"]
            )
        if several:
            rows.append(["", "layer total", "", f"{item.total:,}"])
        sections.append(rows)
    return sections


PARAMS_HEADERS = ("layer", "tensor", "shape", "count")


def render_params(
    items: Sequence[LayerParams],
    explanations: Sequence[str | None],
    *,
    as_json: bool,
    total_only: bool,
) -> None:
    """A table (layer, tensor, shape, count) with totals; JSON or the bare total for scripts.

    ``--json`` has one layout for one layer or many: ``layers`` and the totals."""
    total = sum(i.total for i in items)
    buffers = sum(i.buffers for i in items)
    if total_only:
        print_result(str(total))
        return
    if as_json:
        print_json(
            {
                "layers": [_params_json(i) for i in items],
                "params": total,
                "trainable": sum(i.total for i in items),
                "buffers": buffers,
            }
        )
        return
    sections = _params_sections(items)
    footer = [f"total params: {total:,}" + (f"  (buffers: {buffers:,})" if buffers else "")]
    footer += [
        f"{item.layer.kind}: {explanation}"
        for item, explanation in zip(items, explanations, strict=True)
        if explanation
    ]
    print_sections(PARAMS_HEADERS, (False, False, False, True), sections, footer, "layer total")


def print_sections(
    headers: Sequence[str],
    right: Sequence[bool],
    sections: Sequence[Sequence[Sequence[str]]],
    footer: Sequence[str],
    subtotal: str,
) -> None:
    """A table in sections (a layer's tensors, a module's), each closed by a dim
    ``subtotal`` row (its label in the second column), then footer lines, the first bold.

    Plain text when :func:`_use_rich` says so: rich lays a big table out cell by cell.
    """
    if not _use_rich(sum(len(section) for section in sections)):
        print_result(plain_table(headers, right, sections))
        print_result("\n".join(footer))
        return
    from rich.markup import escape
    from rich.table import Table

    table = Table(show_edge=False, header_style="bold")
    for header, flush_right in zip(headers, right, strict=True):
        table.add_column(header, justify="right" if flush_right else "left")
    for section in sections:
        for index, row in enumerate(section):
            cells = [escape(cell) for cell in row]
            if row[1] == subtotal:
                cells = [
                    f"[dim]{cell}[/dim]" if cell else "" for cell in ["", subtotal, *cells[2:]]
                ]
            table.add_row(*cells, end_section=index == len(section) - 1)
    console = stdout_console()
    console.print(table)
    console.print(f"[bold]{escape(footer[0])}[/bold]")
    for text in footer[1:]:
        console.print(escape(text))


def _dims_text(values: Sequence[float] | None) -> str:
    if values is None:
        return ""
    texts = [str(int(v)) if float(v).is_integer() else f"{v:.2f}" for v in values]
    return texts[0] if len(set(texts)) == 1 else "x".join(texts)


def _megabytes(n: int) -> str:
    return f"{n / 1e6:,.2f} MB"


def summary_json(summary: Summary) -> dict[str, Any]:
    return {
        "model": summary.name,
        "input_shape": list(summary.input_shape),
        "dtype": summary.dtype,
        "layers": [
            {
                "name": r.path,
                "type": r.kind,
                "output_shape": None if r.output_shape is None else list(r.output_shape),
                "shape_guessed": r.guessed,
                "params": r.params,
                "macs": r.macs,
                "receptive_field": None if r.receptive_field is None else list(r.receptive_field),
                "jump": None if r.jump is None else list(r.jump),
            }
            for r in summary.rows
        ],
        "total_params": summary.total_params,
        "buffers": summary.buffers,
        "params_exact": summary.params_exact,
        "shapes_known": summary.shapes_known,
        "assumed": summary.assumed,
        "hidden": [
            {"name": h.name, "shape": list(h.shape), "buffer": h.buffer} for h in summary.hidden
        ],
        "macs": summary.macs,
        "param_bytes": summary.state_bytes,  # the JSON key predates the buffers in it
        "activation_bytes": summary.activation_bytes,
        "notes": list(summary.notes),
        "warnings": list(summary.warnings),
    }


def _summary_cells(row: DisplayRow) -> list[str]:
    name = row.path.rsplit(".", 1)[-1]
    label = (
        f"{'  ' * row.depth}{name} ({row.kind})"
        if name != row.kind
        else f"{'  ' * row.depth}{name}"
    )
    if row.is_container:
        shape = ""
        numbers = [f"{row.params:,}" if row.params else "", ""]
    else:
        shape = (
            "?"
            if row.output_shape is None
            else _guess_mark(row.guessed) + shape_text(row.output_shape)
        )
        macs = "?" if row.output_shape is None else f"{row.macs:,}"
        numbers = [f"{row.params:,}", macs]
    return [label, shape, *numbers, _dims_text(row.receptive_field), _dims_text(row.jump)]


def _guess_mark(guessed: bool) -> str:
    """``~`` before a shape that follows a guess (a forward not known; see the warning)."""
    return "~" if guessed else ""


SUMMARY_HEADERS = ("layer (type)", "output shape", "params", "MACs", "RF", "jump")


def _summary_totals(summary: Summary) -> list[tuple[str, str]]:
    """Totals; a number the summary could not know exactly is shown as a lower bound."""
    at_least = "" if summary.params_exact else ">= "
    activations = summary.activation_bytes
    return [
        ("input", shape_text(summary.input_shape)),
        ("total params", at_least + f"{summary.total_params:,}"),
        ("buffers", at_least + f"{summary.buffers:,}"),
        ("MACs", ("" if summary.shapes_known else ">= ") + f"{summary.macs:,}"),
        (f"params + buffers ({summary.dtype})", at_least + _megabytes(summary.state_bytes)),
        (
            f"forward activations ({summary.dtype})",
            "unknown" if activations is None else _megabytes(activations),
        ),
    ]


def render_summary(summary: Summary, rows: Sequence[DisplayRow], *, fmt: OutputFormat) -> None:
    """``table`` for people; ``json``, ``csv`` or ``markdown`` for scripts and papers."""
    for message in (*summary.notes, *summary.warnings):
        prefix = "warning: " if message in summary.warnings else "note: "
        sys.stderr.write(prefix + message + "\n")
    if fmt is OutputFormat.JSON:
        print_json(summary_json(summary))
        return
    if fmt is OutputFormat.CSV:
        import csv

        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(
            ["name", "type", "output_shape", "params", "macs", "receptive_field", "jump",
             "shape_guessed"]
        )  # fmt: skip
        for r in summary.rows:
            writer.writerow(
                [r.path, r.kind,
                 "?" if r.output_shape is None else "x".join(str(n) for n in r.output_shape),
                 r.params, r.macs,
                 _dims_text(r.receptive_field), _dims_text(r.jump),
                 "yes" if r.guessed else ""]
            )  # fmt: skip
        return
    if fmt is OutputFormat.MARKDOWN:
        lines = ["| " + " | ".join(SUMMARY_HEADERS) + " |", "|" + "---|" * len(SUMMARY_HEADERS)]
        for row in rows:
            cells = _summary_cells(row)
            cells[0] = cells[0].replace("  ", "&nbsp;&nbsp;")
            lines.append("| " + " | ".join(cells) + " |")
        lines.append("")
        lines += [f"- **{name}**: {value}" for name, value in _summary_totals(summary)]
        print_result("\n".join(lines))
        return
    table_cells = [_summary_cells(row) for row in rows]
    if not _use_rich(len(table_cells)):
        right = [header not in SUMMARY_HEADERS[:2] for header in SUMMARY_HEADERS]
        print_result(plain_table(SUMMARY_HEADERS, right, [table_cells], title=summary.name))
        print_result(plain_grid(_summary_totals(summary)))
        return
    from rich.markup import escape
    from rich.table import Table

    table = Table(
        title=escape(summary.name), show_edge=False, header_style="bold", title_style="bold"
    )
    for header in SUMMARY_HEADERS:
        table.add_column(header, justify="left" if header in SUMMARY_HEADERS[:2] else "right")
    for row, row_cells in zip(rows, table_cells, strict=True):
        table.add_row(
            *(
                f"[bold]{escape(c)}[/bold]" if row.is_container and c else escape(c)
                for c in row_cells
            )
        )
    console = stdout_console()
    console.print(table)
    totals = Table.grid(padding=(0, 2))
    totals.add_column()
    totals.add_column(justify="right")
    for name, value in _summary_totals(summary):
        totals.add_row(escape(name), escape(value))
    console.print(totals)


def render_zoo(entries: Sequence[tuple[str, str, str]]) -> None:
    from rich.table import Table

    table = Table(show_edge=False, header_style="bold")
    for header in ("model", "default input", "description"):
        table.add_column(header)
    for entry in entries:
        table.add_row(*entry)
    stdout_console().print(table)


def _number(value: float) -> str:
    return f"{value:.12g}"


def render_pool(
    result: Sequence[Sequence[PooledWindow]], one_d: bool, *, explain: bool, as_json: bool
) -> None:
    """Pooled values: one row per line (one line for 1-D), windows with ``--explain``."""
    grid = [[w.value for w in row] for row in result]
    if as_json:
        rows = [[w.windows[0].start, w.windows[0].end] for w in (r[0] for r in result)]
        cols = [[w.windows[1].start, w.windows[1].end] for w in result[0]]
        data: dict[str, Any] = {
            "output": grid[0] if one_d else grid,
            "shape": [len(grid[0])] if one_d else [len(grid), len(grid[0])],
            "windows": cols if one_d else {"rows": rows, "cols": cols},
        }
        print_json(data)
        return
    if explain:
        lines = []
        for i, row in enumerate(result):
            for j, item in enumerate(row):
                where = f"{j}" if one_d else f"({i}, {j})"
                spans = item.windows[1:] if one_d else item.windows
                window = " x ".join(f"[{w.start},{w.end})" for w in spans)
                divisor = "" if item.divisor is None else f" / {item.divisor}"
                lines.append(f"out {where}: window {window}{divisor} -> {_number(item.value)}")
        print_result("\n".join(lines))
        return
    print_result("\n".join(" ".join(_number(v) for v in row) for row in grid))


# ------------------------------------------------------------------------ batch ---


def _print_outcome(outcome: Outcome) -> None:
    from cnncli.batch import FAILED, WRITTEN

    text = outcome.message or ""
    names = (str(outcome.job.source), str(outcome.job.dest))
    if not text.startswith(names):  # most file errors already start with the file's name
        text = f"{outcome.job.source}: {text}"
    if outcome.status == FAILED:
        print_error(text)
    elif outcome.status == WRITTEN and outcome.message:
        print_warning(text)


@contextmanager
def batch_progress(total: int, label: str, *, bar: bool) -> Iterator[Callable[[Outcome], None]]:
    """A callback for each finished file: errors and warnings as they happen, and a
    progress bar on stderr when ``bar`` and stderr is a terminal (never in a pipe or log)."""
    # Where stderr cannot be a terminal, rich is not even imported (20 ms).
    console = stderr_console() if bar and _may_be_terminal(sys.stderr) else None
    if console is None or not console.is_terminal:
        yield _print_outcome
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("elapsed"),
        TimeElapsedColumn(),
        TextColumn("remaining"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task(label, total=total)

        def on_outcome(outcome: Outcome) -> None:
            _print_outcome(outcome)  # rich's live display keeps these above the bar
            progress.advance(task)

        yield on_outcome


def _may_be_terminal(stream: TextIO | None) -> bool:
    """Whether rich could take ``stream`` for a terminal: a TTY, or one of the variables
    by which rich is told it is (``TTY_COMPATIBLE``, ``FORCE_COLOR``). Rich decides."""
    if stream is None:  # stderr closed (2>&-)
        return False
    if os.environ.get("TTY_COMPATIBLE") or "FORCE_COLOR" in os.environ:
        return True
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty()) if isatty is not None else False
    except ValueError:  # closed
        return False


def batch_summary(report: BatchReport, label: str, note: str = "") -> None:
    files = report.written + report.skipped + report.failed
    parts = [f"{report.written} written"]
    if report.skipped:
        parts.append(f"{report.skipped} skipped (already there)")
    parts.append(f"{report.failed} failed")
    if report.warnings:
        parts.append(f"{report.warnings} with warnings")
    noun = "file" if files == 1 else "files"
    timing = f"{report.seconds:.1f} s" + (f" ({note})" if note else "")
    print_note(f"{label}: {files} {noun} in {timing}: {', '.join(parts)}")


def batch_interrupted(
    label: str, done: int, total: int, out_dir: Path, skip_existing: bool
) -> None:
    """One line after Ctrl-C: what is there, and the command that finishes the rest."""
    rerun = "the same command" + ("" if skip_existing else " with --skip-existing")
    print_note(
        f"{label}: interrupted; {done} of {total} outputs are in {out_dir} "
        f"(rerun {rerun} to make the other {total - done})"
    )
