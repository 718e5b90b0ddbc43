"""scimkit's Starlette adapter: SCIM 2.0 over HTTP for a :class:`~scimkit.ResourceService`.

Typical use::

    from scimkit.web import BearerTokenAuth, WebOptions, create_scim_app

    options = WebOptions(authenticate=BearerTokenAuth(digests_by_tenant))
    app = create_scim_app(service, options)
"""

from __future__ import annotations

from scimkit._public import claim as _claim
from scimkit.web._auth import (
    Action,
    Authenticate,
    Authorize,
    BearerTokenAuth,
    CurrentUser,
    Principal,
    check_token,
    hash_token,
    token_matches,
)
from scimkit.web._events import event_routes, jwks_route
from scimkit.web._options import WebOptions
from scimkit.web._params import REQUEST_BODY_KEY
from scimkit.web._responses import SCIM_MEDIA_TYPE, SCIMResponse
from scimkit.web._routing import create_scim_app, scim_routes

__all__ = [
    "Action",
    "Authenticate",
    "Authorize",
    "BearerTokenAuth",
    "CurrentUser",
    "Principal",
    "REQUEST_BODY_KEY",
    "SCIMResponse",
    "SCIM_MEDIA_TYPE",
    "WebOptions",
    "check_token",
    "create_scim_app",
    "event_routes",
    "hash_token",
    "jwks_route",
    "scim_routes",
    "token_matches",
]

_claim(globals(), __all__, "scimkit.web")
