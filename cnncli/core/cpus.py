"""How many threads to use when the caller does not say: the one CPU-count helper.

Standard library only, so the batch runner and the Dask cluster can ask without loading
numpy. Strip filters, the PNG encoder, batch threads and Dask workers all default to it.
"""

from __future__ import annotations

import os


def cpu_count() -> int:
    """The machine's logical CPUs (``os.cpu_count()``), at least 1."""
    return os.cpu_count() or 1
