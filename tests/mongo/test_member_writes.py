"""Member PATCHes on MongoStore without a read of the memberships (issue 16's round trips).

The group read checks the new members too, and the membership upserts report what took
effect, so these tests look at what was sent and stored: a bad member stores nothing,
concurrent PATCHes all land with one event per change, a re-add changes nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from pymongo import AsyncMongoClient
from pymongo.monitoring import (
    CommandFailedEvent,
    CommandListener,
    CommandStartedEvent,
    CommandSucceededEvent,
)

from scimkit import ENTRA, GROUP, USER, ResourceService
from scimkit._errors import InvalidValue
from scimkit.mongo import MongoStore

pytestmark = pytest.mark.mongo

T = "acme"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


@dataclass
class Commands(CommandListener):
    """The commands the test's own task sends while :attr:`on` is set (not the drainer's)."""

    on: bool = False
    sent: list[tuple[str, Any]] = field(default_factory=list)
    task: asyncio.Task[Any] | None = None

    def started(self, event: CommandStartedEvent) -> None:
        # The async driver publishes the event in the task that sent the command.
        if self.on and asyncio.current_task() is self.task:
            self.sent.append((event.command_name, event.command.get(event.command_name)))

    def start(self) -> None:
        self.task, self.on = asyncio.current_task(), True

    def succeeded(self, event: CommandSucceededEvent) -> None:
        pass

    def failed(self, event: CommandFailedEvent) -> None:
        pass

    def take(self) -> list[tuple[str, Any]]:
        sent, self.sent = self.sent, []
        return sent


@pytest.fixture
def commands() -> Commands:
    return Commands()


@pytest.fixture
async def store(
    mongodb_uri: str, mongo_db_name: str, commands: Commands
) -> AsyncIterator[MongoStore]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        mongodb_uri, tz_aware=True, event_listeners=[commands]
    )
    store = MongoStore(client[mongo_db_name], (USER, GROUP))
    await store.ensure_indexes()
    try:
        yield store
    finally:
        await store.close()
        await client.drop_database(mongo_db_name)
        await client.close()


@pytest.fixture
def service(store: MongoStore) -> ResourceService:
    return ResourceService(store, [USER, GROUP], tolerance=ENTRA, record_events=True)


def add(*ids: str) -> dict[str, Any]:
    """Entra's member add."""
    members = [{"value": id} for id in ids]
    return {"schemas": [PATCH], "Operations": [{"op": "Add", "path": "members", "value": members}]}


async def users(service: ResourceService, count: int) -> list[str]:
    created = [
        await service.create(T, USER, {"schemas": [USER.schema.id], "userName": f"u{i}"})
        for i in range(count)
    ]
    return [user["id"] for user in created]


async def group(service: ResourceService) -> dict[str, Any]:
    return await service.create(T, GROUP, {"schemas": [GROUP.schema.id], "displayName": "g"})


async def member_events(store: MongoStore, group_id: str) -> list[Any]:
    await store.drain_events()
    return [e for e in await store.feed.read(T, limit=1000) if e.id == group_id]


async def test_a_member_add_reads_once_and_writes_twice(
    store: MongoStore, service: ResourceService, commands: Commands
) -> None:
    (alice,) = await users(service, 1)
    sales = await group(service)
    commands.start()
    reply = await service.patch_reply(T, GROUP, sales["id"], add(alice))
    sent = commands.take()
    assert [name for name, _ in sent] == ["aggregate", "update", "findAndModify"]
    assert not reply.represent and reply.resource["meta"]["version"] == 'W/"2"'
    got = await service.get(T, GROUP, sales["id"])
    assert got["members"] == [{"value": alice}]
    (event,) = [e for e in await member_events(store, sales["id"]) if e.version == 'W/"2"']
    assert event.attributes == ("members",)


async def test_a_nonexistent_member_is_refused_before_anything_is_written(
    store: MongoStore, service: ResourceService, commands: Commands
) -> None:
    (alice,) = await users(service, 1)
    sales = await group(service)
    commands.start()
    with pytest.raises(InvalidValue, match="'ghost' names no resource here"):
        await service.patch(T, GROUP, sales["id"], add(alice, "ghost"))
    # The check came with the read: nothing was written, not even in part.
    assert [name for name, _ in commands.take()] == ["aggregate"]
    commands.on = False
    assert await store._memberships.count_documents({}) == 0
    assert await service.get(T, GROUP, sales["id"]) == sales
    assert len(await member_events(store, sales["id"])) == 1  # its create only


async def test_concurrent_member_adds_all_land_with_one_event_per_change(
    store: MongoStore, service: ResourceService
) -> None:
    ids = await users(service, 8)
    sales = await group(service)
    # Eight different members and the first of them five more times, all at once.
    bodies = [add(id) for id in ids] + [add(ids[0]) for _ in range(5)]
    await asyncio.gather(*(service.patch(T, GROUP, sales["id"], body) for body in bodies))
    got = await service.get(T, GROUP, sales["id"])
    assert sorted(m["value"] for m in got["members"]) == sorted(ids)
    # Eight changes: eight versions past the create, one event for each, none for a re-add.
    assert got["meta"]["version"] == 'W/"9"'
    events = [e for e in await member_events(store, sales["id"]) if e.version != 'W/"1"']
    assert sorted(e.version for e in events) == sorted(f'W/"{n}"' for n in range(2, 10))
    added = sorted(op["value"][0]["value"] for e in events for op in e.data["Operations"])
    assert added == sorted(ids)


async def test_a_re_add_writes_no_version_and_no_event(
    store: MongoStore, service: ResourceService, commands: Commands
) -> None:
    (alice,) = await users(service, 1)
    sales = await group(service)
    first = await service.patch(T, GROUP, sales["id"], add(alice))
    commands.start()
    again = await service.patch(T, GROUP, sales["id"], add(alice), members=False)
    # The upsert reported that nothing was inserted: no version increment follows.
    assert "findAndModify" not in [name for name, _ in commands.take()]
    assert again["meta"]["version"] == first["meta"]["version"]
    assert len(await member_events(store, sales["id"])) == 2  # create and the first add


async def test_a_member_remove_reports_its_effect_without_a_read(
    store: MongoStore, service: ResourceService, commands: Commands
) -> None:
    alice, bob = await users(service, 2)
    sales = await group(service)
    await service.patch(T, GROUP, sales["id"], add(alice, bob))
    remove = {
        "schemas": [PATCH],
        "Operations": [{"op": "Remove", "path": "members", "value": [{"value": alice}]}],
    }
    commands.start()
    removed = await service.patch(T, GROUP, sales["id"], remove, members=False)
    assert [name for name, _ in commands.take()] == ["aggregate", "delete", "findAndModify"]
    assert removed["meta"]["version"] == 'W/"3"'
    # Removing it again finds nothing to delete: no version, no event.
    again = await service.patch(T, GROUP, sales["id"], remove, members=False)
    assert "findAndModify" not in [name for name, _ in commands.take()]
    assert again["meta"]["version"] == 'W/"3"'
    assert (await service.get(T, GROUP, sales["id"]))["members"] == [{"value": bob}]
    versions = sorted(e.version for e in await member_events(store, sales["id"]))
    assert versions == ['W/"1"', 'W/"2"', 'W/"3"']
