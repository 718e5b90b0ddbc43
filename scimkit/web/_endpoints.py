"""The SCIM endpoints: one plain Starlette endpoint per route, over a ResourceService.

Every endpoint authenticates, authorizes, calls the service and renders; every failure becomes a
SCIM Error response here, so nothing but a SCIM body leaves an endpoint.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Any
from urllib.parse import quote

from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response

from scimkit._errors import (
    Forbidden,
    NotFound,
    NotImplementedFeature,
    SCIMError,
    Unauthorized,
)
from scimkit._meta import etag_matches, parse_etags
from scimkit._projection import project
from scimkit._resource_type import ResourceType
from scimkit._schema import Schema
from scimkit._service import ListResult, ResourceService, wants_members
from scimkit.web._auth import Action, Authenticate, Authorize, CurrentUser, Principal
from scimkit.web._bulk import run_bulk
from scimkit.web._errors import error_response, internal_error
from scimkit.web._params import (
    parse_attribute_list,
    parse_query,
    parse_search,
    query_pairs,
    read_json,
)
from scimkit.web._responses import LIST_RESPONSE_SCHEMA, SCIMResponse

__all__ = ["Endpoints", "TypeEndpoints"]

_WWW_AUTHENTICATE = {"WWW-Authenticate": "Bearer"}
_MEMBERS = ("members",)


@lru_cache(maxsize=4096)
def _quoted(tenant: str) -> str:
    return quote(tenant, safe="")


class Endpoints:
    """The endpoints of one SCIM service, shared by every tenant.

    ``base_path`` is the path the routes live under, with ``{tenant}`` where the tenant is
    (without it, every request is for ``default_tenant``). ``public_url``, when given, replaces
    the scheme, host and root path taken from the request in ``Location`` and ``meta.location``.
    """

    def __init__(
        self,
        service: ResourceService,
        *,
        authenticate: Authenticate,
        authorize: Authorize | None = None,
        current_user: CurrentUser | None = None,
        me_resource_type: str = "User",
        base_path: str = "/scim/v2/{tenant}",
        public_url: str | None = None,
        default_tenant: str = "default",
        public_discovery: bool = False,
    ) -> None:
        self.service = service
        self.config = service.config
        self._authenticate = authenticate
        self._authorize = authorize
        self._current_user = current_user
        self._me_type = me_resource_type
        self._base_path = base_path.rstrip("/")
        self._public_url = public_url.rstrip("/") if public_url is not None else None
        self._default_tenant = default_tenant
        self._public_discovery = public_discovery
        self._etag = self.config.etag
        self._body_limit = self.config.max_body_size
        self.types = {rt.name: TypeEndpoints(self, rt) for rt in service.resource_types}
        schemas: dict[str, Schema] = {}
        for rt in service.resource_types:
            for schema in (rt.schema, *rt.extension_schemas()):
                schemas.setdefault(schema.id, schema)
        self._schemas = schemas
        self._group_endpoint = next(
            (rt.endpoint for rt in service.resource_types if rt.members_attribute is not None),
            None,
        )

    # -- request plumbing ---------------------------------------------------------------------

    async def enter(
        self, request: Request, action: Action, resource_type: ResourceType | None
    ) -> tuple[str, Principal]:
        """Authenticate (401) and authorize (403) a request; return its tenant and caller."""
        tenant = request.path_params.get("tenant", self._default_tenant)
        principal = await self._authenticate(request, tenant)
        # A principal of another tenant is treated as no principal: nothing is revealed.
        if principal is None or principal.tenant != tenant:
            raise Unauthorized(headers=_WWW_AUTHENTICATE)
        await self.authorize(principal, action, resource_type)
        return tenant, principal

    async def authorize(
        self, principal: Principal, action: Action, resource_type: ResourceType | None
    ) -> None:
        """Ask the authorize hook, if any; 403 when it says no."""
        if self._authorize is not None and not await self._authorize(
            principal, action, resource_type
        ):
            raise Forbidden()

    def base_url(self, request: Request, tenant: str) -> str:
        """The service's base URL for this tenant (``Location`` and ``meta.location`` root)."""
        path = self._base_path.replace("{tenant}", _quoted(tenant))
        if self._public_url is not None:
            return self._public_url + path
        scope = request.scope
        host = None
        for key, value in scope["headers"]:
            if key == b"host":
                host = value.decode("latin-1")
                break
        if host is None:
            server = scope.get("server")
            host = f"{server[0]}:{server[1]}" if server else "localhost"
        return f"{scope.get('scheme', 'http')}://{host}{scope.get('root_path', '')}{path}"

    def shape(
        self,
        resource: dict[str, Any],
        resource_type: ResourceType,
        base: str,
        attributes: Sequence[str],
        excluded: Sequence[str],
    ) -> dict[str, Any]:
        """A stored resource as sent: ``meta.location`` added, then projected (RFC 7644 §3.9)."""
        meta = resource.get("meta")
        if meta is not None:
            # Fresh dicts throughout: the stored copy's nested values may be the store's own.
            location = f"{base}{resource_type.endpoint}/{resource['id']}"
            resource["meta"] = {**meta, "location": location}
        groups = resource.get("groups")
        if groups and self._group_endpoint is not None:
            # Stores derive `groups` without `$ref`, which depends on the request's base URL.
            prefix = f"{base}{self._group_endpoint}/"
            resource["groups"] = [
                entry
                if not isinstance(entry, dict) or "$ref" in entry or "value" not in entry
                else {**entry, "$ref": prefix + str(entry["value"])}
                for entry in groups
            ]
        return project(
            resource,
            resource_type,
            attributes=attributes or None,
            excluded_attributes=excluded or None,
        )

    def resource_response(
        self,
        resource: dict[str, Any],
        resource_type: ResourceType,
        base: str,
        attributes: Sequence[str] = (),
        excluded: Sequence[str] = (),
        status: int = 200,
    ) -> SCIMResponse:
        """One resource with its ``Location`` and ``ETag`` headers."""
        location = f"{base}{resource_type.endpoint}/{resource['id']}"
        headers = {"Location": location}
        version = resource.get("meta", {}).get("version")
        if version is not None and self._etag:
            headers["ETag"] = version
        body = self.shape(resource, resource_type, base, attributes, excluded)
        return SCIMResponse(body, status, headers)

    def list_response(
        self,
        result: ListResult,
        resource_type: ResourceType | None,
        base: str,
        attributes: Sequence[str],
        excluded: Sequence[str],
    ) -> SCIMResponse:
        """A ListResponse (RFC 7644 §3.4.2); root results name their type in meta."""
        shaped = []
        for resource in result.resources:
            rt = resource_type
            if rt is None:
                rt = self.service.resource_type(resource["meta"]["resourceType"])
            shaped.append(self.shape(resource, rt, base, attributes, excluded))
        body: dict[str, Any] = {
            "schemas": [LIST_RESPONSE_SCHEMA],
            "totalResults": result.total_results,
            "itemsPerPage": result.items_per_page,
        }
        if result.start_index is not None:
            body["startIndex"] = result.start_index
        if result.next_cursor is not None:
            body["nextCursor"] = result.next_cursor
        if result.previous_cursor is not None:
            body["previousCursor"] = result.previous_cursor
        body["Resources"] = shaped
        return SCIMResponse(body)

    # -- resource operations, shared by the typed routes and /Me ------------------------------

    async def item(
        self, request: Request, resource_type: ResourceType, id: str, tenant: str
    ) -> Response:
        """GET, PUT, PATCH or DELETE one resource (after authorization)."""
        service = self.service
        method = request.method
        if method == "DELETE":
            await service.delete(tenant, resource_type, id, if_match=self._if_match(request))
            return SCIMResponse(None, 204)
        pairs = query_pairs(request)
        attributes = parse_attribute_list(pairs.get("attributes"))
        excluded = parse_attribute_list(pairs.get("excludedAttributes"))
        if method == "PUT":
            body = await read_json(request, self._body_limit)
            resource = await service.replace(
                tenant, resource_type, id, body, if_match=self._if_match(request)
            )
        elif method == "PATCH":
            body = await read_json(request, self._body_limit)
            if not attributes and resource_type.members_attribute is not None:
                # Entra's advice: a group PATCH response without its (possibly huge) member
                # list, unless the client asks for members with `attributes`.
                excluded = (*excluded, *_MEMBERS)
            resource = await service.patch(
                tenant,
                resource_type,
                id,
                body,
                if_match=self._if_match(request),
                members=wants_members(resource_type, attributes, excluded),
            )
        else:
            resource = await service.get(
                tenant,
                resource_type,
                id,
                members=wants_members(resource_type, attributes, excluded),
            )
            if_none_match = request.headers.get("if-none-match")
            if if_none_match is not None and self._etag:
                version = resource["meta"].get("version")
                if etag_matches(version, parse_etags(if_none_match)):
                    return SCIMResponse(None, 304, {"ETag": version})
        base = self.base_url(request, tenant)
        return self.resource_response(resource, resource_type, base, attributes, excluded)

    def _if_match(self, request: Request) -> str | None:
        return request.headers.get("if-match") if self._etag else None

    # -- root endpoints -----------------------------------------------------------------------

    async def root_search(self, request: Request) -> Response:
        """``POST /.search``: a query over every resource type."""
        try:
            tenant, _ = await self.enter(request, Action.QUERY, None)
            params = parse_search(await read_json(request, self._body_limit))
            result = await self.service.query_all(tenant, params)
            base = self.base_url(request, tenant)
            return self.list_response(
                result, None, base, params.attributes, params.excluded_attributes
            )
        except Exception as exc:
            return _failure(request, exc)

    async def bulk(self, request: Request) -> Response:
        """``POST /Bulk`` (RFC 7644 §3.7)."""
        try:
            tenant, principal = await self.enter(request, Action.BULK, None)
            if not self.config.bulk:
                raise NotImplementedFeature("Bulk is not supported by this service provider.")
            body = await read_json(request, self.config.bulk_max_payload_size)
            return await run_bulk(self, body, tenant, principal, self.base_url(request, tenant))
        except Exception as exc:
            return _failure(request, exc)

    async def me(self, request: Request) -> Response:
        """``/Me`` (RFC 7644 §3.11): the authenticated subject's own User resource."""
        try:
            resource_type = self.service.resource_type(self._me_type)
            tenant, principal = await self.enter(request, _ACTIONS[request.method], resource_type)
            if self._current_user is None:
                raise NotImplementedFeature("/Me is not supported by this service provider.")
            id = await self._current_user(principal)
            if id is None:
                raise NotFound("The authenticated subject has no resource here.")
            return await self.item(request, resource_type, id, tenant)
        except Exception as exc:
            return _failure(request, exc)

    # -- discovery (RFC 7644 §4) --------------------------------------------------------------

    async def _discovery(self, request: Request) -> tuple[str, str]:
        if self._public_discovery:
            tenant = request.path_params.get("tenant", self._default_tenant)
        else:
            tenant, _ = await self.enter(request, Action.DISCOVER, None)
        # RFC 7644 §4: a filter on discovery endpoints SHOULD be refused with 403, so that a
        # client cannot believe the conditions it named were applied.
        if "filter" in query_pairs(request):
            raise Forbidden("Filtering is not supported on discovery endpoints.")
        return tenant, self.base_url(request, tenant)

    async def service_provider_config(self, request: Request) -> Response:
        try:
            _, base = await self._discovery(request)
            return SCIMResponse(self.config.to_json(f"{base}/ServiceProviderConfig"))
        except Exception as exc:
            return _failure(request, exc)

    async def resource_types(self, request: Request) -> Response:
        try:
            _, base = await self._discovery(request)
            items = [
                rt.to_json(f"{base}/ResourceTypes/{rt.name}") for rt in self.service.resource_types
            ]
            return SCIMResponse(_list_of(items))
        except Exception as exc:
            return _failure(request, exc)

    async def resource_type(self, request: Request) -> Response:
        try:
            _, base = await self._discovery(request)
            rt = self.service.resource_type(request.path_params["name"])
            return SCIMResponse(rt.to_json(f"{base}/ResourceTypes/{rt.name}"))
        except Exception as exc:
            return _failure(request, exc)

    async def schemas(self, request: Request) -> Response:
        try:
            _, base = await self._discovery(request)
            items = [s.to_json(f"{base}/Schemas/{s.id}") for s in self._schemas.values()]
            return SCIMResponse(_list_of(items))
        except Exception as exc:
            return _failure(request, exc)

    async def schema(self, request: Request) -> Response:
        try:
            _, base = await self._discovery(request)
            wanted = request.path_params["urn"].lower()
            for schema in self._schemas.values():
                if schema.id.lower() == wanted:
                    return SCIMResponse(schema.to_json(f"{base}/Schemas/{schema.id}"))
            raise NotFound(f"Unknown schema '{request.path_params['urn']}'.")
        except Exception as exc:
            return _failure(request, exc)


class TypeEndpoints:
    """The endpoints of one resource type: collection, item and ``.search``."""

    def __init__(self, endpoints: Endpoints, resource_type: ResourceType) -> None:
        self._endpoints = endpoints
        self.resource_type = resource_type

    async def collection(self, request: Request) -> Response:
        """``GET`` (query) or ``POST`` (create) on the type's endpoint."""
        endpoints = self._endpoints
        rt = self.resource_type
        try:
            if request.method == "POST":
                tenant, _ = await endpoints.enter(request, Action.CREATE, rt)
                body = await read_json(request, endpoints.config.max_body_size)
                pairs = query_pairs(request)
                resource = await endpoints.service.create(tenant, rt, body)
                return endpoints.resource_response(
                    resource,
                    rt,
                    endpoints.base_url(request, tenant),
                    parse_attribute_list(pairs.get("attributes")),
                    parse_attribute_list(pairs.get("excludedAttributes")),
                    status=201,
                )
            tenant, _ = await endpoints.enter(request, Action.QUERY, rt)
            params = parse_query(query_pairs(request))
            result = await endpoints.service.query(tenant, rt, params)
            return endpoints.list_response(
                result,
                rt,
                endpoints.base_url(request, tenant),
                params.attributes,
                params.excluded_attributes,
            )
        except Exception as exc:
            return _failure(request, exc)

    async def item(self, request: Request) -> Response:
        """``GET``, ``PUT``, ``PATCH`` or ``DELETE`` on ``{endpoint}/{id}``."""
        endpoints = self._endpoints
        rt = self.resource_type
        try:
            tenant, _ = await endpoints.enter(request, _ACTIONS[request.method], rt)
            return await endpoints.item(request, rt, request.path_params["id"], tenant)
        except Exception as exc:
            return _failure(request, exc)

    async def search(self, request: Request) -> Response:
        """``POST {endpoint}/.search`` (RFC 7644 §3.4.3)."""
        endpoints = self._endpoints
        rt = self.resource_type
        try:
            tenant, _ = await endpoints.enter(request, Action.QUERY, rt)
            params = parse_search(await read_json(request, endpoints.config.max_body_size))
            result = await endpoints.service.query(tenant, rt, params)
            return endpoints.list_response(
                result,
                rt,
                endpoints.base_url(request, tenant),
                params.attributes,
                params.excluded_attributes,
            )
        except Exception as exc:
            return _failure(request, exc)


_ACTIONS = {
    "GET": Action.READ,
    "HEAD": Action.READ,
    "PUT": Action.REPLACE,
    "PATCH": Action.PATCH,
    "DELETE": Action.DELETE,
    "POST": Action.CREATE,
}


def _failure(request: Request, exc: Exception) -> Response:
    if isinstance(exc, SCIMError):
        return error_response(exc)
    if isinstance(exc, ClientDisconnect):
        return SCIMResponse(None, 400)  # nobody is listening; send the least
    return internal_error(request, exc)


def _list_of(items: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "schemas": [LIST_RESPONSE_SCHEMA],
        "totalResults": len(items),
        "itemsPerPage": len(items),
        "startIndex": 1,
        "Resources": items,
    }
