"""Server CPU per request of several apps in one process, measured in short interleaved slices.

Why: on the project's virtual machines the CPU time one request costs drifts by 10-20 % within
seconds, from outside the VM (other processes in it use the server's core under 1 % of the
time). Runs of a few seconds each, one app after another, then differ by more than a request
log costs: in one such run the pairs of the same code differed by −120 to +112 µs per request
around a median of +35 µs. Sub-second slices, cycling through the apps many times, put every
app under the same drift.

A cycle sends one slice of requests to each app in turn (the order reversed every other
cycle). A slice is closed-loop on ``connections`` kept-alive connections per app for
``seconds``; it ends when every request it sent is answered, then waits ``settle`` seconds so
that the app's background work for those requests (the request log's batch, written
:data:`reference_app.activity.DRAIN_DELAY` after its first request) runs inside the slice. The
server's CPU is read from ``/proc/<pid>/task/*/schedstat`` (nanoseconds, all threads) at the
slice's start and end, so nothing is attributed to the wrong app. A cycle is left out of the
verdict when, in one of its slices, other processes used more than a tenth of the server's
core, or the server ran a full garbage collection (see :func:`summarize`).

Used by ``python -m benchmarks.request_log_http --slices N`` and :mod:`benchmarks.patch_vs_post`.
"""

from __future__ import annotations

import asyncio
import math
import os
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks import _entra
from benchmarks._http import RawClient
from benchmarks._report import core_busy_seconds

FOREIGN_LIMIT = 0.1
"""Share of the server core other processes may use in a slice that counts."""


def process_cpu_ns(pid: int) -> int:
    """CPU nanoseconds of every thread of ``pid`` so far (the scheduler's own count)."""
    total = 0
    for task in os.scandir(f"/proc/{pid}/task"):
        try:
            with open(f"{task.path}/schedstat") as stat:
                total += int(stat.read().split()[0])
        except (FileNotFoundError, ProcessLookupError):  # a thread that just ended
            continue
    return total


@dataclass(frozen=True)
class Slice:
    cycle: int
    app: str
    requests: int
    seconds: float
    cpu_ns: int
    foreign_share: float
    errors: int
    started: float = 0.0  # time.monotonic() at the slice's start and end
    ended: float = 0.0

    @property
    def us_per_request(self) -> float:
        return self.cpu_ns / self.requests / 1000 if self.requests else math.nan


@dataclass(frozen=True)
class Target:
    """One app as the slices see it: where to send, and how to make its next request.

    ``pid``: the process serving it, when it is not the run's (its CPU is read instead).
    """

    base_url: str
    next_request: Callable[[], tuple[str, str, bytes | None]]  # method, target, body
    pid: int | None = None


async def run_slices(
    pid: int,
    core: int,
    apps: dict[str, Target],
    token: str,
    *,
    cycles: int,
    seconds: float,
    settle: float,
    connections: int,
    warmup: int = 1,
) -> list[Slice]:
    """``cycles`` cycles of one slice per app; the slices in the order they ran.

    ``warmup`` cycles run first on the same connections and are not returned: the measured
    cycles open no connection and meet warm caches.
    """
    headers = _entra.headers(token)
    clients = {
        name: RawClient(target.base_url, headers, connections, timeout=10)
        for name, target in apps.items()
    }
    names = list(apps)
    slices: list[Slice] = []
    try:
        for cycle in range(-warmup, cycles):
            for name in names if cycle % 2 == 0 else names[::-1]:
                measured = await _slice(
                    pid, core, cycle, name, clients[name], apps[name], seconds, settle, connections
                )
                if cycle >= 0:
                    slices.append(measured)
    finally:
        for client in clients.values():
            await client.aclose()
    return slices


async def _slice(
    pid: int,
    core: int,
    cycle: int,
    name: str,
    client: RawClient,
    target: Target,
    seconds: float,
    settle: float,
    connections: int,
) -> Slice:
    answered = errors = 0
    next_request = target.next_request
    if target.pid is not None:
        pid = target.pid

    async def worker() -> None:
        nonlocal answered, errors
        while time.monotonic() < stop:
            method, path, body = next_request()
            try:
                status, _ = await client.request(method, path, body)
            except Exception:  # noqa: BLE001 - counted, the slice goes on
                errors += 1
                continue
            answered += 1
            if status >= 300:
                errors += 1

    busy = core_busy_seconds(core)
    cpu = process_cpu_ns(pid)
    started = time.monotonic()
    stop = started + seconds
    await asyncio.gather(*(worker() for _ in range(connections)))
    await asyncio.sleep(settle)
    elapsed = time.monotonic() - started
    cpu = process_cpu_ns(pid) - cpu
    busy = core_busy_seconds(core) - busy
    foreign = max(0.0, busy - cpu / 1e9) / elapsed if elapsed else 0.0
    return Slice(
        cycle, name, answered, elapsed, cpu, round(foreign, 3), errors, started, started + elapsed
    )


def read_collections(path: Path) -> list[tuple[float, float]]:
    """The full collections :func:`benchmarks.one_process.log_full_collections` logged."""
    if not path.exists():
        return []
    spans = []
    for line in path.read_text().splitlines():
        start, end = line.split()
        spans.append((float(start), float(end)))
    return spans


def _overlaps(s: Slice, collections: Sequence[tuple[float, float]]) -> bool:
    return any(start < s.ended and end > s.started for start, end in collections)


def sort_cycles(
    slices: Sequence[Slice], collections: Sequence[tuple[float, float]]
) -> tuple[list[dict[str, Slice]], list[dict[str, Slice]]]:
    """The cycles that count (each as its slices by app), and those a full collection ran in.

    A cycle does not count when one of its slices shared the server's core with other
    processes (over :data:`FOREIGN_LIMIT`), answered nothing or an error, or overlaps one of
    ``collections`` (monotonic start and end).
    """
    cycles: dict[int, dict[str, Slice]] = {}
    for s in slices:
        cycles.setdefault(s.cycle, {})[s.app] = s
    collecting = [c for c in cycles.values() if any(_overlaps(s, collections) for s in c.values())]
    counted = [
        c
        for c in cycles.values()
        if all(s.foreign_share <= FOREIGN_LIMIT and s.requests and not s.errors for s in c.values())
        and c not in collecting
    ]
    return counted, collecting


def summarize(
    slices: Sequence[Slice],
    on: str,
    off: str,
    ceiling: str | None,
    collections: Sequence[tuple[float, float]] = (),
) -> dict[str, Any]:
    """The part's cost (``on`` − ``off``) and the SCIM work (``off`` − ``ceiling``) per request.

    Per cycle, each app's CPU µs per request; the differences are taken within a cycle, so a
    drift slower than a cycle cancels. A cycle in which a full collection ran (``collections``,
    monotonic start and end) is left out: one costs up to seconds on a grown heap and lands in
    whichever slice runs, whatever its app (the request log does not change how many run: 2 in
    20 000 POSTs with it and without it, counted in process); how many fell in each app's
    slices is reported. Reported too: the differences' medians, their means with a 95 %
    interval (normal approximation over cycles), and the part's share of the SCIM work as the
    ratio of the means (with its interval's ends over the work's mean).
    """
    counted, collecting = sort_cycles(slices, collections)
    out: dict[str, Any] = {
        "cycles": len({s.cycle for s in slices}),
        "cycles_counted": len(counted),
        "cycles_with_a_full_collection": len(collecting),
        "full_collections_in": {
            app: sum(_overlaps(s, collections) for s in slices if s.app == app)
            for app in sorted({s.app for s in slices})
        },
    }
    for app in {s.app for s in slices}:
        values = [c[app].us_per_request for c in counted]
        out[f"{app}_us_median"] = round(statistics.median(values), 1) if values else None
    part = [c[on].us_per_request - c[off].us_per_request for c in counted]
    out["part_us"] = stats(part)
    if ceiling is not None:
        work = [c[off].us_per_request - c[ceiling].us_per_request for c in counted]
        out["scim_work_us"] = stats(work)
        if len(part) >= 2 and statistics.fmean(work) > 0:
            mean_work = statistics.fmean(work)
            low, high = out["part_us"]["mean_95"]
            out["share_of_scim_work_pct"] = {
                "of_means": round(statistics.fmean(part) / mean_work * 100, 1),
                "of_medians": round(statistics.median(part) / statistics.median(work) * 100, 1),
                "mean_95": [round(low / mean_work * 100, 1), round(high / mean_work * 100, 1)],
            }
    off_values = [c[off].us_per_request for c in counted]
    if len(part) >= 2:
        out["share_of_request_pct"] = round(
            statistics.fmean(part) / statistics.fmean(off_values) * 100, 1
        )
    return out


def stats(values: Sequence[float], digits: int = 1) -> dict[str, Any]:
    """Median, mean and the mean's 95 % interval (normal approximation), ``digits`` kept."""
    if len(values) < 2:
        return {"n": len(values)}
    mean = statistics.fmean(values)
    half = 1.96 * statistics.stdev(values) / math.sqrt(len(values))
    return {
        "n": len(values),
        "median": round(statistics.median(values), digits),
        "mean": round(mean, digits),
        "mean_95": [round(mean - half, digits), round(mean + half, digits)],
    }
