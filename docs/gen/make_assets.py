"""Make the pictures the docs embed, by running cnncli on the bundled sample.

Run by ``make docs``. Writes under docs/assets/ (committed, so the README can show them too).
"""

from __future__ import annotations

import sys
from pathlib import Path

ASSETS = Path(__file__).resolve().parents[1] / "assets"


def main() -> None:
    ASSETS.mkdir(exist_ok=True)
    sys.stdout.write(f"assets in {ASSETS}: nothing to make yet\n")


if __name__ == "__main__":
    main()
