"""Differential tests: the in-memory evaluator and the MongoDB translation select the same users.

Random User filters (every operator, nesting, value paths, extension attributes, Unicode case
traps, missing and null attributes) run against a fixed, seeded set of users stored with
``document_fields`` on a MongoDB-compatible server (mongoeco's wire server, or
``$SCIMKIT_TEST_MONGODB_URI``). Sorting is compared the same way.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from pymongo import AsyncMongoClient
from pymongo.asynchronous.collection import AsyncCollection

from scimkit._builtin import USER
from scimkit._filter import Filter, compile_filter, matches, sort_value
from scimkit.mongo._codec import document_fields
from scimkit.mongo._query import translate_filter, translate_sort
from tests.filter.samples import USERS as RFC_USERS
from tests.filter.strategies import ENTERPRISE, user_filters, users

pytestmark = pytest.mark.mongo

SEED = 20240611
COUNT = 40

Resource = dict[str, Any]


async def _load(
    uri: str, db_name: str, resources: list[Resource]
) -> AsyncIterator[AsyncCollection[Any]]:
    client: AsyncMongoClient[Any] = AsyncMongoClient(uri)
    try:
        collection = client[db_name]["users"]
        documents = [{"_id": r["id"], **document_fields(r, USER)} for r in resources]
        await collection.insert_many(documents)
        yield collection
    finally:
        await client.drop_database(db_name)
        await client.close()


@pytest.fixture
def population() -> list[Resource]:
    return users(SEED, COUNT)


@pytest.fixture
async def stored(
    mongodb_uri: str, mongo_db_name: str, population: list[Resource]
) -> AsyncIterator[AsyncCollection[Any]]:
    async for collection in _load(mongodb_uri, mongo_db_name, population):
        yield collection


async def mongo_ids(collection: AsyncCollection[Any], query: dict[str, Any]) -> set[str]:
    return {doc["_id"] for doc in await collection.find(query, {"_id": 1}).to_list()}


async def assert_same_selection(
    collection: AsyncCollection[Any], resources: list[Resource], text: str
) -> set[str]:
    bound = compile_filter(text, USER)
    expected = {r["id"] for r in resources if matches(bound, r)}
    query = translate_filter(bound)
    actual = await mongo_ids(collection, query)
    assert actual == expected, f"{text}\n{query}"
    return expected


def record(selected: set[str], population: list[Resource]) -> None:
    """Count selective filters, for ``--hypothesis-show-statistics``."""
    if not selected:
        event("selects none")
    else:
        event("selects all" if len(selected) == len(population) else "selects some")


# -- fixed cases -----------------------------------------------------------------------------

FIXED = [
    'userName eq "STRASSE"',
    'userName eq "straße"',
    'displayName sw "ss"',
    'nickName co "İ"',
    'title ew "y"',
    'title ew "x"',
    'userName gt "s" and userName lt "t"',
    'emails[type eq "work" and value co "."]',
    'emails[not (type eq "work")]',
    'emails[type eq "work"].value pr',
    'emails[type eq "work" or not (value pr)]',
    'emails[value gt "m" and not (display lt "c")]',
    "emails pr and not (emails.value pr)",
    'emails.value ne "bjensen"',
    "emails.primary eq true",
    "emails.primary ne true",
    'name[givenName sw "s" or not (familyName pr)]',
    "name pr",
    "name eq null",
    f'{ENTERPRISE}:manager[value pr and not (displayName co "a")]',
    f'{ENTERPRISE}:manager eq "bjensen"',
    f"{ENTERPRISE}:department pr",
    'meta.created gt "2011-05-13T04:42:34.000999Z"',
    'meta.created eq "2011-05-13T06:42:34.123+02:00"',
    "active eq false or active eq null",
    'schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:user"',
    'x509Certificates.value eq "QUJD"',
    'userName co ""',
    'userName sw "$where"',
    'title co "a*b" or title co "(x)"',
    'emails[type eq "work" and type eq "home"] or title pr',
]


async def test_fixed_filters(stored: AsyncCollection[Any], population: list[Resource]) -> None:
    nontrivial = 0
    for text in FIXED:
        selected = await assert_same_selection(stored, population, text)
        nontrivial += 0 < len(selected) < len(population)
    assert nontrivial >= len(FIXED) * 2 // 3  # the fixture data exercises the filters


async def test_rfc_examples(mongodb_uri: str, mongo_db_name: str) -> None:
    examples = [
        'userName eq "bjensen"',
        'name.familyName co "O\'Malley"',
        'userName sw "J"',
        "title pr",
        'meta.lastModified ge "2011-05-13T04:42:34Z"',
        'schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"',
        'userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")',
        'userType eq "Employee" and emails[type eq "work" and value co "@example.com"]',
        'emails[type eq "work" and value co "@example.com"] or '
        'ims[type eq "xmpp" and value co "@foo.com"]',
    ]
    async for collection in _load(mongodb_uri, mongo_db_name, RFC_USERS):
        for text in examples:
            assert await assert_same_selection(collection, RFC_USERS, text)


# -- random filters --------------------------------------------------------------------------

_SETTINGS = settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@_SETTINGS
@given(node=user_filters())
async def test_random_filters(
    stored: AsyncCollection[Any], population: list[Resource], node: Filter
) -> None:
    record(await assert_same_selection(stored, population, str(node)), population)


@pytest.mark.slow
@settings(_SETTINGS, max_examples=2000, derandomize=False)
@given(node=user_filters())
async def test_random_filters_many(
    stored: AsyncCollection[Any], population: list[Resource], node: Filter
) -> None:
    record(await assert_same_selection(stored, population, str(node)), population)


# -- sort ------------------------------------------------------------------------------------

SORT_PATHS = [
    "userName",
    "id",
    "title",
    "name.givenName",
    "emails",
    "emails.type",
    "active",
    "meta.created",
    f"{ENTERPRISE}:manager.value",
    f"{ENTERPRISE}:manager",
    "x509Certificates.value",
]


@pytest.mark.parametrize("descending", [False, True])
@pytest.mark.parametrize("path", SORT_PATHS)
async def test_sort_order(
    stored: AsyncCollection[Any], population: list[Resource], path: str, descending: bool
) -> None:
    """RFC 7644 §3.4.2.3 order from MongoDB equals the in-memory order (ties aside)."""
    ref = USER.resolve_path(path)
    assert ref is not None
    spec = [*translate_sort(ref, descending), ("_id", 1)]
    ordered = [doc["_id"] for doc in await stored.find({}, {"_id": 1}).sort(spec).to_list()]
    by_id = {r["id"]: r for r in population}
    keys = [sort_value(by_id[i], ref) for i in ordered]
    present = [k for k in keys if k is not None]
    missing = len(keys) - len(present)
    assert present == sorted(present, reverse=descending)
    assert keys == ([None] * missing + present if descending else present + [None] * missing)
    assert 0 < len(present) < len(keys) or path in ("id", "meta.created")
