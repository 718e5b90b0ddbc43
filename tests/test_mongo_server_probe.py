"""Characterise the MongoDB features the store relies on, against the test server.

Every test runs through both drivers the project supports: pymongo's native
``AsyncMongoClient`` and motor's ``AsyncIOMotorClient``. The server is mongoeco's wire server
unless ``SCIMKIT_TEST_MONGODB_URI`` points elsewhere. Tests named ``test_gap_...`` pin down
where mongoeco differs from MongoDB: on mongoeco they assert mongoeco's actual behaviour, on a
real MongoDB they assert MongoDB's, and they show the workaround the store uses on both.
docs/mongoeco.md summarises the findings.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from motor.motor_asyncio import AsyncIOMotorClient
from pymongo import ASCENDING, DESCENDING, AsyncMongoClient, ReturnDocument
from pymongo.collation import Collation
from pymongo.errors import BulkWriteError, ConnectionFailure, DuplicateKeyError, OperationFailure
from pymongo.operations import DeleteOne, InsertOne, ReplaceOne, UpdateOne

from scimkit.testing._mongo_server import MongoServer
from tests.mongo_fixtures import require_mongoeco

pytestmark = pytest.mark.mongo

DRIVERS = ["pymongo", "motor"]
CASE_INSENSITIVE = Collation(locale="en", strength=2)
UTC = dt.UTC


def _connect(driver: str, uri: str, **options: Any) -> tuple[Any, Callable[[], Awaitable[None]]]:
    """A client for ``driver`` and an async function that closes it."""
    options.setdefault("serverSelectionTimeoutMS", 5000)
    if driver == "pymongo":
        client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(uri, tz_aware=True, **options)
        return client, client.close
    motor_client = AsyncIOMotorClient(uri, tz_aware=True, **options)

    async def close() -> None:
        motor_client.close()

    return motor_client, close


@dataclass
class Target:
    """One driver's handle on a database private to the test."""

    driver: str
    client: Any
    db: Any
    is_mongoeco: bool

    @property
    def coll(self) -> Any:
        return self.db["users"]


@pytest.fixture(params=DRIVERS)
async def target(
    request: pytest.FixtureRequest,
    mongodb_uri: str,  # noqa: F811 - the fixture imported above
    mongo_db_name: str,  # noqa: F811
) -> AsyncIterator[Target]:
    client, close = _connect(request.param, mongodb_uri)
    try:
        info = await client.admin.command("buildInfo")
        yield Target(
            driver=request.param,
            client=client,
            db=client[mongo_db_name],
            is_mongoeco=info.get("gitVersion") == "mongoeco",
        )
        await client.drop_database(mongo_db_name)
    finally:
        await close()


async def _ids(cursor: Any) -> list[Any]:
    return [doc["_id"] for doc in await cursor.to_list(None)]


def _date(month: int) -> dt.datetime:
    return dt.datetime(2024, month, 1, tzinfo=UTC)


USERS: list[dict[str, Any]] = [
    {
        "_id": "u1",
        "tenant": "t1",
        "userName": "Alice",
        "_ci": {"userName": "alice"},
        "emails": [{"value": "alice@example.org", "type": "work", "primary": True}],
        "meta": {"lastModified": _date(1), "version": 1},
        "title": "Boss",
    },
    {
        "_id": "u2",
        "tenant": "t1",
        "userName": "bob",
        "_ci": {"userName": "bob"},
        "emails": [{"value": "bob@example.org", "type": "home"}],
        "meta": {"lastModified": _date(2), "version": 1},
    },
    {
        "_id": "u3",
        "tenant": "t2",
        "userName": "alice",
        "_ci": {"userName": "alice"},
        "emails": [],
        "meta": {"lastModified": _date(3), "version": 1},
        "title": None,
    },
    {
        "_id": "u4",
        "tenant": "t1",
        "userName": "ALBERT",
        "_ci": {"userName": "albert"},
        "meta": {"lastModified": _date(4), "version": 1},
        "externalId": "e1",
    },
]


async def _seed(t: Target) -> Any:
    await t.coll.insert_many([dict(user) for user in USERS])
    return t.coll


# --- writes and unique indexes --------------------------------------------------------------


async def test_insert_one_and_find_one(target: Target) -> None:
    result = await target.coll.insert_one({"_id": "x", "tenant": "t1", "at": _date(5)})
    assert result.inserted_id == "x"
    assert await target.coll.find_one({"_id": "x"}) == {"_id": "x", "tenant": "t1", "at": _date(5)}
    assert await target.coll.find_one({"_id": "missing"}) is None


async def test_compound_unique_index_raises_duplicate_key_error(target: Target) -> None:
    coll = await _seed(target)
    name = await coll.create_index([("tenant", ASCENDING), ("userName", ASCENDING)], unique=True)
    assert name == "tenant_1_userName_1"
    with pytest.raises(DuplicateKeyError) as caught:
        await coll.insert_one({"_id": "dup", "tenant": "t1", "userName": "bob"})
    assert caught.value.code == 11000
    assert caught.value.details is not None
    assert caught.value.details["keyPattern"] == {"tenant": 1, "userName": 1}
    assert caught.value.details["keyValue"] == {"tenant": "t1", "userName": "bob"}
    # The same userName in another tenant is fine.
    await coll.insert_one({"_id": "ok", "tenant": "t2", "userName": "bob"})
    assert (await coll.index_information())[name]["unique"] is True


async def test_unique_index_on_subdocument_field(target: Target) -> None:
    coll = await _seed(target)
    await coll.create_index([("tenant", 1), ("_ci.userName", 1)], unique=True, name="ci_userName")
    with pytest.raises(DuplicateKeyError) as caught:
        await coll.insert_one(
            {"_id": "dup", "tenant": "t1", "userName": "BOB", "_ci": {"userName": "bob"}}
        )
    assert caught.value.details is not None
    assert caught.value.details["keyValue"] == {"tenant": "t1", "_ci.userName": "bob"}
    await coll.insert_one(
        {"_id": "ok", "tenant": "t2", "userName": "BOB", "_ci": {"userName": "bob"}}
    )


async def test_partial_unique_index_with_exists(target: Target) -> None:
    coll = await _seed(target)
    await coll.create_index(
        [("tenant", 1), ("externalId", 1)],
        unique=True,
        name="externalId",
        partialFilterExpression={"externalId": {"$exists": True}},
    )
    # Many documents without externalId: not indexed, so no conflict.
    await coll.insert_one({"_id": "n1", "tenant": "t1"})
    await coll.insert_one({"_id": "n2", "tenant": "t1"})
    with pytest.raises(DuplicateKeyError):
        await coll.insert_one({"_id": "dup", "tenant": "t1", "externalId": "e1"})
    await coll.insert_one({"_id": "ok", "tenant": "t2", "externalId": "e1"})


async def test_partial_unique_index_with_type(target: Target) -> None:
    coll = await _seed(target)
    await coll.create_index(
        [("tenant", 1), ("title", 1)],
        unique=True,
        name="title",
        partialFilterExpression={"title": {"$type": "string"}},
    )
    # null titles are not strings: not indexed, so no conflict.
    await coll.insert_one({"_id": "n1", "tenant": "t2", "title": None})
    with pytest.raises(DuplicateKeyError):
        await coll.insert_one({"_id": "dup", "tenant": "t1", "title": "Boss"})


# --- queries -------------------------------------------------------------------------------


async def test_find_elem_match(target: Target) -> None:
    coll = await _seed(target)
    query = {"emails": {"$elemMatch": {"type": "work", "value": {"$regex": "^alice"}}}}
    assert await _ids(coll.find(query)) == ["u1"]
    # Both conditions must hold on the same element.
    assert (
        await _ids(coll.find({"emails": {"$elemMatch": {"type": "home", "primary": True}}})) == []
    )
    # Implicit traversal of arrays with a dotted path.
    assert await _ids(coll.find({"emails.type": "home"})) == ["u2"]


async def test_find_in(target: Target) -> None:
    coll = await _seed(target)
    assert await _ids(coll.find({"_id": {"$in": ["u1", "u3", "nope"]}}).sort("_id")) == ["u1", "u3"]
    assert await _ids(coll.find({"_id": {"$in": []}})) == []


async def test_find_anchored_regex_prefix(target: Target) -> None:
    coll = await _seed(target)
    prefix = coll.find({"_ci.userName": {"$regex": "^al"}}).sort("_id")
    assert await _ids(prefix) == ["u1", "u3", "u4"]
    compiled = coll.find({"_ci.userName": re.compile("^al")}).sort("_id")
    assert await _ids(compiled) == ["u1", "u3", "u4"]
    options_i = coll.find({"userName": {"$regex": "^AL", "$options": "i"}}).sort("_id")
    assert await _ids(options_i) == ["u1", "u3", "u4"]
    # Metacharacters in user input must be escaped.
    assert await _ids(coll.find({"userName": {"$regex": "^" + re.escape("a.")}})) == []


async def test_find_exists(target: Target) -> None:
    coll = await _seed(target)
    assert await _ids(coll.find({"title": {"$exists": True}}).sort("_id")) == ["u1", "u3"]
    assert await _ids(coll.find({"title": {"$exists": False}}).sort("_id")) == ["u2", "u4"]


async def test_find_ne(target: Target) -> None:
    coll = await _seed(target)
    # $ne also matches documents where the field is missing.
    assert await _ids(coll.find({"externalId": {"$ne": "e1"}}).sort("_id")) == ["u1", "u2", "u3"]
    # {$ne: null} excludes both missing and null.
    assert await _ids(coll.find({"title": {"$ne": None}})) == ["u1"]


async def test_find_not_with_regex_string(target: Target) -> None:
    coll = await _seed(target)
    query = {"userName": {"$not": {"$regex": "^al", "$options": "i"}}}
    assert await _ids(coll.find(query).sort("_id")) == ["u2"]


async def test_find_gt_on_dates(target: Target) -> None:
    coll = await _seed(target)
    assert await _ids(coll.find({"meta.lastModified": {"$gt": _date(2)}}).sort("_id")) == [
        "u3",
        "u4",
    ]
    assert await _ids(coll.find({"meta.lastModified": {"$lte": _date(1)}})) == ["u1"]
    doc = await coll.find_one({"_id": "u1"})
    assert doc["meta"]["lastModified"] == _date(1)  # round-trips as an aware UTC datetime


async def test_sort_on_two_keys_with_skip_and_limit(target: Target) -> None:
    coll = await _seed(target)
    everything = coll.find({}).sort([("tenant", ASCENDING), ("userName", DESCENDING)])
    assert await _ids(everything) == ["u2", "u1", "u4", "u3"]  # binary order: b > A > AL...
    page = coll.find({}).sort([("tenant", ASCENDING), ("userName", DESCENDING)]).skip(1).limit(2)
    assert await _ids(page) == ["u1", "u4"]


async def test_sort_across_types_follows_bson_order(target: Target) -> None:
    values: list[Any] = [True, "x", {"a": 1}, None, 1, _date(1), [0, 5]]
    await target.coll.insert_many([{"_id": i, "v": v} for i, v in enumerate(values)])
    docs = await target.coll.find({}).sort("v", ASCENDING).to_list(None)
    # null < numbers (an array sorts by its smallest element) < strings < objects < bool < date
    assert [d["_id"] for d in docs] == [3, 6, 4, 1, 2, 0, 5]


async def test_count_documents(target: Target) -> None:
    coll = await _seed(target)
    assert await coll.count_documents({}) == 4
    assert await coll.count_documents({"tenant": "t1"}) == 3
    assert await coll.count_documents({"tenant": "t1"}, skip=1, limit=1) == 1
    assert await coll.count_documents({"tenant": "nope"}) == 0


async def test_expr(target: Target) -> None:
    coll = await _seed(target)
    await coll.update_one({"_id": "u2"}, {"$set": {"meta.version": 3}})
    assert await _ids(coll.find({"$expr": {"$gt": ["$meta.version", 1]}})) == ["u2"]
    lowered = coll.find({"$expr": {"$eq": [{"$toLower": "$userName"}, "alice"]}}).sort("_id")
    assert await _ids(lowered) == ["u1", "u3"]


# --- updates, deletes, bulk ----------------------------------------------------------------


async def test_find_one_and_update_with_version_check(target: Target) -> None:
    coll = await _seed(target)
    await coll.create_index([("tenant", 1), ("userName", 1)], unique=True)
    updated = await coll.find_one_and_update(
        {"_id": "u1", "meta.version": 1},
        {"$inc": {"meta.version": 1}, "$set": {"title": "CEO"}},
        return_document=ReturnDocument.AFTER,
    )
    assert updated is not None
    assert updated["meta"]["version"] == 2
    assert updated["title"] == "CEO"
    # A stale version matches nothing: None, and nothing changes.
    stale = await coll.find_one_and_update(
        {"_id": "u1", "meta.version": 1},
        {"$inc": {"meta.version": 1}},
        return_document=ReturnDocument.AFTER,
    )
    assert stale is None
    assert (await coll.find_one({"_id": "u1"}))["meta"]["version"] == 2
    # An update that violates a unique index raises DuplicateKeyError.
    with pytest.raises(DuplicateKeyError) as caught:
        await coll.find_one_and_update({"_id": "u2"}, {"$set": {"userName": "Alice"}})
    assert caught.value.code == 11000


async def test_update_many_and_delete_many(target: Target) -> None:
    coll = await _seed(target)
    updated = await coll.update_many({"tenant": "t1"}, {"$set": {"active": False}})
    assert (updated.matched_count, updated.modified_count) == (3, 3)
    assert await coll.count_documents({"active": False}) == 3
    deleted = await coll.delete_many({"tenant": "t1", "_id": {"$ne": "u1"}})
    assert deleted.deleted_count == 2
    assert await _ids(coll.find({}).sort("_id")) == ["u1", "u3"]


async def test_bulk_write(target: Target) -> None:
    coll = await _seed(target)
    result = await coll.bulk_write(
        [
            InsertOne({"_id": "b1", "tenant": "t3"}),
            UpdateOne({"_id": "b1"}, {"$set": {"q": 1}}),
            ReplaceOne({"_id": "u2"}, {"tenant": "t1", "userName": "robert"}),
            DeleteOne({"_id": "u3"}),
        ]
    )
    counts = (result.inserted_count, result.matched_count, result.modified_count)
    assert counts == (1, 2, 2)
    assert result.deleted_count == 1
    assert (await coll.find_one({"_id": "u2"}))["userName"] == "robert"
    # Ordered bulk stops at the first error and reports it with its index and partial counts.
    with pytest.raises(BulkWriteError) as caught:
        await coll.bulk_write(
            [InsertOne({"_id": "b2"}), InsertOne({"_id": "b2"}), InsertOne({"_id": "b3"})]
        )
    details = caught.value.details
    assert details["nInserted"] == 1
    assert [(e["index"], e["code"]) for e in details["writeErrors"]] == [(1, 11000)]
    assert await coll.find_one({"_id": "b3"}) is None


# --- collation -----------------------------------------------------------------------------


async def test_explicit_collation_on_find_sort_and_count(target: Target) -> None:
    coll = await _seed(target)
    found = coll.find({"userName": "ALICE"}, collation=CASE_INSENSITIVE).sort("_id")
    assert await _ids(found) == ["u1", "u3"]
    in_ci = coll.find({"userName": {"$in": ["BOB"]}}, collation=CASE_INSENSITIVE)
    assert await _ids(in_ci) == ["u2"]
    assert await coll.count_documents({"userName": "alice"}, collation=CASE_INSENSITIVE) == 2
    ordered = coll.find({}, collation=CASE_INSENSITIVE).sort([("userName", 1), ("_id", 1)])
    assert await _ids(ordered) == ["u4", "u1", "u3", "u2"]  # albert < alice = Alice < bob
    # $regex ignores collation (MongoDB documents this): case-sensitive here too.
    assert await _ids(coll.find({"userName": {"$regex": "^AL"}}, collation=CASE_INSENSITIVE)) == [
        "u4"
    ]


async def test_unique_index_with_explicit_collation(target: Target) -> None:
    coll = await _seed(target)
    await coll.create_index(
        [("tenant", 1), ("userName", 1)], unique=True, collation=CASE_INSENSITIVE, name="ci"
    )
    with pytest.raises(DuplicateKeyError):
        await coll.insert_one({"_id": "dup", "tenant": "t1", "userName": "BOB"})


async def test_gap_collection_default_collation_is_ignored(target: Target) -> None:
    """A collection's default collation is stored by mongoeco but not applied to queries.

    Workaround: pass ``collation=`` explicitly on every operation that needs it (or query
    lowercased ``_ci`` shadow fields), never rely on the collection default.
    """
    coll = await target.db.create_collection("ci_default", collation=CASE_INSENSITIVE.document)
    assert (await coll.options())["collation"]["strength"] == 2
    await coll.insert_many([{"_id": 1, "u": "Alice"}, {"_id": 2, "u": "bob"}])
    implicit = await _ids(coll.find({"u": "alice"}))
    if target.is_mongoeco:
        assert implicit == []  # the gap
    else:
        assert implicit == [1]
    assert await _ids(coll.find({"u": "alice"}, collation=CASE_INSENSITIVE)) == [1]


# --- gaps ----------------------------------------------------------------------------------


async def test_gap_comparisons_lack_type_bracketing(target: Target) -> None:
    """On mongoeco $gt/$lt compare across BSON types; MongoDB only compares within a type.

    mongoeco compares values of different types by their BSON sort order (null < numbers <
    strings < objects < arrays < bool < dates), so ``{"v": {"$gt": 1}}`` also matches strings
    and dates, and ``{"v": {"$lt": 100}}`` also matches null. Workaround: add a ``$type``
    guard next to the comparison (same result on MongoDB, where it is redundant).
    """
    docs: list[Any] = [1, 5, "str", None, _date(1)]
    await target.coll.insert_many([{"_id": i, "v": v} for i, v in enumerate(docs)])
    gt = await _ids(target.coll.find({"v": {"$gt": 1}}).sort("_id"))
    lt = await _ids(target.coll.find({"v": {"$lt": 100}}).sort("_id"))
    if target.is_mongoeco:
        assert gt == [1, 2, 4]  # "str" > 1 and a date > 1: BSON sort order across types
        assert lt == [0, 1, 3]  # None < 100
    else:
        assert gt == [1]
        assert lt == [0, 1]
    guarded_gt = target.coll.find({"v": {"$gt": 1, "$type": "number"}}).sort("_id")
    guarded_lt = target.coll.find({"v": {"$lt": 100, "$type": "number"}}).sort("_id")
    assert await _ids(guarded_gt) == [1]
    assert await _ids(guarded_lt) == [0, 1]


async def test_gap_not_with_compiled_regex_is_rejected(target: Target) -> None:
    """A ``{"$not": re.compile(...)}`` filter (a BSON regex operand) is an error on mongoeco.

    Workaround: ``{"$not": {"$regex": "<pattern>", "$options": "<flags>"}}`` (string form),
    which works on both (see test_find_not_with_regex_string).
    """
    coll = await _seed(target)
    cursor = coll.find({"userName": {"$not": re.compile("^al", re.IGNORECASE)}})
    if target.is_mongoeco:
        with pytest.raises(OperationFailure, match=r"\$not"):
            await cursor.to_list(None)
    else:
        assert await _ids(cursor) == ["u2"]


async def test_gap_explain_output_is_engine_specific(target: Target) -> None:
    """``explain()`` works, but mongoeco's result is its own shape, not MongoDB's.

    MongoDB answers with ``queryPlanner``/``winningPlan``; mongoeco with ``engine``,
    ``strategy``, ``plan`` and ``indexes``. Only use explain for diagnostics, never assert
    plan details in tests that must also run on MongoDB.
    """
    coll = await _seed(target)
    plan = await coll.find({"tenant": "t1"}).explain()
    assert isinstance(plan, dict)
    if target.is_mongoeco:
        assert "queryPlanner" not in plan
        assert plan["engine"] == "memory"
        assert {"strategy", "plan", "indexes"} <= plan.keys()
    else:
        assert "queryPlanner" in plan


# --- the test server itself (fault injection) ----------------------------------------------


@pytest.mark.parametrize("driver", DRIVERS)
async def test_server_stop_and_restart_on_the_same_port(
    driver: str,
    mongo_server: MongoServer,  # noqa: F811 - the fixture imported above
) -> None:
    client, close = _connect(driver, mongo_server.uri, serverSelectionTimeoutMS=500)
    try:
        coll = client.probe.items
        await coll.insert_one({"_id": 1})
        uri = mongo_server.uri
        mongo_server.stop()
        assert not mongo_server.running
        with pytest.raises(ConnectionFailure):
            await coll.find_one({"_id": 1})
        mongo_server.start()
        assert mongo_server.uri == uri
        # The same client reconnects; the in-memory engine starts empty.
        assert await coll.find_one({"_id": 1}) is None
        await coll.insert_one({"_id": 2})
        assert await coll.count_documents({}) == 1
    finally:
        await close()


async def test_sqlite_backed_server_keeps_data_across_a_crash(tmp_path: Path) -> None:
    require_mongoeco()
    with MongoServer(sqlite_path=tmp_path / "mongoeco.sqlite") as server:
        client, close = _connect("pymongo", server.uri, serverSelectionTimeoutMS=500)
        try:
            await client.probe.items.insert_one({"_id": 1})
            server.stop(kill=True)
            server.start()
            assert await client.probe.items.find_one({"_id": 1}) == {"_id": 1}
        finally:
            await close()
