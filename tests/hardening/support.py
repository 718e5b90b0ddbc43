"""Shared pieces of the hardening suites: apps over both stores, clients and the checks.

Every suite drives the real HTTP surface (``create_scim_app`` through ``httpx.ASGITransport``)
and judges responses with :func:`check_response`: nothing at or above 500, and every 4xx a
valid SCIM Error (RFC 7644 §3.12). :data:`TALLY` counts what the suites did, for the summary
``conftest.py`` prints at the end of the run.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping
from typing import Any

import httpx
from starlette.applications import Starlette
from starlette.types import ASGIApp, Receive, Scope, Send

from scimkit import ENTRA, GROUP, STRICT, USER, ResourceService, ResourceType, ServiceConfig
from scimkit.store import ResourceStore, StoreQuery
from scimkit.web import BearerTokenAuth, Principal, WebOptions, create_scim_app

__all__ = [
    "BULK_SCHEMA",
    "ERROR_SCHEMA",
    "PATCH_SCHEMA",
    "RESOURCE_TYPES",
    "SCIM_JSON",
    "SEARCH_SCHEMA",
    "TALLY",
    "TENANT_A",
    "TENANT_B",
    "TOKEN_A",
    "TOKEN_B",
    "USER_URN",
    "GROUP_URN",
    "ENTERPRISE_URN",
    "RawQuery",
    "check_error",
    "check_response",
    "client_for",
    "count",
    "group_body",
    "make_app",
    "patch_body",
    "snapshot",
    "user_body",
]

ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"
PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
SEARCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"
BULK_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
USER_URN = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_URN = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE_URN = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
SCIM_JSON = "application/scim+json"

# Two tenants with different input policies, so fuzzing covers both validators.
TENANT_A = "acme"
TENANT_B = "globex"
TOKEN_A = "acme-token-3f9a0c1d5e7b4a2c8d6e0f1a2b3c4d5e"
TOKEN_B = "globex-token-9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b"
RESOURCE_TYPES: tuple[ResourceType, ...] = (USER, GROUP)

# RFC 7644 Table 9 and RFC 9865 §5: the only scimType keywords a client can act on.
SCIM_TYPES = frozenset(
    {
        "invalidFilter",
        "tooMany",
        "uniqueness",
        "mutability",
        "invalidSyntax",
        "invalidPath",
        "noTarget",
        "invalidValue",
        "invalidVers",
        "sensitive",
        "invalidCursor",
        "expiredCursor",
        "invalidCount",
    }
)

TALLY: Counter[str] = Counter()
"""What the suites did: ``http cases``, ``5xx``, ``races``, ``faults``... (printed at the end)."""


def make_app(
    store: ResourceStore,
    *,
    config: ServiceConfig | None = None,
    me: Mapping[str, str] | None = None,
) -> Starlette:
    """The SCIM app over ``store`` for tenants A (Entra-tolerant) and B (strict).

    ``me`` maps a tenant to the id of its token holder's User, for ``/Me``.
    """
    service = ResourceService(
        store,
        RESOURCE_TYPES,
        config=config,
        tolerance_for=lambda tenant: ENTRA if tenant == TENANT_A else STRICT,
    )
    me_ids = me if me is not None else {}

    async def current_user(principal: Principal) -> str | None:
        return me_ids.get(principal.tenant)

    options = WebOptions(
        authenticate=BearerTokenAuth.from_tokens({TENANT_A: [TOKEN_A], TENANT_B: [TOKEN_B]}),
        current_user=current_user,
    )
    return create_scim_app(service, options)


class RawQuery:
    """Sends the ``x-raw-query`` header's bytes as the query string, unencoded.

    httpx percent-encodes what a URL may not hold; real clients (Entra among them) send raw
    bytes, which the query parser must survive too.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = scope["headers"]
            raw = [value for key, value in headers if key == b"x-raw-query"]
            if raw:
                scope = {
                    **scope,
                    "query_string": raw[0],
                    "headers": [(k, v) for k, v in headers if k != b"x-raw-query"],
                }
        await self.app(scope, receive, send)


def client_for(app: ASGIApp, tenant: str, token: str | None) -> httpx.AsyncClient:
    """A client at ``tenant``'s base URL sending ``token`` (none when ``None``)."""
    headers = {"Content-Type": SCIM_JSON}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=RawQuery(app)),
        base_url=f"http://scim.test/scim/v2/{tenant}",
        headers=headers,
        timeout=None,
    )


def check_error(response: httpx.Response) -> dict[str, Any]:
    """Assert the response is a valid SCIM Error (RFC 7644 §3.12) and return its body."""
    status = response.status_code
    assert response.headers.get("content-type", "").startswith(SCIM_JSON), response.headers
    body = response.json()
    assert isinstance(body, dict), body
    assert body.get("schemas") == [ERROR_SCHEMA], body
    assert body.get("status") == str(status), body
    assert isinstance(body.get("detail"), str), body
    scim_type = body.get("scimType")
    if scim_type is not None:
        assert scim_type in SCIM_TYPES, body
        if status == 409:
            assert scim_type == "uniqueness", body
        else:
            assert status == 400, body
    if status == 401:
        assert "www-authenticate" in response.headers
    return body


def check_response(response: httpx.Response, kind: str = "http") -> None:
    """No 5xx; 4xx are SCIM Errors; other bodies are JSON. Counts the case in :data:`TALLY`."""
    TALLY[f"{kind} cases"] += 1
    status = response.status_code
    TALLY[f"{kind} {status // 100}xx"] += 1
    assert status < 500, f"{response.request.method} {response.request.url}: {response.text}"
    if status >= 400:
        check_error(response)
    elif 300 <= status < 400:
        # 304 for If-None-Match; Starlette redirects "/Users/" to "/Users" (307) before
        # anything else runs.
        assert status in (304, 307), response.headers
    elif status != 204:
        json.loads(response.content)


async def snapshot(store: ResourceStore, tenant: str) -> list[list[dict[str, Any]]]:
    """Every resource of ``tenant``, members and versions included, per type."""
    found = []
    for resource_type in RESOURCE_TYPES:
        page = await store.query(tenant, resource_type, StoreQuery(count=None))
        found.append(sorted(page.resources, key=lambda r: str(r["id"])))
    return found


def user_body(user_name: str, **extra: Any) -> dict[str, Any]:
    return {"schemas": [USER_URN], "userName": user_name, **extra}


def group_body(display_name: str, members: Iterable[str] = (), **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"schemas": [GROUP_URN], "displayName": display_name, **extra}
    if members:
        body["members"] = [{"value": member} for member in members]
    return body


def patch_body(*operations: dict[str, Any]) -> dict[str, Any]:
    return {"schemas": [PATCH_SCHEMA], "Operations": list(operations)}


def count(kind: str, amount: int = 1) -> None:
    """Record ``amount`` more of ``kind`` in :data:`TALLY`."""
    TALLY[kind] += amount
