"""Recording every SCIM request of a tenant for the console's Activity page.

The access-log middleware (:class:`~reference_app.access_log.AccessLog`, given ``keep``) only
keeps references to the response chunks it passes on while a SCIM request runs, and to the
request body scimkit read; after the response is sent it hands the raw request to
:meth:`ActivityRecorder.submit`, which queues it.
:class:`ActivityRecorder` drains that queue in a background task, in batches a short moment
apart: it scans the bodies for secret names, redacts those that hold one
(:mod:`reference_app.redaction`), and appends the records, as rows of their fields
(:func:`to_row`), to the tenant's :class:`~reference_app.request_log.RequestLog`. Bodies are
kept as compact JSON; a body without any secret name is kept as sent, without being
re-encoded. A body is parsed only when something must be read from it now: whether it is JSON
at all (not needed after a 2xx answer to a POST, PUT or PATCH, which the service gives only to
JSON), an error's scimType and detail, or a name the kept bodies cannot give later. Headers
are never read into a record, so the ``Authorization`` header cannot reach the log.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import secrets
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import orjson

from reference_app.redaction import Redactor
from reference_app.request_log import (
    BODY_LIMIT,
    NAME_LATER,
    RESOURCE_LATER,
    RequestLog,
    RequestRecord,
    Row,
    body_name,
    filtered_name,
    record_of,
    resource_of,
    shown_body,
    unshown,
)

__all__ = [
    "ActivityRecorder",
    "RawRequest",
    "new_record_id",
    "to_record",
    "to_row",
]

logger = logging.getLogger(__name__)

QUEUE_LIMIT = 10_000
"""Raw requests waiting to be recorded; past it new ones are dropped (and counted), not
waited for: the log never slows the SCIM answer down."""
BATCH = 500
DRAIN_DELAY = 0.02
"""Seconds requests gather before the recorder wakes: one wake-up per batch, not per request."""
_TENANT_CACHE_SECONDS = 60.0


def new_record_id(moment_ns: int, suffix: int | None = None) -> str:
    """An id that sorts by time (nanoseconds, hex), then by a suffix (random if not given).

    A recorder numbers its records from a random start: as unique across processes as random
    suffixes, without asking the OS for random bytes per record.
    """
    tail = secrets.token_hex(4) if suffix is None else f"{suffix & 0xFFFFFFFF:08x}"
    return f"{moment_ns:016x}{tail}"


RawRequest = tuple[int, float, str, str, bytes, int, bytes | None, bytes, bytes]
"""What the access log saw, before any parsing (done by the recorder, later): the start in
nanoseconds since the epoch, the duration in seconds, method, path, query string, status, the
``Location`` of a 201, the request body and the response body (both cut near
:data:`~reference_app.request_log.BODY_LIMIT`).

A plain tuple of strings, bytes and numbers, not an object: the garbage collector stops
tracking it at its first pass, so the requests waiting for the recorder never reach (and
never add to the work of) the old generation's collections."""


class ActivityRecorder:
    """Turns raw requests into redacted records off the request path, in batches."""

    def __init__(
        self,
        log: RequestLog,
        redactor: Redactor,
        tenant_exists: Callable[[str], Awaitable[bool]],
        *,
        prefix: str = "/scim/v2/",
    ) -> None:
        self.log = log
        self.redactor = redactor
        self.prefix = prefix
        self.dropped = 0
        #: Requests whose batch the log could not store (the database failed), and those stored.
        self.failed = 0
        self.stored = 0
        self._tenant_exists = tenant_exists
        self._known: dict[str, tuple[bool, float]] = {}
        # A plain deque and an event, not an asyncio.Queue: submitting costs the request path
        # one append (and a wake-up only when the drainer sleeps).
        self._pending: deque[RawRequest] = deque()
        self._wake = asyncio.Event()
        self._scheduled = False
        self._suffixes = itertools.count(secrets.randbits(32))
        self._submitted = 0
        self._recorded = 0
        self._caught_up = asyncio.Event()
        self._caught_up.set()

    def submit(self, raw: RawRequest) -> None:
        if len(self._pending) >= QUEUE_LIMIT:
            self.dropped += 1
            return
        self._pending.append(raw)
        self._submitted += 1
        if not self._scheduled:
            self._scheduled = True
            self._caught_up.clear()
            asyncio.get_running_loop().call_later(DRAIN_DELAY, self._wake.set)

    @property
    def pending(self) -> int:
        """Requests submitted and not yet taken by the background writer."""
        return len(self._pending)

    async def flush(self) -> None:
        """Wait until every request submitted so far is recorded (tests, shutdown)."""
        wanted = self._submitted
        while self._recorded < wanted:
            self._wake.set()  # now, not after the batch delay
            await self._caught_up.wait()
            if self._recorded < wanted:
                await asyncio.sleep(0)

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        """Drain the queue in a background task while the app runs."""
        task = asyncio.create_task(self._drain(), name="activity-recorder")
        try:
            yield
        finally:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.flush(), 5.0)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _drain(self) -> None:
        pending = self._pending
        while True:
            if not pending:
                self._scheduled = False
                self._wake.clear()
                self._caught_up.set()
                await self._wake.wait()
                continue
            batch = [pending.popleft() for _ in range(min(BATCH, len(pending)))]
            try:
                rows = await self._rows(batch)
                await self.log.append_rows(rows)
                self.stored += len(rows)
            except Exception:  # the log must never take the service down
                self.failed += len(batch)
                logger.exception("Could not record %d SCIM requests", len(batch))
            finally:
                self._recorded += len(batch)

    async def _rows(self, batch: list[RawRequest]) -> list[Row]:
        rows = []
        skip = len(self.prefix)
        known = self._known
        now = time.monotonic()
        redactor = self.redactor
        suffixes = self._suffixes
        # The last tenant's path prefix (``/scim/v2/acme/``) and its name: a batch is nearly
        # always one tenant's, whose paths need no split and whose verdict no look-up.
        current, cut, current_tenant = "\0", 0, ""
        for raw in batch:
            path = raw[3]
            if path.startswith(current):
                tenant, rest = current_tenant, path[cut:]
            else:
                tenant, slash, rest = path[skip:].partition("/")
                # Requests to tenants that do not exist are not kept: they have no Activity
                # page, and keeping them would let anyone grow the log with made-up names. The
                # verdict is remembered a while, so a batch waits on the registry only for new
                # names.
                verdict = known.get(tenant)
                if verdict is not None and now - verdict[1] < _TENANT_CACHE_SECONDS:
                    exists = verdict[0]
                else:
                    exists = bool(tenant) and await self._exists(tenant, now)
                if not exists:
                    current = "\0"
                    continue
                if slash:
                    current = path[: skip + len(tenant) + 1]
                    cut, current_tenant = len(current) - 1, tenant
                else:  # ``/scim/v2/acme``: no prefix that ends the name
                    current = "\0"
                rest = "/" + rest
            # new_record_id's text as one hex() of 12 bytes, not two format specs (each parsed,
            # with a look-up of the locale's grouping).
            id = ((raw[0] << 32) | (next(suffixes) & 0xFFFFFFFF)).to_bytes(12).hex()
            rows.append(to_row(raw, tenant, rest, redactor, id))
        return rows

    async def _exists(self, tenant: str, now: float) -> bool:
        exists = await self._tenant_exists(tenant)
        if len(self._known) > 10_000:
            self._known.clear()
        self._known[tenant] = (exists, now)
        return exists


def to_record(
    raw: RawRequest, tenant: str, path: str, redactor: Redactor, id: str | None = None
) -> RequestRecord:
    """The record of ``raw`` (``path`` is below the Tenant URL)."""
    id = new_record_id(raw[0]) if id is None else id
    return record_of(to_row(raw, tenant, path, redactor, id))


def to_row(raw: RawRequest, tenant: str, path: str, redactor: Redactor, id: str) -> Row:
    """:func:`to_record` as the log keeps it: a tuple of the record's fields, in field order.

    A tuple, not the frozen record: building one is a fifth of the work of building the other,
    and the embedded log keeps tuples anyway. Nearly every request Entra sends is answered
    2xx with a body the service wrote and, for a write, a body the service read as JSON; once
    the request body is known to hold no secret name, such a request's row is what the access
    log saw, every other field left for when a page reads it (see
    :data:`~reference_app.request_log.Row`).
    """
    started_ns, duration, method, _, query, status, location, request_bytes, response_bytes = raw
    if (
        status < 400
        and redactor.responses_clean
        and len(response_bytes) <= BODY_LIMIT
        and (
            not request_bytes
            or (
                # Answered 2xx, the body was read as JSON (scimkit's read_json: orjson, or a
                # 400), so it needs no parse to be shown, and it was kept whole.
                200 <= status < 300
                and method in _READ_AS_JSON
                and len(request_bytes) < BODY_LIMIT
                and not redactor.may_hold_secrets(request_bytes)
            )
        )
    ):
        return (
            id,
            tenant,
            started_ns // 1_000_000 * 1000,  # to the millisecond, in microseconds (see Row)
            method,
            path,
            query,
            status,
            duration,
            RESOURCE_LATER,
            location,
            NAME_LATER,
            None,
            None,
            request_bytes or None,
            response_bytes or None,
        )
    return _settled_row(raw, tenant, path, redactor, id)


def _settled_row(raw: RawRequest, tenant: str, path: str, redactor: Redactor, id: str) -> Row:
    """The row of a request :func:`to_row` cannot take as it came: every field read now.

    A failed request (its scimType and detail), a body that may hold a secret (redacted), one
    that may not be JSON or was cut, or a response that may hold a secret.
    """
    started_ns, duration, method, _, raw_query, status, location, request_bytes, response_bytes = (
        raw
    )
    query = raw_query.decode("latin-1") if raw_query else ""
    resource_type, resource_id = resource_of(path, location)
    failed = status >= 400
    # The response is kept whole and as sent, and the query is kept: a name the request body
    # does not give can be read from them when a page needs it.
    later = not failed and redactor.responses_clean and len(response_bytes) <= BODY_LIMIT
    request: Any = None
    if not request_bytes:
        name: Any = None
        request_body: str | bytes | None = None
    else:
        request = _loads(request_bytes)
        name = body_name(request)
        request_body = _render(request, request_bytes, redactor)
    # The response is parsed only when something is read from it: an error's scimType and
    # detail, or the resource's name when the request does not give one. A list's response
    # (GET on an endpoint) never names one at its top level.
    response: Any = _UNREAD
    if response_bytes and failed:
        response = _loads(response_bytes)
    if name is None:
        if later:
            name = NAME_LATER
        else:
            listing = method == "GET" and resource_type is not None and resource_id is None
            if response is _UNREAD and response_bytes and not listing:
                response = _loads(response_bytes)
            name = body_name(response) or (filtered_name(query) if query else None)
    scim_type = detail = None
    if failed and isinstance(response, dict):
        scim_type = _text(response.get("scimType"))
        detail = _text(response.get("detail"))
    return (
        id,
        tenant,
        started_ns // 1_000_000 * 1000,
        method,
        path,
        query,
        status,
        duration,
        resource_type,
        resource_id,
        name,
        scim_type,
        detail,
        request_body,
        _response_text(response, response_bytes, redactor),
    )


_UNPARSED = object()
_UNREAD = object()
_READ_AS_JSON = frozenset({"POST", "PUT", "PATCH"})
"""Methods whose body the SCIM service parses before it can answer 2xx (every such route)."""


def _loads(raw: bytes) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        return _UNPARSED


def _render(value: Any, raw: bytes, redactor: Redactor, *, scan: bool = True) -> str | bytes | None:
    """The body as kept: compact JSON (the Activity page indents it when shown)."""
    if value is None:
        return None
    if value is _UNPARSED:
        # Not JSON (or cut at the limit): it may hold anything, so only its size is shown.
        return unshown(raw)
    if scan and redactor.may_hold_secrets(raw):
        text = orjson.dumps(redactor.redact(value)).decode("utf-8")
    elif len(raw) <= BODY_LIMIT and isinstance(value, dict | list):
        # Valid UTF-8 JSON without a secret name: the bytes as sent are safe to keep, with no
        # copy; the log decodes them when a page shows them (an object or an array: a bare
        # scalar would not look like JSON to it).
        return raw
    else:
        text = raw.decode("utf-8")
    return _cut(text)


def _cut(text: str) -> str:
    return text if len(text) <= BODY_LIMIT else text[:BODY_LIMIT] + "\n… [cut]"


def _response_text(value: Any, raw: bytes, redactor: Redactor) -> str | bytes | None:
    if not raw:
        return None
    if not redactor.responses_clean:
        return _render(_loads(raw) if value is _UNREAD else value, raw, redactor)
    if value is _UNREAD:
        # Not parsed: the service's own output, kept as sent and shown only if it is UTF-8
        # JSON (shown_body, when a page reads it); past the limit, as that text cut there.
        return raw if len(raw) <= BODY_LIMIT else _cut(shown_body(raw))
    return _render(value, raw, redactor, scan=False)


def _text(value: Any) -> str | None:
    return None if value is None else str(value)
