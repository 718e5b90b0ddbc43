"""Writes record their events with them, on both stores: every write kind, cascades, no-ops."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from scimkit import ENTRA, GROUP, USER, EventType, MemoryStore, ResourceService, UniquenessError
from scimkit.testing import FeedContract
from tests.mongo_fixtures import open_mongo_store

T = "acme"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def patch(*operations):
    return {"schemas": [PATCH], "Operations": list(operations)}


@pytest.fixture(params=["memory", pytest.param("mongo", marks=pytest.mark.mongo)])
async def store(request: pytest.FixtureRequest) -> AsyncIterator[Any]:
    if request.param == "memory":
        yield MemoryStore()
        return
    uri = request.getfixturevalue("mongodb_uri")
    database = request.getfixturevalue("mongo_db_name")
    async with open_mongo_store(uri, database, (USER, GROUP)) as mongo:
        try:
            yield mongo
        finally:
            await mongo.close()


async def read_feed(store: Any, tenant: str = T) -> list[Any]:
    """The tenant's events, once the store has moved every outbox into its feed (MongoDB)."""
    if hasattr(store, "drain_events"):
        await store.drain_events()
    return list(await store.feed.read(tenant, limit=1000))


@pytest.fixture
def service(store) -> ResourceService:
    return ResourceService(store, [USER, GROUP], tolerance=ENTRA, record_events=True)


async def kinds(store: Any, tenant: str = T) -> list[tuple[str, str]]:
    return [(e.type.value, e.id) for e in await read_feed(store, tenant)]


class TestMemoryStoreFeed(FeedContract):
    @pytest.fixture
    def memory(self) -> MemoryStore:
        return MemoryStore()

    @pytest.fixture
    def feed(self, memory):
        return memory.feed

    @pytest.fixture
    def append(self, memory):
        async def append(tenant, events):
            memory.feed.append(tenant, events)

        return append


async def test_every_write_kind_records_its_events(service, store):
    user = await service.create(
        T, USER, {"schemas": [USER.schema.id], "userName": "ann", "active": True}
    )
    uid = user["id"]
    await service.replace(
        T, USER, uid, {"schemas": [USER.schema.id], "userName": "ann2", "active": True}
    )
    await service.patch(T, USER, uid, patch({"op": "Replace", "path": "active", "value": "False"}))
    group = await service.create(T, GROUP, {"schemas": [GROUP.schema.id], "displayName": "Ops"})
    gid = group["id"]
    await service.patch(
        T, GROUP, gid, patch({"op": "Add", "path": "members", "value": [{"value": uid}]})
    )
    await service.delete(T, USER, uid)
    assert await kinds(store) == [
        ("create", uid),
        ("put", uid),
        ("patch", uid),
        ("deactivate", uid),
        ("create", gid),
        ("patch", gid),
        ("delete", uid),
        ("patch", gid),
    ]
    events = await read_feed(store)
    assert [e.position for e in events] == list(range(1, 9))
    put = events[1]
    assert put.data["userName"] == "ann2" and put.attributes == ("userName",)
    assert put.version == 'W/"2"'
    assert events[2].txn == events[3].txn and events[2].version == events[3].version == 'W/"3"'
    members = events[5]
    assert members.attributes == ("members",)
    delete, left = events[6], events[7]
    assert delete.txn == left.txn
    assert left.data["Operations"] == [{"op": "remove", "path": f'members[value eq "{uid}"]'}]
    # The delete gave the group a new version (issue 12 §3.1): its event names that version.
    after = await service.get(T, GROUP, gid)
    assert left.version == after["meta"]["version"] != events[5].version


async def test_a_no_op_write_records_nothing(service, store):
    user = await service.create(T, USER, {"schemas": [USER.schema.id], "userName": "ann"})
    await service.patch(
        T, USER, user["id"], patch({"op": "replace", "path": "userName", "value": "ann"})
    )
    await service.replace(T, USER, user["id"], {"schemas": [USER.schema.id], "userName": "ann"})
    assert await kinds(store) == [("create", user["id"])]


async def test_a_failed_write_records_nothing(service, store):
    await service.create(T, USER, {"schemas": [USER.schema.id], "userName": "ann"})
    with pytest.raises(UniquenessError):
        await service.create(T, USER, {"schemas": [USER.schema.id], "userName": "ANN"})
    assert len(await kinds(store)) == 1


async def test_feeds_are_per_tenant(service, store):
    await service.create("other", USER, {"schemas": [USER.schema.id], "userName": "x"})
    assert await kinds(store) == []
    assert len(await kinds(store, "other")) == 1


async def test_events_are_off_by_default(store):
    service = ResourceService(store, [USER, GROUP])
    assert service.record_events is False
    await service.create(T, USER, {"schemas": [USER.schema.id], "userName": "ann"})
    assert await kinds(store) == []


async def test_record_events_needs_a_recording_store():
    class Plain:
        pass

    with pytest.raises(ValueError, match="record"):
        ResourceService(Plain(), [USER], record_events=True)  # type: ignore[arg-type]


def test_event_types_cover_the_write_kinds():
    assert {EventType.CREATE, EventType.PUT, EventType.PATCH, EventType.DELETE} <= set(EventType)


async def test_entra_patch_dialects_record_their_paths(service, store):
    user = await service.create(
        T,
        USER,
        {
            "schemas": [USER.schema.id],
            "userName": "ann",
            "name": {"givenName": "Ann", "familyName": "Smit"},
            "emails": [{"type": "work", "value": "ann@x.example", "primary": True}],
        },
    )
    uid = user["id"]
    # Path-less replace with dotted keys (aadOptscim062020), capitalised ops, filtered paths.
    await service.patch(T, USER, uid, patch({"op": "replace", "value": {"name.givenName": "Anna"}}))
    await service.patch(
        T,
        USER,
        uid,
        patch(
            {"op": "Replace", "path": 'emails[type eq "work"].value', "value": "a@x.example"},
            {"op": "Replace", "path": "name.familyName", "value": "Jansen"},
        ),
    )
    await service.patch(T, USER, uid, patch({"op": "Replace", "path": "active", "value": "False"}))
    await service.patch(T, USER, uid, patch({"op": "Replace", "path": "active", "value": "True"}))
    events = await read_feed(store)
    assert [(e.type.value, e.attributes, e.version) for e in events[1:]] == [
        ("patch", ("name.givenName",), 'W/"2"'),
        ("patch", ("emails", "name.familyName"), 'W/"3"'),
        ("patch", ("active",), 'W/"4"'),
        ("deactivate", (), 'W/"4"'),
        ("patch", ("active",), 'W/"5"'),
        ("activate", (), 'W/"5"'),
    ]
    assert events[1].data["Operations"] == [{"op": "replace", "value": {"name.givenName": "Anna"}}]


async def test_member_deltas_and_concurrent_member_patches_all_appear(service, store):
    group = await service.create(T, GROUP, {"schemas": [GROUP.schema.id], "displayName": "Ops"})
    gid = group["id"]
    users = [
        (await service.create(T, USER, {"schemas": [USER.schema.id], "userName": f"u{i}"}))["id"]
        for i in range(4)
    ]
    await asyncio.gather(
        *(
            service.patch(
                T, GROUP, gid, patch({"op": "Add", "path": "members", "value": [{"value": u}]})
            )
            for u in users
        )
    )
    await service.patch(
        T, GROUP, gid, patch({"op": "Remove", "path": f'members[value eq "{users[0]}"]'})
    )
    # An idempotent re-add changes nothing and records nothing.
    await service.patch(
        T, GROUP, gid, patch({"op": "Add", "path": "members", "value": [{"value": users[1]}]})
    )
    events = [e for e in await read_feed(store) if e.id == gid]
    assert [e.type.value for e in events] == ["create"] + ["patch"] * 5
    assert all(e.attributes == ("members",) for e in events[1:])
    versions = [e.version for e in events]
    assert versions == [f'W/"{n}"' for n in range(1, 7)]
    added = {e.data["Operations"][0]["value"][0]["value"] for e in events[1:5]}
    assert added == set(users)
    final = await service.get(T, GROUP, gid)
    assert final["meta"]["version"] == versions[-1]


async def test_positions_strictly_increase_and_follow_versions_per_resource(service, store):
    user = await service.create(T, USER, {"schemas": [USER.schema.id], "userName": "ann"})
    for n in range(5):
        await service.patch(
            T, USER, user["id"], patch({"op": "replace", "path": "displayName", "value": f"{n}"})
        )
    events = await read_feed(store)
    positions = [e.position for e in events]
    assert positions == sorted(set(positions))
    assert [e.version for e in events] == [f'W/"{n}"' for n in range(1, 7)]
    assert len({e.jti for e in events}) == len(events)


@pytest.mark.parametrize(
    "operation",
    [
        {"op": "Replace", "path": "ACTIVE", "value": "False"},
        {"op": "replace", "value": {"Active": False}},
        {"op": "Replace", "value": {"active": "False", "displayName": "Ann"}},
        {"op": "remove", "path": "active"},
    ],
)
async def test_a_deactivation_is_seen_in_every_dialect_and_spelling(service, store, operation):
    user = await service.create(
        T, USER, {"schemas": [USER.schema.id], "userName": "ann", "active": True}
    )
    await service.patch(T, USER, user["id"], patch(operation))
    if operation["op"] == "remove":
        # Unassigned counts as active (docs/events.md): removing it deactivates nothing.
        assert await kinds(store) == [("create", user["id"]), ("patch", user["id"])]
    else:
        assert await kinds(store) == [
            ("create", user["id"]),
            ("patch", user["id"]),
            ("deactivate", user["id"]),
        ]


async def test_each_event_is_issued_at_its_write_s_last_modified(store):
    from datetime import UTC, datetime, timedelta

    # Near now: the feeds keep 30 days. Whole seconds: both stores keep milliseconds.
    start = datetime.now(UTC).replace(microsecond=0)
    ticks = iter(start + timedelta(seconds=n) for n in range(100))
    service = ResourceService(
        store, [USER, GROUP], tolerance=ENTRA, record_events=True, clock=lambda: next(ticks)
    )
    user = await service.create(T, USER, {"schemas": [USER.schema.id], "userName": "ann"})
    uid = user["id"]
    written = [user["meta"]["lastModified"]]
    replaced = await service.replace(
        T, USER, uid, {"schemas": [USER.schema.id], "userName": "ann2", "active": True}
    )
    written.append(replaced["meta"]["lastModified"])
    patched = await service.patch(
        T, USER, uid, patch({"op": "Replace", "path": "active", "value": "False"})
    )
    written.append(patched["meta"]["lastModified"])
    events = await read_feed(store)
    assert [e.type.value for e in events] == ["create", "put", "patch", "deactivate"]
    assert [e.iat for e in events] == [*written, written[-1]]
    assert len(set(written)) == 3  # the clock ticks on every reading: one reading per write
