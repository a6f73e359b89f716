"""Printing what a model file holds: tensors grouped by module, dtype totals, bytes."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from cnncli.render import (
    RICH_TABLE_ROWS,
    plain_grid,
    plain_table,
    print_json,
    print_result,
    stdout_console,
)

if TYPE_CHECKING:
    from cnncli.core.modelfile import ModelFile, TensorInfo
    from cnncli.core.modelfile.onnx_graph import Dim, OnnxSummary


def _bytes(n: int) -> str:
    if n < 10_000:
        return f"{n:,} B"
    return f"{n / 1e3:,.1f} kB" if n < 10_000_000 else f"{n / 1e6:,.1f} MB"


def model_file_json(name: str, model: ModelFile) -> dict[str, Any]:
    return {
        "file": name,
        "format": model.format.value,
        "state_dict": model.location or None,
        "prefix": model.prefix,
        "total_params": model.total_params,
        "buffers": model.buffers,
        "tensors": [
            {"name": t.name, "shape": list(t.shape), "dtype": t.dtype} for t in model.tensors
        ],
        "dtypes": {
            dtype: {"elements": count, "bytes": size}
            for dtype, (count, size) in model.per_dtype().items()
        },
        "file_bytes": model.file_bytes,
        "data_bytes": model.data_bytes,
        "memory_bytes": model.memory_bytes,
        "notes": list(model.notes),
    }


def _groups(model: ModelFile) -> dict[str, list[TensorInfo]]:
    groups: dict[str, list[TensorInfo]] = {}
    for tensor in model.tensors:
        groups.setdefault(tensor.module, []).append(tensor)
    return groups


def render_model_file(
    name: str, model: ModelFile, *, as_json: bool, total_only: bool, note: str | None = None
) -> None:
    """Tensors by module path with subtotals, then totals per dtype and bytes."""
    if total_only:
        print_result(str(model.total_params))
        return
    for message in (*model.notes, *([note] if note else [])):
        sys.stderr.write(f"note: {message}\n")
    if as_json:
        print_json(model_file_json(name, model))
        return
    sections = _sections(model)
    footer = [f"total params: {model.total_params:,}"]
    if model.buffers:
        footer[0] += f"  (buffers: {model.buffers:,})"
    dtypes = [(d, f"{c:,} elements", _bytes(b)) for d, (c, b) in model.per_dtype().items()]
    widths = [max(len(row[i]) for row in dtypes) for i in range(3)]
    footer += [
        f"{d.ljust(widths[0])}  {c.rjust(widths[1])}  {b.rjust(widths[2])}" for d, c, b in dtypes
    ]
    footer.append(
        f"on disk: {_bytes(model.file_bytes)} (tensor data {_bytes(model.data_bytes)}); "
        f"in memory: {_bytes(model.memory_bytes)}"
    )
    right = (False, False, False, False, True)
    if not (sys.stdout.isatty() and sum(map(len, sections)) <= RICH_TABLE_ROWS):
        # Rich lays a table out cell by cell; a big checkpoint has thousands of rows.
        print_result(plain_table(FILE_HEADERS, right, sections))
        print_result("\n".join(footer))
        return
    from rich.markup import escape
    from rich.table import Table

    table = Table(show_edge=False, header_style="bold")
    for header, flush_right in zip(FILE_HEADERS, right, strict=True):
        table.add_column(header, justify="right" if flush_right else "left")
    for section in sections:
        for index, row in enumerate(section):
            cells = [escape(cell) for cell in row]
            if row[1] == "subtotal":
                cells = ["", "[dim]subtotal[/dim]", "", "", f"[dim]{cells[4]}[/dim]"]
            table.add_row(*cells, end_section=index == len(section) - 1)
    console = stdout_console()
    console.print(table)
    console.print(f"[bold]{escape(footer[0])}[/bold]")
    for text in footer[1:]:
        console.print(escape(text))


FILE_HEADERS = ("module", "tensor", "shape", "dtype", "count")


def _sections(model: ModelFile) -> list[list[list[str]]]:
    """One section per module path: its tensors, then a subtotal when it has several."""
    cut = len(model.prefix)
    sections = []
    for module, tensors in _groups(model).items():
        rows = []
        for index, t in enumerate(tensors):
            label = t.name.rpartition(".")[2] + (" (buffer)" if t.is_buffer else "")
            shape = "[" + ", ".join(map(str, t.shape)) + "]"
            first = (module[cut:] or "-") if index == 0 else ""
            rows.append([first, label, shape, t.dtype, f"{t.numel:,}"])
        if len(tensors) > 1:
            rows.append(["", "subtotal", "", "", f"{sum(t.numel for t in tensors):,}"])
        sections.append(rows)
    return sections


def _dims(shape: Sequence[Dim] | None) -> str:
    """``[batch, 3, 224, 224]`` (escape it for rich, which reads ``[batch]`` as markup)."""
    if shape is None:
        return "?"
    return "[" + ", ".join("?" if d is None else str(d) for d in shape) + "]"


def _count(value: int | None) -> str:
    return "?" if value is None else f"{value:,}"


def _node_label(name: str, op: str) -> str:
    """The module path in torch's exporter names: ``/layer1/layer1.0/conv1/Conv`` becomes
    ``layer1.0.conv1`` (each scope repeats its parent's name; the op has its own column).
    Other names are shown as they are; the JSON always has the node's own name."""
    parts = name.strip("/").split("/")
    if len(parts) < 2 or not (parts[-1] == op or parts[-1].startswith(f"{op}_")):
        return name
    path = ""
    for part in parts[:-1]:
        path = part if not path or part.startswith(f"{path}.") else f"{path}.{part}"
    return path


def onnx_summary_json(name: str, summary: OnnxSummary) -> dict[str, Any]:
    return {
        "model": name,
        "graph": summary.graph,
        "inputs": [{"name": n, "shape": list(s)} for n, s in summary.inputs],
        "outputs": [
            {"name": n, "shape": None if s is None else list(s)} for n, s in summary.outputs
        ],
        "layers": [
            {
                "name": n.name,
                "op": n.op,
                "output_shape": None if n.output_shape is None else list(n.output_shape),
                "params": n.params,
                "macs": n.macs,
            }
            for n in summary.nodes
        ],
        "total_params": summary.total_params,
        "macs": summary.macs,
        "notes": list(summary.notes),
    }


ONNX_HEADERS = ("node", "op", "output shape", "params", "MACs")


def render_onnx_summary(name: str, summary: OnnxSummary, *, as_json: bool) -> None:
    """One row per graph node in graph order; notes on stderr."""
    for message in summary.notes:
        sys.stderr.write(f"note: {message}\n")
    if as_json:
        print_json(onnx_summary_json(name, summary))
        return
    rows = [
        [_node_label(n.name, n.op), n.op, _dims(n.output_shape), f"{n.params:,}", _count(n.macs)]
        for n in summary.nodes
    ]
    totals = [(f"input {n}", _dims(s)) for n, s in summary.inputs]
    totals += [(f"output {n}", _dims(s)) for n, s in summary.outputs]
    totals.append(("total params (initializers)", f"{summary.total_params:,}"))
    macs = _count(summary.macs)
    totals.append(
        ("MACs", macs if summary.macs is not None else f"{macs} (symbolic sizes: give --input)")
    )
    title = summary.graph or name
    if not (sys.stdout.isatty() and len(rows) <= RICH_TABLE_ROWS):
        right = (False, False, False, True, True)
        print_result(plain_table(ONNX_HEADERS, right, [rows], title=title))
        print_result(plain_grid(totals))
        return
    from rich.markup import escape
    from rich.table import Table

    table = Table(title=title, show_edge=False, header_style="bold", title_style="bold")
    for header in ONNX_HEADERS:
        table.add_column(header, justify="right" if header in ("params", "MACs") else "left")
    for row in rows:
        table.add_row(*(escape(cell) for cell in row))
    console = stdout_console()
    console.print(table)
    grid = Table.grid(padding=(0, 2))
    grid.add_column()
    grid.add_column(justify="right")
    for key, value in totals:
        grid.add_row(escape(key), escape(value))
    console.print(grid)
