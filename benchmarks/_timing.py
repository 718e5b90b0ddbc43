"""How the micro-benchmarks time a call: median CPU time of this process per call.

CPU time, not wall time: the machine is shared (2 cores), and a preempted benchmark should not
count its neighbours' work.
"""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Awaitable, Callable
from typing import Any

__all__ = ["clock", "time_async", "time_call", "us"]

clock = time.process_time


def time_call(fn: Callable[[], Any], *, repeat: int = 7, min_time: float = 0.2) -> float:
    """Median CPU seconds per call over ``repeat`` runs of enough calls to last ``min_time``."""
    fn()
    number = 1
    while True:
        started = clock()
        for _ in range(number):
            fn()
        elapsed = clock() - started
        if elapsed >= min_time / 4 or number >= 1 << 20:
            break
        number *= 2
    number = max(1, int(number * (min_time / 4) / max(elapsed, 1e-9)))
    samples = []
    gc.collect()
    for _ in range(repeat):
        started = clock()
        for _ in range(number):
            fn()
        samples.append((clock() - started) / number)
    return statistics.median(samples)


async def time_async(
    fn: Callable[[], Awaitable[Any]], *, repeat: int = 7, number: int = 2000, warmup: int = 200
) -> float:
    """Median CPU seconds per awaited call over ``repeat`` runs of ``number`` calls."""
    for _ in range(warmup):
        await fn()
    samples = []
    gc.collect()
    for _ in range(repeat):
        started = clock()
        for _ in range(number):
            await fn()
        samples.append((clock() - started) / number)
    return statistics.median(samples)


def us(seconds: float) -> float:
    """Seconds as microseconds, to two decimals (the unit of every micro-benchmark figure)."""
    return round(seconds * 1e6, 2)
