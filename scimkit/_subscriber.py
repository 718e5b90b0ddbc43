"""In-process subscribers: a handler called once per event, in order, with a stored checkpoint.

A :class:`Subscription` reads a tenant's feed from its receiver's checkpoint, calls the handler
for each event in position order and settles the event when the handler returns, so a restart
resumes where it stopped (at-least-once: an event whose handling was cut short is handled
again). A handler that raises is retried with exponential backoff and jitter; nothing here
runs inside a SCIM request, so a slow or failing handler never delays one. Push delivery
(RFC 8935) is a subscription whose handler POSTs the SET.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from scimkit._event import Event
from scimkit._feed import Checkpoint, EventFeed, settle
from scimkit._meta import utc_now

__all__ = ["Subscription", "SubscriptionStatus"]

logger = logging.getLogger("scimkit.events")

Handler = Callable[[Event], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class SubscriptionStatus:
    """What an operator wants to see of a subscription.

    ``backlog`` is the number of feed positions past the checkpoint (events not yet handled);
    ``last_error`` the most recent handler failure (cleared by the next success);
    ``attempts`` how often the current event has been tried.
    """

    position: int
    backlog: int
    delivered: int
    attempts: int
    last_error: str | None
    last_error_at: datetime | None
    last_success_at: datetime | None
    running: bool


class Subscription:
    """Delivers one tenant's events to ``handler``, one at a time, in position order.

    ``receiver`` names the checkpoint in the feed (one per subscriber). Backoff between
    attempts at one event starts at ``backoff`` seconds and doubles up to ``max_backoff``,
    each pause drawn at random below its bound. ``poll_interval`` bounds each wait for new
    events. Start it with :meth:`start` (or ``await run()``) and stop it with :meth:`stop`.
    """

    def __init__(
        self,
        feed: EventFeed,
        tenant: str,
        receiver: str,
        handler: Handler,
        *,
        batch: int = 100,
        backoff: float = 0.5,
        max_backoff: float = 60.0,
        poll_interval: float = 30.0,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.feed = feed
        self.tenant = tenant
        self.receiver = receiver
        self.handler = handler
        self.batch = batch
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.poll_interval = poll_interval
        self._clock = clock
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._position = 0
        self._delivered = 0
        self._attempts = 0
        self._last_error: str | None = None
        self._last_error_at: datetime | None = None
        self._last_success_at: datetime | None = None

    def start(self) -> asyncio.Task[None]:
        """Run the subscription in a background task (returned)."""
        if self._task is None or self._task.done():
            self._stopping = False
            self._task = asyncio.create_task(self.run(), name=f"events:{self.receiver}")
        return self._task

    async def stop(self) -> None:
        """Stop after the current attempt; an event being handled is handled again later."""
        self._stopping = True
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass

    async def status(self) -> SubscriptionStatus:
        """The subscription's progress and its last failure."""
        stats = await self.feed.stats(self.tenant)
        return SubscriptionStatus(
            position=self._position,
            backlog=max(0, stats.last - self._position),
            delivered=self._delivered,
            attempts=self._attempts,
            last_error=self._last_error,
            last_error_at=self._last_error_at,
            last_success_at=self._last_success_at,
            running=self._task is not None and not self._task.done(),
        )

    async def run(self) -> None:
        """Deliver events until stopped; a failing feed is read again after a backoff.

        A feed on a database fails while the database is down (``ServiceUnavailable``): the
        subscription must outlive that, as its handler outlives its own failures. Reading
        starts again from the stored checkpoint, so nothing is skipped.
        """
        failures = 0
        while not self._stopping:
            delivered = self._delivered
            try:
                await self._follow()
                return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                failures = 1 if self._delivered > delivered else failures + 1
                await self._back_off(
                    f"feed: {type(exc).__name__}: {exc}",
                    failures,
                    "The feed of %s failed for %s (attempt %d): %s",
                    self.tenant,
                    self.receiver,
                )

    async def _follow(self) -> None:
        checkpoint = await self.feed.checkpoint(self.tenant, self.receiver)
        self._position = checkpoint.position
        while not self._stopping:
            events = await self.feed.read(self.tenant, after=checkpoint.position, limit=self.batch)
            if not events:
                await self.feed.wait(
                    self.tenant, after=checkpoint.position, timeout=self.poll_interval
                )
                continue
            for event in events:
                await self._deliver(event)
                checkpoint = await self._save(checkpoint, event)
                if self._stopping:
                    return

    async def _deliver(self, event: Event) -> None:
        self._attempts = 0
        while True:
            self._attempts += 1
            try:
                await self.handler(event)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                await self._back_off(
                    f"{type(exc).__name__}: {exc}",
                    self._attempts,
                    "Event %s (position %d) for %s failed (attempt %d): %s",
                    event.jti,
                    event.position,
                    self.receiver,
                )
                continue
            self._delivered += 1
            self._attempts = 0
            self._last_error = None
            self._last_success_at = self._clock()
            return

    async def _back_off(self, error: str, attempt: int, message: str, *subject: object) -> None:
        """Record and log the ``attempt``-th failure in a row, then pause before the next.

        ``message`` takes ``subject``, then the attempt and the error. The pause is drawn at
        random below a bound that doubles with each attempt, up to ``max_backoff``.
        """
        self._last_error = error
        self._last_error_at = self._clock()
        logger.warning(message, *subject, attempt, error)
        bound = min(self.max_backoff, self.backoff * 2 ** (attempt - 1))
        await asyncio.sleep(random.uniform(bound / 2, bound))

    async def _save(self, checkpoint: Checkpoint, event: Event) -> Checkpoint:
        moved = settle(checkpoint, (event.position,), (event,))
        while not await self.feed.save_checkpoint(
            self.tenant, self.receiver, moved, expected=checkpoint.revision
        ):
            # Another process with the same receiver name saved first: continue from the
            # furthest of the two, never moving back.
            stored = await self.feed.checkpoint(self.tenant, self.receiver)
            if stored.position >= moved.position:
                self._position = stored.position
                return stored
            checkpoint = stored
        self._position = moved.position
        return Checkpoint(moved.position, moved.settled, checkpoint.revision + 1)
