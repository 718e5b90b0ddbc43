"""MemoryFeed: the feed contract, and retention by size and age with the dropped count."""

from __future__ import annotations

import gc
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from scimkit import (
    ENTRA,
    GROUP,
    USER,
    Checkpoint,
    Event,
    MemoryFeed,
    MemoryStore,
    ResourceService,
    ServiceConfig,
    settle,
)
from scimkit.testing import FeedContract, sample_events


class TestMemoryFeed(FeedContract):
    @pytest.fixture
    def feed(self) -> MemoryFeed:
        return MemoryFeed()

    @pytest.fixture
    def append(self, feed: MemoryFeed):
        async def append(tenant, events):
            feed.append(tenant, events)

        return append


async def test_retention_by_size_counts_dropped_events():
    feed = MemoryFeed(max_events=3)
    feed.append("t", sample_events("t", 5))
    stats = await feed.stats("t")
    assert (stats.first, stats.last, stats.retained, stats.dropped) == (3, 5, 3, 2)
    assert [e.position for e in await feed.read("t", after=0)] == [3, 4, 5]
    dropped_jti = (await feed.read("t"))[0].jti
    feed.append("t", sample_events("t", 1))
    assert await feed.positions("t", [dropped_jti]) == {}


async def test_retention_by_age():
    now = [datetime.now(UTC)]
    feed = MemoryFeed(max_age=timedelta(days=30), clock=lambda: now[0])
    feed.append("t", sample_events("t", 2))
    now[0] += timedelta(days=31)
    stats = await feed.stats("t")
    assert (stats.retained, stats.dropped, stats.last) == (0, 2, 2)
    (placed,) = feed.append("t", sample_events("t", 1))
    assert placed.position == 3


def test_append_refuses_another_tenants_event():
    with pytest.raises(ValueError):
        MemoryFeed().append("t", sample_events("other", 1))


def test_settle_skips_gaps_and_keeps_out_of_order_acks():
    events = [e.at(p) for e, p in zip(sample_events("t", 4), (2, 3, 7, 9), strict=True)]
    moved = settle(Checkpoint(1), [2, 7], events)
    assert (moved.position, moved.settled) == (2, frozenset({7}))
    moved = settle(moved, [3], events)
    assert (moved.position, moved.settled) == (7, frozenset())
    assert moved.is_settled(5) and not moved.is_settled(9)


# --- the retained form: what the feed keeps costs the garbage collector nothing -----------------


async def _recorded_writes() -> tuple[MemoryStore, ResourceService, str]:
    store = MemoryStore()
    service = ResourceService(
        store, [USER, GROUP], tolerance=ENTRA, config=ServiceConfig(), record_events=True
    )
    user = await service.create(
        "t",
        USER,
        {
            "schemas": [USER.schema.id],
            "userName": "ann",
            "password": "hunter2",
            "name": {"givenName": "Ann", "familyName": "Lee"},
            "emails": [{"value": "ann@example.com", "type": "work"}],
        },
    )
    uid = user["id"]
    body = {"op": "Replace", "path": 'emails[type eq "work"].value', "value": "a@example.com"}
    await service.patch("t", USER, uid, {"schemas": [PATCH_OP], "Operations": [body]})
    await service.patch("t", USER, uid, {"schemas": [PATCH_OP], "Operations": [_DEACTIVATE]})
    group = await service.create("t", GROUP, {"schemas": [GROUP.schema.id], "displayName": "G"})
    member = {"op": "Add", "path": "members", "value": [{"value": uid}]}
    await service.patch("t", GROUP, group["id"], {"schemas": [PATCH_OP], "Operations": [member]})
    await service.delete("t", USER, uid)
    return store, service, uid


PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
_DEACTIVATE = {"op": "Replace", "path": "active", "value": "False"}


async def test_retained_events_are_not_tracked_by_the_garbage_collector():
    store, _, _ = await _recorded_writes()
    gc.collect()
    # The feed's own records (private): each one a tuple CPython stops tracking.
    records = list(store.feed._tenants["t"].events)
    assert len(records) == 8
    assert not any(gc.is_tracked(record) for record in records)


async def test_retained_events_read_back_as_recorded():
    store, service, uid = await _recorded_writes()
    events = await store.feed.read("t")
    kinds = [e.type.value for e in events]
    assert kinds == ["create", "patch", "patch", "deactivate", "create", "patch", "delete", "patch"]
    create = events[0]
    # The create's data is the resource as a GET returned it then (no password), its notice
    # paths computed when read.
    assert create.data["userName"] == "ann" and "password" not in create.data
    assert create.data["name"] == {"givenName": "Ann", "familyName": "Lee"}
    assert create.attributes == ("emails", "name", "userName")
    assert events[1].data == {
        "schemas": [PATCH_OP],
        "Operations": [
            {"op": "replace", "path": 'emails[type eq "work"].value', "value": "a@example.com"}
        ],
    }
    assert events[1].attributes == ("emails",)
    assert events[7].data["Operations"] == [{"op": "remove", "path": f'members[value eq "{uid}"]'}]
    assert list(await store.feed.read("t")) == list(events)  # each read makes equal events
    # Never-returned values are not kept at all, not only left out when read.
    assert not any("scrypt" in r[11] for r in store.feed._tenants["t"].events if r[11])


async def test_appended_data_that_json_cannot_hold_reads_back_as_given():
    feed = MemoryFeed()
    (event,) = sample_events("t", 1)
    odd = Event(**{**_fields(event), "data": {"when": datetime(2026, 1, 1, tzinfo=UTC), "t": (1,)}})
    feed.append("t", [odd])
    (read,) = await feed.read("t")
    assert read.data == odd.data and read.data["t"] == (1,)


def _fields(event: Event) -> dict[str, Any]:
    return {name: getattr(event, name) for name in Event.__dataclass_fields__}


async def test_recorded_jtis_are_found_by_position_in_their_own_tenant_only():
    store, service, uid = await _recorded_writes()
    events = await store.feed.read("t")
    jtis = [e.jti for e in events]
    assert len(set(jtis)) == len(jtis) and events[2].txn == events[3].txn
    assert await store.feed.positions("t", jtis) == {e.jti: e.position for e in events}
    await service.create("u", USER, {"schemas": [USER.schema.id], "userName": "bo"})
    (theirs,) = await store.feed.read("u")
    # Same position, another tenant: the jti names a position, and the record there differs.
    assert theirs.position == events[0].position
    assert await store.feed.positions("t", [theirs.jti]) == {}
    bogus = [f"{events[1].txn}.1", "x.zz", "nodot", ".1", f"{events[0].jti}0", "-1"]
    assert await store.feed.positions("t", bogus) == {}


async def test_a_dropped_recorded_jti_is_no_longer_found():
    store = MemoryStore(feed=MemoryFeed(max_events=2))
    service = ResourceService(store, [USER], record_events=True)
    await service.create("t", USER, {"schemas": [USER.schema.id], "userName": "a"})
    (first,) = await store.feed.read("t")
    for name in ("b", "c"):
        await service.create("t", USER, {"schemas": [USER.schema.id], "userName": name})
    kept = await store.feed.read("t")
    assert [e.position for e in kept] == [2, 3]
    assert await store.feed.positions("t", [first.jti, kept[0].jti]) == {kept[0].jti: 2}


async def test_a_patch_keeps_its_changed_values_for_its_paths_but_no_password():
    store = MemoryStore()
    config = ServiceConfig(change_password=True)
    service = ResourceService(store, [USER], tolerance=ENTRA, config=config, record_events=True)
    user = await service.create("t", USER, {"schemas": [USER.schema.id], "userName": "ann"})
    operations = [
        {"op": "replace", "path": "password", "value": "new-secret"},
        {"op": "replace", "path": "name.givenName", "value": "Ann"},
    ]
    await service.patch("t", USER, user["id"], {"schemas": [PATCH_OP], "Operations": operations})
    _, patched = await store.feed.read("t")
    assert patched.attributes == ("name.givenName",)
    assert patched.data["Operations"] == [
        {"op": "replace", "path": "name.givenName", "value": "Ann"}
    ]
    kept = store.feed._tenants["t"].events[1]
    assert not any("scrypt" in value or "new-secret" in value for value in kept[11:13])
