"""``/readyz``: 200 only when the app has started, the database answers and the indexes exist."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import httpx
import pytest
from pymongo import AsyncMongoClient

from reference_app.settings import Settings
from scimkit.testing._mongo_server import MongoServer
from tests.reference_app.support import running


async def _root(app: object) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


async def test_memory_store_is_ready_once_started(root: httpx.AsyncClient):
    answer = await root.get("/readyz")
    assert (answer.status_code, answer.json()) == (200, {"status": "ready"})
    assert answer.headers["Cache-Control"] == "no-store"


@pytest.mark.mongo
async def test_missing_indexes_make_the_app_unready(mongodb_uri: str, mongo_db_name: str):
    settings = Settings(mongodb_uri=mongodb_uri, mongodb_database=mongo_db_name)
    async with running(settings) as app:
        async for root in _root(app):
            assert (await root.get("/readyz")).status_code == 200
            store = app.state.store
            assert await store.missing_indexes() == []
            client: AsyncMongoClient[dict[str, object]] = AsyncMongoClient(mongodb_uri)
            try:
                await client[mongo_db_name]["scim_memberships"].drop_index("t_m_g")
            finally:
                await client.close()
            assert await store.missing_indexes() == ["t_m_g"]
            answer = await root.get("/readyz")
            assert (answer.status_code, answer.json()) == (
                503,
                {"status": "unavailable", "reason": "indexes"},
            )
            # Liveness is another question: the process and the database are fine.
            assert (await root.get("/healthz")).status_code == 200
            await store.ensure_indexes()
            assert (await root.get("/readyz")).status_code == 200


@pytest.mark.mongo
async def test_an_unreachable_database_makes_the_app_unready(
    mongo_server: MongoServer, mongo_db_name: str
):
    settings = Settings(
        mongodb_uri=mongo_server.uri + "&serverSelectionTimeoutMS=1000",
        mongodb_database=mongo_db_name,
    )
    async with running(settings) as app:
        async for root in _root(app):
            assert (await root.get("/readyz")).status_code == 200
            mongo_server.stop()
            answer = await root.get("/readyz")
            assert (answer.status_code, answer.json()["reason"]) == (503, "database")
            mongo_server.start()
            deadline = time.monotonic() + 15
            while (answer := await root.get("/readyz")).status_code == 503 and (
                answer.json()["reason"] == "database"
            ):
                assert time.monotonic() < deadline, "the database still unreachable"
                await asyncio.sleep(0.2)
            # The stand-in keeps its data in memory: restarted, it has no indexes, and readiness
            # says so (a real MongoDB keeps them and is ready again here).
            assert answer.status_code == 200 or answer.json()["reason"] == "indexes"


async def test_not_ready_before_startup():
    from reference_app.app import create_app

    app = create_app(Settings())  # the lifespan has not run
    async for root in _root(app):
        answer = await root.get("/readyz")
        assert (answer.status_code, answer.json()["reason"]) == (503, "starting")
