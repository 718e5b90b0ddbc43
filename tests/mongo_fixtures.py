"""pytest fixtures for tests that need a MongoDB-compatible server.

``tests/conftest.py`` imports these. The server is, in order of preference:

1. ``$SCIMKIT_TEST_MONGODB_URI`` when set (e.g. a real MongoDB), used as is;
2. else mongoeco's wire server (``scimkit.testing._mongo_server.MongoServer``), started once
   per session from ``.venv-mongoeco`` (built by ``scripts/mongoeco-env``).

Without ``.venv-mongoeco`` the Mongo tests are skipped locally, but fail under CI (``CI=true``):
CI must never pass by silently skipping them.
"""

from __future__ import annotations

import gc
import os
import uuid
import warnings
from collections.abc import AsyncIterator, Iterable, Iterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from scimkit.testing._mongo_server import (
    ENV_MONGOECO_PYTHON,
    MongoServer,
    default_mongoeco_python,
    mongodb_uri_from_env,
)

__all__ = [
    "collect_dropped_sockets",
    "mongo_db_name",
    "mongo_server",
    "mongodb_uri",
    "open_mongo_store",
    "require_mongoeco",
]


def _under_ci() -> bool:
    # Test support reads the environment on purpose: CI sets CI=true.
    return os.environ.get("CI", "").strip().lower() in {"true", "1", "yes"}


def require_mongoeco() -> None:
    """Skip (locally) or fail (under CI) when mongoeco's virtualenv is missing."""
    python = default_mongoeco_python()
    if python.exists():
        return
    reason = (
        f"no MongoDB for the tests: mongoeco's Python {python} is missing "
        f"(run scripts/mongoeco-env, set {ENV_MONGOECO_PYTHON}, "
        "or point SCIMKIT_TEST_MONGODB_URI at a server)"
    )
    if _under_ci():
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def mongodb_uri() -> Iterator[str]:
    """The URI of the session's MongoDB-compatible server (shared: use your own database)."""
    uri = mongodb_uri_from_env()
    if uri is not None:
        yield uri
        return
    require_mongoeco()
    with MongoServer() as server:
        yield server.uri


@pytest.fixture
def mongo_server() -> Iterator[MongoServer]:
    """A private mongoeco server for this test alone, free to be stopped and restarted.

    Always mongoeco (never ``$SCIMKIT_TEST_MONGODB_URI``): fault-injection tests need to control
    the process. Stopped at the end of the test.
    """
    require_mongoeco()
    with MongoServer() as server:
        yield server


@pytest.fixture
def collect_dropped_sockets() -> Iterator[None]:
    """Collect, quietly and at the test's end, sockets the driver drops when its server stops.

    pymongo's server monitor can leave a socket to a stopped or killed server to the garbage
    collector, with a ResourceWarning; under ``-W error`` that warning would fail whichever
    later test the collector happens to run in. For tests that stop a server under a client.
    """
    yield
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        gc.collect()


@pytest.fixture
def mongo_db_name() -> str:
    """A database name unique to this test, so tests can share the session's server."""
    return f"scimkit_test_{uuid.uuid4().hex[:16]}"


@asynccontextmanager
async def open_mongo_store(
    uri: str, database: str, resource_types: Iterable[Any]
) -> AsyncIterator[Any]:
    """A MongoStore with its indexes in ``database`` (dropped afterwards), as the app opens it."""
    from pymongo import AsyncMongoClient

    from scimkit.mongo import MongoStore

    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(uri, tz_aware=True)
    try:
        store = MongoStore(client[database], resource_types)
        await store.ensure_indexes()
        yield store
        await client.drop_database(database)
    finally:
        await client.close()
