"""MongoStore's events: the outbox, the drainer, tombstones, MongoFeed, two writers on one feed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pymongo import AsyncMongoClient
from pymongo.errors import ServerSelectionTimeoutError

from scimkit import ENTRA, GROUP, USER, Checkpoint, ResourceService, StoreQuery
from scimkit._errors import NotFound
from scimkit.mongo import MongoStore
from scimkit.testing import FeedContract
from scimkit.testing._feed_contract import sample_events

pytestmark = pytest.mark.mongo

T = "acme"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def patch(*operations: Any) -> dict[str, Any]:
    return {"schemas": [PATCH], "Operations": list(operations)}


def user(name: str) -> dict[str, Any]:
    return {"schemas": [USER.schema.id], "userName": name}


async def open_store(client: Any, database: str, **options: Any) -> MongoStore:
    store = MongoStore(client[database], (USER, GROUP), **options)
    await store.ensure_indexes()
    return store


@pytest.fixture
async def store(client: Any, mongo_db_name: str) -> AsyncIterator[MongoStore]:
    store = await open_store(client, mongo_db_name)
    try:
        yield store
    finally:
        await store.close()


@pytest.fixture
def service(store: MongoStore) -> ResourceService:
    return ResourceService(store, [USER, GROUP], tolerance=ENTRA, record_events=True)


class TestMongoFeed(FeedContract):
    @pytest.fixture
    def feed(self, store: MongoStore) -> Any:
        return store.feed

    @pytest.fixture
    def append(self, store: MongoStore) -> Any:
        async def append(tenant: str, events: Any) -> None:
            await store.record_events(tenant, events)
            await store.drain_events()

        return append


async def raw(store: MongoStore, id: str) -> dict[str, Any] | None:
    document: dict[str, Any] | None = await store._resources.find_one({"a.id": id})
    return document


async def test_the_outbox_holds_the_events_until_drained_and_is_never_read(
    store: MongoStore, service: ResourceService
) -> None:
    await store.close()  # no drainer: the outbox stays where the write put it
    created = await service.create(T, USER, user("ann"))
    await service.patch(
        T, USER, created["id"], patch({"op": "replace", "path": "displayName", "value": "A"})
    )
    document = await raw(store, created["id"])
    assert document is not None
    assert [entry["type"] for entry in document["_outbox"]] == ["create", "patch"]
    assert [entry["version"] for entry in document["_outbox"]] == ['W/"1"', 'W/"2"']
    got = await service.get(T, USER, created["id"])
    assert "_outbox" not in got and "_outbox" not in str(got)
    page = await store.query(T, USER, StoreQuery())
    assert all("_outbox" not in r for r in page.resources)
    assert await store.feed.read(T) == ()
    await store.drain_events()
    assert [e.type.value for e in await store.feed.read(T)] == ["create", "patch"]
    document = await raw(store, created["id"])
    assert document is not None and "_outbox" not in document


async def test_a_tombstone_reads_as_gone_and_frees_its_user_name(
    store: MongoStore, service: ResourceService
) -> None:
    await store.close()
    ann = await service.create(T, USER, user("ann"))
    group = await service.create(
        T, GROUP, {"schemas": [GROUP.schema.id], "displayName": "Ops", "externalId": "g-1"}
    )
    await service.patch(
        T,
        GROUP,
        group["id"],
        patch({"op": "add", "path": "members", "value": [{"value": ann["id"]}]}),
    )
    await service.delete(T, USER, ann["id"])
    tombstone = await raw(store, ann["id"])
    assert tombstone is not None and "_deleted" in tombstone and "_left" not in tombstone
    with pytest.raises(NotFound):
        await service.get(T, USER, ann["id"])
    assert (await store.query(T, USER, StoreQuery())).total == 0
    assert await store.resource_types_of(T, [ann["id"]]) == {}
    assert "members" not in await service.get(T, GROUP, group["id"])
    # The same userName again, while the tombstone is still there.
    again = await service.create(T, USER, user("ANN"))
    assert (await store.query(T, USER, StoreQuery())).total == 1
    await store.drain_events()
    assert await raw(store, ann["id"]) is None
    events = await store.feed.read(T, limit=100)
    delete = next(e for e in events if e.type.value == "delete")
    left = events[events.index(delete) + 1]
    assert (left.type.value, left.id, left.txn) == ("patch", group["id"], delete.txn)
    assert left.external_id == "g-1"
    assert left.version == (await service.get(T, GROUP, group["id"]))["meta"]["version"]
    assert events[-1].id == again["id"]


async def test_a_delete_whose_writer_died_is_finished_by_the_drainer(
    client: Any, mongo_db_name: str
) -> None:
    store = await open_store(client, mongo_db_name, tombstone_grace=timedelta(0))
    await store.close()
    service = ResourceService(store, [USER, GROUP], record_events=True)
    ann = await service.create(T, USER, user("ann"))
    group = await service.create(T, GROUP, {"schemas": [GROUP.schema.id], "displayName": "Ops"})
    await service.patch(
        T,
        GROUP,
        group["id"],
        patch({"op": "add", "path": "members", "value": [{"value": ann["id"]}]}),
    )
    # What a writer killed right after the tombstone leaves: no cascade yet.
    cascade, store._cascade = store._cascade, _never  # type: ignore[method-assign]
    await service.delete(T, USER, ann["id"])
    store._cascade = cascade  # type: ignore[method-assign]
    assert "_left" in (await raw(store, ann["id"]) or {})
    assert await store._memberships.count_documents({"m": ann["id"]}) == 1
    await store.drain_events()
    assert await raw(store, ann["id"]) is None
    assert await store._memberships.count_documents({"m": ann["id"]}) == 0
    events = await store.feed.read(T, limit=100)
    assert [(e.type.value, e.id) for e in events[-2:]] == [
        ("delete", ann["id"]),
        ("patch", group["id"]),
    ]
    assert events[-1].version == (await service.get(T, GROUP, group["id"]))["meta"]["version"]
    # Finishing again records nothing twice.
    await store._cascade({**(await _tombstone_like(ann["id"], group["id"], events[-1].txn))})
    await store.drain_events()
    assert len(await store.feed.read(T, limit=100)) == len(events)


async def _never(*args: Any, **kwargs: Any) -> None:
    return None


async def _tombstone_like(member: str, group: str, txn: str) -> dict[str, Any]:
    return {
        "t": T,
        "rt": "User",
        "a": {"id": member},
        "_left": [["Group", group]],
        "_txn": txn,
        "_iat": datetime.now(UTC),
    }


async def test_a_failed_write_leaves_no_event(store: MongoStore, service: ResourceService) -> None:
    await service.create(T, USER, user("ann"))
    with pytest.raises(Exception, match="userName"):
        await service.create(T, USER, user("Ann"))
    await store.drain_events()
    assert len(await store.feed.read(T)) == 1


async def test_checkpoints_survive_a_restart(client: Any, mongo_db_name: str) -> None:
    first = await open_store(client, mongo_db_name)
    await first.record_events(T, sample_events(T, 3))
    await first.drain_events()
    read = await first.feed.read(T)
    assert await first.feed.save_checkpoint(T, "r", Checkpoint(read[1].position), expected=0)
    await first.close()
    second = await open_store(client, mongo_db_name)
    stored = await second.feed.checkpoint(T, "r")
    assert (stored.position, stored.revision) == (read[1].position, 1)
    assert [e.jti for e in await second.feed.read(T, after=stored.position)] == [read[2].jti]
    await second.close()


async def test_retention_drops_old_events_and_counts_them(client: Any, mongo_db_name: str) -> None:
    store = await open_store(client, mongo_db_name, event_retention=timedelta(days=1))
    old = [
        e.__class__(**{**_fields(e), "iat": datetime.now(UTC) - timedelta(days=2)})
        for e in sample_events(T, 2)
    ]
    await store.record_events(T, old)
    await store.record_events(T, sample_events(T, 1))
    await store.drain_events()
    assert len(await store.feed.read(T)) == 1
    await store._drainer.drain(T, expire=True)
    stats = await store.feed.stats(T)
    assert (stats.retained, stats.dropped, stats.last) == (1, 2, 3)
    await store.close()


def _fields(event: Any) -> dict[str, Any]:
    return {name: getattr(event, name) for name in event.__dataclass_fields__}


async def test_two_stores_write_one_ordered_feed(
    client: Any, mongodb_uri: str, mongo_db_name: str
) -> None:
    # Two clients, as two instances of an app would have.
    other: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongodb_uri, tz_aware=True)
    stores = [
        await open_store(client, mongo_db_name, drain_sweep_interval=0.2),
        await open_store(other, mongo_db_name, drain_sweep_interval=0.2),
    ]
    services = [ResourceService(s, [USER, GROUP], record_events=True) for s in stores]
    group = await services[0].create(T, GROUP, {"schemas": [GROUP.schema.id], "displayName": "Ops"})

    async def writer(n: int) -> list[str]:
        service = services[n]
        created = []
        for i in range(6):
            new = await service.create(T, USER, user(f"w{n}-{i}"))
            created.append(new["id"])
            await service.patch(
                T,
                GROUP,
                group["id"],
                patch({"op": "add", "path": "members", "value": [{"value": new["id"]}]}),
            )
        return created

    created = await asyncio.gather(writer(0), writer(1))
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 20
        expected = 1 + 2 * 12
        while len(await stores[1].feed.read(T, limit=1000)) < expected:
            assert loop.time() < deadline, "the drainers did not move every outbox"
            await asyncio.sleep(0.05)
        events = await stores[1].feed.read(T, limit=1000)
        positions = [e.position for e in events]
        assert positions == sorted(set(positions))
        assert len({e.jti for e in events}) == expected == len(events)
        assert {e.id for e in events if e.type.value == "create"} == {
            group["id"],
            *created[0],
            *created[1],
        }
        group_versions = [e.version for e in events if e.id == group["id"]]
        assert group_versions == [f'W/"{n}"' for n in range(1, 14)]
    finally:
        for store in stores:
            await store.close()
        await other.close()


async def _until_reachable(client: AsyncMongoClient[dict[str, Any]]) -> None:
    """Return once ``client`` reaches its server (its selection timeout may be shorter)."""
    deadline = asyncio.get_running_loop().time() + 10
    while True:
        try:
            await client.admin.command("ping")
            return
        except ServerSelectionTimeoutError:
            if asyncio.get_running_loop().time() > deadline:
                raise


async def test_a_stopped_database_is_a_clear_feed_error_and_loses_nothing(
    collect_dropped_sockets: None, mongo_server: Any, mongo_db_name: str
) -> None:
    from scimkit._errors import ServiceUnavailable

    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        mongo_server.uri, tz_aware=True, serverSelectionTimeoutMS=300
    )
    store = await asyncio.wait_for(open_store(client, mongo_db_name), 5)
    try:
        await asyncio.wait_for(store.record_events(T, sample_events(T, 2)), 5)
        await asyncio.wait_for(store.drain_events(), 6)
        mongo_server.stop()
        with pytest.raises(ServiceUnavailable):
            await asyncio.wait_for(store.feed.read(T), 7)
        with pytest.raises(ServiceUnavailable):
            await asyncio.wait_for(store.feed.save_checkpoint(T, "r", Checkpoint(1), expected=0), 8)
    finally:
        # Closed while its monitor is connecting to the stopped server, the driver drops that
        # socket unclosed where no collection here can reach it in time (the warning then fails
        # a later test): the server comes back and the client sees it before closing.
        try:
            if not mongo_server.running:
                mongo_server.start()
            await _until_reachable(client)
        finally:
            await asyncio.wait_for(store.close(), 9)
            await asyncio.wait_for(client.close(), 10)


async def test_an_emptied_outbox_left_by_a_crash_is_cleared(
    store: MongoStore, service: ResourceService
) -> None:
    await store.close()
    ann = await service.create(T, USER, user("ann"))
    bob = await service.create(T, USER, user("bob"))
    await service.delete(T, USER, bob["id"])
    await store.drain_events()
    # A drainer that died between the $pull and the removal of the emptied array.
    await store._resources.update_one({"a.id": ann["id"]}, {"$set": {"_outbox": []}})
    await store._resources.insert_one(
        {
            "t": T,
            "rt": "User",
            "a": {"id": "gone"},
            "v": 2,
            "_deleted": datetime.now(UTC),
            "_outbox": [],
        }
    )
    assert await store._drainer.pending_tenants() == {T}
    await store.drain_events()
    assert await store._drainer.pending_tenants() == set()
    assert await raw(store, "gone") is None
    assert "_outbox" not in (await raw(store, ann["id"]) or {})


async def test_the_drainer_outlives_the_deadline_of_the_call_that_started_it(
    client: Any, mongo_db_name: str
) -> None:
    # The first write starts the drainer inside a store call bounded by operation_timeout;
    # the drainer must not inherit that deadline (it would time out forever after).
    store = await open_store(client, mongo_db_name, operation_timeout=0.3)
    service = ResourceService(store, [USER, GROUP], record_events=True)
    try:
        await service.create(T, USER, user("ann"))
        await asyncio.sleep(0.6)
        await service.create(T, USER, user("bob"))
        assert await store.feed.wait(T, after=1, timeout=10)
        assert [e.type.value for e in await store.feed.read(T)] == ["create", "create"]
    finally:
        await store.close()
