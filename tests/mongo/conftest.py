"""Fixtures of the MongoDB event tests: a client on the session's server, its database dropped."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from pymongo import AsyncMongoClient


@pytest.fixture
async def client(mongodb_uri: str, mongo_db_name: str) -> AsyncIterator[Any]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongodb_uri, tz_aware=True)
    try:
        yield client
        await client.drop_database(mongo_db_name)
    finally:
        await client.close()
