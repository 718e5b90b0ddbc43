from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from reference_app.activity import new_record_id
from reference_app.request_log import MemoryRequestLog, MongoRequestLog, RequestQuery, RequestRecord

# Recent: the MongoDB log's TTL index removes records older than its retention.
T0 = (datetime.now(UTC) - timedelta(hours=1)).replace(second=0, microsecond=0)


def _record(n: int, tenant: str = "acme", status: int = 200, **extra) -> RequestRecord:
    moment = T0 + timedelta(minutes=n)
    return RequestRecord(
        id=new_record_id(int(moment.timestamp() * 1e9)),
        tenant=tenant,
        time=moment,
        method=extra.pop("method", "GET"),
        path="/Users",
        query="",
        status=status,
        duration_ms=1.0,
        resource_type="Users",
        **extra,
    )


async def _exercise(log) -> None:
    records = [_record(n, status=409 if n % 3 == 0 else 200) for n in range(10)]
    records.append(_record(10, "beta"))
    records.append(_record(11, method="POST", resource_id="u1", resource_name="Ada"))
    await log.append(records)
    newest = await log.find("acme", RequestQuery(limit=3))
    assert [r.time for r in newest] == [T0 + timedelta(minutes=m) for m in (11, 9, 8)]
    older = await log.find("acme", RequestQuery(limit=3, before=newest[-1].id))
    assert [int((r.time - T0).total_seconds() // 60) for r in older] == [7, 6, 5]
    errors = await log.find("acme", RequestQuery(errors_only=True))
    assert [int((r.time - T0).total_seconds() // 60) for r in errors] == [9, 6, 3, 0]
    assert [r.method for r in await log.find("acme", RequestQuery(method="POST"))] == ["POST"]
    window = RequestQuery(since=T0 + timedelta(minutes=2), until=T0 + timedelta(minutes=4))
    assert [int((r.time - T0).total_seconds() // 60) for r in await log.find("acme", window)] == [
        4,
        3,
        2,
    ]
    mine = await log.find("acme", RequestQuery(resource_id="u1", resource_name="ada"))
    assert [r.resource_name for r in mine] == ["Ada"]
    assert await log.get("acme", mine[0].id) == mine[0]
    assert await log.get("beta", mine[0].id) is None
    counts = await log.counts("acme", T0 + timedelta(minutes=5), 4)
    assert (counts.total, counts.failed) == (6, 2)
    assert [int((t - T0).total_seconds() // 60) for t in counts.times] == [11, 9, 8, 7]


async def test_memory_log():
    await _exercise(MemoryRequestLog())


async def test_memory_log_keeps_the_newest_per_tenant():
    log = MemoryRequestLog(capacity=3)
    await log.append([_record(n) for n in range(5)])
    assert [
        int((r.time - T0).total_seconds() // 60) for r in await log.find("acme", RequestQuery())
    ] == [4, 3, 2]


async def test_the_memory_log_holds_nothing_the_garbage_collector_walks():
    # Thousands of kept records must not make every collection of the old generation longer.
    import gc

    log = MemoryRequestLog(capacity=2000)
    records = [_record(n, request_body='{"userName": "a"}', detail="x") for n in range(2000)]
    gc.collect()
    before = len(gc.get_objects())
    await log.append(records)
    del records
    gc.collect()
    assert len(gc.get_objects()) - before < 10
    assert len(await log.find("acme", RequestQuery(limit=2000))) == 2000


@pytest.fixture
async def mongo_collection(mongodb_uri: str, mongo_db_name: str) -> AsyncIterator[Any]:
    from pymongo import AsyncMongoClient

    client = AsyncMongoClient[dict[str, Any]](mongodb_uri, tz_aware=True)
    try:
        yield client[mongo_db_name]["request_log"]
    finally:
        await client.close()


@pytest.mark.mongo
async def test_mongo_log(mongo_collection: Any):
    log = MongoRequestLog(mongo_collection)
    await log.ensure_indexes()
    indexes = await mongo_collection.index_information()
    keys = [index["key"] for index in indexes.values()]
    # Every query of the console starts with the tenant, the counts with its time range.
    assert [("tenant", 1), ("time", 1), ("status", 1)] in keys
    assert [("tenant", 1), ("_id", -1)] in keys
    await _exercise(log)


def _recorded_rows() -> list[Any]:
    # What the recorder keeps of a PATCH and a lookup: names it reads only when asked.
    from reference_app.activity import to_row
    from reference_app.redaction import Redactor
    from reference_app.request_log import NAME_LATER
    from reference_app.schemas import RESOURCE_TYPES

    redactor = Redactor(RESOURCE_TYPES)
    ns = int(T0.timestamp() * 1e9)
    patch = (
        ns,
        0.002,
        "PATCH",
        "/scim/v2/acme/Users/u9",
        b"",
        200,
        None,
        b"{}",
        b'{"userName":"Zo\\u00eb"}',
    )
    lookup = (
        ns + 10**9,
        0.001,
        "GET",
        "/scim/v2/acme/Users",
        b"filter=userName+eq+%22ZOE%22",
        200,
        None,
        b"",
        b'{"Resources":[]}',
    )
    rows = [
        to_row(patch, "acme", "/Users/u9", redactor, new_record_id(ns)),
        to_row(lookup, "acme", "/Users", redactor, new_record_id(ns + 10**9)),
    ]
    assert [row[10] for row in rows] == [NAME_LATER, NAME_LATER]
    return rows


async def _names_read_later(log) -> None:
    await log.append_rows(_recorded_rows())
    assert [r.resource_name for r in await log.find("acme", RequestQuery())] == ["ZOE", "Zoë"]
    mine = await log.find("acme", RequestQuery(resource_id="nobody", resource_name="zoë"))
    assert [r.method for r in mine] == ["PATCH"]
    assert [r.method for r in await log.find("acme", RequestQuery(resource_name="zoe"))] == ["GET"]
    assert (await log.get("acme", mine[0].id)).resource_name == "Zoë"


async def test_a_name_read_later_is_found_by_what_it_casefolds_to():
    from reference_app.activity import RawRequest, to_row
    from reference_app.redaction import Redactor
    from reference_app.schemas import RESOURCE_TYPES

    ns = int(T0.timestamp() * 1e9)
    # A long s casefolds to "s": a body that is not ASCII is read, not ruled out by its text.
    body = '{"userName":"\u017fam"}'.encode()
    raw: RawRequest = (ns, 0.001, "GET", "/scim/v2/acme/Users/u1", b"", 200, None, b"", body)
    log = MemoryRequestLog()
    await log.append_rows([to_row(raw, "acme", "/Users/u1", Redactor(RESOURCE_TYPES), "0" * 24)])
    (found,) = await log.find("acme", RequestQuery(resource_id="other", resource_name="SAM"))
    assert found.resource_name == "\u017fam"


def _rows_as_they_came() -> list[Any]:
    # A create and a read answered 2xx: rows of what the access log saw, nothing parsed yet.
    from reference_app.activity import RawRequest, to_row
    from reference_app.redaction import Redactor
    from reference_app.request_log import RESOURCE_LATER
    from reference_app.schemas import RESOURCE_TYPES

    redactor = Redactor(RESOURCE_TYPES)
    ns = int(T0.timestamp() * 1e9)
    create: RawRequest = (
        ns,
        0.0012345,
        "POST",
        "/scim/v2/acme/Users",
        b"",
        201,
        b"https://h.example/scim/v2/acme/Users/u7/",
        b'  {"userName":"ada"}\n',  # as the service read it: whitespace around is JSON too
        b'{"id":"u7","userName":"ada"}',
    )
    not_utf8 = b'{"id":"g1","displayName":"\xff"}'  # not shown
    group = "/scim/v2/acme/Groups/g1"
    later = ns + 10**9
    read: RawRequest = (later, 0.0005, "GET", group, b"attributes=id", 200, None, b"", not_utf8)
    rows = [
        to_row(create, "acme", "/Users", redactor, new_record_id(ns)),
        to_row(read, "acme", "/Groups/g1", redactor, new_record_id(later)),
    ]
    assert [row[8] for row in rows] == [RESOURCE_LATER, RESOURCE_LATER]
    return rows


async def _fields_read_later(log) -> None:
    await log.append_rows(_rows_as_they_came())
    read, create = await log.find("acme", RequestQuery())
    assert (create.resource_type, create.resource_id) == ("Users", "u7")
    assert create.resource_name == "ada"
    assert (create.duration_ms, create.query) == (1.234, "")
    assert create.request_body == '  {"userName":"ada"}\n'
    assert create.response_body == '{"id":"u7","userName":"ada"}'
    assert (read.resource_type, read.resource_id, read.query) == ("Groups", "g1", "attributes=id")
    assert read.response_body is not None and read.response_body.startswith("[29 bytes, not shown")
    assert [r.id for r in await log.find("acme", RequestQuery(resource_id="u7"))] == [create.id]
    assert [r.id for r in await log.find("acme", RequestQuery(resource_id="g1"))] == [read.id]
    assert await log.find("acme", RequestQuery(resource_id="g")) == []  # in the path, not the id
    assert [r.id for r in await log.find("acme", RequestQuery(resource_type="Groups"))] == [read.id]
    assert await log.get("acme", create.id) == create


# Rows the recorder left fields of for later: names, and everything a 2xx request kept as sent.
_LATER = [_names_read_later, _fields_read_later]


@pytest.mark.parametrize("exercise", _LATER)
async def test_memory_log_reads_what_rows_left_for_later_when_a_page_does(exercise):
    await exercise(MemoryRequestLog())


@pytest.mark.mongo
@pytest.mark.parametrize("exercise", _LATER)
async def test_mongo_log_stores_what_rows_left_for_later(mongo_collection: Any, exercise):
    log = MongoRequestLog(mongo_collection)
    await log.ensure_indexes()
    await exercise(log)
