"""MongoFeed: the :class:`~scimkit.EventFeed` on MongoDB, read from the events collection.

Three collections (``<prefix>`` as the store's):

- ``<prefix>events``: one document per event, its :meth:`Event.to_json` with ``position``;
  a unique index on ``(tenant, position)`` (the order readers checkpoint on), a unique index on
  ``jti`` (a second drain of one event is refused, so draining is idempotent) and a TTL index
  on ``iat`` (retention, as a backstop to the drainer's own expiry, which counts what it drops).
- ``<prefix>event_tenants``: per tenant the position counter (``next``), the drain lease
  (``holder``, ``until``), the highest position written (``last``) and how many events were
  written (``written``, so ``dropped`` is what retention removed).
- ``<prefix>event_checkpoints``: per (tenant, receiver) the checkpoint, compare-and-set on its
  revision, so settled state survives a restart.

Only the drainer (``_drain``) writes events; this module reads them.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Callable, Coroutine, Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any, Concatenate, ParamSpec, TypeVar

from pymongo.errors import DuplicateKeyError, PyMongoError

from scimkit._errors import ServiceUnavailable
from scimkit._event import Event
from scimkit._feed import Checkpoint, FeedStats
from scimkit._meta import utc_now
from scimkit.mongo._indexes import IndexSpec
from scimkit.mongo._outbox import entry_event

__all__ = ["MongoFeed", "checkpoint_indexes", "event_indexes"]


_P = ParamSpec("_P")
_T = TypeVar("_T")


def _answers_unavailable(
    method: Callable[Concatenate[MongoFeed, _P], Coroutine[Any, Any, _T]],
) -> Callable[Concatenate[MongoFeed, _P], Coroutine[Any, Any, _T]]:
    """A feed call whose database fails raises ``ServiceUnavailable`` (poll answers 503)."""

    @functools.wraps(method)
    async def guarded(feed: MongoFeed, /, *args: _P.args, **kwargs: _P.kwargs) -> _T:
        try:
            return await method(feed, *args, **kwargs)
        except PyMongoError as exc:
            raise ServiceUnavailable("The event feed is unavailable; retry later.") from exc

    return guarded


def event_indexes(retention: timedelta | None) -> tuple[IndexSpec, ...]:
    """The events collection's indexes: position order, unique jti, TTL on ``iat``."""
    specs = [
        IndexSpec("tenant_position", (("tenant", 1), ("position", 1)), unique=True),
        IndexSpec("jti", (("jti", 1),), unique=True),
    ]
    if retention is not None:
        specs.append(IndexSpec("iat_ttl", (("iat", 1),), ttl=int(retention.total_seconds())))
    return tuple(specs)


def checkpoint_indexes() -> tuple[IndexSpec, ...]:
    """The checkpoints collection's index: one checkpoint per (tenant, receiver)."""
    return (IndexSpec("t_r", (("t", 1), ("r", 1)), unique=True),)


class MongoFeed:
    """A tenant-scoped :class:`~scimkit.EventFeed` over MongoDB collections.

    ``retention`` is how long events are kept (``None``: forever). ``poll_interval`` bounds how
    long :meth:`wait` takes to notice an event drained by another process; events drained in
    this process wake it at once. ``on_use`` is called before each read (the store starts its
    drainer with it, so a process that only reads still moves outboxes into the feed).
    """

    def __init__(
        self,
        events: Any,
        tenants: Any,
        checkpoints: Any,
        *,
        retention: timedelta | None = timedelta(days=30),
        poll_interval: float = 0.5,
        clock: Callable[[], datetime] = utc_now,
        on_use: Callable[[], None] | None = None,
    ) -> None:
        self.events = events
        self.tenants = tenants
        self.checkpoints = checkpoints
        self.retention = retention
        self.poll_interval = poll_interval
        self._clock = clock
        self._on_use = on_use
        self._arrived: dict[str, asyncio.Event] = {}

    def notify(self, tenant: str) -> None:
        """Wake the waits of ``tenant`` (the drainer wrote events)."""
        arrived = self._arrived.pop(tenant, None)
        if arrived is not None:
            arrived.set()

    def _used(self) -> None:
        if self._on_use is not None:
            self._on_use()

    def _retained(self, tenant: str) -> dict[str, Any]:
        query: dict[str, Any] = {"tenant": tenant}
        if self.retention is not None:
            query["iat"] = {"$gte": self._clock() - self.retention}
        return query

    @_answers_unavailable
    async def read(self, tenant: str, *, after: int = 0, limit: int = 100) -> Sequence[Event]:
        self._used()
        if limit <= 0:
            return ()
        query = self._retained(tenant) | {"position": {"$gt": after}}
        records = (
            await self.events.find(query, {"_id": 0}).sort("position", 1).limit(limit).to_list()
        )
        return tuple(entry_event(record, record["position"]) for record in records)

    async def _highest(self, tenant: str) -> int:
        record = await self.events.find_one(
            self._retained(tenant), {"_id": 0, "position": 1}, sort=[("position", -1)]
        )
        return int(record["position"]) if record is not None else 0

    @_answers_unavailable
    async def wait(self, tenant: str, *, after: int, timeout: float) -> bool:
        self._used()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            arrived = self._arrived.setdefault(tenant, asyncio.Event())
            if await self._highest(tenant) > after:
                return True
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            try:
                async with asyncio.timeout(min(remaining, self.poll_interval)):
                    await arrived.wait()
            except TimeoutError:
                pass

    @_answers_unavailable
    async def positions(self, tenant: str, jtis: Iterable[str]) -> dict[str, int]:
        self._used()
        wanted = sorted({jti for jti in jtis if isinstance(jti, str)})
        if not wanted:
            return {}
        records = await self.events.find(
            self._retained(tenant) | {"jti": {"$in": wanted}}, {"_id": 0, "jti": 1, "position": 1}
        ).to_list()
        return {record["jti"]: int(record["position"]) for record in records}

    @_answers_unavailable
    async def stats(self, tenant: str) -> FeedStats:
        self._used()
        query = self._retained(tenant)
        retained = await self.events.count_documents(query)
        first = await self.events.find_one(query, {"_id": 0, "position": 1}, sort=[("position", 1)])
        counters = await self.tenants.find_one({"_id": tenant}) or {}
        written = int(counters.get("written", 0))
        return FeedStats(
            first=int(first["position"]) if first is not None else 0,
            last=int(counters.get("last", 0)),
            retained=retained,
            dropped=max(0, written - retained),
        )

    @_answers_unavailable
    async def checkpoint(self, tenant: str, receiver: str) -> Checkpoint:
        record = await self.checkpoints.find_one({"t": tenant, "r": receiver})
        if record is None:
            return Checkpoint()
        return Checkpoint(
            int(record["position"]),
            frozenset(int(p) for p in record.get("settled", ())),
            int(record["revision"]),
        )

    @_answers_unavailable
    async def save_checkpoint(
        self, tenant: str, receiver: str, checkpoint: Checkpoint, *, expected: int
    ) -> bool:
        fields = {
            "position": checkpoint.position,
            "settled": sorted(checkpoint.settled),
            "revision": expected + 1,
        }
        try:
            # The first save inserts; a second first save loses on the unique (t, r) index.
            written = await self.checkpoints.update_one(
                {"t": tenant, "r": receiver, "revision": expected},
                {"$set": fields},
                upsert=expected == 0,
            )
        except DuplicateKeyError:
            return False
        return bool(written.matched_count or written.upserted_id is not None)

    @_answers_unavailable
    async def expire(self, tenant: str) -> int:
        """Remove the tenant's events older than the retention; how many went."""
        if self.retention is None:
            return 0
        removed = await self.events.delete_many(
            {"tenant": tenant, "iat": {"$lt": self._clock() - self.retention}}
        )
        return int(removed.deleted_count)
