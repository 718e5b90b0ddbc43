"""Time filter parse + bind + MongoDB translation, cold (no caches) and warm (cached parse/bind).

Run from the repository root::

    .venv/bin/python -m benchmarks.bench_filter            # or: python benchmarks/bench_filter.py
    .venv/bin/python -m benchmarks.bench_filter --iterations 20000 --repeat 7

Prints microseconds per call (best and median of the repeats) for each filter. The issue's
target is the warm path of ``userName eq "someone@example.com"``: at most 25 µs.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the repository importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scimkit._builtin import GROUP, USER
from scimkit._filter import clear_filter_caches, compile_filter
from scimkit._resource_type import ResourceType
from scimkit.mongo._query import translate_filter

CASES: list[tuple[str, ResourceType, str]] = [
    ("entra-lookup", USER, 'userName eq "someone@example.com"'),
    ("entra-match", USER, 'emails[type eq "work"].value eq "someone@example.com"'),
    ("membership", GROUP, 'id eq "6f4a0a0e-1f7e" and members eq "0b0f6c2e-4c1c"'),
    (
        "rfc-not",
        USER,
        'userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")',
    ),
    (
        "value-or-not",
        USER,
        'emails[type eq "work" or not (value ew "@example.com")] and meta.lastModified gt '
        '"2011-05-13T04:42:34Z"',
    ),
]


def cold(text: str, resource_type: ResourceType) -> Callable[[], object]:
    def run() -> object:
        clear_filter_caches()
        return translate_filter(compile_filter(text, resource_type))

    return run


def warm(text: str, resource_type: ResourceType) -> Callable[[], object]:
    translate_filter(compile_filter(text, resource_type))  # fill the caches

    def run() -> object:
        return translate_filter(compile_filter(text, resource_type))

    return run


def measure(func: Callable[[], object], iterations: int, repeat: int) -> tuple[float, float]:
    """Best and median microseconds per call over ``repeat`` runs of ``iterations`` calls."""
    samples = []
    for _ in range(repeat):
        start = time.perf_counter_ns()
        for _ in range(iterations):
            func()
        samples.append((time.perf_counter_ns() - start) / iterations / 1000)
    return min(samples), statistics.median(samples)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--iterations", type=int, default=5000, help="calls per run (warm)")
    parser.add_argument("--repeat", type=int, default=5, help="runs; best and median reported")
    parser.add_argument(
        "--case", choices=[name for name, _, _ in CASES], action="append", help="only this case"
    )
    args = parser.parse_args(argv)
    cold_iterations = max(1, args.iterations // 10)  # cold calls are slower
    print(
        f"{'case':<14} {'warm best':>10} {'warm med':>10} {'cold best':>10} {'cold med':>10}  (µs)"
    )
    for name, resource_type, text in CASES:
        if args.case and name not in args.case:
            continue
        warm_best, warm_median = measure(warm(text, resource_type), args.iterations, args.repeat)
        cold_best, cold_median = measure(cold(text, resource_type), cold_iterations, args.repeat)
        print(
            f"{name:<14} {warm_best:>10.2f} {warm_median:>10.2f} "
            f"{cold_best:>10.1f} {cold_median:>10.1f}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
