"""The per-tenant SCIM request log behind the console's Activity page.

A :class:`RequestRecord` is one request as the admin may see it: never a header (so never the
``Authorization`` header), bodies already redacted and cut to :data:`BODY_LIMIT`.
:class:`MemoryRequestLog` keeps the newest :data:`MEMORY_CAPACITY` records per tenant;
:class:`MongoRequestLog` keeps them in one collection that a TTL index empties after
:data:`RETENTION`. Record ids sort by time, so pages walk the ``(tenant, _id)`` index.
"""

from __future__ import annotations

import operator
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from scimkit import ServiceUnavailable

if TYPE_CHECKING:
    from pymongo.asynchronous.collection import AsyncCollection

__all__ = [
    "BODY_LIMIT",
    "MEMORY_CAPACITY",
    "REQUESTS_COLLECTION",
    "RETENTION",
    "LogCounts",
    "MemoryRequestLog",
    "MongoRequestLog",
    "RequestLog",
    "RequestQuery",
    "RequestRecord",
    "Row",
    "record_of",
]

BODY_LIMIT = 16 * 1024
"""Characters of a request or response body kept (the rest is cut, and says so)."""
MEMORY_CAPACITY = 10_000
"""Records kept per tenant by the embedded store (the oldest go first)."""
RETENTION = timedelta(days=14)
"""How long MongoDB keeps a record."""
REQUESTS_COLLECTION = "request_log"


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """One SCIM request of a tenant. ``path`` is below the Tenant URL (``/Users/2819c…``)."""

    id: str
    tenant: str
    time: datetime
    method: str
    path: str
    query: str
    status: int
    duration_ms: float
    resource_type: str | None = None
    """The endpoint's first segment: ``Users``, ``Groups``, ``Bulk``…"""
    resource_id: str | None = None
    resource_name: str | None = None
    """The ``userName`` or ``displayName`` the request names (body, response or ``eq`` filter)."""
    scim_type: str | None = None
    detail: str | None = None
    request_body: str | None = None
    response_body: str | None = None

    @property
    def failed(self) -> bool:
        return self.status >= 400


@dataclass(frozen=True, slots=True)
class RequestQuery:
    """Which records to list: newest first, ``limit`` of them, older than ``before`` (an id)."""

    errors_only: bool = False
    method: str | None = None
    resource_type: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    resource_id: str | None = None
    resource_name: str | None = None
    """With ``resource_id``: records naming either (a user's page)."""
    before: str | None = None
    limit: int = 50

    def matches(self, record: RequestRecord) -> bool:
        return self.accepts(
            record.id,
            record.time,
            record.method,
            record.status,
            record.resource_type,
            record.resource_id,
            record.resource_name,
        )

    def accepts(
        self,
        id: str,
        time: datetime,
        method: str,
        status: int,
        resource_type: str | None,
        resource_id: str | None,
        resource_name: str | None,
    ) -> bool:
        """:meth:`matches` on a record's fields (the embedded log keeps rows, not records)."""
        if self.errors_only and status < 400:
            return False
        if self.method is not None and method != self.method:
            return False
        if self.resource_type is not None and resource_type != self.resource_type:
            return False
        if self.since is not None and time < self.since:
            return False
        if self.until is not None and time > self.until:
            return False
        if self.before is not None and id >= self.before:
            return False
        if self.resource_id is None and self.resource_name is None:
            return True
        if self.resource_id is not None and resource_id == self.resource_id:
            return True
        wanted = self.resource_name
        return (
            wanted is not None
            and resource_name is not None
            and resource_name.casefold() == wanted.casefold()
        )


@dataclass(frozen=True, slots=True)
class LogCounts:
    """Requests and failed requests since a moment, and the newest request times."""

    total: int
    failed: int
    times: Sequence[datetime]
    """Newest first; at most the number asked for."""


Row = tuple[Any, ...]
"""A record as a plain tuple of its fields, in field order (:func:`record_of` makes it one).

A body may still be the bytes sent (valid UTF-8 JSON, within :data:`BODY_LIMIT`, already known
to hold no secret): the recorder keeps them as they are, and they are decoded only when read."""


class RequestLog(Protocol):
    async def append(self, records: Sequence[RequestRecord]) -> None: ...

    async def append_rows(self, rows: Sequence[Row]) -> None:
        """:meth:`append` of the records these rows are (the recorder builds rows, not records)."""
        ...

    async def find(self, tenant: str, query: RequestQuery) -> list[RequestRecord]: ...

    async def get(self, tenant: str, id: str) -> RequestRecord | None: ...

    async def counts(self, tenant: str, since: datetime, times: int) -> LogCounts: ...


_FIELDS = tuple(f.name for f in fields(RequestRecord))
_ID, _TENANT, _TIME, _METHOD, _STATUS = (
    _FIELDS.index(name) for name in ("id", "tenant", "time", "method", "status")
)
_TYPE, _RESOURCE_ID, _NAME = (
    _FIELDS.index(name) for name in ("resource_type", "resource_id", "resource_name")
)
_BODIES = (_FIELDS.index("request_body"), _FIELDS.index("response_body"))
_row = operator.attrgetter(*_FIELDS)
"""A record as a plain tuple of its fields, in field order."""


def record_of(row: Row) -> RequestRecord:
    """The record a row is, its bodies decoded."""
    if any(isinstance(row[i], bytes) for i in _BODIES):
        row = _decoded(row)
    return RequestRecord(*row)


def _decoded(row: Row) -> Row:
    fields = list(row)
    for i in _BODIES:
        if isinstance(fields[i], bytes):
            fields[i] = fields[i].decode("utf-8")
    return tuple(fields)


class MemoryRequestLog:
    """The newest ``capacity`` records of each tenant, in the process.

    Records are kept as plain tuples of their fields (strings, numbers, ``None`` and an aware
    ``datetime``), which the garbage collector stops tracking at its first pass. Kept as
    objects, every full collection visited each record and every string it holds: with 3 000
    records that was 12 % more instructions per full collection (3 % as tuples), and with full
    collections switched off the log's cost per POST over HTTP fell from +25 % to +6 %
    (``benchmarks/README.md``). The recorder hands over rows (:meth:`append_rows`), and a
    page's records are rebuilt from the rows it shows.
    """

    def __init__(self, capacity: int = MEMORY_CAPACITY) -> None:
        self.capacity = capacity
        self._tenants: dict[str, deque[tuple[Any, ...]]] = {}

    async def append(self, records: Sequence[RequestRecord]) -> None:
        await self.append_rows([_row(record) for record in records])

    async def append_rows(self, rows: Sequence[Row]) -> None:
        tenants = self._tenants
        for row in rows:
            log = tenants.get(row[_TENANT])
            if log is None:
                log = tenants[row[_TENANT]] = deque(maxlen=self.capacity)
            log.append(row)

    async def find(self, tenant: str, query: RequestQuery) -> list[RequestRecord]:
        found: list[RequestRecord] = []
        accepts = query.accepts
        for row in reversed(self._tenants.get(tenant, ())):
            if accepts(
                row[_ID],
                row[_TIME],
                row[_METHOD],
                row[_STATUS],
                row[_TYPE],
                row[_RESOURCE_ID],
                row[_NAME],
            ):
                found.append(record_of(row))
                if len(found) >= query.limit:
                    break
        return found

    async def get(self, tenant: str, id: str) -> RequestRecord | None:
        row = next((r for r in self._tenants.get(tenant, ()) if r[_ID] == id), None)
        return None if row is None else record_of(row)

    async def counts(self, tenant: str, since: datetime, times: int) -> LogCounts:
        total = failed = 0
        newest: list[datetime] = []
        for row in reversed(self._tenants.get(tenant, ())):
            moment = row[_TIME]
            if len(newest) < times:
                newest.append(moment)
            if moment < since:
                if len(newest) >= times:
                    break
                continue
            total += 1
            failed += row[_STATUS] >= 400
        return LogCounts(total, failed, newest)


class MongoRequestLog:
    """Records in one collection: ``{_id: record id, tenant, time, …}``, TTL on ``time``."""

    def __init__(self, collection: AsyncCollection[dict[str, Any]]) -> None:
        self._collection = collection

    async def ensure_indexes(self) -> None:
        await self._collection.create_index(
            [("time", 1)], expireAfterSeconds=int(RETENTION.total_seconds())
        )
        await self._collection.create_index([("tenant", 1), ("_id", -1)])
        await self._collection.create_index([("tenant", 1), ("resource_id", 1), ("_id", -1)])
        await self._collection.create_index([("tenant", 1), ("resource_name", 1), ("_id", -1)])
        # The console's 24-hour counts (all and failed) on a busy shared collection: a range
        # of one tenant's times, the status read from the index.
        await self._collection.create_index([("tenant", 1), ("time", 1), ("status", 1)])

    async def append(self, records: Sequence[RequestRecord]) -> None:
        await self.append_rows([_row(record) for record in records])

    async def append_rows(self, rows: Sequence[Row]) -> None:
        documents = []
        for row in rows:
            document = dict(zip(_FIELDS, _decoded(row), strict=True))
            document["_id"] = document.pop("id")
            name = row[_NAME]
            if name is not None:
                document["resource_name"] = name.casefold()
                document["display_name"] = name
            documents.append(document)
        if documents:
            await self._collection.insert_many(documents, ordered=False)

    async def find(self, tenant: str, query: RequestQuery) -> list[RequestRecord]:
        selector: dict[str, Any] = {"tenant": tenant}
        if query.errors_only:
            selector["status"] = {"$gte": 400}
        if query.method is not None:
            selector["method"] = query.method
        if query.resource_type is not None:
            selector["resource_type"] = query.resource_type
        moment: dict[str, Any] = {}
        if query.since is not None:
            moment["$gte"] = query.since
        if query.until is not None:
            moment["$lte"] = query.until
        if moment:
            selector["time"] = moment
        if query.before is not None:
            selector["_id"] = {"$lt": query.before}
        either = []
        if query.resource_id is not None:
            either.append({"resource_id": query.resource_id})
        if query.resource_name is not None:
            either.append({"resource_name": query.resource_name.casefold()})
        if either:
            selector["$or"] = either
        cursor = self._collection.find(selector).sort("_id", -1).limit(query.limit)
        return [_record(document) async for document in _guarded(cursor)]

    async def get(self, tenant: str, id: str) -> RequestRecord | None:
        document = await self._collection.find_one({"_id": id, "tenant": tenant})
        return None if document is None else _record(document)

    async def counts(self, tenant: str, since: datetime, times: int) -> LogCounts:
        recent = {"tenant": tenant, "time": {"$gte": since}}
        total = await self._collection.count_documents(recent)
        failed = await self._collection.count_documents({**recent, "status": {"$gte": 400}})
        cursor = self._collection.find({"tenant": tenant}, {"time": 1}).sort("_id", -1).limit(times)
        newest = [_aware(document["time"]) async for document in _guarded(cursor)]
        return LogCounts(total, failed, newest)


async def _guarded(cursor: Any) -> Any:
    from pymongo.errors import PyMongoError

    try:
        async for document in cursor:
            yield document
    except PyMongoError as exc:
        raise ServiceUnavailable() from exc


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _record(document: dict[str, Any]) -> RequestRecord:
    values: dict[str, Any] = {name: document.get(name) for name in _FIELDS if name != "id"}
    values["time"] = _aware(document["time"])
    values["resource_name"] = document.get("display_name")
    return RequestRecord(id=str(document["_id"]), **values)
