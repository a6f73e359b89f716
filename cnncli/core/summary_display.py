"""The rows a summary table shows: calls under container headers, folded by depth.

Computing (:mod:`cnncli.core.summary`) and showing are kept apart, as torchinfo keeps
``LayerInfo`` apart from its printing. Parameters a rule declared for a block (hidden in
the repr) are shown on that block's header row, so the column still adds up to the total.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from cnncli.core.summary import Summary


@dataclass(frozen=True)
class DisplayRow:
    """A row of the table: a call, a container header, or a container folded by depth."""

    path: str
    kind: str
    depth: int
    output_shape: tuple[int, ...] | None
    params: int
    macs: int
    receptive_field: tuple[float, ...] | None
    jump: tuple[float, ...] | None
    is_container: bool
    guessed: bool = False  # the shape follows a guess (see Row.guessed)


def display_rows(summary: Summary, max_depth: int | None = None) -> list[DisplayRow]:
    """Calls with container headers; below ``max_depth`` calls fold into their ancestor."""
    rows: list[DisplayRow] = []
    shown: set[str] = set()
    root_hidden = summary.hidden_params("")
    if root_hidden:
        rows.append(
            DisplayRow(summary.name, summary.name, 0, None, root_hidden, 0, None, None, True)
        )
    for row in summary.rows:
        parts = row.path.split(".")
        limit = len(parts) if max_depth is None else min(len(parts), max_depth)
        for depth in range(1, limit):
            prefix = ".".join(parts[:depth])
            if prefix not in shown and prefix in summary.containers:
                shown.add(prefix)
                rows.append(
                    DisplayRow(
                        prefix,
                        summary.containers[prefix],
                        depth - 1,
                        None,
                        summary.hidden_params(prefix),
                        0,
                        None,
                        None,
                        True,
                    )
                )
        if max_depth is not None and len(parts) > max_depth:
            prefix = ".".join(parts[:max_depth])
            last = rows[-1] if rows else None
            if last is not None and last.path == prefix and not last.is_container:
                rows[-1] = replace(
                    last,
                    output_shape=row.output_shape,
                    params=last.params + row.params,
                    macs=last.macs + row.macs,
                    receptive_field=row.receptive_field or last.receptive_field,
                    jump=row.jump or last.jump,
                    guessed=row.guessed,
                )
            else:
                rows.append(
                    DisplayRow(
                        prefix,
                        summary.containers.get(prefix, row.kind),
                        max_depth - 1,
                        row.output_shape,
                        row.params + _hidden_below(summary, prefix),
                        row.macs,
                        row.receptive_field,
                        row.jump,
                        False,
                        row.guessed,
                    )
                )
            continue
        shown.add(row.path)
        rows.append(
            DisplayRow(
                row.path,
                row.kind,
                len(parts) - 1,
                row.output_shape,
                row.params + summary.hidden_params(row.path),
                row.macs,
                row.receptive_field,
                row.jump,
                False,
                row.guessed,
            )
        )
    return rows


def _hidden_below(summary: Summary, prefix: str) -> int:
    """Hidden parameters anywhere under a folded block (counted once, on its first row)."""
    return sum(
        math.prod(h.shape)
        for h in summary.hidden
        if not h.buffer and h.name.startswith(prefix + ".")
    )
