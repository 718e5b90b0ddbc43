"""The event feed contract suite: every :class:`~scimkit.EventFeed` must pass it.

Appending is the store's job, done with a write, so the suite needs two fixtures: ``feed``, a
fresh empty feed, and ``append``, an async callable ``append(tenant, events)`` that records the
given events (of one write, in order) the way the store does::

    from scimkit.testing import FeedContract

    class TestMyFeed(FeedContract):
        @pytest.fixture
        def feed(self, store):
            return store.feed

        @pytest.fixture
        def append(self, store):
            async def append(tenant, events):
                await store.record(tenant, events)
            return append
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime

from scimkit._event import Event, EventType, new_event_id
from scimkit._feed import Checkpoint, EventFeed, settle

__all__ = ["FeedContract", "sample_events"]

Append = Callable[[str, Sequence[Event]], Awaitable[None]]

T1 = "tenant-one"
T2 = "tenant-two"


def sample_events(tenant: str, count: int, *, txn: str | None = None) -> list[Event]:
    """``count`` patch events of one User each, as one write of ``tenant`` would make."""
    txn = txn or new_event_id()
    iat = datetime.now(UTC).replace(microsecond=0)
    return [
        Event(
            tenant=tenant,
            jti=new_event_id(),
            txn=txn,
            type=EventType.PATCH,
            resource_type="User",
            id=f"u{index}",
            uri=f"/Users/u{index}",
            iat=iat,
            version=f'W/"{index + 2}"',
            data={"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": []},
            attributes=("displayName",),
        )
        for index in range(count)
    ]


class FeedContract:
    """The contract of :class:`~scimkit.EventFeed`; subclass with ``feed`` and ``append``."""

    async def test_positions_increase_in_append_order(
        self, feed: EventFeed, append: Append
    ) -> None:
        first, second = sample_events(T1, 2), sample_events(T1, 3)
        await append(T1, first)
        await append(T1, second)
        read = await feed.read(T1, after=0, limit=10)
        assert [e.jti for e in read] == [e.jti for e in first + second]
        positions = [e.position for e in read]
        assert positions == sorted(positions) and len(set(positions)) == 5
        assert positions[0] >= 1

    async def test_events_round_trip(self, feed: EventFeed, append: Append) -> None:
        events = sample_events(T1, 1)
        await append(T1, events)
        (read,) = await feed.read(T1)
        assert read.at(0) == events[0]

    async def test_read_after_and_limit(self, feed: EventFeed, append: Append) -> None:
        await append(T1, sample_events(T1, 5))
        everything = await feed.read(T1, after=0, limit=100)
        middle = await feed.read(T1, after=everything[1].position, limit=2)
        assert [e.jti for e in middle] == [e.jti for e in everything[2:4]]
        assert await feed.read(T1, after=everything[-1].position) == ()
        assert list(await feed.read(T1, after=0, limit=0)) == []

    async def test_tenants_are_isolated(self, feed: EventFeed, append: Append) -> None:
        mine, theirs = sample_events(T1, 2), sample_events(T2, 3)
        await append(T1, mine)
        await append(T2, theirs)
        assert [e.jti for e in await feed.read(T1)] == [e.jti for e in mine]
        assert all(e.tenant == T2 for e in await feed.read(T2))
        assert await feed.positions(T1, [theirs[0].jti]) == {}
        assert (await feed.stats(T1)).retained == 2
        assert (await feed.stats("nobody")).last == 0

    async def test_positions_by_jti(self, feed: EventFeed, append: Append) -> None:
        events = sample_events(T1, 3)
        await append(T1, events)
        read = await feed.read(T1)
        found = await feed.positions(T1, [events[2].jti, "unknown", events[0].jti])
        assert found == {events[2].jti: read[2].position, events[0].jti: read[0].position}

    async def test_stats(self, feed: EventFeed, append: Append) -> None:
        assert await feed.stats(T1) == await feed.stats(T1)
        await append(T1, sample_events(T1, 4))
        read = await feed.read(T1)
        stats = await feed.stats(T1)
        assert (stats.first, stats.last, stats.retained, stats.dropped) == (
            read[0].position,
            read[-1].position,
            4,
            0,
        )

    async def test_wait_returns_at_once_when_events_exist(
        self, feed: EventFeed, append: Append
    ) -> None:
        await append(T1, sample_events(T1, 1))
        assert await feed.wait(T1, after=0, timeout=5)

    async def test_wait_times_out(self, feed: EventFeed, append: Append) -> None:
        await append(T1, sample_events(T1, 1))
        last = (await feed.stats(T1)).last
        started = asyncio.get_running_loop().time()
        assert not await feed.wait(T1, after=last, timeout=0.2)
        assert asyncio.get_running_loop().time() - started >= 0.15

    async def test_wait_wakes_on_append(self, feed: EventFeed, append: Append) -> None:
        waiter = asyncio.create_task(feed.wait(T1, after=0, timeout=10))
        await asyncio.sleep(0.05)
        assert not waiter.done()
        await append(T1, sample_events(T1, 1))
        assert await asyncio.wait_for(waiter, 5)

    async def test_wait_ignores_other_tenants(self, feed: EventFeed, append: Append) -> None:
        waiter = asyncio.create_task(feed.wait(T1, after=0, timeout=0.3))
        await asyncio.sleep(0.05)
        await append(T2, sample_events(T2, 1))
        assert not await waiter

    async def test_checkpoint_starts_empty(self, feed: EventFeed) -> None:
        assert await feed.checkpoint(T1, "receiver") == Checkpoint()

    async def test_checkpoint_compare_and_set(self, feed: EventFeed, append: Append) -> None:
        await append(T1, sample_events(T1, 3))
        read = await feed.read(T1)
        start = await feed.checkpoint(T1, "r")
        moved = settle(start, [read[0].position, read[2].position], read)
        assert moved.position == read[0].position
        assert moved.settled == frozenset({read[2].position})
        assert await feed.save_checkpoint(T1, "r", moved, expected=start.revision)
        stored = await feed.checkpoint(T1, "r")
        assert (stored.position, stored.settled) == (moved.position, moved.settled)
        assert stored.revision == start.revision + 1
        # A save against the old revision lost the race: nothing changes.
        assert not await feed.save_checkpoint(T1, "r", Checkpoint(), expected=start.revision)
        assert await feed.checkpoint(T1, "r") == stored

    async def test_checkpoints_are_per_receiver_and_tenant(
        self, feed: EventFeed, append: Append
    ) -> None:
        await append(T1, sample_events(T1, 1))
        assert await feed.save_checkpoint(T1, "a", Checkpoint(1), expected=0)
        assert await feed.checkpoint(T1, "b") == Checkpoint()
        assert await feed.checkpoint(T2, "a") == Checkpoint()
