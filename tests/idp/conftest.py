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
