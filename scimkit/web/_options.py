"""WebOptions: how the Starlette adapter authenticates, where it lives and what it exposes."""

from __future__ import annotations

from dataclasses import dataclass

from scimkit.web._auth import Authenticate, Authorize, CurrentUser

__all__ = ["WebOptions"]


@dataclass(frozen=True, slots=True, kw_only=True)
class WebOptions:
    """The options of :func:`~scimkit.web.create_scim_app` and :func:`~scimkit.web.scim_routes`.

    - ``authenticate(request, tenant)`` returns the caller (a ``Principal`` of that tenant) or
      ``None``/raises ``Unauthorized`` (401, with ``WWW-Authenticate: Bearer``);
      ``BearerTokenAuth`` is a ready one.
    - ``authorize(principal, action, resource_type)`` may refuse (403).
    - ``current_user(principal)`` maps the caller to its id of ``me_resource_type`` and
      enables ``/Me`` (else 501).
    - ``base_path`` holds ``{tenant}`` for a multi-tenant service (the tenant is passed to the
      hooks and the service); without it every request is for ``default_tenant``.
    - ``public_url`` fixes the scheme, host and root path of ``Location`` / ``meta.location``
      (behind a proxy); by default they come from the request.
    - ``public_discovery`` serves ``/ServiceProviderConfig``, ``/ResourceTypes`` and
      ``/Schemas`` without authentication.
    """

    authenticate: Authenticate
    authorize: Authorize | None = None
    current_user: CurrentUser | None = None
    me_resource_type: str = "User"
    base_path: str = "/scim/v2/{tenant}"
    public_url: str | None = None
    default_tenant: str = "default"
    public_discovery: bool = False
