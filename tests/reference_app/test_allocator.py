"""glibc keeps what a tuned process frees; an untuned one hands it back (docs/deployment.md)."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys

import pytest

from reference_app.allocator import MMAP_THRESHOLD, TOP_PAD, TRIM_THRESHOLD, allocator_environ

pytestmark = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="glibc only")

# A fresh interpreter (tuning is for the whole process) allocates and frees 8 MiB blocks and
# reports glibc's own account of its memory (mallinfo2: bytes in the heap, bytes in mmaps).
_PROGRAM = """
import ctypes, json, sys
from reference_app.allocator import tune_allocator

class Info(ctypes.Structure):
    _fields_ = [(name, ctypes.c_size_t) for name in (
        "arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
        "fordblks", "keepcost")]

mallinfo2 = ctypes.CDLL(None).mallinfo2
mallinfo2.restype = Info
tuned = tune_allocator() if sys.argv[1] == "on" else None
blocks = [bytearray(8 * 1024 * 1024) for _ in range(4)]
held = mallinfo2()
del blocks
freed = mallinfo2()
report = {"tuned": tuned, "mapped_while_held": held.hblkhd, "heap_after_free": freed.arena}
print(json.dumps(report))
"""


def _run(switch: str, tuned_environ: bool = False) -> dict[str, int]:
    # glibc's defaults unless asked: whatever this process's environment says left out.
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("MALLOC_", "GLIBC_"))}
    if tuned_environ:
        environ.update(allocator_environ())
    done = subprocess.run(
        [sys.executable, "-c", _PROGRAM, switch],
        capture_output=True,
        text=True,
        check=True,
        env=environ,
    )
    result: dict[str, int] = json.loads(done.stdout)
    return result


def test_a_tuned_process_serves_large_blocks_from_its_heap_and_keeps_them_when_freed() -> None:
    tuned, default = _run("on"), _run("off")
    assert tuned["tuned"] is True
    # Untuned, each 8 MiB block is its own mmap, unmapped when freed.
    assert default["mapped_while_held"] >= 32 * 1024 * 1024
    # Tuned, they come from the heap, which keeps them after they are freed.
    assert tuned["mapped_while_held"] < 1024 * 1024
    assert tuned["heap_after_free"] >= 32 * 1024 * 1024 > default["heap_after_free"]


def test_worker_processes_get_the_same_settings_through_glibc_variables() -> None:
    assert allocator_environ() == {
        "MALLOC_TRIM_THRESHOLD_": str(TRIM_THRESHOLD),
        "MALLOC_TOP_PAD_": str(TOP_PAD),
        "MALLOC_MMAP_THRESHOLD_": str(MMAP_THRESHOLD),
    }
    started_tuned = _run("off", tuned_environ=True)
    assert started_tuned["mapped_while_held"] < 1024 * 1024
    assert started_tuned["heap_after_free"] >= 32 * 1024 * 1024
