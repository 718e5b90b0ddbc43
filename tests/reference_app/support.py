"""Helpers shared by the reference-app and IdP replay tests: a running app and its clients."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from starlette.applications import Starlette

from reference_app.app import create_app
from reference_app.settings import Settings, TenantSeed
from scimkit.testing import ASGIClient

__all__ = [
    "ERROR_SCHEMA",
    "LIST_SCHEMA",
    "PATCH_SCHEMA",
    "SETTINGS_VARIABLES",
    "TOKEN_A",
    "TOKEN_B",
    "patch_body",
    "raw_get",
    "running",
    "scim_client",
    "scim_json",
    "two_tenants",
]

TOKEN_A = "token-of-acme-0123456789abcdef"
TOKEN_B = "token-of-beta-0123456789abcdef"
ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"
LIST_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
SETTINGS_VARIABLES = (
    "SCIMKIT_HOST",
    "SCIMKIT_PORT",
    "SCIMKIT_MONGODB_URI",
    "SCIMKIT_MONGODB_DATABASE",
    "SCIMKIT_TENANTS",
    "SCIMKIT_STRICT_TENANTS",
    "SCIMKIT_WORKERS",
    "SCIMKIT_SERVER",
    "SCIMKIT_PUBLIC_URL",
    "SCIMKIT_CERTFILE",
    "SCIMKIT_KEYFILE",
    "SCIMKIT_CURSOR_SECRET",
    "SCIMKIT_LOG_LEVEL",
    "SCIMKIT_ADMINS",
    "SCIMKIT_SESSION_SECRET",
    "SCIMKIT_WORKER_SETTINGS",
    "SCIMKIT_LOG_FORMAT",
    "SCIMKIT_METRICS_PORT",
    "SCIMKIT_METRICS_TENANT_LABELS",
    "SCIMKIT_EVENTS",
    "SCIMKIT_EVENTS_TOKENS",
    "SCIMKIT_EVENTS_PUSH",
    "SCIMKIT_EVENTS_KEY",
    "SCIMKIT_REQUEST_LOG",
    "SCIMKIT_MALLOC_TUNING",
    "SCIMKIT_TENANT_CACHE_SECONDS",
)
"""The reference app's own environment variables (tests unset them)."""


def two_tenants(**changes: Any) -> Settings:
    """Settings with tenants ``acme`` (``TOKEN_A``) and ``beta`` (``TOKEN_B``), memory store."""
    values: dict[str, Any] = {
        "tenants": (TenantSeed("acme", TOKEN_A), TenantSeed("beta", TOKEN_B)),
    }
    values.update(changes)
    return Settings(**values)


@asynccontextmanager
async def running(settings: Settings) -> AsyncIterator[Starlette]:
    """The app for ``settings`` with its lifespan entered, as a server would."""
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        yield app


def scim_client(app: Starlette, tenant: str, token: str | None) -> httpx.AsyncClient:
    """A client whose base URL is the tenant's Tenant URL, sending ``token`` as Entra does."""
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url=f"http://testserver/scim/v2/{tenant}",
        headers=headers,
    )


def scim_json(body: Any) -> dict[str, Any]:
    """Keyword arguments sending ``body`` as ``application/scim+json`` (what Entra sends)."""
    return {
        "content": json.dumps(body).encode(),
        "headers": {"Content-Type": "application/scim+json"},
    }


def patch_body(*operations: dict[str, Any]) -> dict[str, Any]:
    return {"schemas": [PATCH_SCHEMA], "Operations": list(operations)}


async def raw_get(
    app: Starlette, path: str, query: bytes, token: str
) -> tuple[int, dict[str, Any]]:
    """GET with a query string sent byte for byte (httpx would percent-encode raw quotes)."""
    client = ASGIClient(app, headers=[(b"authorization", f"Bearer {token}".encode())])
    response = await client.request("GET", path, query=query)
    return response.status, response.json()
