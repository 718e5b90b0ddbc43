"""entra_sync against the reference app on each ASGI server: requests per core of server CPU.

For each server named, ``python -m reference_app serve --server S`` (memory store, one
worker) runs pinned to core 0 and ``benchmarks.entra_sync`` to core 1, one after the other
(never side by side). The server's CPU (its process tree, from ``/proc``) is read before and
after the cycle; requests per core is the cycle's requests divided by those CPU seconds, what
one saturated core would serve. ``--repeat`` runs the servers in alternating order (ABBA).

Then (``--ceiling-rounds``, 0 to skip) the ceiling app (:mod:`benchmarks.ceiling_app`) on each
server answers each kind of request the cycle sends (the filtered GET, POST, PATCH, DELETE) in
turn, servers interleaved per kind, and each server's cycle is split in two: what the cycle
would cost per request with no SCIM work at all (the ceiling's cost of each kind, weighed by the
cycle's own mix of methods, which entra_sync reports) and the rest, the SCIM work. From the
same figures: the ratio to hypercorn a server would reach with no SCIM work, and the most SCIM
work per request (the same on both servers) with which issue 16's 2.5x is still reachable.

``--baseline-tree DIR`` adds one more server to the rotation: the reference app of another
checkout on hypercorn, named ``baseline``. Issue 16 asks for 2.5x "against scimkit on hypercorn
today", the day it was filed; the tree of that day (``3f1f9cf``, the last commit before the
issue's work began) checked out in DIR is that server, each server then also reported against
it. It runs with this tree's packages (``python -m`` imports its modules from DIR).

``python -m benchmarks.sync_servers --servers granian hypercorn --users 20000 --repeat 3``
(extra arguments after ``--`` go to entra_sync).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from benchmarks._entra import make_users
from benchmarks._report import run_async
from benchmarks.run_ceiling import (
    ROOT,
    TENANT,
    PythonGenerator,
    Server,
    ceiling_ids,
    make_workload,
    pin,
    split_cores,
    start_server,
    wait_healthy,
)

__all__ = ["BASELINE", "KINDS", "TARGET", "bound", "ceiling_costs", "main", "mix_cost", "run_once"]

TOKEN = "sync-servers-token-0123456789abcdef"
TARGET = 2.5
"""Issue 16: the best server serves this many times hypercorn's requests per core in the cycle."""
BASELINE = "baseline"
"""The name of ``--baseline-tree``'s server in the report."""
KINDS = {"GET": "get", "POST": "post", "PATCH": "patch", "DELETE": "delete"}
"""The cycle's methods and the ceiling request each is measured by (a GET is a filter query)."""


def run_once(
    server_kind: str,
    users: int,
    extra: Sequence[str],
    workdir: Path,
    cores: set[int] | None = None,
    *,
    tree: Path = ROOT,
) -> dict[str, Any]:
    """One entra_sync cycle against one freshly started server (on core 0, or ``cores``).

    ``server_kind`` is the ASGI server, or :data:`BASELINE` for hypercorn serving ``tree``.
    """
    module = ["reference_app", "serve", "--tenant", f"{TENANT}:{TOKEN}"]
    asgi = "hypercorn" if server_kind == BASELINE else server_kind
    label = BASELINE if server_kind == BASELINE else "app"
    server = start_server(label, asgi, module, workdir, {0} if cores is None else cores, tree=tree)
    try:
        asyncio.run(wait_healthy(server))
        out = workdir / f"sync-{server_kind}.json"
        before = server.cpu()
        command = [
            sys.executable,
            "-m",
            "benchmarks.entra_sync",
            "--base-url",
            server.base_url,
            "--token",
            TOKEN,
            "--users",
            str(users),
            "--no-progress",
            "--out",
            str(out),
            *extra,
        ]
        subprocess.run(
            command, cwd=ROOT, check=False, preexec_fn=pin({1}), stdout=subprocess.DEVNULL
        )
        cpu = server.cpu() - before
    finally:
        server.stop()
    result = json.loads(out.read_text())
    requests = int(result["requests"])
    return {
        "server": server_kind,
        "requests": requests,
        "errors": int(result["errors"]),
        "seconds": float(result["seconds"]),
        "server_cpu_s": round(cpu, 2),
        "requests_per_core_s": round(requests / cpu, 1) if cpu else None,
        "requests_by_method": result.get("requests_by_method", {}),
    }


def ceiling_costs(
    server_kinds: Sequence[str],
    workdir: Path,
    cores: set[int],
    *,
    rounds: int,
    duration: float,
    connections: int,
) -> dict[str, dict[str, float]]:
    """Server CPU µs per request of the ceiling app, per server and kind: medians over rounds.

    All the ceilings run at once on ``cores`` (an idle one costs nothing); each round measures
    every kind on every server in turn, so a drift of the machine's speed falls on all servers
    alike. A run with a failed request raises: the ceiling app never fails one.
    """
    servers: dict[str, Server] = {}
    try:
        for kind in server_kinds:
            module = ["benchmarks.ceiling_app", "--token", TOKEN]
            servers[kind] = start_server("ceiling", kind, module, workdir, cores)
        for server in servers.values():
            run_async(wait_healthy(server))
        users = make_users(1000, "bound", random.Random(11))
        ceiling_ids(users)
        generator = PythonGenerator(make_workload(users, 20000), TOKEN)
        samples: dict[str, dict[str, list[float]]] = {
            kind: {request: [] for request in KINDS.values()} for kind in servers
        }
        for round_ in range(rounds):
            for request in KINDS.values():
                for kind, server in servers.items():
                    run = f"b{round_}{request}{kind[0]}"
                    run_async(generator.run(request, server, 0.5, connections, run + "w"))
                    before = server.cpu()
                    summary, _ = run_async(
                        generator.run(request, server, duration, connections, run)
                    )
                    cpu = server.cpu() - before
                    failed = summary["status"] + summary["read"]
                    if failed or not summary["requests"]:
                        raise RuntimeError(f"ceiling on {kind}: {failed} failed {request} requests")
                    samples[kind][request].append(cpu / summary["requests"] * 1e6)
        return {
            kind: {request: round(statistics.median(values), 1) for request, values in by.items()}
            for kind, by in samples.items()
        }
    finally:
        for server in servers.values():
            server.stop()


def mix_cost(costs: Mapping[str, float], mix: Mapping[str, int]) -> float:
    """Mean µs per request of a cycle sending ``mix`` (requests by method) at ``costs`` per kind."""
    total = sum(mix.values())
    if not total:
        raise ValueError("the cycle sent no requests")
    unknown = set(mix) - set(KINDS)
    if unknown:
        raise ValueError(f"no ceiling request for the method(s) {sorted(unknown)}")
    return sum(costs[KINDS[method]] * count for method, count in mix.items()) / total


def bound(
    app_us: Mapping[str, float], ceiling_us: Mapping[str, float], *, target: float = TARGET
) -> dict[str, dict[str, float]]:
    """Each server against hypercorn, from its cycle's µs per request and its ceiling's.

    ``ratio`` is what the cycle measured; ``ratio_without_scim_work`` what it would be if no
    request did any SCIM work (the ceilings' costs alone); ``break_even_scim_work_us`` the most
    SCIM work per request, the same on both servers, at which the ratio still reaches
    ``target``: (hypercorn's ceiling − target × this server's) / (target − 1), below zero when
    not even a server doing no SCIM work would reach it.
    """
    base_app, base_ceiling = app_us["hypercorn"], ceiling_us["hypercorn"]
    return {
        kind: {
            "app_us": round(app_us[kind], 1),
            "ceiling_us": round(ceiling_us[kind], 1),
            "scim_work_us": round(app_us[kind] - ceiling_us[kind], 1),
            "ratio": round(base_app / app_us[kind], 3),
            "ratio_without_scim_work": round(base_ceiling / ceiling_us[kind], 3),
            "break_even_scim_work_us": round(
                (base_ceiling - target * ceiling_us[kind]) / (target - 1), 1
            ),
        }
        for kind in app_us
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--servers", nargs="+", default=["granian", "hypercorn"])
    parser.add_argument("--users", type=int, default=20000)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--out", type=Path)
    parser.add_argument(
        "--ceiling-rounds",
        type=int,
        default=3,
        help="rounds of the ceiling's cost per kind of request (0: not measured)",
    )
    parser.add_argument("--ceiling-duration", type=float, default=3.0, help="seconds per run")
    parser.add_argument(
        "--connections", type=int, default=16, help="the ceiling's load (entra_sync's default)"
    )
    parser.add_argument(
        "--baseline-tree",
        type=Path,
        help="a checkout of an earlier tree, also served on hypercorn (as 'baseline')",
    )
    args, extra = parser.parse_known_args(argv)
    extra = [a for a in extra if a != "--"]
    rotation = [*args.servers, *([BASELINE] if args.baseline_tree else [])]
    trees = {BASELINE: args.baseline_tree.resolve()} if args.baseline_tree else {}
    runs: list[dict[str, Any]] = []
    costs: dict[str, dict[str, float]] = {}
    server_cores = split_cores()
    with tempfile.TemporaryDirectory() as directory:
        for round_number in range(args.repeat):
            order = rotation if round_number % 2 == 0 else list(reversed(rotation))
            for kind in order:
                row = run_once(
                    kind,
                    args.users,
                    extra,
                    Path(directory),
                    server_cores,
                    tree=trees.get(kind, ROOT),
                )
                print(json.dumps(row), flush=True)
                runs.append(row)
        if args.ceiling_rounds > 0:
            costs = ceiling_costs(
                args.servers,
                Path(directory),
                server_cores,
                rounds=args.ceiling_rounds,
                duration=args.ceiling_duration,
                connections=args.connections,
            )
    medians = {
        kind: statistics.median(
            r["requests_per_core_s"]
            for r in runs
            if r["server"] == kind and r["requests_per_core_s"]
        )
        for kind in rotation
    }
    baseline = medians.get("hypercorn")
    earlier = medians.get(BASELINE)
    for kind, value in medians.items():
        ratio = f", {value / baseline:.2f}x hypercorn" if baseline else ""
        if earlier:
            ratio += f", {value / earlier:.2f}x the baseline tree on hypercorn"
        print(f"{kind}: median {value:.0f} requests per core-second{ratio}")
    report: dict[str, Any] = {
        "users": args.users,
        "runs": runs,
        "median_requests_per_core_s": medians,
    }
    if args.baseline_tree:
        report["baseline_tree"] = str(args.baseline_tree)
    if costs and baseline:
        mixes = {
            kind: next(r["requests_by_method"] for r in runs if r["server"] == kind)
            for kind in args.servers
        }
        report["ceiling_us_by_kind"] = costs
        report["requests_by_method"] = mixes
        split = bound(
            {kind: 1e6 / medians[kind] for kind in args.servers},
            {kind: mix_cost(costs[kind], mixes[kind]) for kind in args.servers},
        )
        report["against_hypercorn"] = split
        for kind, row in split.items():
            print(
                f"{kind}: cycle {row['app_us']:.0f} µs/request = ceiling {row['ceiling_us']:.0f}"
                f" + SCIM work {row['scim_work_us']:.0f}; {row['ratio']:.2f}x hypercorn, "
                f"{row['ratio_without_scim_work']:.2f}x without SCIM work; {TARGET}x needs "
                f"SCIM work ≤ {row['break_even_scim_work_us']:.0f} µs/request"
            )
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps(report, indent=2) + "\n")
    return 1 if any(r["errors"] for r in runs) else 0


if __name__ == "__main__":
    raise SystemExit(main())
