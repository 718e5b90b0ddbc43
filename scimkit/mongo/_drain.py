"""The drainer: moves outbox entries into the events collection, off the request path.

A writer wakes the drainer (:meth:`OutboxDrainer.wake`) after its write is acknowledged; the
drainer's own task does the rest, so recording events adds no database round trip to a SCIM
request. A periodic sweep finds what a writer that died left behind (outboxes and tombstones,
on partial indexes).

Per tenant, at most one drainer writes at a time: it holds the tenant's **lease** (a document
with a holder and an expiry in ``<prefix>event_tenants``), so two processes on one database
write one ordered feed, and a holder that died loses the lease when it expires. Under the lease
a drain pass reads the pending outbox entries, orders them (each document's in array order,
which is version order; across documents by time and then by index within the write), takes
positions with one ``$inc`` of the tenant's counter (refused unless this drainer still holds
the lease), inserts the events and ``$pull``s them from the outboxes by ``jti``. A crash
between insert and pull is harmless: the next pass's insert of the same ``jti`` is refused by
the unique index and its position stays a gap. Positions are written in increasing order by
one writer at a time, so a reader never sees a position appear below one it has read (unless
a holder stalls for longer than the lease between taking positions and writing them; see
``docs/events.md``).
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import ReturnDocument, UpdateOne
from pymongo.errors import BulkWriteError, DuplicateKeyError, PyMongoError

from scimkit._meta import utc_now
from scimkit.mongo._feed import MongoFeed
from scimkit.mongo._indexes import only_duplicate_keys
from scimkit.mongo._outbox import OUTBOX, TOMBSTONE

__all__ = ["OutboxDrainer"]

logger = logging.getLogger("scimkit.mongo.events")

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_LEASE_RETRY = 0.05
"""Seconds before a drainer that found the lease held tries again (the holder may be done)."""

FinishDelete = Callable[[str, Mapping[str, Any]], Awaitable[None]]


class OutboxDrainer:
    """Moves the outboxes of ``resources`` into ``feed``, one tenant lease at a time.

    ``finish_delete(tenant, tombstone)`` completes a delete whose writer may have died (the
    store's cascade, idempotent). ``lease`` is how long a holder keeps a tenant without
    renewing; ``sweep_interval`` how often pending work of dead writers is looked for;
    ``tombstone_grace`` how old a tombstone whose cascade is unfinished must be before the
    drainer finishes it (longer than a request can take, so it never races a live writer).
    """

    def __init__(
        self,
        resources: Any,
        feed: MongoFeed,
        finish_delete: FinishDelete,
        *,
        lease: timedelta = timedelta(seconds=30),
        sweep_interval: float = 5.0,
        tombstone_grace: timedelta = timedelta(seconds=30),
        batch: int = 500,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.resources = resources
        self.feed = feed
        self.lease = lease
        self.sweep_interval = sweep_interval
        self.tombstone_grace = tombstone_grace
        self.batch = batch
        self.holder = uuid.uuid4().hex
        self._finish_delete = finish_delete
        self._clock = clock
        self._dirty: set[str] = set()
        self._woken: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._closed = False
        self._leases: set[str] = set()
        self._lock: asyncio.Lock | None = None

    # -- the background task ------------------------------------------------------------------

    def wake(self, tenant: str) -> None:
        """Have the task drain ``tenant`` soon (a writer recorded events); starts the task."""
        self._dirty.add(tenant)
        self.start()
        if self._woken is not None:
            self._woken.set()

    def start(self) -> None:
        """Start the background task (in the running loop) unless it runs or was closed."""
        if self._closed or (self._task is not None and not self._task.done()):
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        self._woken = asyncio.Event()
        self._woken.set()  # the first pass sweeps: a restart finds what was left
        # A fresh context: the task is often started inside a store call, whose driver
        # deadline (pymongo.timeout, a context variable) must not bound the task's whole life.
        self._task = loop.create_task(
            self._run(), name="scimkit-outbox-drainer", context=contextvars.Context()
        )

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def close(self, *, timeout: float = 10.0) -> None:
        """Stop the task and hand back the leases this drainer holds. Idempotent.

        The task finishes the pass it is in (cancelling it inside a driver call would drop
        that connection); after ``timeout`` seconds it is cancelled.
        """
        self._closed = True
        task, self._task = self._task, None
        if task is not None:
            if self._woken is not None:
                self._woken.set()
            done, _ = await asyncio.wait({task}, timeout=timeout)
            if not done:
                task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass
        for tenant in list(self._leases):
            try:
                await self._release(tenant)
            except PyMongoError:
                pass

    async def _run(self) -> None:
        assert self._woken is not None
        woken = self._woken
        loop = asyncio.get_running_loop()
        next_sweep = loop.time()
        while not self._closed:
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for can lose a cancellation
            # that arrives as the wait ends, and close() would wait for this task forever.
            try:
                async with asyncio.timeout(max(0.0, next_sweep - loop.time())):
                    await woken.wait()
            except TimeoutError:
                pass
            if self._closed:
                return
            woken.clear()
            tenants, self._dirty = self._dirty, set()
            sweeping = loop.time() >= next_sweep
            try:
                if sweeping:
                    tenants |= await self.pending_tenants()
                    next_sweep = loop.time() + self.sweep_interval
                for tenant in sorted(tenants):
                    if not await self.drain(tenant, expire=sweeping):
                        # Another drainer holds the lease: look again soon, it may be done.
                        self._dirty.add(tenant)
                        loop.call_later(_LEASE_RETRY, woken.set)
            except asyncio.CancelledError:
                raise
            except Exception:
                # A stopped database must not end the task: retry on the next sweep.
                logger.exception("Draining event outboxes failed; retrying")
                self._dirty |= tenants
                next_sweep = loop.time() + min(self.sweep_interval, 1.0)

    async def pending_tenants(self) -> set[str]:
        """Tenants with outbox entries or tombstones (on the partial indexes)."""
        found: set[str] = set()
        for field in (OUTBOX, TOMBSTONE):
            found.update(await self.resources.distinct("t", {field: {"$exists": True}}))
        return found

    # -- one tenant ---------------------------------------------------------------------------

    async def drain(self, tenant: str, *, expire: bool = False) -> bool:
        """Drain ``tenant`` under its lease; false when another drainer holds the lease."""
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if not await self._acquire(tenant):
                return False
            try:
                while True:
                    while await self._drain_batch(tenant):
                        pass
                    if not await self._finish_tombstones(tenant):
                        break
                if expire:
                    await self.feed.expire(tenant)
            finally:
                await self._release(tenant)
            return True

    async def drain_all(self) -> None:
        """Drain every tenant with pending work now (tests, and a process that starts up)."""
        for tenant in sorted(await self.pending_tenants()):
            await self.drain(tenant)

    async def _acquire(self, tenant: str) -> bool:
        now = self._clock()
        try:
            await self.feed.tenants.update_one(
                {
                    "_id": tenant,
                    "$or": [
                        {"holder": self.holder},
                        {"until": {"$lt": now}},
                        {"until": {"$exists": False}},
                    ],
                },
                {"$set": {"holder": self.holder, "until": now + self.lease}},
                upsert=True,
            )
        except DuplicateKeyError:
            return False  # held by another drainer: the upsert's insert met its document
        self._leases.add(tenant)
        return True

    async def _release(self, tenant: str) -> None:
        self._leases.discard(tenant)
        await self.feed.tenants.update_one(
            {"_id": tenant, "holder": self.holder}, {"$set": {"until": _EPOCH}}
        )

    async def _drain_batch(self, tenant: str) -> bool:
        """Move one batch of the tenant's outbox entries into the feed; false when none."""
        documents = (
            await self.resources.find(
                {"t": tenant, OUTBOX: {"$exists": True}}, {"_id": 1, OUTBOX: 1}
            )
            .limit(self.batch)
            .to_list()
        )
        if not documents:
            return False
        entries = _ordered(documents, self.batch)
        if not entries:
            # Emptied outboxes whose removal was cut short (a crash between the two updates).
            await self.resources.bulk_write(
                [
                    UpdateOne({"_id": d["_id"], OUTBOX: {"$size": 0}}, {"$unset": {OUTBOX: ""}})
                    for d in documents
                ]
            )
            return True
        counters = await self.feed.tenants.find_one_and_update(
            {"_id": tenant, "holder": self.holder},
            {"$inc": {"next": len(entries)}, "$set": {"until": self._clock() + self.lease}},
            return_document=ReturnDocument.AFTER,
        )
        if counters is None:
            raise RuntimeError(f"lost the drain lease of tenant {tenant!r}")
        first = int(counters["next"]) - len(entries) + 1
        records = []
        for offset, (_, entry) in enumerate(entries):
            record = {key: value for key, value in entry.items() if key != "i"}
            if record.get("externalId") is None:
                record.pop("externalId", None)
            record["tenant"] = tenant
            record["position"] = first + offset
            records.append(record)
        written = await self._insert(records)
        if written:
            await self.feed.tenants.update_one(
                {"_id": tenant},
                {"$inc": {"written": len(written)}, "$max": {"last": max(written)}},
            )
            self.feed.notify(tenant)
        pulls: dict[Any, list[str]] = {}
        for document_id, entry in entries:
            pulls.setdefault(document_id, []).append(entry["jti"])
        operations: list[Any] = []
        for document_id, jtis in pulls.items():
            operations.append(
                UpdateOne({"_id": document_id}, {"$pull": {OUTBOX: {"jti": {"$in": jtis}}}})
            )
            operations.append(
                UpdateOne({"_id": document_id, OUTBOX: {"$size": 0}}, {"$unset": {OUTBOX: ""}})
            )
        await self.resources.bulk_write(operations, ordered=True)
        return True

    async def _insert(self, records: list[dict[str, Any]]) -> list[int]:
        """Insert the events; the positions written (a jti already in the feed is skipped)."""
        try:
            await self.feed.events.insert_many(records, ordered=False)
        except BulkWriteError as exc:
            if not only_duplicate_keys(exc):
                raise
            failed = {int(error["index"]) for error in (exc.details or {}).get("writeErrors", ())}
            return [r["position"] for i, r in enumerate(records) if i not in failed]
        return [record["position"] for record in records]

    async def _finish_tombstones(self, tenant: str) -> bool:
        """Finish and remove drained tombstones; true if that pushed new outbox entries."""
        tombstones = (
            await self.resources.find(
                {"t": tenant, TOMBSTONE: {"$exists": True}},
                {
                    "_id": 1,
                    "t": 1,
                    "rt": 1,
                    "a.id": 1,
                    TOMBSTONE: 1,
                    "_left": 1,
                    "_txn": 1,
                    "_iat": 1,
                    OUTBOX: 1,
                },
            )
            .limit(self.batch)
            .to_list()
        )
        pushed = False
        cutoff = self._clock() - self.tombstone_grace
        for tombstone in tombstones:
            if tombstone.get(OUTBOX):
                continue  # drained first, then removed
            unfinished = "_left" in tombstone
            if unfinished and _aware(tombstone[TOMBSTONE]) > cutoff:
                continue  # its writer may still be finishing the cascade
            await self._finish_delete(tenant, tombstone)
            pushed = pushed or unfinished
            await self.resources.delete_one(
                {
                    "_id": tombstone["_id"],
                    "_left": {"$exists": False},
                    "$or": [{OUTBOX: {"$exists": False}}, {OUTBOX: {"$size": 0}}],
                }
            )
        return pushed


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _ordered(documents: Sequence[Mapping[str, Any]], limit: int) -> list[tuple[Any, Any]]:
    """The documents' outbox entries in feed order, at most ``limit``.

    Each document's entries keep their array order (the order its writes happened); among the
    documents' next entries the earliest write goes first, and within one write (a delete and
    the groups' member removals, in several documents) the lower index.
    """
    queues = [(document["_id"], list(document.get(OUTBOX) or ())) for document in documents]
    heads = [0] * len(queues)
    ordered: list[tuple[Any, Any]] = []
    while len(ordered) < limit:
        best = None
        for q, (_, entries) in enumerate(queues):
            if heads[q] < len(entries):
                entry = entries[heads[q]]
                key = (entry["iat"], entry.get("txn", ""), entry.get("i", 0))
                if best is None or key < best[0]:
                    best = (key, q)
        if best is None:
            break
        q = best[1]
        ordered.append((queues[q][0], queues[q][1][heads[q]]))
        heads[q] += 1
    return ordered
