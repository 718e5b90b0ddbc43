"""Fixtures of the hardening suites: a store of each kind, the app over it, two tenants' clients.

``store`` is parametrized over MemoryStore and MongoStore (on the session's mongoeco server,
in a database of its own), so every suite that takes it runs against both stores.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from scimkit import MemoryStore
from scimkit.store import ResourceStore
from tests.hardening.support import (
    RESOURCE_TYPES,
    TALLY,
    TENANT_A,
    TENANT_B,
    TOKEN_A,
    TOKEN_B,
    client_for,
    make_app,
)
from tests.mongo_fixtures import open_mongo_store


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Print what the hardening suites did (the issue's closing note asks for these counts)."""
    if TALLY:
        counts = ", ".join(f"{name}: {TALLY[name]}" for name in sorted(TALLY))
        terminalreporter.write_line(f"hardening: {counts}")


@pytest.fixture
def memory_store() -> MemoryStore:
    return MemoryStore()


@pytest.fixture
async def mongo_store(mongodb_uri: str, mongo_db_name: str) -> AsyncIterator[ResourceStore]:
    """A MongoStore in a database of this test's own on the session's server."""
    async with open_mongo_store(mongodb_uri, mongo_db_name, RESOURCE_TYPES) as store:
        yield store


@pytest.fixture(params=["memory", pytest.param("mongo", marks=pytest.mark.mongo)])
def store(request: pytest.FixtureRequest) -> ResourceStore:
    """An empty store of each kind: the suites that take it run against both."""
    found: ResourceStore = request.getfixturevalue(f"{request.param}_store")
    return found


@pytest.fixture
def app(store: ResourceStore) -> Starlette:
    return make_app(store)


@pytest.fixture
async def client_a(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    """Tenant A's client, with A's token (Entra-tolerant input)."""
    async with client_for(app, TENANT_A, TOKEN_A) as client:
        yield client


@pytest.fixture
async def client_b(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    """Tenant B's client, with B's token (strict RFC input)."""
    async with client_for(app, TENANT_B, TOKEN_B) as client:
        yield client
