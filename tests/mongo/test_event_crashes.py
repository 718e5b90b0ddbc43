"""Crash tests: events of acknowledged writes survive a SIGKILL of the writer or of the server.

Also two writer processes on one tenant: one feed, every event once, in a strict order.

The writer is a real process (``tests.mongo.event_writer``) that prints each write only after
MongoStore acknowledged it; the test kills it with SIGKILL mid-writes (between a write and its
drain, or inside a drain holding the lease), then a new store in this process drains what it
left. Every acknowledged write's events must be in the feed, in order, once; the only events
no acknowledgement names are the member removals of an acknowledged delete and the events of
the one write in flight when the process died.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from pymongo import AsyncMongoClient

from scimkit import GROUP, USER, ResourceService
from scimkit._errors import ServiceUnavailable
from scimkit.mongo import MongoStore
from scimkit.testing._mongo_server import MongoServer
from tests.mongo_fixtures import require_mongoeco

pytestmark = pytest.mark.mongo

T = "acme"
ROOT = Path(__file__).resolve().parents[2]
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


async def drained_feed(store: MongoStore, *, timeout: float = 30) -> list[Any]:
    """Drain until nothing is pending (a dead holder's lease expires first); the feed."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        await store.drain_events()
        if not await store._drainer.pending_tenants():
            break
        assert loop.time() < deadline, "outboxes or tombstones were left undrained"
        await asyncio.sleep(0.2)
    return list(await store.feed.read(T, limit=100_000))


def check_feed(events: list[Any], acked: list[tuple[str, str, str]], in_flight: int = 1) -> None:
    """Every acknowledged write's event once, in order; nothing that no write made.

    ``in_flight``: writes that may have happened without an acknowledgement (the writer died).
    """
    positions = [e.position for e in events]
    assert positions == sorted(set(positions)), "positions must strictly increase"
    assert len({e.jti for e in events}) == len(events)
    found = {(e.type.value, e.id, e.version or "-"): e for e in events}
    missing = [write for write in acked if write not in found]
    assert not missing, f"acknowledged writes without their event: {missing[:5]}"
    # The acknowledged writes appear in the order they were acknowledged.
    order = [found[write].position for write in acked]
    assert order == sorted(order)
    acked_set = set(acked)
    delete_txns = {found[w].txn for w in acked if w[0] == "delete"}
    extra = [
        e
        for e in events
        if (e.type.value, e.id, e.version or "-") not in acked_set and e.txn not in delete_txns
    ]
    assert len({e.txn for e in extra}) <= in_flight, f"events no write explains: {extra}"
    versions: dict[str, list[int]] = {}
    for event in events:
        if event.version is not None:
            versions.setdefault(event.id, []).append(int(event.version[3:-1]))
    assert all(v == sorted(v) for v in versions.values()), "per-resource version order"


def read_acks(lines: list[str]) -> list[tuple[str, str, str]]:
    acked = []
    for line in lines:
        parts = line.split()
        if len(parts) == 3:
            acked.append((parts[0], parts[1], parts[2]))
    return acked


def start_writer(uri: str, database: str, mode: str, *more: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "tests.mongo.event_writer", uri, database, T, mode, *more],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


async def kill_writer_after(process: subprocess.Popen[str], writes: int) -> list[str]:
    """SIGKILL the writer once it has acknowledged ``writes`` writes; every line it printed."""
    assert process.stdout is not None
    lines: list[str] = []
    loop = asyncio.get_running_loop()
    while len(lines) < writes:
        line = await loop.run_in_executor(None, process.stdout.readline)
        assert line, f"the writer stopped early (exit {process.poll()})"
        lines.append(line)
    process.send_signal(signal.SIGKILL)
    rest = await loop.run_in_executor(None, process.stdout.read)
    process.wait()
    assert process.returncode == -signal.SIGKILL
    return lines + rest.splitlines()


async def run_writer_crash(
    uri: str, database: str, client: Any, writes: int, mode: str = "drain"
) -> None:
    process = start_writer(uri, database, mode)
    try:
        lines = await kill_writer_after(process, writes)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        if process.stdout is not None:
            process.stdout.close()
    acked = read_acks(lines)
    assert len(acked) >= writes
    store = MongoStore(client[database], tombstone_grace=timedelta(0))
    if mode == "keep":
        # Nothing was drained: every event waits in an outbox, every delete in a tombstone.
        assert await store._drainer.pending_tenants() == {T}
        assert await store._events.count_documents({}) == 0
    try:
        check_feed(await drained_feed(store), acked)
    finally:
        await store.close()


@pytest.mark.parametrize("mode", ["drain", "keep"])
async def test_a_writer_killed_mid_writes_loses_no_acknowledged_event(
    mongodb_uri: str, mongo_db_name: str, client: Any, mode: str
) -> None:
    await run_writer_crash(mongodb_uri, mongo_db_name, client, writes=25, mode=mode)


@pytest.mark.slow
@pytest.mark.parametrize("writes", [60, 97, 150])
async def test_writers_killed_at_many_points_lose_no_acknowledged_event(
    mongodb_uri: str, mongo_db_name: str, client: Any, writes: int
) -> None:
    await run_writer_crash(mongodb_uri, mongo_db_name, client, writes=writes)


@pytest.fixture
def persistent_server(tmp_path: Path) -> Iterator[MongoServer]:
    """A private server whose data survive a SIGKILL and restart (sqlite engine)."""
    require_mongoeco()
    with MongoServer(sqlite_path=tmp_path / "mongo.sqlite") as server:
        yield server


async def run_server_crash(server: MongoServer, database: str, writes: int) -> None:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        server.uri, tz_aware=True, serverSelectionTimeoutMS=400, connectTimeoutMS=400
    )
    store = MongoStore(
        client[database],
        operation_timeout=2.0,
        drain_sweep_interval=0.2,
        tombstone_grace=timedelta(0),
    )
    await store.ensure_indexes()
    service = ResourceService(store, [USER, GROUP], record_events=True)
    acked: list[tuple[str, str, str]] = []
    try:
        for i in range(writes * 2):
            if i == writes:
                server.stop(kill=True)
            try:
                user = await service.create(
                    T, USER, {"schemas": [USER.schema.id], "userName": f"u{i}"}
                )
                acked.append(("create", user["id"], user["meta"]["version"]))
                body = {"op": "replace", "path": "displayName", "value": f"U {i}"}
                patched = await service.patch(
                    T, USER, user["id"], {"schemas": [PATCH], "Operations": [body]}
                )
                acked.append(("patch", user["id"], patched["meta"]["version"]))
            except ServiceUnavailable:
                break
        server.start()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 20
        while not await store.ping():
            assert loop.time() < deadline, "the store did not reconnect"
            await asyncio.sleep(0.1)
        assert len(acked) >= writes
        check_feed(await drained_feed(store), acked)
    finally:
        await store.close()
        await client.close()


async def test_a_server_killed_mid_writes_keeps_every_acknowledged_event(
    persistent_server: MongoServer, mongo_db_name: str
) -> None:
    await run_server_crash(persistent_server, mongo_db_name, writes=8)


@pytest.mark.slow
async def test_a_server_killed_after_many_writes_keeps_every_acknowledged_event(
    persistent_server: MongoServer, mongo_db_name: str
) -> None:
    await run_server_crash(persistent_server, mongo_db_name, writes=60)


async def test_two_writer_processes_make_one_ordered_feed(
    mongodb_uri: str, mongo_db_name: str, client: Any
) -> None:
    processes = [start_writer(mongodb_uri, mongo_db_name, "drain", n, "8") for n in "ab"]
    loop = asyncio.get_running_loop()
    outputs = []
    for process in processes:
        assert process.stdout is not None
        outputs.append(await loop.run_in_executor(None, process.stdout.read))
        process.stdout.close()
        assert await loop.run_in_executor(None, process.wait) == 0
    acked = [read_acks(output.splitlines()) for output in outputs]
    store = MongoStore(client[mongo_db_name])
    try:
        events = await drained_feed(store)
        positions = [e.position for e in events]
        assert positions == sorted(set(positions))
        assert len({e.jti for e in events}) == len(events)
        # Each process's resources (its group, its users): its acknowledged writes, in order.
        shares = []
        for mine in acked:
            ids = {id for _, id, _ in mine}
            share = [e for e in events if e.id in ids]
            check_feed(share, mine, in_flight=0)
            shares.append(share)
        assert sum(len(share) for share in shares) == len(events)
    finally:
        await store.close()
