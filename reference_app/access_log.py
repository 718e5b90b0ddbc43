"""Pure ASGI middleware that observes every HTTP request: one access line, metrics.

Each request gets an id: the client's ``X-Request-Id`` when it is a plain token of at most 128
characters, else a new one. The id is returned in the response's ``X-Request-Id`` header and
set in :data:`reference_app.logs.REQUEST_ID` while the request is served.

When the request is done, each observer receives a :class:`RequestRecord`: method, path (never
the query string), tenant, status, duration and, for an error answer, the SCIM ``scimType``
read from the error body. Headers, tokens and bodies are never part of it.

The console's request log rides on the same middleware (``keep``): for each SCIM request it
also keeps the response body chunks passed on and, once the request is answered, hands them
over with the request body scimkit read (left in the scope under
:data:`scimkit.web.REQUEST_BODY_KEY`), this middleware's timing and the status
(:mod:`reference_app.activity` makes records of them).
"""

from __future__ import annotations

import logging
import random
import re
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, NamedTuple

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from reference_app.logs import REQUEST_ID, own_handler
from reference_app.request_log import BODY_LIMIT
from reference_app.settings import MAX_TENANT_NAME, TENANT_NAME_PATTERN
from scimkit.web import REQUEST_BODY_KEY

if TYPE_CHECKING:
    from reference_app.activity import RawRequest

__all__ = [
    "ACCESS_LOGGER",
    "REQUEST_ID_HEADER",
    "AccessLog",
    "RequestObserver",
    "RequestRecord",
    "log_request",
]

ACCESS_LOGGER = "reference_app.access"
REQUEST_ID_HEADER = "x-request-id"
_REQUEST_ID_KEY = REQUEST_ID_HEADER.encode()
_CLIENT_REQUEST_ID = re.compile(r"[A-Za-z0-9._:@+=-]{1,128}")
# An error body bigger than this is not a SCIM Error body; its type is not looked for.
_MAX_ERROR_BODY = 16 * 1024
_MAX_PATH = 1024
_MAX_NAMES = 4096

logger = logging.getLogger(ACCESS_LOGGER)


class RequestRecord(NamedTuple):
    """What is known about a served request once it is done.

    A named tuple, immutable as a frozen dataclass is, and made from positions in a fifth of
    the time (0.3 against 1.5 us; one per request).
    """

    request_id: str
    method: str
    path: str
    tenant: str | None
    """The tenant named in the path, when it is a well-formed tenant name."""
    status: int
    duration: float
    """Seconds from the request's arrival to the end of the response."""
    scim_type: str | None
    """The ``scimType`` of a SCIM Error answer."""

    def fields(self) -> dict[str, Any]:
        return {
            "request_id": self.request_id,
            "tenant": self.tenant,
            "method": self.method,
            "path": self.path,
            "status": self.status,
            # Milliseconds to 3 places: round(x, 3) formats through dtoa, 3x the time of this.
            "duration_ms": round(self.duration * 1_000_000) / 1000,
            "scim_type": self.scim_type,
        }


RequestObserver = Callable[[RequestRecord], None]


def log_request(record: RequestRecord) -> None:
    """The access line: one INFO record on ``reference_app.access`` per request.

    Where the app's own handler alone writes the logger's records (:func:`own_handler`), the
    line is made straight into it, the same text without a LogRecord. Otherwise the record is
    made and handed to the handlers directly: ``logger.info`` would also walk the stack for
    the caller's file and line (``findCaller``), a sixth of a line's cost, to say what every
    access line would say, this function.
    """
    if not logger.isEnabledFor(logging.INFO):  # the fields are not built for a line not written
        return
    fields = record.fields()
    handler = own_handler(logger)
    if handler is not None and handler.keep_info(
        ACCESS_LOGGER, "request", fields, record.request_id
    ):
        return
    logger.handle(
        logger.makeRecord(
            ACCESS_LOGGER,
            logging.INFO,
            "(unknown file)",  # what logging itself says when it does not look
            0,
            "request",
            (),
            None,
            extra={"fields": fields, "request_id": record.request_id},
        )
    )


class AccessLog:
    """The middleware: ids requests, times them, and hands each observer a record.

    With ``keep`` (the request log's :meth:`~reference_app.activity.ActivityRecorder.submit`),
    each request under ``tenant_prefix`` but ``/Events`` (an event receiver's polls are not
    Entra's requests, and would crowd them out of the log) is also handed to it once answered,
    as a :data:`~reference_app.activity.RawRequest`. The request log has no middleware of its
    own: a layer around every request cost a fifth of the log's work, for a timing and a status
    this one already has.
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        observers: Sequence[RequestObserver] = (log_request,),
        tenant_prefix: str = "/scim/v2/",
        keep: Callable[[RawRequest], None] | None = None,
    ) -> None:
        self.app = app
        self.observers = tuple(observers)
        self.tenant_prefix = tenant_prefix
        self.keep = keep
        # Each path segment seen where a tenant name goes, and whether it is one: a dict
        # look-up per request instead of the name pattern (bounded: names are made up freely).
        self._names: dict[str, bool] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = _request_id(scope)
        request_id_bytes = request_id.encode()
        status = 500  # what the client gets when the app fails before answering
        content_type = b""
        error_body: list[bytes] = []
        error_size = 0
        path = str(scope["path"])
        keep = self.keep
        kept: list[Any] | None = None
        if (
            keep is not None
            and path.startswith(self.tenant_prefix)
            and not path.endswith("/Events")
        ):
            # A list literal: an object of a class of its own cost a sixth of what keeping a
            # request cost (its __init__ a Python call), and nothing more is made for
            # requests the log skips. The request body is not caught on its way in: scimkit
            # leaves the body it read in the scope (REQUEST_BODY_KEY).
            kept = [time.time_ns(), None, b""]  # start, a 201's Location, response body

        async def observed_send(message: Message) -> None:
            nonlocal status, content_type, error_size
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers = message.get("headers", ())
                # One plain loop for both headers, names compared as sent: ASGI has
                # applications send them lower-cased (a lower() per header cost more than the
                # rest of the loop).
                for key, value in headers:
                    if key == b"content-type":
                        content_type = value
                    elif key == b"location" and kept is not None and status == 201:
                        kept[1] = value
                # A new list and message, the application's own left as they are.
                message = {**message, "headers": [*headers, (_REQUEST_ID_KEY, request_id_bytes)]}
            elif status >= 400 or kept is not None:  # a 2xx body is not looked at otherwise
                chunk = message.get("body", b"")
                if status >= 400:
                    error_size += len(chunk)
                    if error_size <= _MAX_ERROR_BODY:
                        error_body.append(chunk)
                # Almost always one chunk, kept as it is (a reference, not a copy); more are
                # joined, and none past the first one that reaches BODY_LIMIT.
                if kept is not None and chunk and len(kept[2]) < BODY_LIMIT:
                    kept[2] = kept[2] + chunk if kept[2] else chunk
            await send(message)

        token = REQUEST_ID.set(request_id)
        try:
            await self.app(scope, receive, observed_send)
        finally:
            REQUEST_ID.reset(token)
            duration = time.perf_counter() - started
            if kept is not None and keep is not None:
                body = scope.get(REQUEST_BODY_KEY, b"")
                if len(body) > BODY_LIMIT:  # kept cut, as the log keeps it (nothing more)
                    body = body[: BODY_LIMIT + 1]
                keep(
                    (
                        kept[0],
                        duration,
                        scope["method"],
                        path,
                        scope.get("query_string", b""),
                        status,
                        kept[1],
                        body,
                        kept[2],
                    )
                )
            scim_type = None
            if status >= 400 and error_size <= _MAX_ERROR_BODY and b"json" in content_type:
                scim_type = _scim_type(b"".join(error_body))
            record = RequestRecord(  # by position, in the order of the fields
                request_id,
                str(scope["method"]),
                path[:_MAX_PATH],
                self._tenant(path),
                status,
                duration,
                scim_type,
            )
            for observe in self.observers:
                observe(record)

    def _tenant(self, path: str) -> str | None:
        prefix = self.tenant_prefix
        if not path.startswith(prefix):
            return None
        name = path[len(prefix) :].lstrip("/").partition("/")[0]
        if len(name) > MAX_TENANT_NAME:  # never a tenant name, and not to be kept
            return None
        names = self._names
        verdict = names.get(name)
        if verdict is None:
            if len(names) >= _MAX_NAMES:
                names.clear()
            verdict = names[name] = TENANT_NAME_PATTERN.fullmatch(name) is not None
        return name if verdict else None


def _request_id(scope: Scope) -> str:
    for key, value in scope["headers"]:
        if key == _REQUEST_ID_KEY:
            text = bytes(value).decode("latin-1")
            if _CLIENT_REQUEST_ID.fullmatch(text):
                return text
            break
    # 128 random bits as 32 hex digits, the form uuid4().hex gave: 0.15 us against its 2.6
    # (a UUID object and a system call per request). An id names a request in logs and the
    # console; it need not be unguessable, only unique (random reseeds in a forked worker).
    return random.getrandbits(128).to_bytes(16).hex()


def _scim_type(body: bytes) -> str | None:
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    value = document.get("scimType") if isinstance(document, dict) else None
    return value if isinstance(value, str) else None
