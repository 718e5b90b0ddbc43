"""glibc's allocator told to keep freed memory in the process instead of returning it at once.

Why: with glibc's defaults a server process gives the top of its heap back to the kernel as
soon as 128 KiB are free there, and serves any block of 128 KiB or more (the threshold then
adapts) from its own ``mmap``, unmapped when freed. A SCIM server that keeps a working set
turning over (the embedded events feed and request log evict an old entry for each new one)
then takes fresh zeroed pages from the kernel again and again: page faults and ``brk``/``mmap``
calls charged to every request. Measured on the 2-core VM of ``benchmarks/README.md``
("Final quiet run"), events on vs off over hypercorn with the feed full (100 000 events):
without this, recording added 36 µs per POST and 41 µs per PATCH; with it, 12-17 and 20-36 µs
in four runs (±15 µs between rounds), near what the same code costs in process; every server's
own cost per request fell too (the bare ceiling app 212 → 183 µs per POST).

The price: a process keeps up to :data:`TRIM_THRESHOLD` of freed heap instead of returning it,
and its heap grows in steps of :data:`TOP_PAD` (address space, not resident memory, until
touched). ``serve --malloc-tuning off`` leaves glibc's defaults (or the operator's own
``MALLOC_*`` / ``GLIBC_TUNABLES`` variables) alone. Other C libraries (musl) are left as they are.
"""

from __future__ import annotations

import ctypes
import platform

__all__ = ["MMAP_THRESHOLD", "TOP_PAD", "TRIM_THRESHOLD", "allocator_environ", "tune_allocator"]

TRIM_THRESHOLD = 256 * 1024 * 1024
"""Free bytes at the heap's top before glibc hands them back (default 128 KiB, adaptive)."""
TOP_PAD = 64 * 1024 * 1024
"""Extra bytes the heap grows by each time it must grow (default 128 KiB)."""
MMAP_THRESHOLD = 32 * 1024 * 1024
"""Blocks below this come from the heap, not from a private ``mmap`` (default 128 KiB)."""

# mallopt's parameter numbers (glibc's malloc.h), with the environment variable glibc reads at
# a process's start for the same setting: worker processes are started afresh, and take it so.
_PARAMETERS = (
    (-1, "MALLOC_TRIM_THRESHOLD_", TRIM_THRESHOLD),  # M_TRIM_THRESHOLD
    (-2, "MALLOC_TOP_PAD_", TOP_PAD),  # M_TOP_PAD
    (-3, "MALLOC_MMAP_THRESHOLD_", MMAP_THRESHOLD),  # M_MMAP_THRESHOLD
)


def tune_allocator() -> bool:
    """Apply the settings above to this process; whether glibc took them (False elsewhere)."""
    if platform.libc_ver()[0] != "glibc":
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    return all(mallopt(number, value) == 1 for number, _, value in _PARAMETERS)


def allocator_environ() -> dict[str, str]:
    """The same settings as environment variables, for worker processes started afresh."""
    return {name: str(value) for _, name, value in _PARAMETERS}
