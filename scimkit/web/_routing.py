"""The route table and the app factory: the one entry point of the Starlette adapter."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from scimkit._service import ResourceService
from scimkit.web._endpoints import Endpoints
from scimkit.web._errors import http_exception_handler, server_error_handler
from scimkit.web._options import WebOptions

__all__ = ["create_scim_app", "scim_routes"]


class _CollapseSlashes:
    """Treat ``//`` in a path as ``/``, and ignore a trailing ``/``.

    An admin may paste the Tenant URL with a trailing slash, and a client that then appends
    ``/Users`` asks for ``.../tenant//Users``; that must not be a 404. A trailing slash would
    otherwise get Starlette's 307 redirect, which provisioning clients do not all follow.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            path = scope["path"]
            if "//" in path or (path.endswith("/") and path != "/"):
                while "//" in path:
                    path = path.replace("//", "/")
                if path != "/":
                    path = path.rstrip("/")
                scope = {**scope, "path": path, "raw_path": path.encode("utf-8")}
        await self.app(scope, receive, send)


_ITEM_METHODS = ["GET", "PUT", "PATCH", "DELETE"]


def scim_routes(service: ResourceService, options: WebOptions) -> list[BaseRoute]:
    """The SCIM routes under ``options.base_path``, for an app that assembles its own Starlette.

    The app must render Starlette's 404/405 as SCIM errors itself (``create_scim_app`` does).
    """
    endpoints = Endpoints(service, options)
    base = options.base_path.rstrip("/")
    routes: list[BaseRoute] = []
    for typed in endpoints.types.values():
        endpoint = base + typed.resource_type.endpoint
        routes.append(Route(endpoint, typed.collection, methods=["GET", "POST"]))
        routes.append(Route(endpoint + "/.search", typed.search, methods=["POST"]))
        routes.append(Route(endpoint + "/{id}", typed.item, methods=_ITEM_METHODS))
    routes += [
        Route(base + "/.search", endpoints.root_search, methods=["POST"]),
        Route(base + "/Bulk", endpoints.bulk, methods=["POST"]),
        Route(base + "/Me", endpoints.me, methods=_ITEM_METHODS),
        Route(base + "/ServiceProviderConfig", endpoints.service_provider_config),
        Route(base + "/ResourceTypes", endpoints.resource_types),
        Route(base + "/ResourceTypes/{name}", endpoints.resource_type),
        Route(base + "/Schemas", endpoints.schemas),
        Route(base + "/Schemas/{urn}", endpoints.schema),
    ]
    return routes


def create_scim_app(
    service: ResourceService,
    options: WebOptions,
    *,
    routes: Sequence[BaseRoute] = (),
    routes_after_scim: Sequence[BaseRoute] = (),
    lifespan: Callable[[Starlette], AbstractAsyncContextManager[Any]] | None = None,
    debug: bool = False,
) -> Starlette:
    """A Starlette app serving SCIM 2.0 for ``service`` as ``options`` say (see ``WebOptions``).

    ``routes`` are extra routes of the application (``/healthz``), tried before the SCIM
    routes; ``routes_after_scim`` are tried after them, so a SCIM request never pays for
    matching them (Starlette tries routes in order): routes no SCIM path matches, such as
    ``event_routes`` and ``jwks_route``. ``lifespan`` is passed to Starlette (open and close a
    database client there).

    Unknown paths answer a SCIM 404, wrong methods a SCIM 405, and unexpected failures a SCIM 500
    (logged on the ``scimkit.web`` logger, never detailed to the client).
    """
    scim = scim_routes(service, options)
    return Starlette(
        debug=debug,
        routes=[*routes, *scim, *routes_after_scim],
        exception_handlers={
            HTTPException: http_exception_handler,
            Exception: server_error_handler,
        },
        lifespan=lifespan,
        middleware=[Middleware(_CollapseSlashes)],
    )
