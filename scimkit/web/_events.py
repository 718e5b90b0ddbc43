"""The event endpoints: RFC 8936 poll at ``{Tenant URL}/Events`` and the signing keys' JWKS.

The poll endpoint is authenticated by its own hook, meant for per-tenant *events tokens*: a
SCIM client's token must not read the feed, and an events token must not reach the SCIM
endpoints, so the two hooks are given different token sets. Errors answer in the RFC 8935 §2.3
shape ``{"err": ..., "description": ...}`` (RFC 8936 §2.6), not as SCIM errors: the caller is an
event receiver, not a SCIM client.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from scimkit._errors import SCIMError, Unauthorized
from scimkit.events._poll import PollError, parse_poll_request
from scimkit.web._auth import Authenticate
from scimkit.web._errors import logger
from scimkit.web._params import read_json

if TYPE_CHECKING:
    from scimkit.events import EventPoller, EventSigner

__all__ = ["event_routes", "jwks_route"]

JSON_MEDIA_TYPE = "application/json"


def _json(content: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(content), status, headers=headers, media_type=JSON_MEDIA_TYPE)


def _error(
    err: str, description: str, status: int, headers: dict[str, str] | None = None
) -> Response:
    return _json({"err": err, "description": description}, status, headers)


def event_routes(
    poller: EventPoller,
    *,
    authenticate: Authenticate,
    base_path: str = "/scim/v2/{tenant}",
    default_tenant: str = "default",
    max_body_size: int = 1_048_576,
) -> list[BaseRoute]:
    """``POST {base_path}/Events``: RFC 8936 poll delivery of the tenant's SETs.

    ``authenticate(request, tenant)`` identifies the receiver (use a
    :class:`~scimkit.web.BearerTokenAuth` over the tenant's events tokens, never its SCIM
    tokens); the principal's ``name`` names the receiver's checkpoint. Pass the routes to
    :func:`~scimkit.web.create_scim_app` as ``routes_after_scim`` to serve them beside SCIM (as
    ``routes`` they would be tried, and missed, before every SCIM request's own route).
    """

    async def events(request: Request) -> Response:
        tenant = request.path_params.get("tenant", default_tenant)
        try:
            principal = await authenticate(request, tenant)
        except Unauthorized as exc:
            principal = None
            challenge = exc.headers
        else:
            challenge = {}
        if principal is None or principal.tenant != tenant:
            headers = {"WWW-Authenticate": "Bearer", **challenge}
            return _error(
                "authentication_failed", "A valid events token is required.", 401, headers
            )
        try:
            body = await read_json(request, max_body_size)
            poll = parse_poll_request(body)
            answer = await poller.poll(tenant, principal.name, poll)
        except PollError as exc:
            return _error(exc.err, exc.description, exc.status)
        except SCIMError as exc:
            return _error("invalid_request", exc.detail or "Bad request.", exc.status)
        except Exception:
            logger.exception("Event poll failed for tenant %r", tenant)
            return _error("temporarily_unavailable", "The events feed failed; poll again.", 503)
        return _json(answer)

    return [Route(base_path.rstrip("/") + "/Events", events, methods=["POST"])]


def jwks_route(signer: EventSigner, path: str = "/.well-known/jwks.json") -> Route:
    """``GET /.well-known/jwks.json``: the public key receivers verify SETs with."""
    document = orjson.dumps(signer.jwks())

    async def jwks(request: Request) -> Response:
        return Response(
            document,
            headers={"Cache-Control": "public, max-age=3600"},
            media_type="application/jwk-set+json",
        )

    return Route(path, jwks, methods=["GET"])
