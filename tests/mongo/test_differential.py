"""Differential tests: the in-memory evaluator and the MongoDB translation select the same users.

Random User filters (every operator, nesting, value paths, extension attributes, Unicode case
traps, missing and null attributes) run against a fixed, seeded set of users stored with
``document_fields`` on a MongoDB-compatible server (mongoeco's wire server, or
``$SCIMKIT_TEST_MONGODB_URI``). Sorting is compared the same way.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import aclosing
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from pymongo import AsyncMongoClient
from pymongo.asynchronous.collection import AsyncCollection

from scimkit._builtin import USER
from scimkit._filter import Filter, compile_filter, matches, sort_value
from scimkit._tolerance import ENTRA, STRICT, Tolerance
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
) -> AsyncGenerator[AsyncCollection[Any]]:
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
    collection: AsyncCollection[Any],
    resources: list[Resource],
    text: str,
    tolerance: Tolerance = STRICT,
) -> set[str]:
    bound = compile_filter(text, USER, tolerance)
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
    # Literals below the millisecond: stored values are whole milliseconds.
    'meta.created lt "2011-05-13T04:42:34.1235Z"',
    'meta.created ge "2011-05-13T04:42:34.1235Z"',
    'meta.created le "2011-05-13T06:42:34.0000001+02:00"',
    'meta.created gt "2011-05-13T04:42:34.0009999Z"',
    'meta.created eq "2011-05-13T04:42:34.1230001Z" or title pr',
    'meta.created ne "2011-05-13T04:42:34.1229Z" and title pr',
    'not (meta.lastModified gt "2011-05-12T23:42:34.0005-05:00")',
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


def _emails(*pairs: tuple[str | None, str | None]) -> list[dict[str, str]]:
    return [
        {k: v for k, v in (("type", kind), ("value", value)) if v is not None}
        for kind, value in pairs
    ]


NE_USERS: list[Resource] = [
    {"id": "no-emails"},
    {"id": "work-x", "emails": _emails(("work", "x"))},
    {"id": "work-X", "emails": _emails(("Work", "X"))},  # both caseExact=false: equal to x
    {"id": "work-y", "emails": _emails(("work", "y"))},
    {"id": "two-work-one-x", "emails": _emails(("work", "y"), ("work", "x"))},
    {"id": "home-x", "emails": _emails(("home", "x"))},
    {"id": "home-x-work-y", "emails": _emails(("home", "x"), ("work", "y"))},
    {"id": "work-no-value", "emails": _emails(("work", None))},
    {"id": "work-x-no-value", "emails": _emails(("work", "x"), ("work", None))},
]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # ne is not eq: no work email has value x (true without any work email).
        (
            'emails[type eq "work"].value ne "x"',
            {"no-emails", "work-y", "home-x", "home-x-work-y", "work-no-value"},
        ),
        (
            'emails[type eq "work"].value eq "x"',
            {"work-x", "work-X", "two-work-one-x", "work-x-no-value"},
        ),
        # eq null asks for a work email without a value; ne null is its negation.
        ('emails[type eq "work"].value eq null', {"work-no-value", "work-x-no-value"}),
        (
            'emails[type eq "work"].value ne null',
            {
                "no-emails",
                "work-x",
                "work-X",
                "work-y",
                "two-work-one-x",
                "home-x",
                "home-x-work-y",
            },
        ),
        # The element-wise form keeps its own meaning: a work email whose value is not x.
        (
            'emails[type eq "work" and value ne "x"]',
            {"work-y", "two-work-one-x", "home-x-work-y", "work-no-value", "work-x-no-value"},
        ),
        (
            'not (emails[type eq "work"].value ne "x")',
            {"work-x", "work-X", "two-work-one-x", "work-x-no-value"},
        ),
    ],
)
async def test_value_path_sub_attribute_ne_is_not_eq(
    mongodb_uri: str, mongo_db_name: str, text: str, expected: set[str]
) -> None:
    async with aclosing(_load(mongodb_uri, mongo_db_name, NE_USERS)) as loaded:
        async for collection in loaded:
            assert await assert_same_selection(collection, NE_USERS, text) == expected


UNQUOTED = [
    ("userName sw s", 'userName sw "s"'),
    ("emails[type eq work and value co a.]", 'emails[type eq "work" and value co "a."]'),
    ("emails[type eq work].value ne bjensen", 'emails[type eq "work"].value ne "bjensen"'),
    (
        "meta.created ge 2011-05-13T06:42:34.1225+02:00",
        'meta.created ge "2011-05-13T06:42:34.1225+02:00"',
    ),
    ("title pr and externalId ne Work", 'title pr and externalId ne "Work"'),
]


@pytest.mark.parametrize(("unquoted", "quoted"), UNQUOTED)
async def test_unquoted_values_select_as_quoted(
    stored: AsyncCollection[Any], population: list[Resource], unquoted: str, quoted: str
) -> None:
    """Under the tolerance (Entra), both backends select what the quoted filter selects."""
    expected = await assert_same_selection(stored, population, quoted)
    assert await assert_same_selection(stored, population, unquoted, ENTRA) == expected


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
