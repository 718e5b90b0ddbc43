"""In-process subscribers: in order, a failing handler retried, a restart resumes."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from scimkit import Event, MemoryFeed, ServiceUnavailable, Subscription
from scimkit.testing import sample_events


async def until(condition, timeout: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, "timed out"
        await asyncio.sleep(0.01)


async def test_a_failing_handler_is_retried_and_order_is_kept():
    feed = MemoryFeed()
    events = feed.append("acme", sample_events("acme", 3))
    seen: list[str] = []
    failures = {events[1].jti: 2}

    async def handler(event: Event) -> None:
        seen.append(event.jti)
        if failures.get(event.jti, 0) > 0:
            failures[event.jti] -= 1
            raise RuntimeError("database down")

    subscription = Subscription(feed, "acme", "app", handler, backoff=0.01, max_backoff=0.02)
    subscription.start()
    try:
        await until(lambda: len(seen) == 5)
    finally:
        await subscription.stop()
    assert seen == [events[0].jti] + [events[1].jti] * 3 + [events[2].jti]
    status = await subscription.status()
    assert (status.backlog, status.delivered, status.last_error) == (0, 3, None)
    assert (await feed.checkpoint("acme", "app")).position == events[2].position


async def test_status_shows_the_last_error_while_stuck():
    feed = MemoryFeed()
    feed.append("acme", sample_events("acme", 2))

    async def handler(event: Event) -> None:
        raise ValueError("nope")

    subscription = Subscription(feed, "acme", "app", handler, backoff=0.01, max_backoff=0.02)
    subscription.start()
    try:
        await until(lambda: subscription._attempts >= 2)
        status = await subscription.status()
    finally:
        await subscription.stop()
    assert status.backlog == 2 and status.last_error == "ValueError: nope" and status.running


async def test_a_new_subscription_resumes_from_the_stored_checkpoint():
    feed = MemoryFeed()
    feed.append("acme", sample_events("acme", 2))
    seen: list[int] = []

    async def handler(event: Event) -> None:
        seen.append(event.position)

    first = Subscription(feed, "acme", "app", handler)
    first.start()
    await until(lambda: len(seen) == 2)
    await first.stop()
    feed.append("acme", sample_events("acme", 1))
    second = Subscription(feed, "acme", "app", handler, poll_interval=0.05)
    second.start()
    try:
        await until(lambda: len(seen) == 3)
    finally:
        await second.stop()
    assert seen == [1, 2, 3]


class FailingFeed(MemoryFeed):
    """A feed whose reads fail a few times, as a feed on a stopped database does."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures

    async def read(self, tenant: str, *, after: int = 0, limit: int = 100) -> Sequence[Event]:
        if self.failures > 0:
            self.failures -= 1
            raise ServiceUnavailable("The database did not answer.")
        return await super().read(tenant, after=after, limit=limit)


async def test_a_failing_feed_is_read_again_and_nothing_is_skipped():
    feed = FailingFeed(failures=3)
    events = feed.append("acme", sample_events("acme", 2))
    seen: list[str] = []

    async def handler(event: Event) -> None:
        seen.append(event.jti)

    subscription = Subscription(feed, "acme", "app", handler, backoff=0.01, max_backoff=0.02)
    subscription.start()
    try:
        await until(lambda: feed.failures == 0)
        stuck = await subscription.status()
        await until(lambda: len(seen) == 2)
        status = await subscription.status()
    finally:
        await subscription.stop()
    assert stuck.running and (stuck.last_error or "").startswith("feed: ServiceUnavailable")
    assert seen == [event.jti for event in events]
    assert (status.delivered, status.last_error, status.running) == (2, None, True)
