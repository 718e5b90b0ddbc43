"""Draining a tenant's feed through RFC 8936 poll: signed SETs per second (issue 13).

``benchmarks/events_app.py`` (events on, embedded store) is filled with Entra's users (one
``prov:create`` event each, full data), then a receiver drains the feed through
``POST {Tenant URL}/Events`` called in process (``scimkit.testing.ASGIClient``): each poll asks
for ``maxEvents`` and acknowledges the previous batch, until the feed has nothing more. Every
SET is ES256-signed; the run checks that each event arrived exactly once. Target: at least
5,000 events/s for 10,000 events.

``python -m benchmarks.bench_events_poll [--events 10000 --max-events 1000]``.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson

if __package__ in (None, ""):  # run as a file: make `benchmarks` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._entra import sample_user, user_create_body
from benchmarks._report import machine_info, run_async, show_and_write
from benchmarks._service import TENANT, resource_types
from benchmarks._timing import clock
from scimkit.testing import ASGIClient

__all__ = ["drain", "main", "run"]

TARGET_PER_S = 5000.0
SCIM_TOKEN = "bench-scim"
BASE_URL = f"http://127.0.0.1:8000/scim/v2/{TENANT}"


def run(events: int = 10_000, max_events: int = 1000, repeat: int = 3) -> dict[str, Any]:
    """``repeat`` fresh feeds of ``events`` events, each drained; the median run reported."""
    runs = [run_async(drain(events, max_events)) for _ in range(repeat)]
    median = sorted(runs, key=lambda r: r["events_per_s"])[len(runs) // 2]
    return {
        **median,
        "events_per_s_by_run": [r["events_per_s"] for r in runs],
        "target_per_s": TARGET_PER_S,
        "meets_target": median["events_per_s"] >= TARGET_PER_S,
    }


async def drain(events: int, max_events: int) -> dict[str, Any]:
    """Fill a fresh app's feed with ``events`` creates, then drain it by poll; the timings."""
    from benchmarks.events_app import EVENTS_TOKEN, build_app

    app = build_app(SCIM_TOKEN, events=True)
    service = app.state.service
    users, _ = resource_types()
    for index in range(events):
        await service.create(TENANT, users, user_create_body(sample_user(index)))
    client = ASGIClient(
        app,
        BASE_URL,
        headers=[
            (b"authorization", f"Bearer {EVENTS_TOKEN}".encode()),
            (b"content-type", b"application/json"),
        ],
    )
    seen: set[str] = set()
    ack: list[str] = []
    polls = 0
    poll_cpu: list[float] = []
    wall, cpu = time.perf_counter(), clock()
    while True:
        body = orjson.dumps({"ack": ack, "maxEvents": max_events, "returnImmediately": True})
        started = clock()
        answer = await client.request(
            "POST", "/Events", headers=[(b"content-length", str(len(body)).encode())], body=body
        )
        poll_cpu.append(clock() - started)
        polls += 1
        if answer.status != 200:
            raise RuntimeError(f"poll failed: {answer.status} {answer.body[:300]!r}")
        reply = orjson.loads(answer.body)
        sets = reply["sets"]
        if seen & sets.keys():
            raise RuntimeError("a SET was delivered twice")
        seen.update(sets)
        ack = list(sets)
        if not sets and not reply["moreAvailable"]:
            break
    wall, cpu = time.perf_counter() - wall, clock() - cpu
    if len(seen) != events:
        raise RuntimeError(f"drained {len(seen)} events, expected {events}")
    return {
        "events": events,
        "max_events": max_events,
        "polls": polls,
        "seconds": round(wall, 3),
        "cpu_seconds": round(cpu, 3),
        "events_per_s": round(events / wall, 1),
        "events_per_cpu_s": round(events / cpu, 1),
        "us_per_event": round(cpu / events * 1e6, 1),
        "poll_ms_median": round(statistics.median(poll_cpu) * 1e3, 2),
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.bench_events_poll",
        description="Drain a feed through POST /Events (RFC 8936), signed SETs, in process.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--max-events", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", type=Path, help="write the results as JSON here")
    args = parser.parse_args(argv)
    result = {
        "tool": "benchmarks/bench_events_poll.py",
        "machine": machine_info(),
        **run(args.events, args.max_events, args.repeat),
    }
    show_and_write(result, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
