"""The named choices of cnncli, as ``str`` Enums (as torchinfo's ``enums.py`` keeps its own).

A ``str`` Enum member equals its value (``PoolOp.MAX == "max"``), so code that still
compares strings keeps working, and Typer turns an Enum-typed option into a validated
choice whose ``--help`` lists the values. Stdlib only: the CLI imports this at start-up.
"""

from enum import Enum


class Choice(str, Enum):
    """A ``str`` Enum that prints as its value (``f"{PoolOp.MAX}"`` is ``max``, on 3.10+)."""

    def __str__(self) -> str:
        return str(self.value)


class PoolOp(Choice):
    """What a pooling window reduces to: ``nn.MaxPool*`` or ``nn.AvgPool*``."""

    MAX = "max"
    AVG = "avg"


class EdgeOutput(Choice):
    """What an edge filter writes: the magnitude, one signed derivative, or the angle."""

    MAGNITUDE = "magnitude"
    X = "x"
    Y = "y"
    ANGLE = "angle"


class BatchStatus(Choice):
    """What became of one file of a batch."""

    WRITTEN = "written"
    SKIPPED = "skipped"  # --skip-existing found a whole output already there
    FAILED = "failed"


class OutputFormat(Choice):
    """How a result is printed: a rich table, or text another program reads."""

    TABLE = "table"
    JSON = "json"
    CSV = "csv"
    MARKDOWN = "markdown"
