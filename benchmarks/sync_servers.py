"""entra_sync against the reference app on each ASGI server: requests per core of server CPU.

For each server named, ``python -m reference_app serve --server S`` (memory store, one
worker) runs pinned to core 0 and ``benchmarks.entra_sync`` to core 1, one after the other
(never side by side). The server's CPU (its process tree, from ``/proc``) is read before and
after the cycle; requests per core is the cycle's requests divided by those CPU seconds, what
one saturated core would serve. ``--repeat`` runs the servers in alternating order (ABBA).

``python -m benchmarks.sync_servers --servers granian hypercorn --users 20000 --repeat 3``
(extra arguments after ``--`` go to entra_sync).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from benchmarks.run_ceiling import ROOT, TENANT, pin, start_server, wait_healthy

__all__ = ["main", "run_once"]

TOKEN = "sync-servers-token-0123456789abcdef"


def run_once(server_kind: str, users: int, extra: Sequence[str], workdir: Path) -> dict[str, Any]:
    """One entra_sync cycle against one freshly started server; its numbers."""
    module = ["reference_app", "serve", "--tenant", f"{TENANT}:{TOKEN}"]
    server = start_server("app", server_kind, module, workdir, {0})
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
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--servers", nargs="+", default=["granian", "hypercorn"])
    parser.add_argument("--users", type=int, default=20000)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--out", type=Path)
    args, extra = parser.parse_known_args(argv)
    extra = [a for a in extra if a != "--"]
    runs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as directory:
        for round_number in range(args.repeat):
            order = args.servers if round_number % 2 == 0 else list(reversed(args.servers))
            for kind in order:
                row = run_once(kind, args.users, extra, Path(directory))
                print(json.dumps(row), flush=True)
                runs.append(row)
    medians = {
        kind: statistics.median(
            r["requests_per_core_s"]
            for r in runs
            if r["server"] == kind and r["requests_per_core_s"]
        )
        for kind in args.servers
    }
    baseline = medians.get("hypercorn")
    for kind, value in medians.items():
        ratio = f", {value / baseline:.2f}x hypercorn" if baseline else ""
        print(f"{kind}: median {value:.0f} requests per core-second{ratio}")
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        report = {"users": args.users, "runs": runs, "median_requests_per_core_s": medians}
        args.out.write_text(json.dumps(report, indent=2) + "\n")
    return 1 if any(r["errors"] for r in runs) else 0


if __name__ == "__main__":
    raise SystemExit(main())
