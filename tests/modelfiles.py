"""The golden model files of tests/golden/modelfiles (made by make_model_files.py with torch)."""

from __future__ import annotations

import gzip
import json
import shutil
import tempfile
from functools import cache
from pathlib import Path
from typing import Any

GOLDEN = Path(__file__).resolve().parent / "golden" / "modelfiles"


@cache
def expected() -> dict[str, Any]:
    data: dict[str, Any] = json.loads((GOLDEN / "model_files.json").read_text())
    return data


def local_name(name: str) -> str:
    return name.removesuffix(".gz")


def materialize(name: str, directory: Path) -> Path:
    """The golden file ``name`` in ``directory``, unpacked when it is gzipped."""
    target = directory / local_name(name)
    if not target.exists():
        source = GOLDEN / name
        if name.endswith(".gz"):
            with gzip.open(source, "rb") as src, target.open("wb") as dst:
                shutil.copyfileobj(src, dst)
        else:
            shutil.copyfile(source, target)
    return target


_UNPACKED = tempfile.TemporaryDirectory(prefix="cnncli-modelfiles-")


def golden_file(name: str) -> Path:
    """A golden model file by its name in model_files.json, unpacked once per test run."""
    return materialize(name, Path(_UNPACKED.name))
