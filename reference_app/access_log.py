"""Pure ASGI middleware that observes every HTTP request: one access line, metrics.

Each request gets an id: the client's ``X-Request-Id`` when it is a plain token of at most 128
characters, else a new one. The id is returned in the response's ``X-Request-Id`` header and
set in :data:`reference_app.logs.REQUEST_ID` while the request is served.

When the request is done, each observer receives a :class:`RequestRecord`: method, path (never
the query string), tenant, status, duration and, for an error answer, the SCIM ``scimType``
read from the error body. Headers, tokens and bodies are never part of it.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from reference_app.logs import REQUEST_ID
from reference_app.settings import TENANT_NAME_PATTERN

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
_CLIENT_REQUEST_ID = re.compile(r"[A-Za-z0-9._:@+=-]{1,128}")
# An error body bigger than this is not a SCIM Error body; its type is not looked for.
_MAX_ERROR_BODY = 16 * 1024
_MAX_PATH = 1024

logger = logging.getLogger(ACCESS_LOGGER)


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """What is known about a served request once it is done."""

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
            "duration_ms": round(self.duration * 1000, 3),
            "scim_type": self.scim_type,
        }


RequestObserver = Callable[[RequestRecord], None]


def log_request(record: RequestRecord) -> None:
    """The access line: one INFO record on ``reference_app.access`` per request."""
    logger.info("request", extra={"fields": record.fields(), "request_id": record.request_id})


class AccessLog:
    """The middleware: ids requests, times them, and hands each observer a record."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        observers: Sequence[RequestObserver] = (log_request,),
        tenant_prefix: str = "/scim/v2/",
    ) -> None:
        self.app = app
        self.observers = tuple(observers)
        self.tenant_prefix = tenant_prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        request_id = _request_id(scope)
        status = 500  # what the client gets when the app fails before answering
        content_type = b""
        error_body: list[bytes] = []
        error_size = 0

        async def observed_send(message: Message) -> None:
            nonlocal status, content_type, error_size
            if message["type"] == "http.response.start":
                status = int(message["status"])
                headers = list(message.get("headers", ()))
                content_type = next((v for k, v in headers if k.lower() == b"content-type"), b"")
                headers.append((REQUEST_ID_HEADER.encode(), request_id.encode()))
                message = {**message, "headers": headers}
            elif message["type"] == "http.response.body" and status >= 400:
                chunk = message.get("body", b"")
                error_size += len(chunk)
                if error_size <= _MAX_ERROR_BODY:
                    error_body.append(chunk)
            await send(message)

        token = REQUEST_ID.set(request_id)
        try:
            await self.app(scope, receive, observed_send)
        finally:
            REQUEST_ID.reset(token)
            scim_type = None
            if status >= 400 and error_size <= _MAX_ERROR_BODY and b"json" in content_type:
                scim_type = _scim_type(b"".join(error_body))
            record = RequestRecord(
                request_id=request_id,
                method=str(scope["method"]),
                path=str(scope["path"])[:_MAX_PATH],
                tenant=self._tenant(str(scope["path"])),
                status=status,
                duration=time.perf_counter() - started,
                scim_type=scim_type,
            )
            for observe in self.observers:
                observe(record)

    def _tenant(self, path: str) -> str | None:
        if not path.startswith(self.tenant_prefix):
            return None
        name = path[len(self.tenant_prefix) :].lstrip("/").split("/", 1)[0]
        return name if TENANT_NAME_PATTERN.fullmatch(name) else None


def _request_id(scope: Scope) -> str:
    for key, value in scope["headers"]:
        if key == REQUEST_ID_HEADER.encode():
            text = bytes(value).decode("latin-1")
            if _CLIENT_REQUEST_ID.fullmatch(text):
                return text
            break
    return uuid.uuid4().hex


def _scim_type(body: bytes) -> str | None:
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    value = document.get("scimType") if isinstance(document, dict) else None
    return value if isinstance(value, str) else None
