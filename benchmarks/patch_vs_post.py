"""SCIM work of Entra's default PATCH against its POST over hypercorn, in interleaved slices.

Issue 16's target: the SCIM work (server CPU per request of the reference app − that of the
ceiling app, :mod:`benchmarks.ceiling_app`) of Entra's default PATCH is no more than its POST's,
over the server as in process. Runs of seconds each, one after another, could not settle it on
a virtual machine whose speed drifts within seconds (PATCH 216 vs POST 174 µs in one run, 189 vs
184 in the next). Here the reference app as served by default (request log and events on) and
the ceiling share one hypercorn process (:mod:`benchmarks.one_process`), and each cycle runs one
sub-second slice of each (app, request) pair (:mod:`benchmarks.slices`): POST on the app, POST
on the ceiling, PATCH on the app, PATCH on the ceiling. Per cycle, PATCH's SCIM work minus
POST's; the target is met when the 95 % interval of its mean lies at or below zero.

``--ceiling-apart`` also serves the ceiling from a hypercorn process of its own (as
:mod:`benchmarks.run_ceiling` does), on the same core, with a slice of each phase in every
cycle: it shows whether sharing the app's process (interpreter, heap, memory layout) moves the
ceiling's cost, and with it the app/ceiling ratios these slices give.

``python -m benchmarks.patch_vs_post --cycles 150 --out benchmarks/results/patch_vs_post.json``
"""

from __future__ import annotations

import argparse
import random
import secrets
import shutil
import statistics
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a file: make `benchmarks` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import slices
from benchmarks._entra import make_users
from benchmarks._report import machine_info, run_async, write_result
from benchmarks.request_log_http import GC_LOG, SETTLE, start_one_process
from benchmarks.run_ceiling import (
    SERVER_CORE,
    PythonGenerator,
    ceiling_ids,
    make_workload,
    seed,
    split_cores,
    start_server,
    wait_healthy,
)

PHASES = ("post", "patch")


def per_cycle_work(
    measured: Sequence[slices.Slice], collections: Sequence[tuple[float, float]]
) -> dict[str, Any]:
    """Each phase's SCIM work per cycle, and PATCH's minus POST's, over the cycles that count.

    Cycles are left out as :func:`benchmarks.slices.sort_cycles` leaves them out.
    """
    counted, _ = slices.sort_cycles(measured, collections)
    work = {
        phase: [
            c[f"app-{phase}"].us_per_request - c[f"ceiling-{phase}"].us_per_request for c in counted
        ]
        for phase in PHASES
    }
    difference = [patch - post for post, patch in zip(work["post"], work["patch"], strict=True)]
    out: dict[str, Any] = {
        "cycles": len({s.cycle for s in measured}),
        "cycles_counted": len(counted),
    }
    for phase in PHASES:
        out[f"{phase}_scim_work_us"] = slices.stats(work[phase])
        out[f"{phase}_app_us_median"] = (
            round(statistics.median(c[f"app-{phase}"].us_per_request for c in counted), 1)
            if counted
            else None
        )
    out["patch_minus_post_us"] = slices.stats(difference)
    if len(difference) >= 2:
        low, high = out["patch_minus_post_us"]["mean_95"]
        out["verdict"] = "met" if high <= 0 else "missed" if low > 0 else "not settled"
    return out


def ceilings_compared(counted: Sequence[dict[str, slices.Slice]]) -> dict[str, Any]:
    """Per phase: the ceiling apart against the ceiling in the app's process, per cycle.

    ``apart_minus_shared_us``: the apart ceiling's CPU per request minus the shared one's;
    ``ratio_shared`` and ``ratio_apart``: the ceiling's CPU per request over the app's.
    """
    out: dict[str, Any] = {}
    for phase in PHASES:
        app = [c[f"app-{phase}"].us_per_request for c in counted]
        shared = [c[f"ceiling-{phase}"].us_per_request for c in counted]
        apart = [c[f"apart-{phase}"].us_per_request for c in counted]
        out[phase] = {
            "apart_minus_shared_us": slices.stats(
                [a - s for a, s in zip(apart, shared, strict=True)]
            ),
            "ratio_shared": slices.stats([s / a for s, a in zip(shared, app, strict=True)], 3),
            "ratio_apart": slices.stats([s / a for s, a in zip(apart, app, strict=True)], 3),
        }
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.patch_vs_post", description=__doc__)
    parser.add_argument("--cycles", type=int, default=150)
    parser.add_argument("--slice-seconds", type=float, default=0.5)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--seed-users", type=int, default=1000)
    parser.add_argument("--out", type=Path)
    parser.add_argument(
        "--ceiling-apart",
        action="store_true",
        help="also slice a ceiling served by a process of its own, on the same core",
    )
    args = parser.parse_args(argv)
    server_cores = split_cores()
    token = secrets.token_urlsafe(24)
    workdir = Path(tempfile.mkdtemp(prefix="scimkit-patch-vs-post-"))
    servers = start_one_process("request_log", "log", token, workdir, server_cores)
    apart = None
    try:
        app, ceiling = servers["on"], servers["ceiling"]  # "on": the app as served by default
        if args.ceiling_apart:
            command = ["benchmarks.ceiling_app", f"--token={token}"]
            apart = start_server("ceiling-apart", "hypercorn", command, workdir, server_cores)
        for server in (app, ceiling) if apart is None else (app, ceiling, apart):
            run_async(wait_healthy(server))
        users = make_users(args.seed_users, secrets.token_hex(4), random.Random(11))
        run_async(seed(app, token, users))
        ceiling_users = make_users(args.seed_users, secrets.token_hex(4), random.Random(11))
        ceiling_ids(ceiling_users)
        workloads = {"app": make_workload(users, 1), "ceiling": make_workload(ceiling_users, 1)}
        targets = {
            f"{name}-{phase}": slices.Target(
                server.base_url,
                PythonGenerator(workloads[name], token).request_maker(phase, f"{name}{phase}"),
            )
            for phase in PHASES
            for name, server in (("app", app), ("ceiling", ceiling))
        }
        if apart is not None:
            for phase in PHASES:
                targets[f"apart-{phase}"] = slices.Target(
                    apart.base_url,
                    PythonGenerator(workloads["ceiling"], token).request_maker(
                        phase, f"apart{phase}"
                    ),
                    pid=apart.process.pid,
                )
        common = {"seconds": args.slice_seconds, "settle": SETTLE, "connections": args.connections}
        pid = app.process.pid
        measured = run_async(
            slices.run_slices(pid, SERVER_CORE, targets, token, cycles=args.cycles, **common)
        )
        collections = slices.read_collections(workdir / GC_LOG)
        summary = per_cycle_work(measured, collections)
        if apart is not None:
            summary["ceilings"] = ceilings_compared(slices.sort_cycles(measured, collections)[0])
        for key, value in summary.items():
            print(f"{key}: {value}")
        if args.out:
            write_result(
                {
                    "tool": "benchmarks/patch_vs_post.py",
                    "machine": machine_info(),
                    "asgi_server": "hypercorn",
                    "generator": "python raw-asyncio client, interleaved slices",
                    "connections": args.connections,
                    "cycles": args.cycles,
                    "slice_seconds": args.slice_seconds,
                    "summary": summary,
                    "slices": [m.__dict__ for m in measured],
                    "full_collections": collections,
                },
                args.out,
            )
            print(f"wrote {args.out}")
        return 0
    finally:
        servers["off"].stop()
        if apart is not None:
            apart.stop()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
