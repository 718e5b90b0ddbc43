from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.applications import Starlette

from tests.reference_app.support import (
    SETTINGS_VARIABLES,
    TOKEN_A,
    TOKEN_B,
    running,
    scim_client,
    two_tenants,
)


@pytest.fixture(autouse=True)
def _no_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """The app's own variables are unset, so the machine's environment cannot leak in."""
    for name in SETTINGS_VARIABLES:
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
async def app() -> AsyncIterator[Starlette]:
    """The reference app on the memory store with tenants ``acme`` and ``beta``, started."""
    async with running(two_tenants()) as started:
        yield started


@pytest.fixture
async def acme(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    async with scim_client(app, "acme", TOKEN_A) as client:
        yield client


@pytest.fixture
async def beta(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    async with scim_client(app, "beta", TOKEN_B) as client:
        yield client


@pytest.fixture
async def root(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    """A client at the server root, without credentials."""
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://testserver"
    ) as client:
        yield client
