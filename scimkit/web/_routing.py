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
from scimkit.web._auth import Authenticate, Authorize, CurrentUser
from scimkit.web._endpoints import Endpoints
from scimkit.web._errors import http_exception_handler, server_error_handler

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


def scim_routes(
    service: ResourceService,
    *,
    authenticate: Authenticate,
    authorize: Authorize | None = None,
    current_user: CurrentUser | None = None,
    base_path: str = "/scim/v2/{tenant}",
    public_url: str | None = None,
    default_tenant: str = "default",
    public_discovery: bool = False,
) -> list[BaseRoute]:
    """The SCIM routes under ``base_path``, for an app that assembles its own Starlette.

    The app must render Starlette's 404/405 as SCIM errors itself (``create_scim_app`` does);
    see :func:`create_scim_app` for the arguments.
    """
    endpoints = Endpoints(
        service,
        authenticate=authenticate,
        authorize=authorize,
        current_user=current_user,
        base_path=base_path,
        public_url=public_url,
        default_tenant=default_tenant,
        public_discovery=public_discovery,
    )
    base = base_path.rstrip("/")
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
    *,
    authenticate: Authenticate,
    authorize: Authorize | None = None,
    current_user: CurrentUser | None = None,
    base_path: str = "/scim/v2/{tenant}",
    public_url: str | None = None,
    default_tenant: str = "default",
    public_discovery: bool = False,
    routes: Sequence[BaseRoute] = (),
    lifespan: Callable[[Starlette], AbstractAsyncContextManager[Any]] | None = None,
    debug: bool = False,
) -> Starlette:
    """A Starlette app serving SCIM 2.0 for ``service`` under ``base_path``.

    - ``authenticate(request, tenant)`` returns the caller (a ``Principal`` of that tenant) or
      ``None``/raises ``Unauthorized`` (401, with ``WWW-Authenticate: Bearer``);
      ``BearerTokenAuth`` is a ready one.
    - ``authorize(principal, action, resource_type)`` may refuse (403).
    - ``current_user(principal)`` maps the caller to its User id and enables ``/Me`` (else 501).
    - ``base_path`` holds ``{tenant}`` for a multi-tenant service (the tenant is passed to the
      hooks and the service); without it every request is for ``default_tenant``.
    - ``public_url`` fixes the scheme and host of ``Location`` / ``meta.location`` (behind a
      proxy); by default they come from the request.
    - ``public_discovery`` serves ``/ServiceProviderConfig``, ``/ResourceTypes`` and
      ``/Schemas`` without authentication.
    - ``routes`` are extra routes of the application (``/healthz``); ``lifespan`` is passed to
      Starlette (open and close a database client there).

    Unknown paths answer a SCIM 404, wrong methods a SCIM 405, and unexpected failures a SCIM 500
    (logged on the ``scimkit.web`` logger, never detailed to the client).
    """
    scim = scim_routes(
        service,
        authenticate=authenticate,
        authorize=authorize,
        current_user=current_user,
        base_path=base_path,
        public_url=public_url,
        default_tenant=default_tenant,
        public_discovery=public_discovery,
    )
    return Starlette(
        debug=debug,
        routes=[*routes, *scim],
        exception_handlers={
            HTTPException: http_exception_handler,
            Exception: server_error_handler,
        },
        lifespan=lifespan,
        middleware=[Middleware(_CollapseSlashes)],
    )
