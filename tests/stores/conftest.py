"""Service fixtures over both stores: the embedded one and MongoDB (stand-in or real server).

A test module names its resource types with a ``resource_types`` fixture; ``service`` then runs each
test once per store.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence

import pytest

from scimkit import MemoryStore, ResourceService, ResourceType
from scimkit.store import ResourceStore
from tests.mongo_fixtures import open_mongo_store


@pytest.fixture
async def mongo_store(
    mongodb_uri: str, mongo_db_name: str, resource_types: Sequence[ResourceType]
) -> AsyncIterator[ResourceStore]:
    async with open_mongo_store(mongodb_uri, mongo_db_name, tuple(resource_types)) as store:
        yield store


@pytest.fixture(params=["memory", pytest.param("mongo", marks=pytest.mark.mongo)])
def service(
    request: pytest.FixtureRequest, resource_types: Sequence[ResourceType]
) -> ResourceService:
    store = MemoryStore() if request.param == "memory" else request.getfixturevalue("mongo_store")
    return ResourceService(store, tuple(resource_types))
