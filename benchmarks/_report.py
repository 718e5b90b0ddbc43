"""Shared helpers for the benchmarks: machine facts, percentiles, CPU clocks, optional deps."""

from __future__ import annotations

import importlib
import math
import os
import platform
import resource
import sys
from collections.abc import Coroutine, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any, TypeVar

import orjson

_T = TypeVar("_T")

__all__ = [
    "core_busy_seconds",
    "cpu_seconds",
    "machine_info",
    "optional_module",
    "percentile",
    "proc_tree_cpu_seconds",
    "run_async",
    "show_and_write",
]

_TICKS = os.sysconf("SC_CLK_TCK")


def optional_module(name: str) -> ModuleType | None:
    """Import an optional dependency (tqdm, matplotlib, scim2_models) or return ``None``."""
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


def cpu_seconds() -> float:
    """User + system CPU time of this process so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _stat_fields(pid: int) -> list[str] | None:
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name may contain spaces and parentheses: split after the last ')'.
    return text[text.rindex(")") + 2 :].split()


def proc_tree_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of ``pid`` and all its live descendants (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        fields = _stat_fields(int(entry.name))
        if fields is not None:
            children.setdefault(int(fields[1]), []).append(int(entry.name))
    total = 0
    stack = [pid]
    while stack:
        current = stack.pop()
        fields = _stat_fields(current)
        if fields is None:
            continue
        # fields[11], [12] are utime, stime (fields 14, 15 of proc(5), 0-based after the name).
        total += int(fields[11]) + int(fields[12])
        stack.extend(children.get(current, ()))
    return total / _TICKS


def core_busy_seconds(core: int) -> float:
    """Busy (non-idle, non-iowait) seconds of one CPU core since boot, from /proc/stat."""
    prefix = f"cpu{core} "
    for line in Path("/proc/stat").read_text().splitlines():
        if line.startswith(prefix):
            values = [int(v) for v in line.split()[1:]]
            idle = values[3] + (values[4] if len(values) > 4 else 0)
            # guest time is already counted in user time
            busy = sum(values[:8]) - idle
            return busy / _TICKS
    return 0.0


def percentile(sorted_values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile of an already sorted sequence (0.0 when empty)."""
    if not sorted_values:
        return 0.0
    rank = max(1, math.ceil(fraction * len(sorted_values) - 1e-9))
    return sorted_values[min(rank, len(sorted_values)) - 1]


def machine_info() -> dict[str, Any]:
    """nproc, CPU model, memory, Python and OS: what a reader needs to compare figures."""
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory_gib = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory_gib = round(int(line.split()[1]) / 1024 / 1024, 1)
                break
    except OSError:
        pass
    return {
        "nproc": os.cpu_count(),
        "cpu_model": model,
        "memory_gib": memory_gib,
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
    }


def run_async(coroutine: Coroutine[Any, Any, _T]) -> _T:
    """Run a coroutine on uvloop when installed (as the servers do), else on asyncio."""
    import asyncio

    loop_factory: Any = None
    uvloop = optional_module("uvloop")
    if uvloop is not None:
        loop_factory = uvloop.new_event_loop
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        return runner.run(coroutine)


def show_and_write(result: dict[str, Any], out: Path | None, *, hidden: Sequence[str] = ()) -> None:
    """Print ``result`` as indented JSON (without the ``hidden`` keys); write it all to ``out``."""
    shown = {key: value for key, value in result.items() if key not in hidden}
    print(orjson.dumps(shown, option=orjson.OPT_INDENT_2).decode())
    if out is not None:
        write_result(result, out)


def write_result(result: dict[str, Any], out: Path) -> None:
    """Write ``result`` to ``out`` as indented JSON (parents made), and say where."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2))
