"""MongoStore.refold: documents written under the old folding rule are brought up to date.

Before fold_case was a canonical caseless match (Unicode §3.13 D145), U+0399 U+0308 U+0301
(Ϊ́) folded to U+03CA U+0301, and its lower case U+0390 to U+03B9 U+0308 U+0301. The tests
write such old mirrors directly, as an older scimkit would have left them.
"""

from __future__ import annotations

import unicodedata
from collections.abc import AsyncIterator
from typing import Any

import pytest
from pymongo import AsyncMongoClient

from scimkit import GROUP, USER, QueryParams, ResourceService
from scimkit.mongo import MongoStore, RefoldReport

pytestmark = pytest.mark.mongo

T = "acme"
LOWER = "\u0390"
UPPER = LOWER.upper()


def old_fold(text: str) -> str:
    return unicodedata.normalize("NFC", text).casefold()


@pytest.fixture
async def database(mongodb_uri: str, mongo_db_name: str) -> AsyncIterator[Any]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongodb_uri, tz_aware=True)
    try:
        yield client[mongo_db_name]
        await client.drop_database(mongo_db_name)
    finally:
        await client.close()


@pytest.fixture
async def service(database: Any) -> ResourceService:
    store = MongoStore(database, (USER, GROUP))
    await store.ensure_indexes()
    return ResourceService(store, (USER, GROUP))


async def age(database: Any, id: str, user_name: str) -> None:
    """Make the stored user look as the old fold wrote it (userName set to ``user_name``)."""
    result = await database["scim_resources"].update_one(
        {"a.id": id},
        {
            "$set": {
                "a.userName": user_name,
                "f.userName": old_fold(user_name),
                "s.userName.k": old_fold(user_name),
            }
        },
    )
    assert result.modified_count == 1


async def names(service: ResourceService, text: str) -> list[str]:
    page = await service.query(T, USER, QueryParams(filter=f'userName eq "{text}"'))
    return sorted(resource["userName"] for resource in page.resources)


async def test_refold_rewrites_old_mirrors_and_is_idempotent(
    service: ResourceService, database: Any
):
    created = await service.create(T, USER, {"schemas": [USER.schema.id], "userName": "tmp"})
    await age(database, created["id"], UPPER)
    group = await service.create(
        T,
        GROUP,
        {
            "schemas": [GROUP.schema.id],
            "displayName": "g",
            "members": [{"value": created["id"]}],
        },
    )
    await database["scim_memberships"].update_one(
        {"g": group["id"]}, {"$set": {"f.members.0.value": "stale"}}
    )
    assert await names(service, LOWER) == []  # the old mirror hides it

    store = service.store
    assert isinstance(store, MongoStore)
    assert await store.refold() == RefoldReport(updated=2)
    assert await names(service, LOWER) == [UPPER]
    membership = await database["scim_memberships"].find_one({"g": group["id"]})
    assert membership["f"]["members"][0]["value"] == created["id"]
    assert await store.refold() == RefoldReport()


async def test_refold_reports_values_that_now_collide(service: ResourceService, database: Any):
    first = await service.create(T, USER, {"schemas": [USER.schema.id], "userName": LOWER})
    second = await service.create(T, USER, {"schemas": [USER.schema.id], "userName": "tmp"})
    await age(database, second["id"], UPPER)  # distinct from the first under the old fold

    store = service.store
    assert isinstance(store, MongoStore)
    report = await store.refold()
    assert report.conflicts == ((T, "User", second["id"]),)
    assert await names(service, LOWER) == [LOWER]  # the first keeps its name
    await service.delete(T, USER, first["id"])
    assert await store.refold() == RefoldReport(updated=1)
    assert await names(service, LOWER) == [UPPER]
