"""Instructions per request over a server, counted by valgrind's callgrind: app vs ceiling.

``run_ceiling.py`` times the reference app and the ceiling app on an ASGI server; its ratios
move with the machine (its caches, its neighbours). This runs the same two apps, each served by
``--server`` (hypercorn by default) in a process of its own under callgrind, and counts what
the server process executes per request: the server's own work (HTTP parsing, the event loop,
the transport) and the app's, background tasks included (the request log's drain). A count
repeats on any machine to within the run-to-run spread printed with it.

For each app and each kind of request: start the server under callgrind, seed users (the
ceiling stores nothing and gets made-up ids), send ``--warmup`` requests of the kind, zero the
counters (``callgrind_control --zero``), send ``--requests`` over ``--connections`` keep-alive
connections, dump the counters (``--dump``). The dump holds exactly those requests' work.
Under callgrind the server is ~50 times slower than the client, so every connection always
has a request waiting, as on a saturated server timed by ``run_ceiling``.

app/ceiling in instructions is the throughput ratio the targets of issue 16 name, for a machine
on which every instruction costs the same time. Where the timed ratio is lower, the difference
is how the machine executes the app's instructions (cache and branch misses), not their number.

``python -m benchmarks.server_instructions [get post patch] [--server hypercorn]``
(needs ``valgrind``; ~2 min per kind and app, app and ceiling counted at the same time).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import re
import secrets
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from benchmarks import _entra
from benchmarks._entra import make_users
from benchmarks._http import RawClient
from benchmarks.run_ceiling import (
    TENANT,
    PythonGenerator,
    Server,
    ceiling_ids,
    make_workload,
    seed,
    start_server,
    wait_healthy,
)

__all__ = [
    "KINDS",
    "Count",
    "Window",
    "count_server",
    "drive",
    "dumped",
    "main",
    "ratios",
    "send",
    "start",
]

KINDS = ("get", "post", "patch")
_SUMMARY = re.compile(rb"^summary: (\d+)$", re.MULTILINE)


@dataclass(frozen=True)
class Count:
    """Instructions the server process executed for ``requests`` requests of ``kind``."""

    app: str  # "app" or "ceiling"
    kind: str
    requests: int
    instructions: int
    errors: int

    @property
    def per_request(self) -> float:
        return self.instructions / self.requests


def _control(action: str, pid: int) -> None:
    subprocess.run(["callgrind_control", action, str(pid)], check=True, capture_output=True)


def dumped(out: Path) -> int:
    """The instructions of the newest dump callgrind wrote next to ``out``."""
    dumps = sorted(out.parent.glob(out.name + ".*"), key=lambda p: int(p.suffix[1:]))
    found = _SUMMARY.search(dumps[-1].read_bytes())
    if found is None:
        raise RuntimeError(f"no summary line in {dumps[-1]}")
    return int(found.group(1))


async def send(
    client: RawClient, generator: PythonGenerator, kind: str, run: str, n: int, connections: int
) -> int:
    """Send ``n`` requests of ``kind`` over ``connections`` connections; the failures."""
    next_request = generator.request_maker(kind, run)
    left = n
    errors = 0

    async def worker() -> None:
        nonlocal left, errors
        while left > 0:
            left -= 1
            method, target, body = next_request()
            status, _ = await client.request(method, target, body)
            if status >= 300:
                errors += 1

    await asyncio.gather(*(worker() for _ in range(connections)))
    return errors


@dataclass(frozen=True)
class Window:
    """What to do around each counted window: the counters zeroed before, dumped after."""

    before: Callable[[], None]
    after: Callable[[], int]  # the instructions of the window just sent


def start(app: str, server: str, token: str, workdir: Path, prefix: Sequence[str] = ()) -> Server:
    """``app`` ("app" or "ceiling") served by ``server`` as ``run_ceiling`` serves it.

    ``prefix`` is callgrind's command; the server may run on any core.
    """
    if app == "app":
        module = ["reference_app", "serve", "--tenant", f"{TENANT}:{token}"]
        module += ["--log-level", "warning"]
    else:
        module = ["benchmarks.ceiling_app", f"--token={token}"]
    return start_server(app, server, module, workdir, os.sched_getaffinity(0), prefix=prefix)


async def drive(
    handle: Server,
    token: str,
    kinds: Sequence[str],
    window: Window | None = None,
    *,
    requests: int = 300,
    warmup: int = 50,
    connections: int = 16,
    seeded: int = 200,
    healthy_within: float = 600,
) -> list[Count]:
    """Seed ``handle``'s app, then per kind: warm up, and send ``requests`` inside ``window``.

    Without a window (a server not under callgrind) the counts hold the failures only.
    """
    await wait_healthy(handle, limit=healthy_within)
    users = make_users(seeded, secrets.token_hex(4), random.Random(11))
    if handle.kind == "app":
        await seed(handle, token, users)
    else:
        ceiling_ids(users)
    generator = PythonGenerator(make_workload(users, seeded * 20), token)
    client = RawClient(handle.base_url, _entra.headers(token), connections, timeout=600)
    counts: list[Count] = []
    try:
        for kind in kinds:
            await send(client, generator, kind, f"{kind}w", warmup, connections)
            if window is not None:
                window.before()
            errors = await send(client, generator, kind, kind, requests, connections)
            instructions = window.after() if window is not None else 0
            counts.append(Count(handle.kind, kind, requests, instructions, errors))
    finally:
        await client.aclose()
    return counts


def count_server(
    app: str,
    kinds: Sequence[str],
    *,
    server: str = "hypercorn",
    workdir: Path,
    **options: Any,
) -> list[Count]:
    """Serve ``app`` under callgrind and count the requests of each of ``kinds``, in order.

    ``options`` are :func:`drive`'s (requests, warm-up, connections, seeded users).
    """
    token = secrets.token_urlsafe(24)
    out = workdir / f"{app}.callgrind"
    prefix = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}"]
    handle = start(app, server, token, workdir, prefix)

    def dump() -> int:
        _control("--dump", handle.process.pid)
        return dumped(out)

    window = Window(lambda: _control("--zero", handle.process.pid), dump)
    try:
        return asyncio.run(drive(handle, token, kinds, window, **options))
    finally:
        handle.stop()


def ratios(counts: Sequence[Count]) -> dict[str, dict[str, float]]:
    """Per kind: app and ceiling instructions per request, SCIM work, and ceiling/app."""
    by = {(c.app, c.kind): c.per_request for c in counts}
    result: dict[str, dict[str, float]] = {}
    for kind in dict.fromkeys(c.kind for c in counts):
        if ("app", kind) in by and ("ceiling", kind) in by:
            app, ceiling = by["app", kind], by["ceiling", kind]
            result[kind] = {
                "app": app,
                "ceiling": ceiling,
                "scim_work": app - ceiling,
                "app_over_ceiling": ceiling / app,
            }
    return result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("kinds", nargs="*", help=f"any of {', '.join(KINDS)} (default: all)")
    parser.add_argument("--server", default="hypercorn", choices=("hypercorn", "uvicorn"))
    parser.add_argument("--requests", type=int, default=300, help="counted, per kind")
    parser.add_argument("--warmup", type=int, default=50, help="sent before counting, per kind")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--seed-users", type=int, default=200)
    parser.add_argument("--out", type=Path, help="write the counts as JSON here")
    args = parser.parse_args(argv)
    kinds = args.kinds or list(KINDS)
    if set(kinds) - set(KINDS):
        parser.error(f"unknown kinds: {', '.join(sorted(set(kinds) - set(KINDS)))}")
    if shutil.which("valgrind") is None or shutil.which("callgrind_control") is None:
        parser.error("needs valgrind (apt-get install -y valgrind)")
    workdir = Path(tempfile.mkdtemp(prefix="scimkit-server-instructions-"))
    options: dict[str, Any] = {
        "requests": args.requests,
        "warmup": args.warmup,
        "connections": args.connections,
        "seeded": args.seed_users,
    }
    try:
        with ThreadPoolExecutor(2) as pool:  # a count does not depend on the load

            def counted(app: str) -> list[Count]:
                return count_server(app, kinds, server=args.server, workdir=workdir, **options)

            found = pool.map(counted, ("app", "ceiling"))
            counts = [count for per_app in found for count in per_app]
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    table = ratios(counts)
    print(f"{args.server}, {args.requests} requests per kind, {args.connections} connections")
    for kind, row in table.items():
        print(
            f"{kind:5s} app {row['app']:11,.0f}  ceiling {row['ceiling']:11,.0f}  "
            f"SCIM work {row['scim_work']:9,.0f}  app/ceiling {row['app_over_ceiling']:.3f}"
        )
    failed = [c for c in counts if c.errors]
    for c in failed:
        print(f"{c.app} {c.kind}: {c.errors} requests failed", file=sys.stderr)
    if args.out is not None:
        args.out.write_bytes(
            orjson.dumps(
                {
                    "options": {**options, "server": args.server},
                    "counts": [vars(c) for c in counts],
                    "ratios": table,
                },
                option=orjson.OPT_INDENT_2,
            )
        )
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
