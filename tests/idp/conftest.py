from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.applications import Starlette

from reference_app.settings import Settings, TenantSeed
from tests.reference_app.support import running

TENANT = "fortes"
TOKEN = "entra-secret-token-0123456789abcdef"


def idp_client(app: Starlette, tenant: str, headers: dict[str, str]) -> httpx.AsyncClient:
    """A client at ``tenant``'s Tenant URL, sending ``headers`` as the IdP does."""
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url=f"http://testserver/scim/v2/{tenant}",
        headers=headers,
    )


@pytest.fixture
async def entra_app() -> AsyncIterator[Starlette]:
    """The reference app with one Entra-tolerant tenant, on the memory store."""
    async with running(Settings(tenants=(TenantSeed(TENANT, TOKEN),))) as app:
        yield app


@pytest.fixture
async def entra(entra_app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    """A client sending what Entra sends: the Tenant URL as base, the Secret Token as bearer."""
    headers = {"Authorization": f"Bearer {TOKEN}", "ADSCIMVersion": "5.0"}
    async with idp_client(entra_app, TENANT, headers) as client:
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
    async with idp_client(okta_app, OKTA_TENANT, OKTA_HEADERS) as client:
        yield client
