"""SCIM Error responses for every failure, including the router's 404 and 405."""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from scimkit._errors import (
    ERROR_SCHEMA,
    BadRequest,
    InternalError,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    SCIMError,
    UnsupportedMediaType,
)
from scimkit.web._responses import SCIMResponse

__all__ = [
    "answers_scim_errors",
    "error_response",
    "failure_response",
    "http_exception_handler",
    "internal_error",
    "logger",
    "server_error_handler",
]

logger = logging.getLogger("scimkit.web")

_BY_STATUS: dict[int, type[SCIMError]] = {
    400: BadRequest,
    404: NotFound,
    405: MethodNotAllowed,
    413: PayloadTooLarge,
    415: UnsupportedMediaType,
}


def error_response(exc: SCIMError) -> SCIMResponse:
    """The SCIM Error message (RFC 7644 §3.12) for an exception, with its headers.

    A 401 always carries a ``WWW-Authenticate`` challenge (RFC 7235), whichever hook raised it.
    """
    headers = exc.headers
    if exc.status == 401 and not any(k.lower() == "www-authenticate" for k in headers):
        headers = {**headers, "WWW-Authenticate": "Bearer"}
    return SCIMResponse(exc.to_body(), exc.status, headers)


def internal_error(request: Request, exc: BaseException) -> SCIMResponse:
    """Log an unexpected exception and answer a 500 that reveals nothing of it."""
    logger.error("Unexpected error on %s %s", request.method, request.url.path, exc_info=exc)
    return error_response(InternalError())


def failure_response(request: Request, exc: Exception) -> Response:
    """The response for any exception raised while handling ``request``."""
    if isinstance(exc, SCIMError):
        return error_response(exc)
    if isinstance(exc, ClientDisconnect):
        return SCIMResponse(None, 400)  # nobody is listening; send the least
    return internal_error(request, exc)


_Owner = TypeVar("_Owner")


def answers_scim_errors(
    handler: Callable[[_Owner, Request], Awaitable[Response]],
) -> Callable[[_Owner, Request], Awaitable[Response]]:
    """Make an endpoint answer every failure with a SCIM Error body (see ``failure_response``).

    Endpoints raise; this one wrapper turns what they raise into the response, so nothing but
    a SCIM body leaves an endpoint.
    """

    @functools.wraps(handler)
    async def endpoint(owner: _Owner, request: Request) -> Response:
        try:
            return await handler(owner, request)
        except Exception as exc:
            return failure_response(request, exc)

    return endpoint


async def http_exception_handler(request: Request, exc: Exception) -> Response:
    """Render Starlette's own HTTP errors (unknown route, wrong method) as SCIM errors."""
    assert isinstance(exc, HTTPException)
    error_class = _BY_STATUS.get(exc.status_code)
    if error_class is None:
        body = {
            "schemas": [ERROR_SCHEMA],
            "status": str(exc.status_code),
            "detail": exc.detail,
        }
        return SCIMResponse(body, exc.status_code, exc.headers)
    return SCIMResponse(error_class().to_body(), exc.status_code, exc.headers)


async def server_error_handler(request: Request, exc: Exception) -> Response:
    """Last resort for an exception raised outside the endpoints."""
    return internal_error(request, exc)
