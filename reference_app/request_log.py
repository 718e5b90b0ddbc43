"""The per-tenant SCIM request log behind the console's Activity page.

A :class:`RequestRecord` is one request as the admin may see it: never a header (so never the
``Authorization`` header), bodies already redacted and cut to :data:`BODY_LIMIT`.
:class:`MemoryRequestLog` keeps the newest :data:`MEMORY_CAPACITY` records per tenant;
:class:`MongoRequestLog` keeps them in one collection that a TTL index empties after
:data:`RETENTION`. Record ids sort by time, so pages walk the ``(tenant, _id)`` index.
"""

from __future__ import annotations

import operator
import re
from collections import deque
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import unquote_plus, unquote_to_bytes

import orjson

from scimkit import ServiceUnavailable

if TYPE_CHECKING:
    from pymongo.asynchronous.collection import AsyncCollection

__all__ = [
    "BODY_LIMIT",
    "MEMORY_CAPACITY",
    "NAME_LATER",
    "REQUESTS_COLLECTION",
    "RESOURCE_LATER",
    "RETENTION",
    "LogCounts",
    "MemoryRequestLog",
    "MongoRequestLog",
    "RequestLog",
    "RequestQuery",
    "RequestRecord",
    "Row",
    "body_name",
    "duration_of",
    "filtered_name",
    "micros",
    "moment_of",
    "record_of",
    "resource_of",
    "row_of",
    "row_resource",
    "shown_body",
    "unshown",
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

The recorder builds a row per request, so several fields are kept in the form it already has
and made into the record's only when a page reads them: ``time`` is an ``int``, microseconds
since the epoch (an aware ``datetime`` costs more to make than the rest of the row); the query
may still be the bytes sent; ``duration_ms`` holds seconds (:func:`duration_of`); a body may
still be the bytes sent (within :data:`BODY_LIMIT`, already known to hold no secret: a request
body the service read as JSON, or the service's own response, shown only if it is UTF-8 JSON);
``resource_name`` may be :data:`NAME_LATER`; and ``resource_type`` may be
:data:`RESOURCE_LATER`, ``resource_id`` then holding the ``Location`` of a 201 (or ``None``).
"""
NAME_LATER = ...
"""A row's ``resource_name`` not read yet: a body kept as sent (the request's, or the response,
the service's own JSON, kept whole) or the query's ``eq`` filter gives it (:func:`row_name`).
Parsing bodies and decoding filters for names was a fifth to two fifths of the recorder's work
per request."""
RESOURCE_LATER = NotImplemented
"""A row's ``resource_type`` (and ``resource_id``) not read yet from its path and ``Location``
(:func:`row_resource`). A singleton, as :data:`NAME_LATER` is, so that a row stays plain data
the garbage collector stops tracking."""
_NAME_FILTER = re.compile(
    # The quoted value as an unrolled loop (runs of plain characters between escapes), not
    # one alternation per character: a third of the work on Entra's lookups.
    r'\s*(?:userName|displayName)\s+eq\s+"([^"\\]*(?:\\.[^"\\]*)*)"\s*$',
    re.I,
)


def body_name(body: Any) -> str | None:
    """The ``userName`` or ``displayName`` a parsed body gives at its top level."""
    if isinstance(body, dict):
        for key in ("userName", "displayName"):
            value = body.get(key)
            if isinstance(value, str) and value:
                return value
    return None


def filtered_name(query: str) -> str | None:
    """The name an ``eq`` lookup asks for: ``filter=userName eq "x"`` (form-encoded)."""
    # Quotes raw or %22. One split, not parse_qs: this runs for every logged GET.
    for part in query.split("&"):
        if part.startswith("filter="):
            value = part[7:]
            # unquote_plus, without its split into ASCII runs when there is only one.
            if value.isascii():
                value = unquote_to_bytes(value.replace("+", " ")).decode("utf-8", "replace")
            else:
                value = unquote_plus(value)
            match = _NAME_FILTER.match(value)
            if match:
                return match.group(1).replace('\\"', '"')
    return None


def row_name(row: Row) -> str | None:
    """A row's ``resource_name``, read now if it was left for later."""
    name = row[_NAME]
    if name is not NAME_LATER:
        return name  # type: ignore[no-any-return]
    # The request's body names it, else the response (a list's, from a GET on an endpoint,
    # never does at its top level), else the lookup's filter.
    listing = row[_METHOD] == "GET" and sum(1 for s in row[_PATH].split("/") if s) == 1
    for body in (row[_REQUEST], None if listing else row[_RESPONSE]):
        if body:
            try:
                name = body_name(orjson.loads(body))
            except orjson.JSONDecodeError:
                continue
            if name is not None:
                return name
    query = row[_QUERY]
    if isinstance(query, bytes):
        query = query.decode("latin-1")
    return filtered_name(query) if query else None


def resource_of(path: str, location: bytes | None) -> tuple[str | None, str | None]:
    """The resource type and id a request names.

    They are its path's first two segments (an id never starts with a dot: ``/Users/.search``),
    else the id ends the ``Location`` of what it created.
    """
    segments = path[1:].split("/")
    if "" in segments:  # ``/Users/`` or ``//Users``: as if the empty segments were not there
        segments = [s for s in segments if s]
    resource_id = segments[1] if len(segments) > 1 and not segments[1].startswith(".") else None
    if resource_id is None and location is not None:
        resource_id = location.decode("latin-1").rstrip("/").rpartition("/")[2]
    return (segments[0] if segments else None), resource_id


def row_resource(row: Row) -> tuple[str | None, str | None]:
    """A row's ``resource_type`` and ``resource_id``, read now if they were left for later."""
    if row[_TYPE] is RESOURCE_LATER:
        return resource_of(row[_PATH], row[_RESOURCE_ID])
    return row[_TYPE], row[_RESOURCE_ID]


def duration_of(seconds: float) -> float:
    """A row's duration (seconds) as the record's ``duration_ms``: to the microsecond."""
    return round(seconds * 1000, 3)


def shown_body(body: bytes) -> str:
    """A body kept as sent, as the Activity page shows it: only UTF-8 JSON text is."""
    text = None
    shape = body.strip()  # the body itself when nothing is stripped: no copy
    if shape[:1] in _OPENERS and shape[-1:] in _CLOSERS:
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            pass
    if text is None:
        return unshown(body)
    return text


def unshown(body: bytes) -> str:
    """What is shown of a body that is not JSON (or was cut at the limit): only its size."""
    return f"[{len(body)} bytes, not shown: not JSON or longer than {BODY_LIMIT} bytes]"


_OPENERS = (b"{", b"[")
_CLOSERS = (b"}", b"]")


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
_PATH, _QUERY, _DURATION, _REQUEST, _RESPONSE = (
    _FIELDS.index(name)
    for name in ("path", "query", "duration_ms", "request_body", "response_body")
)
_row = operator.attrgetter(*_FIELDS)
"""A record as a plain tuple of its fields, in field order."""


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def micros(moment: datetime) -> int:
    """An aware ``datetime`` as a row keeps it: microseconds since the epoch."""
    return (moment - _EPOCH) // _MICROSECOND


def moment_of(micros: int) -> datetime:
    """The aware ``datetime`` of a row's ``time``."""
    return _EPOCH + timedelta(microseconds=micros)


def row_of(record: RequestRecord) -> Row:
    """The row of a record."""
    row = list(_row(record))
    row[_TIME] = micros(record.time)
    row[_DURATION] = record.duration_ms / 1000
    return tuple(row)


def record_of(row: Row) -> RequestRecord:
    """The record a row is: every field left for later read now (see :data:`Row`)."""
    fields = list(row)
    fields[_TIME] = moment_of(row[_TIME])
    fields[_DURATION] = duration_of(row[_DURATION])
    fields[_NAME] = row_name(row)
    fields[_TYPE], fields[_RESOURCE_ID] = row_resource(row)
    if isinstance(fields[_QUERY], bytes):
        fields[_QUERY] = fields[_QUERY].decode("latin-1")
    for i in _BODIES:
        if isinstance(fields[i], bytes):
            fields[i] = shown_body(fields[i])
    return RequestRecord(*fields)


_PLAIN_NAME = re.compile(rb"[ -!#-.0-[\]-~]*")
"""ASCII without what JSON escapes (or may: ``/``): such a name stands verbatim in its text."""


def _may_name(row: Row, plain: bytes | None) -> bool:
    r"""False only if the name of ``row`` (left for later) surely does not casefold to ``plain``.

    ``plain`` is the casefolded name asked for, if it matches :data:`_PLAIN_NAME`. Without a
    query, the name is a body's (or none). An ASCII body without ``\u`` escapes holds only
    ASCII names, each as it stands in the text; one that casefolds to ``plain`` lowers to it
    (``ſ`` casefolds to ``s``, which is why non-ASCII bodies are read), so it is then in the
    lowered body. Anything else is read.
    """
    if plain is None or row[_QUERY]:
        return True
    for body in (row[_REQUEST], row[_RESPONSE]):
        if body is None:
            continue
        if not isinstance(body, bytes) or not body.isascii() or body.find(b"\\u") != -1:
            return True
        if body.lower().find(plain) != -1:
            return True
    return False


class MemoryRequestLog:
    """The newest ``capacity`` records of each tenant, in the process.

    Records are kept as plain tuples of their fields (strings, bytes, numbers and ``None``: a
    :data:`Row`), which the garbage collector stops tracking at its first pass. Kept as
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
        await self.append_rows([row_of(record) for record in records])

    async def append_rows(self, rows: Sequence[Row]) -> None:
        tenants = self._tenants
        for row in rows:
            log = tenants.get(row[_TENANT])
            if log is None:
                log = tenants[row[_TENANT]] = deque(maxlen=self.capacity)
            log.append(row)

    async def find(self, tenant: str, query: RequestQuery) -> list[RequestRecord]:
        found: list[RequestRecord] = []
        # Times are compared as the rows keep them, in microseconds.
        since = None if query.since is None else micros(query.since)
        until = None if query.until is None else micros(query.until)
        accepts = replace(query, since=None, until=None).accepts
        # A name left for later is read only when the query asks for one (a user's page), and
        # not when the response plainly does not hold it: a row's name cannot match then.
        wanted = query.resource_name
        folded = None if wanted is None else wanted.casefold().encode()
        plain = folded if folded is not None and _PLAIN_NAME.fullmatch(folded) else None
        wanted_id = query.resource_id
        wanted_location = None if wanted_id is None else wanted_id.encode()
        for row in reversed(self._tenants.get(tenant, ())):
            moment = row[_TIME]
            if (since is not None and moment < since) or (until is not None and moment > until):
                continue
            name = row[_NAME]
            if name is NAME_LATER:
                name = row_name(row) if folded is not None and _may_name(row, plain) else None
            resource_type, resource_id = row[_TYPE], row[_RESOURCE_ID]
            if resource_type is RESOURCE_LATER:
                # Read only when the query asks for a resource (the list alone does not), and
                # for an id only when the path or Location holds it: a row's id is part of one.
                if query.resource_type is not None or (
                    wanted_id is not None
                    and (
                        wanted_id in row[_PATH]
                        or (resource_id is not None and wanted_location in resource_id)
                    )
                ):
                    resource_type, resource_id = row_resource(row)
                else:
                    resource_type = resource_id = None
            if accepts(
                row[_ID],
                _EPOCH,
                row[_METHOD],
                row[_STATUS],
                resource_type,
                resource_id,
                name,
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
        start = micros(since)
        for row in reversed(self._tenants.get(tenant, ())):
            moment = row[_TIME]
            if len(newest) < times:
                newest.append(moment_of(moment))
            if moment < start:
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
        await self.append_rows([row_of(record) for record in records])

    async def append_rows(self, rows: Sequence[Row]) -> None:
        documents = []
        for row in rows:
            document = asdict(record_of(row))
            document["_id"] = document.pop("id")
            name = document["resource_name"]
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
