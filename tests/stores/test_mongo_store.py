"""MongoStore: the store contract on PyMongo's async client and on motor.

The server is mongoeco's wire server, or a real MongoDB when ``SCIMKIT_TEST_MONGODB_URI`` is
set (the session fixture ``mongodb_uri`` decides). Each test gets its own database.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from motor.motor_asyncio import AsyncIOMotorClient
from pymongo import AsyncMongoClient

from scimkit.mongo import MongoStore
from scimkit.testing import CONTRACT_RESOURCE_TYPES, StoreContract

pytestmark = pytest.mark.mongo


def connect(driver: str, uri: str, **options: Any) -> tuple[Any, Callable[[], Awaitable[None]]]:
    """A client of ``driver`` and an async function closing it."""
    options.setdefault("serverSelectionTimeoutMS", 5000)
    if driver == "pymongo":
        client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(uri, **options)
        return client, client.close
    motor_client = AsyncIOMotorClient(uri, **options)

    async def close() -> None:
        motor_client.close()

    return motor_client, close


async def open_store(
    driver: str, uri: str, database: str, **options: Any
) -> AsyncIterator[MongoStore]:
    client, close = connect(driver, uri)
    try:
        store = MongoStore(client[database], CONTRACT_RESOURCE_TYPES, **options)
        await store.ensure_indexes()
        yield store
        await client.drop_database(database)
    finally:
        await close()


class TestMongoStoreOnPyMongo(StoreContract):
    @pytest.fixture
    async def store(self, mongodb_uri: str, mongo_db_name: str) -> AsyncIterator[MongoStore]:
        async for store in open_store("pymongo", mongodb_uri, mongo_db_name):
            yield store


class TestMongoStoreOnMotor(StoreContract):
    @pytest.fixture
    async def store(self, mongodb_uri: str, mongo_db_name: str) -> AsyncIterator[MongoStore]:
        async for store in open_store("motor", mongodb_uri, mongo_db_name):
            yield store
