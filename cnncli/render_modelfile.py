"""Printing what a model file holds: tensors grouped by module, dtype totals, bytes."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

from cnncli.render import print_json, print_result, stdout_console

if TYPE_CHECKING:
    from cnncli.core.modelfile import ModelFile, TensorInfo


def _bytes(n: int) -> str:
    return f"{n:,} B" if n < 10_000 else f"{n / 1e6:,.2f} MB"


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
    from rich.table import Table

    table = Table(show_edge=False, header_style="bold")
    for header, justify in (("module", "left"), ("tensor", "left"), ("shape", "left"),
                            ("dtype", "left"), ("count", "right")):  # fmt: skip
        table.add_column(header, justify=justify)  # type: ignore[arg-type]
    cut = len(model.prefix)
    for module, tensors in _groups(model).items():
        for row, t in enumerate(tensors):
            label = t.name.rpartition(".")[2] + (" (buffer)" if t.is_buffer else "")
            table.add_row(
                (module[cut:] or "-") if row == 0 else "",
                label,
                "[" + ", ".join(map(str, t.shape)) + "]",
                t.dtype,
                f"{t.numel:,}",
                end_section=len(tensors) == 1,
            )
        if len(tensors) > 1:
            subtotal = sum(t.numel for t in tensors)
            table.add_row("", "[dim]subtotal[/dim]", "", "", f"[dim]{subtotal:,}[/dim]",
                          end_section=True)  # fmt: skip
    console = stdout_console()
    console.print(table)
    buffers = f"  (buffers: {model.buffers:,})" if model.buffers else ""
    console.print(f"[bold]total params: {model.total_params:,}[/bold]{buffers}")
    totals = Table.grid(padding=(0, 2))
    totals.add_column()
    totals.add_column(justify="right")
    totals.add_column(justify="right")
    for dtype, (count, size) in model.per_dtype().items():
        totals.add_row(dtype, f"{count:,} elements", _bytes(size))
    console.print(totals)
    console.print(
        f"on disk: {_bytes(model.file_bytes)} (tensor data {_bytes(model.data_bytes)}); "
        f"in memory: {_bytes(model.memory_bytes)}"
    )
