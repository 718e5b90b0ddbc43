"""What recording provisioning events costs per SCIM write: events on vs off, same run (issue 13).

Three apps, each a fresh MemoryStore with the same seeded users: ``benchmarks/events_app.py``
with events on (``ResourceService(record_events=True)``), the same with events off, and
``benchmarks/ceiling_app.py`` (no SCIM work). The SCIM work of a request is the app's cost minus
the ceiling's; the overhead is ``(on - off) / (off - ceiling)``: the extra SCIM work the events
add. Target: at most 25 % per POST (Entra's create body) and per PATCH (Entra's default
``Replace`` of the work email and ``name.familyName``).

- **In process** (default): the three apps called as ASGI apps (``scimkit.testing.ASGIClient``),
  batches of the apps alternating, median CPU time per request.
- **Over hypercorn** (``--http``): the three apps served side by side on hypercorn, pinned to
  core 0, load from ``wrk`` (or the asyncio client) on core 1, server CPU per request from
  ``/proc`` (``run_ceiling.py``'s pieces), rounds alternating the order of the apps.

``python -m benchmarks.bench_events_overhead`` (in process);
``python -m benchmarks.bench_events_overhead --http --rounds 3 --duration 5``.
"""

from __future__ import annotations

import argparse
import gc
import random
import secrets
import shutil
import statistics
import sys
import tempfile
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a file: make `benchmarks` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import _entra
from benchmarks._entra import make_users, sample_user, user_create_body
from benchmarks._report import machine_info, run_async, show_and_write
from benchmarks._timing import clock, us
from benchmarks.bench_asgi import TOKEN, _client, _send

__all__ = ["APPS", "PHASES", "in_process", "main", "overhead"]

PHASES = ("post", "patch")
APPS = ("events-on", "events-off", "ceiling")
TARGET_PCT = 25.0


def overhead(on: float, off: float, ceiling: float) -> float:
    """Extra SCIM work of events, in percent of the SCIM work without them."""
    return round((on - off) / (off - ceiling) * 100, 1) if off > ceiling else float("nan")


def _summary(costs: dict[str, dict[str, float]]) -> dict[str, Any]:
    """Per phase: µs per request of each app, the SCIM work on and off, and the overhead."""
    out: dict[str, Any] = {}
    for phase, row in costs.items():
        on, off, ceiling = row["events-on"], row["events-off"], row["ceiling"]
        pct = overhead(on, off, ceiling)
        out[phase] = {
            **{f"{app}_us": round(row[app], 1) for app in APPS},
            "scim_work_off_us": round(off - ceiling, 1),
            "scim_work_on_us": round(on - ceiling, 1),
            "events_us": round(on - off, 1),
            "overhead_pct": pct,
            "target_pct": TARGET_PCT,
            "meets_target": pct <= TARGET_PCT,
        }
    return out


# --- in process -------------------------------------------------------------------------------


def in_process(
    seeded: int = 1000, batch: int = 1000, repeat: int = 7, prefill: int = 0
) -> dict[str, Any]:
    """The three apps as ASGI apps in this process; median CPU µs per request.

    ``prefill`` events are put in the events-on app's feed first (its retention, 100 000, is
    what a long-running server keeps; a run of a few thousand writes never fills it).
    """
    return run_async(_in_process(seeded, batch, repeat, prefill))


async def _in_process(seeded: int, batch: int, repeat: int, prefill: int) -> dict[str, Any]:
    from benchmarks.ceiling_app import build_app as ceiling
    from benchmarks.events_app import build_app

    clients = {
        "events-on": _client(build_app(TOKEN, events=True, feed_prefill=prefill)),
        "events-off": _client(build_app(TOKEN, events=False)),
        "ceiling": _client(ceiling(TOKEN)),
    }
    ids: dict[str, list[str]] = {}
    for name in ("events-on", "events-off"):
        ids[name] = []
        for index in range(seeded):
            answer = await _send(
                clients[name], "POST", "/Users", user_create_body(sample_user(index))
            )
            assert answer.status == 201, answer.body
            ids[name].append(answer.json()["id"])
    ids["ceiling"] = ids["events-off"]
    counter = 0

    def request(name: str, phase: str) -> Callable[[], Awaitable[None]]:
        client = clients[name]

        async def post() -> None:
            nonlocal counter
            counter += 1
            user = sample_user(10_000_000 + counter)
            user.user_name = f"{name}{counter}@post.example"
            answer = await _send(client, "POST", "/Users", user_create_body(user))
            assert answer.status == 201, answer.body

        async def patch() -> None:
            nonlocal counter
            counter += 1
            body = _entra.replace_email_and_family(f"m{counter}@contoso.example", f"F{counter}")
            target = ids[name][counter % len(ids[name])]
            answer = await _send(client, "PATCH", f"/Users/{target}", body)
            assert answer.status == 200, answer.body

        return post if phase == "post" else patch

    costs: dict[str, dict[str, float]] = {}
    for phase in PHASES:
        samples: dict[str, list[float]] = {name: [] for name in APPS}
        for round_ in range(repeat + 1):  # round 0 warms up
            order = APPS if round_ % 2 else APPS[::-1]
            for name in order:
                call = request(name, phase)
                gc.collect()
                started = clock()
                for _ in range(batch):
                    await call()
                if round_:
                    samples[name].append((clock() - started) / batch)
        costs[phase] = {name: us(statistics.median(values)) for name, values in samples.items()}
    return {
        "seeded_users": seeded,
        "batch": batch,
        "repeat": repeat,
        "prefilled_events": prefill,
        **_summary(costs),
    }


# --- what the garbage collector tracks ---------------------------------------------------------


def tracked(writes: int) -> dict[str, Any]:
    """Objects the garbage collector tracks after ``writes`` POSTs then as many PATCHes.

    Per app (events on, events off; the feed keeps up to its default 100 000 events): the
    tracked objects after a collection, those the writes added, how long one full collection
    then takes, and the collections each generation ran during the writes.
    """
    return run_async(_tracked(writes))


async def _tracked(writes: int) -> dict[str, Any]:
    from benchmarks.events_app import build_app

    out: dict[str, Any] = {"writes": writes}
    for name, events in (("events-on", True), ("events-off", False)):
        client = _client(build_app(TOKEN, events=events))
        gc.collect()
        base, before = len(gc.get_objects()), [g["collections"] for g in gc.get_stats()]
        ids = []
        for index in range(writes):
            user = sample_user(20_000_000 + index)
            answer = await _send(client, "POST", "/Users", user_create_body(user))
            ids.append(answer.json()["id"])
        for index, id in enumerate(ids):
            body = _entra.replace_email_and_family(f"t{index}@contoso.example", f"T{index}")
            await _send(client, "PATCH", f"/Users/{id}", body)
        runs = [g["collections"] - b for g, b in zip(gc.get_stats(), before, strict=True)]
        gc.collect()
        objects = len(gc.get_objects())
        started = clock()
        gc.collect()
        out[name] = {
            "tracked_objects": objects,
            "added_by_writes": objects - base,
            "full_collection_ms": round((clock() - started) * 1000, 1),
            "collections_by_generation": runs,
        }
        del client, ids
        gc.collect()
    return out


# --- over hypercorn ---------------------------------------------------------------------------


def over_http(args: argparse.Namespace) -> dict[str, Any]:
    """The three apps on hypercorn side by side; server CPU µs per request (run_ceiling's way)."""
    from benchmarks import run_ceiling as rc

    server_cores = rc.split_cores()
    args.wrk = shutil.which("wrk") if args.generator in ("auto", "wrk") else None
    token = secrets.token_urlsafe(24)
    workdir = Path(tempfile.mkdtemp(prefix="scimkit-events-"))
    modules = {
        "events-on": ["benchmarks.events_app", "--events", "on", f"--token={token}"]
        + ["--feed-max-events", str(args.feed_max_events)]
        + ["--feed-prefill", str(min(args.prefill_events, args.feed_max_events))],
        "events-off": ["benchmarks.events_app", "--events", "off", f"--token={token}"],
        "ceiling": ["benchmarks.ceiling_app", f"--token={token}"],
    }
    servers: dict[str, Any] = {}
    try:
        for name, module in modules.items():
            servers[name] = rc.start_server(name, "hypercorn", module, workdir, server_cores)
        for server in servers.values():
            run_async(rc.wait_healthy(server))
        workloads = {}
        for name in APPS:
            users = make_users(args.seed_users, secrets.token_hex(4), random.Random(11))
            if name == "ceiling":
                rc.ceiling_ids(users)
            else:
                run_async(rc.seed(servers[name], token, users))
            workloads[name] = rc.make_workload(users, 1)
        measurements: list[Any] = []
        for round_ in range(args.rounds):
            for phase in args.phases:
                order = APPS if (round_ + PHASES.index(phase)) % 2 else APPS[::-1]
                for name in order:
                    server = servers[name]
                    if args.quiet_wait > 0:
                        rc.wait_for_quiet(args.quiet_wait)
                    if args.warmup > 0:
                        rc.measure(
                            args, server, phase, -1, workloads[name], token, workdir, args.warmup
                        )
                    m = rc.measure(
                        args, server, phase, round_, workloads[name], token, workdir, args.duration
                    )
                    measurements.append(m)
                    print(
                        f"round {round_} {phase:<6}{name:<11} {m.rps:>7.0f} req/s  "
                        f"server {m.server_us:>6.1f} µs/req  errors {m.errors or '-'}",
                        file=sys.stderr,
                    )
        for name, server in servers.items():
            if server.process.poll() is not None:
                raise RuntimeError(f"{name} exited during the run; see {server.log}")
        # The median round per app: on a shared machine one disturbed run would dominate a
        # pooled mean. The pooled figures are kept beside it.
        costs: dict[str, dict[str, float]] = {}
        pooled: dict[str, dict[str, float]] = {}
        throughput: dict[str, dict[str, float]] = {}
        for phase in args.phases:
            costs[phase], pooled[phase], throughput[phase] = {}, {}, {}
            for name in APPS:
                ms = [m for m in measurements if (m.server, m.phase) == (name, phase)]
                requests = sum(m.requests for m in ms)
                costs[phase][name] = statistics.median(m.server_us for m in ms)
                pooled[phase][name] = sum(m.server_cpu_s for m in ms) / requests * 1e6
                throughput[phase][name] = round(requests / sum(m.seconds for m in ms), 1)
        summary = _summary(costs)
        for phase, row in summary.items():
            row["pooled"] = _summary({phase: pooled[phase]})[phase]
            # Paired by round (the three apps ran back to back): the median of the per-round
            # differences is less exposed to a neighbour than differences of medians.
            by_round = {
                name: [m.server_us for m in measurements if (m.server, m.phase) == (name, phase)]
                for name in APPS
            }
            extra = [
                on - off
                for on, off in zip(by_round["events-on"], by_round["events-off"], strict=True)
            ]
            work = [
                off - c for off, c in zip(by_round["events-off"], by_round["ceiling"], strict=True)
            ]
            row["paired_events_us"] = round(statistics.median(extra), 1)
            row["paired_scim_work_off_us"] = round(statistics.median(work), 1)
            row["paired_overhead_pct"] = round(
                statistics.median(extra) / statistics.median(work) * 100, 1
            )
            row["rps"] = throughput[phase]
            row["server_us_by_round"] = {
                name: [
                    round(m.server_us, 1)
                    for m in measurements
                    if (m.server, m.phase) == (name, phase)
                ]
                for name in APPS
            }
        return {
            "generator": f"wrk ({args.wrk})" if args.wrk else "python raw-asyncio client",
            "rounds": args.rounds,
            "duration_s": args.duration,
            "connections": args.connections,
            "seeded_users": args.seed_users,
            "prefilled_events": min(args.prefill_events, args.feed_max_events),
            **summary,
            "measurements": [m.__dict__ for m in measurements],
        }
    finally:
        for server in servers.values():
            server.stop()
        shutil.rmtree(workdir, ignore_errors=True)


# --- main -------------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.bench_events_overhead",
        description="Extra SCIM work per POST/PATCH with provisioning events on vs off.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--http", action="store_true", help="over hypercorn (else in process)")
    parser.add_argument("--seed-users", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=1000, help="in process: requests per batch")
    parser.add_argument("--repeat", type=int, default=7, help="in process: batches per app")
    parser.add_argument(
        "--prefill-events",
        type=int,
        default=100_000,
        help="events put in the events-on app's feed before the run (the default fills it)",
    )
    parser.add_argument("--rounds", type=int, default=3, help="http: alternating rounds")
    parser.add_argument("--duration", type=float, default=5.0, help="http: seconds per run")
    parser.add_argument("--warmup", type=float, default=1.0, help="http: warm-up seconds per run")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--generator", choices=("auto", "wrk", "python"), default="auto")
    parser.add_argument("--quiet-wait", type=float, default=30.0)
    parser.add_argument("--phases", nargs="+", choices=PHASES, default=list(PHASES))
    parser.add_argument(
        "--feed-max-events", type=int, default=100_000, help="http: the events-on feed's retention"
    )
    parser.add_argument(
        "--tracked",
        type=int,
        metavar="WRITES",
        help="instead: GC-tracked objects after WRITES POSTs and WRITES PATCHes, on vs off",
    )
    parser.add_argument("--out", type=Path, help="write the results as JSON here")
    args = parser.parse_args(argv)
    if args.tracked:
        result = {"mode": "tracked objects", **tracked(args.tracked)}
    elif args.http:
        result = {"mode": "hypercorn", **over_http(args)}
    else:
        result = {
            "mode": "in process",
            **in_process(args.seed_users, args.batch, args.repeat, args.prefill_events),
        }
    result = {"tool": "benchmarks/bench_events_overhead.py", "machine": machine_info(), **result}
    show_and_write(result, args.out, hidden=["measurements"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
