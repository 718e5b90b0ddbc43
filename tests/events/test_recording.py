"""Writes record their events with them (MemoryStore): every write kind, cascades, no-ops."""

from __future__ import annotations

import pytest

from scimkit import ENTRA, GROUP, USER, EventType, MemoryStore, ResourceService, UniquenessError
from scimkit.testing import FeedContract

T = "acme"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def patch(*operations):
    return {"schemas": [PATCH], "Operations": list(operations)}


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore()


@pytest.fixture
def service(store) -> ResourceService:
    return ResourceService(store, [USER, GROUP], tolerance=ENTRA, record_events=True)


async def kinds(store: MemoryStore, tenant: str = T) -> list[tuple[str, str]]:
    return [(e.type.value, e.id) for e in await store.feed.read(tenant, limit=1000)]


class TestMemoryStoreFeed(FeedContract):
    @pytest.fixture
    def feed(self, store):
        return store.feed

    @pytest.fixture
    def append(self, store):
        async def append(tenant, events):
            store.feed.append(tenant, events)

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
    events = await store.feed.read(T, limit=100)
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
    await service.create(T, USER, {"schemas": [USER.schema.id], "userName": "ann"})
    assert await kinds(store) == []


async def test_record_events_needs_a_recording_store():
    class Plain:
        pass

    with pytest.raises(ValueError, match="record"):
        ResourceService(Plain(), [USER], record_events=True)  # type: ignore[arg-type]


def test_event_types_cover_the_write_kinds():
    assert {EventType.CREATE, EventType.PUT, EventType.PATCH, EventType.DELETE} <= set(EventType)
