"""The event feed: a tenant's events in order, read by position, and receivers' checkpoints.

Appending belongs to the store, with the write (``docs/events.md``): an acknowledged write
always has its events and a write that did not happen has none. :class:`EventFeed` is the
reading side every store offers; :class:`MemoryFeed` is the embedded one (what
:class:`~scimkit.MemoryStore` appends to). The contract is checked by
``scimkit.testing.FeedContract``.

A receiver's progress is a :class:`Checkpoint`: every event at or below ``position`` is settled
(acknowledged, or rejected by the receiver), plus the positions above it settled out of order.
Unsettled events are delivered again (RFC 8936 §2.4); :func:`settle` moves a checkpoint.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import Protocol

from scimkit._event import (
    Draft,
    Event,
    Retained,
    WriteRecord,
    derived_position,
    restore,
    retain,
    retain_event,
    retained_iat,
    retained_jti,
    retained_jti_given,
    retained_position,
)
from scimkit._meta import utc_now
from scimkit._resource_type import ResourceType

__all__ = ["Checkpoint", "EventFeed", "FeedStats", "MemoryFeed", "settle"]


@dataclass(frozen=True, slots=True)
class FeedStats:
    """What a tenant's feed holds: positions retained and events dropped by retention.

    ``first`` and ``last`` are the lowest and highest retained positions (0 when none); ``last``
    never decreases, also when retention empties the feed. ``dropped`` counts events removed by
    retention (age or size) since the feed began; a receiver whose checkpoint is below
    ``first - 1`` has missed events.
    """

    first: int = 0
    last: int = 0
    retained: int = 0
    dropped: int = 0


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A receiver's progress through one tenant's feed.

    ``position``: every event at or below it is settled. ``settled``: positions above it that
    are settled too (acknowledged out of order). ``revision`` counts saves, for
    compare-and-set (:meth:`EventFeed.save_checkpoint`).
    """

    position: int = 0
    settled: frozenset[int] = frozenset()
    revision: int = 0

    def is_settled(self, position: int) -> bool:
        return position <= self.position or position in self.settled


class EventFeed(Protocol):
    """The reading side of a store's event feed, scoped to a tenant on every call.

    Contract (checked by ``scimkit.testing.FeedContract``):

    - Positions are assigned on append, increase strictly per tenant and are never reused;
      gaps may occur (a write that failed after taking a position). Events of one tenant are
      never read, counted or waited for by a call for another.
    - :meth:`read` returns events above ``after`` in position order, at most ``limit``.
    - :meth:`wait` returns true as soon as an event above ``after`` exists, false after
      ``timeout`` seconds without one.
    - :meth:`positions` maps the given jtis that the feed holds to their positions.
    - Checkpoints are kept per (tenant, receiver); :meth:`save_checkpoint` is compare-and-set
      on ``revision``.
    """

    async def read(self, tenant: str, *, after: int = 0, limit: int = 100) -> Sequence[Event]:
        """Events with a position above ``after``, in order, at most ``limit``."""
        ...

    async def wait(self, tenant: str, *, after: int, timeout: float) -> bool:
        """Wait (at most ``timeout`` seconds) until an event above ``after`` exists."""
        ...

    async def positions(self, tenant: str, jtis: Iterable[str]) -> dict[str, int]:
        """The positions of the events with these jtis that the feed holds."""
        ...

    async def stats(self, tenant: str) -> FeedStats:
        """What the tenant's feed holds (for backlog and retention reports)."""
        ...

    async def checkpoint(self, tenant: str, receiver: str) -> Checkpoint:
        """A receiver's checkpoint (the initial one if it has none)."""
        ...

    async def save_checkpoint(
        self, tenant: str, receiver: str, checkpoint: Checkpoint, *, expected: int
    ) -> bool:
        """Store ``checkpoint`` if the stored one's revision is ``expected``.

        The stored checkpoint's revision becomes ``expected + 1``; false (nothing stored) when
        another save came first.
        """
        ...


def settle(
    checkpoint: Checkpoint, positions: Iterable[int], following: Sequence[Event]
) -> Checkpoint:
    """``checkpoint`` with ``positions`` settled, moved past every settled event in ``following``.

    ``following`` are the feed's events just above ``checkpoint.position`` in order (a read
    from there): the checkpoint advances over them while they are settled, so gaps in the
    positions do not hold it back. The revision is kept; the save sets it.
    """
    settled = set(checkpoint.settled)
    settled.update(p for p in positions if p > checkpoint.position)
    position = checkpoint.position
    for event in following:
        if event.position <= position:
            continue
        if event.position not in settled:
            break
        position = event.position
    return Checkpoint(position, frozenset(p for p in settled if p > position), checkpoint.revision)


_RECENT = 2048


@dataclass(slots=True, eq=False)
class _TenantFeed:
    events: deque[Retained] = field(default_factory=deque)
    by_jti: dict[str, int] = field(default_factory=dict)  # appended events' given jtis
    # The events last read, as objects, by position: a poller reads what it delivered again
    # when the receiver acknowledges it, and a subscriber its batch (bounded: _RECENT).
    recent: dict[int, Event] = field(default_factory=dict)
    last: int = 0
    dropped: int = 0
    arrived: asyncio.Event | None = None
    checkpoints: dict[str, Checkpoint] = field(default_factory=dict)


class MemoryFeed:
    """The embedded :class:`EventFeed`: a bounded deque of events per tenant.

    Retention keeps at most ``max_events`` events per tenant and none older than
    ``max_age``; what it removes is counted in :attr:`FeedStats.dropped`. :meth:`append` and
    :meth:`record` are synchronous so a store can call them in the same atomic section as the
    write they record. Nothing is persistent: a restart starts every feed empty.

    Events are kept in a compact form the garbage collector does not track (one tuple of
    strings, numbers and JSON text each, see :func:`~scimkit._event.retain`) and made into
    :class:`Event` objects again when read: as objects, a full feed would add several objects
    per event to every full collection of the process.
    """

    def __init__(
        self,
        *,
        max_events: int = 100_000,
        max_age: timedelta | None = timedelta(days=30),
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        if max_events < 1:
            raise ValueError("max_events must be positive")
        self.max_events = max_events
        self.max_age = max_age
        self._clock = clock
        self._tenants: dict[str, _TenantFeed] = {}
        # The resource types retained events render with, referred to by index from the
        # records (a reference would make each record an object the collector tracks).
        self._types: list[ResourceType] = []
        self._type_indexes: dict[ResourceType, int] = {}  # by identity (eq=False)

    def append(self, tenant: str, events: Iterable[Event]) -> tuple[Event, ...]:
        """Append events of one write (in order) and return them with their positions."""
        feed = self._tenants.setdefault(tenant, _TenantFeed())
        placed = []
        for event in events:
            if event.tenant != tenant:
                raise ValueError("an event belongs to the feed of its own tenant")
            feed.last += 1
            placed.append(event.at(feed.last))
            self._keep(feed, retain_event(event, feed.last))
        self._appended(feed, placed[-1].iat if placed else None)
        return tuple(placed)

    def record(
        self, tenant: str, write: WriteRecord, resource_type: ResourceType, drafts: Iterable[Draft]
    ) -> int:
        """Append the events of one write as :meth:`WriteRecord.drafts` made them.

        What a store calls on the write path: the events get their ids and positions here and
        are kept without ever being :class:`Event` objects. Returns the last position.
        """
        feed = self._tenants.get(tenant) or self._tenants.setdefault(tenant, _TenantFeed())
        type_index = self._type_indexes.get(resource_type)
        if type_index is None:
            type_index = self._type_index(resource_type)
        txn, iat = write.txn, write.iat
        events = feed.events
        first = position = feed.last
        for draft in drafts:
            position += 1
            events.append(retain(draft, None, txn, iat, position, type_index))
        feed.last = position
        if position == first:
            self._appended(feed, None)
        else:
            # What _appended does, its checks made here: once per write, and most writes
            # expire nothing.
            max_age = self.max_age
            if len(events) > self.max_events or (
                max_age is not None and retained_iat(events[0]) < iat - max_age
            ):
                self._expire(feed, iat)
            if feed.arrived is not None:
                feed.arrived.set()
                feed.arrived = None
        return position

    def _type_index(self, resource_type: ResourceType) -> int:
        index = self._type_indexes.get(resource_type)
        if index is None:
            index = self._type_indexes[resource_type] = len(self._types)
            self._types.append(resource_type)
        return index

    @staticmethod
    def _keep(feed: _TenantFeed, record: Retained) -> None:
        feed.events.append(record)
        feed.by_jti[retained_jti(record)] = retained_position(record)

    def _appended(self, feed: _TenantFeed, iat: datetime | None) -> None:
        # The write's own time stands for "now": no clock read on the write path.
        self._expire(feed, iat)
        if iat is not None and feed.arrived is not None:
            feed.arrived.set()
            feed.arrived = None

    async def read(self, tenant: str, *, after: int = 0, limit: int = 100) -> Sequence[Event]:
        feed = self._tenants.get(tenant)
        if feed is None or limit <= 0:
            return ()
        self._expire(feed)
        events = feed.events
        if not events or retained_position(events[-1]) <= after:
            return ()
        # Positions are contiguous in memory, so the first wanted event's index is computed.
        start = max(0, after - retained_position(events[0]) + 1)
        end = min(len(events), start + limit)
        recent = feed.recent
        read = []
        for index in range(start, end):
            record = events[index]
            position = retained_position(record)
            event = recent.get(position)
            if event is None:
                event = recent[position] = restore(record, tenant, self._types)
                if len(recent) > _RECENT:
                    del recent[next(iter(recent))]
            read.append(event)
        return tuple(read)

    async def wait(self, tenant: str, *, after: int, timeout: float) -> bool:
        feed = self._tenants.setdefault(tenant, _TenantFeed())
        if feed.last > after:
            return True
        if feed.arrived is None:
            feed.arrived = asyncio.Event()
        arrived = feed.arrived
        try:
            await asyncio.wait_for(arrived.wait(), timeout)
        except TimeoutError:
            return feed.last > after
        return feed.last > after

    async def positions(self, tenant: str, jtis: Iterable[str]) -> dict[str, int]:
        feed = self._tenants.get(tenant)
        if feed is None:
            return {}
        self._expire(feed)
        found: dict[str, int] = {}
        events = feed.events
        first = retained_position(events[0]) if events else 0
        for jti in jtis:
            position = feed.by_jti.get(jti)
            if position is None:
                # A recorded event's jti names its position: the record there confirms it.
                named = derived_position(jti)
                index = -1 if named is None else named - first
                if 0 <= index < len(events) and retained_jti(events[index]) == jti:
                    position = named
            if position is not None:
                found[jti] = position
        return found

    async def stats(self, tenant: str) -> FeedStats:
        feed = self._tenants.get(tenant)
        if feed is None:
            return FeedStats()
        self._expire(feed)
        first = retained_position(feed.events[0]) if feed.events else 0
        return FeedStats(first, feed.last, len(feed.events), feed.dropped)

    async def checkpoint(self, tenant: str, receiver: str) -> Checkpoint:
        feed = self._tenants.get(tenant)
        if feed is None:
            return Checkpoint()
        return feed.checkpoints.get(receiver, Checkpoint())

    async def save_checkpoint(
        self, tenant: str, receiver: str, checkpoint: Checkpoint, *, expected: int
    ) -> bool:
        feed = self._tenants.setdefault(tenant, _TenantFeed())
        current = feed.checkpoints.get(receiver, Checkpoint())
        if current.revision != expected:
            return False
        feed.checkpoints[receiver] = replace(checkpoint, revision=expected + 1)
        return True

    def _expire(self, feed: _TenantFeed, now: datetime | None = None) -> None:
        events = feed.events
        while len(events) > self.max_events:
            self._drop(feed)
        if self.max_age is not None and events:
            oldest = (self._clock() if now is None else now) - self.max_age
            while events and retained_iat(events[0]) < oldest:
                self._drop(feed)

    @staticmethod
    def _drop(feed: _TenantFeed) -> None:
        gone = feed.events.popleft()
        given = retained_jti_given(gone)
        if given is not None:
            feed.by_jti.pop(given, None)
        feed.dropped += 1
