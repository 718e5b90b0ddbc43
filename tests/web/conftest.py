"""Fixture chain for the HTTP tests: store -> service -> app -> client (httpx over ASGI)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from scimkit import ENTRA, GROUP, USER, MemoryStore, ResourceService, ServiceConfig
from scimkit.testing import ASGIClient
from scimkit.web import BearerTokenAuth, Principal, WebOptions, create_scim_app

TOKENS = {"acme": ["acme-primary", "acme-secondary"], "globex": ["globex-token"]}
BASE = "http://scim.test/scim/v2/acme"
SCIM_JSON = "application/scim+json"


def user_body(user_name: str = "alice@example.com", **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
        "userName": user_name,
        "active": True,
    }
    body.update(extra)
    return body


def group_body(display_name: str = "Admins", **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "displayName": display_name,
    }
    body.update(extra)
    return body


def patch_body(*operations: dict[str, Any]) -> dict[str, Any]:
    return {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": list(operations),
    }


@pytest.fixture
def config() -> ServiceConfig:
    return ServiceConfig()


@pytest.fixture
def store() -> MemoryStore:
    return MemoryStore()


@pytest.fixture
def service(store: MemoryStore, config: ServiceConfig) -> ResourceService:
    return ResourceService(store, [USER, GROUP], config=config, tolerance=ENTRA)


@pytest.fixture
def me_ids() -> dict[str, str]:
    """Principal name -> User id, for the /Me hook; tests fill it."""
    return {}


@pytest.fixture
def app_factory(service: ResourceService, me_ids: dict[str, str]) -> Callable[..., Any]:
    def make(**options: Any) -> Any:
        async def current_user(principal: Principal) -> str | None:
            return me_ids.get(principal.name)

        options.setdefault("authenticate", BearerTokenAuth.from_tokens(TOKENS))
        options.setdefault("current_user", current_user)
        return create_scim_app(service, WebOptions(**options))

    return make


@pytest.fixture
def app(app_factory: Callable[..., Any]) -> Any:
    return app_factory()


def acme_client(app: Any) -> httpx.AsyncClient:
    """An HTTP client of tenant ``acme`` (its primary token) on an app, in process."""
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url=BASE,
        headers={"Authorization": "Bearer acme-primary", "Content-Type": SCIM_JSON},
    )


@pytest.fixture
async def client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    async with acme_client(app) as http:
        yield http


@pytest.fixture
async def user(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.post("/Users", json=user_body())
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()
    return data


async def raw_request(
    app: Any,
    method: str,
    path: str,
    *,
    query_string: bytes = b"",
    headers: list[tuple[bytes, bytes]] | None = None,
    body: bytes = b"",
    chunks: list[bytes] | None = None,
) -> tuple[int, dict[str, str], bytes]:
    """Call the ASGI app with an exact raw query string and body (no client re-encoding)."""
    client = ASGIClient(
        app, "http://scim.test", headers=[(b"authorization", b"Bearer acme-primary")]
    )
    response = await client.request(
        method, path, query=query_string, headers=headers or (), body=body, chunks=chunks
    )
    return response.status, response.headers, response.body
