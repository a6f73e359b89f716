"""glibc's allocator, told to keep freed memory for the next strip or file.

glibc gives a freed block above its mmap threshold straight back to the kernel, and trims
the top of a heap as soon as enough of it is free; the threshold only grows as blocks are
freed, and each thread has its own heap. The next strip or file of the same size then
maps that memory again, a page fault for every 4 KiB. On the project's 2-core VM a fresh
megabyte costs more to map than to filter (0.65 ms). With blocks under 32 MiB taken from
the heap and up to 64 MiB of free heap kept, Sobel on a 256x256 image went from 1.0 ms to
0.27 ms, and a one-thread batch of 500 such PNGs from 3.0-3.5 s (0.76-0.94 s of it in the
kernel) to 2.0-2.9 s (0.27-0.50 s). Image-sized arrays (over 32 MiB) are still mapped and
returned on their own. Only glibc has these knobs; elsewhere nothing changes.
"""

from __future__ import annotations

import os

# mallopt parameters, from glibc's malloc.h
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3

MMAP_THRESHOLD = 32 << 20
TRIM_THRESHOLD = 64 << 20


def keep_freed_memory() -> bool:
    """Set glibc's thresholds for this process; False where there is no glibc (or it
    refused them)."""
    try:
        libc = os.confstr("CS_GNU_LIBC_VERSION")
    except (ValueError, OSError):  # not a name this platform knows
        return False
    if not libc or not libc.startswith("glibc"):
        return False
    import ctypes

    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    mapped = mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)
    trimmed = mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD)
    return bool(mapped) and bool(trimmed)
