"""The SCIM endpoints: one plain Starlette endpoint per route, over a ResourceService.

Every endpoint authenticates, authorizes, calls the service and hands the result to the
``Renderer``; ``answers_scim_errors`` turns whatever an endpoint raises into a SCIM Error body.
"""

from __future__ import annotations

from functools import lru_cache
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response

from scimkit._bulk import run_bulk
from scimkit._errors import Forbidden, NotFound, NotImplementedFeature, Unauthorized
from scimkit._meta import etag_matches, parse_etags
from scimkit._resource_type import ResourceType
from scimkit._schema import Schema
from scimkit._service import QueryParams, ResourceService, wants_members
from scimkit.web._auth import Action, Principal
from scimkit.web._errors import answers_scim_errors, logger
from scimkit.web._options import WebOptions
from scimkit.web._params import (
    header,
    parse_attribute_list,
    parse_query,
    parse_search,
    query_pairs,
    read_json,
)
from scimkit.web._render import Renderer, list_of
from scimkit.web._responses import SCIMResponse

__all__ = ["Endpoints", "TypeEndpoints"]

_WWW_AUTHENTICATE = {"WWW-Authenticate": "Bearer"}
# The action each HTTP method performs on a resource (also a Bulk operation's method).
_ACTIONS = {
    "GET": Action.READ,
    "HEAD": Action.READ,
    "PUT": Action.REPLACE,
    "PATCH": Action.PATCH,
    "DELETE": Action.DELETE,
    "POST": Action.CREATE,
}


@lru_cache(maxsize=4096)
def _quoted(tenant: str) -> str:
    return quote(tenant, safe="")


class Endpoints:
    """The endpoints of one SCIM service, shared by every tenant (see ``WebOptions``)."""

    def __init__(self, service: ResourceService, options: WebOptions) -> None:
        self.service = service
        self.config = service.config
        self.options = options
        self.render = Renderer(service)
        self._base_path = options.base_path.rstrip("/")
        self._public_url = (
            options.public_url.rstrip("/") if options.public_url is not None else None
        )
        self._etag = self.config.etag
        self.body_limit = self.config.max_body_size
        self.types = {rt.name: TypeEndpoints(self, rt) for rt in service.resource_types}
        schemas: dict[str, Schema] = {}
        for rt in service.resource_types:
            for schema in (rt.schema, *rt.extension_schemas()):
                schemas.setdefault(schema.id, schema)
        self._schemas = schemas

    # -- request plumbing ---------------------------------------------------------------------

    async def authenticate_and_authorize(
        self, request: Request, action: Action, resource_type: ResourceType | None
    ) -> tuple[str, Principal]:
        """Authenticate (401) and authorize (403) a request; return its tenant and caller."""
        tenant = request.path_params.get("tenant", self.options.default_tenant)
        principal = await self.options.authenticate(request, tenant)
        # A principal of another tenant is treated as no principal: nothing is revealed.
        if principal is None or principal.tenant != tenant:
            raise Unauthorized(headers=_WWW_AUTHENTICATE)
        await self.authorize(principal, action, resource_type)
        return tenant, principal

    async def authorize(
        self, principal: Principal, action: Action, resource_type: ResourceType | None
    ) -> None:
        """Ask the authorize hook, if any; 403 when it says no."""
        hook = self.options.authorize
        if hook is not None and not await hook(principal, action, resource_type):
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

    async def query(
        self,
        request: Request,
        tenant: str,
        resource_type: ResourceType | None,
        params: QueryParams,
    ) -> Response:
        """Run a query over one resource type (or every one) and answer its ListResponse."""
        if resource_type is None:
            result = await self.service.query_all(tenant, params)
        else:
            # Shaped and rendered below, never kept: the store's values need no copy.
            result = await self.service.query_reply(tenant, resource_type, params)
        return self.render.listing(
            result,
            resource_type,
            self.base_url(request, tenant),
            params.attributes,
            params.excluded_attributes,
        )

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
            body = await read_json(request, self.body_limit)
            resource = await service.replace(
                tenant, resource_type, id, body, if_match=self._if_match(request)
            )
        elif method == "PATCH":
            body = await read_json(request, self.body_limit)
            reply = await service.patch_reply(
                tenant,
                resource_type,
                id,
                body,
                if_match=self._if_match(request),
                attributes=attributes,
                excluded_attributes=excluded,
            )
            if not reply.represent:
                version = reply.resource["meta"].get("version")
                return SCIMResponse(
                    None, 204, {"ETag": version} if self._etag and version else None
                )
            resource = reply.resource
        else:
            resource = await service.get(
                tenant,
                resource_type,
                id,
                members=wants_members(resource_type, attributes, excluded),
            )
            if_none_match = header(request, b"if-none-match")
            if if_none_match is not None and self._etag:
                version = resource["meta"].get("version")
                if etag_matches(version, parse_etags(if_none_match)):
                    return SCIMResponse(None, 304, {"ETag": version})
        base = self.base_url(request, tenant)
        return self.render.resource(resource, resource_type, base, attributes, excluded)

    def _if_match(self, request: Request) -> str | None:
        return header(request, b"if-match") if self._etag else None

    # -- root endpoints -----------------------------------------------------------------------

    @answers_scim_errors
    async def root_search(self, request: Request) -> Response:
        """``POST /.search``: a query over every resource type."""
        tenant, _ = await self.authenticate_and_authorize(request, Action.QUERY, None)
        params = parse_search(await read_json(request, self.body_limit))
        return await self.query(request, tenant, None, params)

    @answers_scim_errors
    async def bulk(self, request: Request) -> Response:
        """``POST /Bulk`` (RFC 7644 §3.7): the body read here, the operations run by the core."""
        tenant, principal = await self.authenticate_and_authorize(request, Action.BULK, None)
        if not self.config.bulk:
            raise NotImplementedFeature("Bulk is not supported by this service provider.")
        body = await read_json(request, self.config.bulk_max_payload_size)

        async def permit(method: str, resource_type: ResourceType) -> None:
            await self.authorize(principal, _ACTIONS[method], resource_type)

        results = await run_bulk(self.service, tenant, body, permit=permit)
        for result in results:
            if result.unexpected is not None:
                logger.error(
                    "Unexpected error in bulk operation %d",
                    result.index,
                    exc_info=result.unexpected,
                )
        return self.render.bulk(results, self.base_url(request, tenant))

    @answers_scim_errors
    async def me(self, request: Request) -> Response:
        """``/Me`` (RFC 7644 §3.11): the authenticated subject's own User resource."""
        resource_type = self.service.resource_type(self.options.me_resource_type)
        tenant, principal = await self.authenticate_and_authorize(
            request, _ACTIONS[request.method], resource_type
        )
        current_user = self.options.current_user
        if current_user is None:
            raise NotImplementedFeature("/Me is not supported by this service provider.")
        id = await current_user(principal)
        if id is None:
            raise NotFound("The authenticated subject has no resource here.")
        return await self.item(request, resource_type, id, tenant)

    # -- discovery (RFC 7644 §4) --------------------------------------------------------------

    async def _discovery(self, request: Request) -> str:
        """The base URL for a discovery request, once it may proceed."""
        if self.options.public_discovery:
            tenant = request.path_params.get("tenant", self.options.default_tenant)
        else:
            tenant, _ = await self.authenticate_and_authorize(request, Action.DISCOVER, None)
        # RFC 7644 §4: a filter on discovery endpoints SHOULD be refused with 403, so that a
        # client cannot believe the conditions it named were applied.
        if "filter" in query_pairs(request):
            raise Forbidden("Filtering is not supported on discovery endpoints.")
        return self.base_url(request, tenant)

    @answers_scim_errors
    async def service_provider_config(self, request: Request) -> Response:
        base = await self._discovery(request)
        return SCIMResponse(self.config.to_json(f"{base}/ServiceProviderConfig"))

    @answers_scim_errors
    async def resource_types(self, request: Request) -> Response:
        base = await self._discovery(request)
        items = [
            rt.to_json(f"{base}/ResourceTypes/{rt.name}") for rt in self.service.resource_types
        ]
        return SCIMResponse(list_of(items))

    @answers_scim_errors
    async def resource_type(self, request: Request) -> Response:
        base = await self._discovery(request)
        rt = self.service.resource_type(request.path_params["name"])
        return SCIMResponse(rt.to_json(f"{base}/ResourceTypes/{rt.name}"))

    @answers_scim_errors
    async def schemas(self, request: Request) -> Response:
        base = await self._discovery(request)
        items = [s.to_json(f"{base}/Schemas/{s.id}") for s in self._schemas.values()]
        return SCIMResponse(list_of(items))

    @answers_scim_errors
    async def schema(self, request: Request) -> Response:
        base = await self._discovery(request)
        wanted = request.path_params["urn"].lower()
        for schema in self._schemas.values():
            if schema.id.lower() == wanted:
                return SCIMResponse(schema.to_json(f"{base}/Schemas/{schema.id}"))
        raise NotFound(f"Unknown schema '{request.path_params['urn']}'.")


class TypeEndpoints:
    """The endpoints of one resource type: collection, item and ``.search``."""

    def __init__(self, endpoints: Endpoints, resource_type: ResourceType) -> None:
        self._endpoints = endpoints
        self.resource_type = resource_type

    @answers_scim_errors
    async def collection(self, request: Request) -> Response:
        """``GET`` (query) or ``POST`` (create) on the type's endpoint."""
        endpoints = self._endpoints
        rt = self.resource_type
        if request.method == "POST":
            tenant, _ = await endpoints.authenticate_and_authorize(request, Action.CREATE, rt)
            body = await read_json(request, endpoints.body_limit)
            pairs = query_pairs(request)
            resource = await endpoints.service.create(tenant, rt, body, shared=True)
            return endpoints.render.resource(
                resource,
                rt,
                endpoints.base_url(request, tenant),
                parse_attribute_list(pairs.get("attributes")),
                parse_attribute_list(pairs.get("excludedAttributes")),
                status=201,
            )
        tenant, _ = await endpoints.authenticate_and_authorize(request, Action.QUERY, rt)
        return await endpoints.query(request, tenant, rt, parse_query(query_pairs(request)))

    @answers_scim_errors
    async def item(self, request: Request) -> Response:
        """``GET``, ``PUT``, ``PATCH`` or ``DELETE`` on ``{endpoint}/{id}``."""
        endpoints = self._endpoints
        rt = self.resource_type
        tenant, _ = await endpoints.authenticate_and_authorize(
            request, _ACTIONS[request.method], rt
        )
        return await endpoints.item(request, rt, request.path_params["id"], tenant)

    @answers_scim_errors
    async def search(self, request: Request) -> Response:
        """``POST {endpoint}/.search`` (RFC 7644 §3.4.3)."""
        endpoints = self._endpoints
        rt = self.resource_type
        tenant, _ = await endpoints.authenticate_and_authorize(request, Action.QUERY, rt)
        params = parse_search(await read_json(request, endpoints.body_limit))
        return await endpoints.query(request, tenant, rt, params)
