"""MemoryFeed: the feed contract, and retention by size and age with the dropped count."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from scimkit import Checkpoint, MemoryFeed, settle
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
