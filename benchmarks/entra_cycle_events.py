"""An Entra cycle with provisioning events on: exactly its events, a consumer in step (issue 13).

``benchmarks/entra_sync.py``'s simulator runs in process against ``benchmarks/events_app.py``
(events on, embedded store; requests through ``scimkit.testing.ASGIClient``, no HTTP server):
the initial cycle (match GET + POST per user, groups, member adds) and, unless
``--initial-only``, the incremental cycle (PATCHes in every Entra dialect, 10 % of them
``active "False"``, member removes); deprovisioning is skipped so the data stays. Then:

- the feed must hold exactly the events the accepted writes imply, per type: a ``create`` per
  user and group, a ``patch`` per user or group PATCH, a ``deactivate`` per disabled user, and
  nothing else (no ``put``, ``delete`` or ``activate``), none dropped by retention;
- the example consumer (``examples/embedded.py``) drains the feed into its SQLite table, which
  must then equal the SCIM state (every User's row: userName, displayName, active,
  loginDisabled, administrator).

``python -m benchmarks.entra_cycle_events --users 20000``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a file: make `benchmarks` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import _entra, entra_sync
from benchmarks._report import cpu_seconds, machine_info, run_async, show_and_write
from benchmarks._service import TENANT, resource_types
from benchmarks.bench_asgi import BASE_URL, TOKEN
from scimkit.testing import ASGIClient

__all__ = ["InProcessClient", "cycle", "main"]


class InProcessClient:
    """entra_sync's ``Client`` over an ASGI app called in this process."""

    name = "asgi (in process)"

    def __init__(self, app: Any, token: str) -> None:
        headers = [(k.lower().encode(), v.encode()) for k, v in _entra.headers(token).items()]
        self._client = ASGIClient(app, BASE_URL, headers=headers)

    async def request(
        self, method: str, target: str, body: bytes | None = None
    ) -> tuple[int, bytes]:
        path, _, query = target.partition("?")
        length = [] if body is None else [(b"content-length", str(len(body)).encode())]
        answer = await self._client.request(
            method, path, query=query.encode(), headers=length, body=body or b""
        )
        return answer.status, answer.body

    async def aclose(self) -> None:
        return None


def expected_events(simulator: entra_sync.Simulator) -> Counter[str]:
    """The events the simulator's accepted writes imply, by type."""
    expected: Counter[str] = Counter()
    for phase in simulator.phases:
        for name, stats in phase.ops.items():
            accepted = sum(stats.statuses[code] for code in ("200", "201", "204"))
            method = name.split()[0]
            if method == "POST":
                expected["create"] += accepted
            elif method == "PATCH":
                expected["patch"] += accepted
        expected["deactivate"] += phase.extra.get("users_disabled", 0)
    return expected


async def cycle(users: int, *, initial_only: bool = False, concurrency: int = 16) -> dict[str, Any]:
    """Run the cycle, check the feed and the example consumer; the figures and the checks."""
    from benchmarks.events_app import build_app
    from examples.accounts import Accounts
    from examples.embedded import EmbeddedSync, scim_accounts

    app = build_app(TOKEN, events=True)
    service = app.state.service
    feed = service.store.feed
    argv = ["--base-url", BASE_URL, "--token", TOKEN, "--users", str(users), "--no-progress"]
    argv += ["--concurrency", str(concurrency), "--skip", "deprovision", "--skip", "verify"]
    if initial_only:
        argv += ["--skip", "incremental-users", "--skip", "incremental-groups"]
    simulator = entra_sync.Simulator(entra_sync.parse_args(argv), InProcessClient(app, TOKEN))
    started, cpu = time.perf_counter(), cpu_seconds()
    await simulator.run_all()
    scim_seconds, scim_cpu = time.perf_counter() - started, cpu_seconds() - cpu
    phases = [phase.summary() for phase in simulator.phases]
    errors = sum(p["errors"] for p in phases)

    stats = await feed.stats(TENANT)
    found: Counter[str] = Counter()
    for event in await feed.read(TENANT, limit=stats.retained + 1):
        found[event.type.value] += 1
    expected = expected_events(simulator)

    users_type, _ = resource_types()
    with tempfile.TemporaryDirectory(prefix="scimkit-consumer-") as workdir:
        accounts = Accounts(str(Path(workdir) / "app.sqlite"))
        sync = EmbeddedSync(service, TENANT, users_type, accounts)
        started, cpu = time.perf_counter(), cpu_seconds()
        await sync.start()
        await sync.caught_up(timeout=3600)
        consumer_seconds, consumer_cpu = time.perf_counter() - started, cpu_seconds() - cpu
        await sync.stop()
        table = accounts.all()
        accounts.close()
    scim = await scim_accounts(service, TENANT, users_type)
    differing = [id for id in scim.keys() | table.keys() if scim.get(id) != table.get(id)]
    return {
        "users": users,
        "requests": sum(p["requests"] for p in phases),
        "errors": errors,
        "scim_seconds": round(scim_seconds, 2),
        "scim_cpu_s": round(scim_cpu, 2),
        "events": stats.last,
        "dropped": stats.dropped,
        "events_by_type": dict(sorted(found.items())),
        "expected_by_type": dict(sorted(expected.items())),
        "events_exact": found == expected and stats.dropped == 0,
        "consumer_seconds": round(consumer_seconds, 2),
        "consumer_events_per_s": round(stats.last / consumer_seconds, 1),
        "consumer_cpu_s": round(consumer_cpu, 2),
        "table_rows": len(table),
        "scim_users": len(scim),
        "table_differs": len(differing),
        "table_equal": not differing,
        "phases": [{k: p[k] for k in ("phase", "requests", "seconds", "errors")} for p in phases],
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.entra_cycle_events",
        description="An Entra cycle with events on: exact events, and the example consumer.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--users", type=int, default=20_000)
    parser.add_argument("--initial-only", action="store_true", help="skip the incremental cycle")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--out", type=Path, help="write the results as JSON here")
    args = parser.parse_args(argv)
    result = {
        "tool": "benchmarks/entra_cycle_events.py",
        "machine": machine_info(),
        **run_async(
            cycle(args.users, initial_only=args.initial_only, concurrency=args.concurrency)
        ),
    }
    show_and_write(result, args.out)
    ok = result["errors"] == 0 and result["events_exact"] and result["table_equal"]
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
