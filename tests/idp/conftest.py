from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.applications import Starlette

from reference_app.settings import Settings, TenantSeed
from tests.reference_app.support import running

TENANT = "fortes"
TOKEN = "entra-secret-token-0123456789abcdef"


@pytest.fixture
async def entra_app() -> AsyncIterator[Starlette]:
    """The reference app with one Entra-tolerant tenant, on the memory store."""
    async with running(Settings(tenants=(TenantSeed(TENANT, TOKEN),))) as app:
        yield app


@pytest.fixture
async def entra(entra_app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    """A client sending what Entra sends: the Tenant URL as base, the Secret Token as bearer."""
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=entra_app),
        base_url=f"http://testserver/scim/v2/{TENANT}",
        headers={"Authorization": f"Bearer {TOKEN}", "ADSCIMVersion": "5.0"},
    ) as client:
        yield client


OKTA_TENANT = "okta"
OKTA_TOKEN = "okta-api-token-0123456789abcdef"
OKTA_HEADERS = {
    "Authorization": f"Bearer {OKTA_TOKEN}",
    "User-Agent": "Okta SCIM Client 1.0.0",
    "Accept": "application/scim+json",
}


@pytest.fixture(params=["strict", "entra"])
async def okta_app(request: pytest.FixtureRequest) -> AsyncIterator[Starlette]:
    """The reference app with one tenant Okta provisions, under either input policy.

    Okta sends RFC shapes, so both policies must accept them.
    """
    seed = TenantSeed(OKTA_TENANT, OKTA_TOKEN, strict=request.param == "strict")
    async with running(Settings(tenants=(seed,))) as app:
        yield app


@pytest.fixture
async def okta(okta_app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    """A client sending what Okta's SCIM client sends: base URL, API token, its User-Agent."""
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=okta_app),
        base_url=f"http://testserver/scim/v2/{OKTA_TENANT}",
        headers=OKTA_HEADERS,
    ) as client:
        yield client
