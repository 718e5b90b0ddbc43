"""MongoStore beyond the contract: indexes and their use, document layout, costs, failures.

Index use is checked on the commands the store really sends (captured with PyMongo's
command monitoring): the equality fields of each filter must cover the leading keys of a
declared index, and satisfy its partial filter. With ``SCIMKIT_TEST_MONGODB_URI`` set, the
server's own ``explain`` must also show an index scan (mongoeco's explain has another shape).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pytest
from bson.codec_options import CodecOptions
from motor.motor_asyncio import AsyncIOMotorClient
from pymongo import AsyncMongoClient
from pymongo.errors import PyMongoError
from pymongo.monitoring import (
    CommandFailedEvent,
    CommandListener,
    CommandStartedEvent,
    CommandSucceededEvent,
)

from scimkit import (
    GROUP_SCHEMA,
    USER,
    InternalError,
    MemberDelta,
    NotFound,
    PatchResult,
    ResourceType,
    ServiceUnavailable,
    UniquenessError,
    compile_filter,
)
from scimkit.mongo import IndexSpec, MongoStore
from scimkit.mongo._codec import document_fields, resource_from_document
from scimkit.store import StoreQuery, format_version
from scimkit.testing import CONTRACT_GROUP, CONTRACT_RESOURCE_TYPES, CONTRACT_USER
from scimkit.testing._mongo_server import MongoServer

pytestmark = pytest.mark.mongo

T = "acme"
NOW = datetime(2024, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)


class Recorder(CommandListener):
    """Keeps the commands a client sends."""

    def __init__(self) -> None:
        self.commands: list[tuple[str, dict[str, Any]]] = []

    def started(self, event: CommandStartedEvent) -> None:
        self.commands.append((event.command_name, dict(event.command)))

    def succeeded(self, event: CommandSucceededEvent) -> None:
        pass

    def failed(self, event: CommandFailedEvent) -> None:
        pass

    def on(self, collection: str, *names: str) -> list[dict[str, Any]]:
        """The commands sent to ``collection`` (optionally only those named)."""
        return [
            command
            for name, command in self.commands
            if command.get(name) == collection and (not names or name in names)
        ]


@dataclass
class Harness:
    store: MongoStore
    db: Any
    recorder: Recorder
    real_server: bool
    prefix: str = "scim_"
    made: dict[str, Any] = field(default_factory=dict)

    @property
    def resources(self) -> Any:
        return self.db[f"{self.prefix}resources"]

    @property
    def memberships(self) -> Any:
        return self.db[f"{self.prefix}memberships"]


def user(name: str, **extra: Any) -> dict[str, Any]:
    return {
        "schemas": [USER.schema.id],
        "id": extra.pop("id", name),
        "userName": name,
        **extra,
        "meta": {"resourceType": "User", "created": NOW, "lastModified": NOW},
    }


def group(name: str, *members: str, **extra: Any) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "schemas": [GROUP_SCHEMA.id],
        "id": extra.pop("id", name),
        "displayName": name,
        **extra,
        "meta": {"resourceType": "Group", "created": NOW, "lastModified": NOW},
    }
    if members:
        resource["members"] = [{"value": m} for m in members]
    return resource


@pytest.fixture(params=["pymongo", "motor"])
async def harness(
    request: pytest.FixtureRequest, mongodb_uri: str, mongo_db_name: str
) -> AsyncIterator[Harness]:
    recorder = Recorder()
    client: Any
    if request.param == "pymongo":
        client = AsyncMongoClient(mongodb_uri, event_listeners=[recorder])
    else:
        client = AsyncIOMotorClient(mongodb_uri, event_listeners=[recorder])
    try:
        info = await client.admin.command("buildInfo")
        db = client[mongo_db_name]
        store = MongoStore(db, CONTRACT_RESOURCE_TYPES)
        yield Harness(store, db, recorder, info.get("gitVersion") != "mongoeco")
        await client.drop_database(mongo_db_name)
    finally:
        closed = client.close()
        if closed is not None:
            await closed


# -- indexes ----------------------------------------------------------------------------------


def _equalities(query: Mapping[str, Any]) -> dict[str, Any]:
    """Fields a query pins to one value (at its top level or in a top-level ``$and``)."""
    found: dict[str, Any] = {}
    for key, value in query.items():
        if key == "$and":
            for part in value:
                found |= _equalities(part)
        elif not key.startswith("$") and not isinstance(value, Mapping | list):
            found[key] = value
    return found


def _implies(query: Mapping[str, Any], partial: Mapping[str, Any] | None) -> bool:
    """Whether every document the query selects is in an index with this partial filter."""
    equal = _equalities(query)
    for key, condition in (partial or {}).items():
        if isinstance(condition, Mapping) and "$in" in condition:
            if equal.get(key) not in condition["$in"]:
                return False
        elif isinstance(condition, Mapping) and condition.get("$exists") is True:
            if equal.get(key) is None:
                return False
        elif equal.get(key) != condition:
            return False
    return True


def served_by(query: Mapping[str, Any], specs: tuple[IndexSpec, ...], prefix: int) -> IndexSpec:
    """The declared index whose first ``prefix`` keys the query pins, or fail."""
    equal = _equalities(query)
    for spec in specs:
        leading = [key for key, _ in spec.keys[:prefix]]
        if all(key in equal for key in leading) and _implies(query, spec.partial):
            return spec
    raise AssertionError(f"no declared index serves {query}")


async def _assert_index_scan(h: Harness, collection: str, query: Mapping[str, Any]) -> None:
    if not h.real_server:
        return  # mongoeco's explain is its own shape (docs/mongoeco.md)
    plan = await h.db.command(
        "explain", {"find": collection, "filter": dict(query)}, verbosity="queryPlanner"
    )
    winning = str(plan["queryPlanner"]["winningPlan"])
    assert "IXSCAN" in winning and "COLLSCAN" not in winning, winning


async def test_every_index_starts_with_the_tenant(harness: Harness) -> None:
    await harness.store.ensure_indexes()
    for spec in harness.store.resource_index_specs:
        assert [k for k, _ in spec.keys[:2]] == ["t", "rt"], spec
    for spec in harness.store.membership_index_specs:
        assert spec.keys[0][0] == "t", spec
    info = await harness.resources.index_information()
    unique = info["unique_f.userName"]
    assert unique["unique"] is True
    assert dict(unique["partialFilterExpression"]) == {
        "rt": "User",
        "f.userName": {"$exists": True},
    }
    assert info["unique_f.displayName"]["unique"] is True  # the contract's Group declares it


async def test_ensure_indexes_is_idempotent_and_follows_the_types(harness: Harness) -> None:
    await harness.store.ensure_indexes()
    before = await harness.resources.index_information()
    await harness.store.ensure_indexes()
    assert await harness.resources.index_information() == before
    # A second type declaring displayName unique widens that index's partial filter.
    role = ResourceType("Role", "/Roles", CONTRACT_GROUP.schema)
    wider = MongoStore(harness.db, (*CONTRACT_RESOURCE_TYPES, role))
    await wider.ensure_indexes()
    info = await harness.resources.index_information()
    assert dict(info["unique_f.displayName"]["partialFilterExpression"])["rt"] == {
        "$in": ["Group", "Role"]
    }
    await wider.create(T, role, group("admins", id="r1"))
    await wider.create(T, CONTRACT_GROUP, group("admins", id="g1"))  # another type: no clash
    with pytest.raises(UniquenessError):
        await wider.create(T, role, group("ADMINS", id="r2"))


async def test_indexes_are_created_on_first_use(harness: Harness) -> None:
    await harness.store.create(T, CONTRACT_USER, user("alice"))
    names = set(await harness.resources.index_information())
    assert {spec.name for spec in harness.store.resource_index_specs} <= names
    names = set(await harness.memberships.index_information())
    assert {spec.name for spec in harness.store.membership_index_specs} <= names


@pytest.mark.parametrize(
    ("resource_type", "text", "index"),
    [
        (CONTRACT_USER, 'userName eq "U1"', "unique_f.userName"),
        (CONTRACT_USER, 'externalId eq "0a21f0f2-8d2a"', "lookup_a.externalId"),
        (CONTRACT_GROUP, 'displayName eq "G1"', "unique_f.displayName"),
        (CONTRACT_GROUP, 'id eq "g1" and members eq "u1"', "t_rt_id"),
    ],
)
async def test_entra_lookups_are_served_by_an_index(
    harness: Harness, resource_type: ResourceType, text: str, index: str
) -> None:
    h = harness
    await h.store.create(T, CONTRACT_USER, user("u1", externalId="0a21f0f2-8d2a"))
    await h.store.create(T, CONTRACT_USER, user("u2"))
    await h.store.create(T, CONTRACT_GROUP, group("g1", "u1"))
    await h.store.create(T, CONTRACT_GROUP, group("g2", "u2"))
    h.recorder.commands.clear()
    query = StoreQuery(filter=compile_filter(text, resource_type))
    assert (await h.store.query(T, resource_type, query)).total == 1
    # One aggregate on the resource type: the page, which is not full, so it gives the total.
    selections = [
        command.get("filter") or command["pipeline"][0]["$match"]
        for command in h.recorder.on("scim_resources", "find", "aggregate")
    ]
    selections = [s for s in selections if s.get("rt") == resource_type.name]
    assert len(selections) == 1, h.recorder.commands
    for selection in selections:
        assert served_by(selection, h.store.resource_index_specs, prefix=3).name == index
        await _assert_index_scan(h, "scim_resources", selection)
    for command in h.recorder.on("scim_memberships", "distinct"):
        assert served_by(command["query"], h.store.membership_index_specs, prefix=2).name == (
            "t_m_g"
        )
        await _assert_index_scan(h, "scim_memberships", command["query"])


async def _assert_pipeline_index_scan(h: Harness, collection: str, pipeline: list[Any]) -> None:
    if not h.real_server:
        return  # mongoeco's explain is its own shape (docs/mongoeco.md)
    # Only the stages that select and order this collection's documents: a $lookup's plan is
    # another collection's (and an unindexed join strategy there is another test's concern).
    head = []
    for stage in pipeline:
        if "$lookup" in stage:
            break
        head.append(stage)
    plan = await h.db.command(
        "explain",
        {"aggregate": collection, "pipeline": head, "cursor": {}},
        verbosity="queryPlanner",
    )
    # The plan of the pipeline's first stages sits at the top (pushed down whole) or in its
    # $cursor stage, depending on the server's version: look at all of it.
    text = str(plan)
    assert "IXSCAN" in text and "COLLSCAN" not in text, text


@pytest.mark.parametrize(
    ("resource_type", "text", "start_index", "members"),
    [
        (CONTRACT_USER, None, 1, True),  # the console's Users page 1
        (CONTRACT_USER, None, 26, True),  # a later page: a skip along the index
        (CONTRACT_USER, 'userName sw "u1"', 1, True),  # its search box
        (CONTRACT_GROUP, None, 1, False),  # the Groups page (members excluded)
        (CONTRACT_GROUP, 'displayName sw "g"', 26, False),
    ],
)
async def test_console_lists_and_searches_are_served_by_an_index(
    harness: Harness,
    resource_type: ResourceType,
    text: str | None,
    start_index: int,
    members: bool,
) -> None:
    # Issue 14: the console's pages answer fast with 100k users because they page through an
    # index; none may read the tenant's resources one by one.
    h = harness
    for n in range(30):
        await h.store.create(T, CONTRACT_USER, user(f"u{n:02d}"))
        await h.store.create(T, CONTRACT_GROUP, group(f"g{n:02d}"))
    h.recorder.commands.clear()
    query = StoreQuery(
        filter=compile_filter(text, resource_type) if text else None,
        start_index=start_index,
        count=25,
        members=members,
    )
    page = await h.store.query(T, resource_type, query)
    assert page.total == (10 if text == 'userName sw "u1"' else 30)
    sent = [
        (name, command)
        for name, command in h.recorder.commands
        if command.get(name) == "scim_resources"
    ]
    assert sent, h.recorder.commands
    for name, command in sent:
        if name == "aggregate":
            selection = command["pipeline"][0]["$match"]
            await _assert_pipeline_index_scan(h, "scim_resources", command["pipeline"])
        else:
            selection = command.get("filter") or command.get("query") or {}
            await _assert_index_scan(h, "scim_resources", selection)
        # The tenant and the type lead every selection: the leading keys of the indexes.
        assert served_by(selection, h.store.resource_index_specs, prefix=2), selection


# -- layout and costs -------------------------------------------------------------------------


async def test_document_layout(harness: Harness) -> None:
    h = harness
    urn = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
    alice = user("Alice", **{urn: {"department": "R&D"}})
    await h.store.create(T, CONTRACT_USER, alice)
    await h.store.create(T, CONTRACT_GROUP, group("Staff", "Alice"))
    document = await h.resources.find_one({"t": T, "rt": "User"})
    assert {"t", "rt", "v", "a", "f", "s"} <= document.keys()
    assert document["f"]["userName"] == "alice"
    assert "urn:ietf:params:scim:schemas:extension:enterprise:2%2E0:User" in document["a"]
    assert isinstance(document["a"]["meta"]["created"], datetime)  # a BSON date
    assert document["a"]["meta"]["version"] == 'W/"1"' and document["v"] == 1
    group_document = await h.resources.find_one({"t": T, "rt": "Group"})
    assert "members" not in group_document["a"]
    membership = await h.memberships.find_one({"t": T})
    assert (membership["g"], membership["m"], membership["gt"]) == ("Staff", "Alice", "Group")


async def test_members_false_never_reads_memberships(harness: Harness) -> None:
    h = harness
    await h.store.create(T, CONTRACT_GROUP, group("big", *(f"u{i}" for i in range(30))))
    h.recorder.commands.clear()
    await h.store.get(T, CONTRACT_GROUP, "big", members=False)
    await h.store.query(T, CONTRACT_GROUP, StoreQuery(members=False))
    assert h.recorder.on("scim_memberships") == []
    got = await h.store.get(T, CONTRACT_GROUP, "big")
    assert len(got["members"]) == 30
    assert len(h.recorder.on("scim_memberships")) == 1  # one indexed query for the list


async def test_a_member_delta_touches_only_its_members(harness: Harness) -> None:
    h = harness
    created = await h.store.create(T, CONTRACT_GROUP, group("big", *(f"u{i}" for i in range(30))))
    stripped = {k: v for k, v in created.items() if k != "members"}
    delta = MemberDelta(added=({"value": "new"},), removed=("u3",))
    h.recorder.commands.clear()
    result = PatchResult(stripped, True, delta, frozenset({"members"}))
    await h.store.update(
        T, CONTRACT_GROUP, "big", result, expected_version=created["meta"]["version"]
    )
    for command in h.recorder.on("scim_memberships", "find"):
        assert command["filter"]["m"] == {"$in": ["new", "u3"]}
    writes = h.recorder.on("scim_memberships", "update", "delete", "insert")
    operations = sum(
        len(c.get("updates", c.get("deletes", c.get("documents", [])))) for c in writes
    )
    assert operations == 2


async def test_a_version_without_a_rewrite_is_laid_out_as_a_rewrite(harness: Harness) -> None:
    """``next_version`` stamps v, meta and its sort keys exactly as a full write would."""
    h = harness
    await h.store.create(T, CONTRACT_USER, user("alice"))
    await h.store.create(T, CONTRACT_GROUP, group("staff", "alice"))
    await h.store.delete(T, CONTRACT_USER, "alice")
    aware = h.resources.with_options(codec_options=CodecOptions(tz_aware=True, tzinfo=UTC))
    document = await aware.find_one({"t": T, "rt": "Group"}, {"_id": 0})
    resource = resource_from_document(document)
    assert document["v"] == 2 and resource["meta"]["version"] == format_version(2)
    assert resource["meta"]["lastModified"] > NOW
    assert {k: document[k] for k in ("a", "f", "s")} == document_fields(resource, CONTRACT_GROUP)


async def test_leftover_memberships_are_ignored_then_cleaned(harness: Harness) -> None:
    """After a crash between a delete's two steps, reads skip the leftovers; a retry cleans."""
    h = harness
    await h.store.create(T, CONTRACT_USER, user("alice"))
    await h.store.create(T, CONTRACT_GROUP, group("staff", "alice", "ghost"))
    # As if deleting group "gone" and user "ghost" crashed after their first step:
    await h.memberships.insert_one({"t": T, "gt": "Group", "g": "gone", "m": "alice"})
    got = await h.store.get(T, CONTRACT_USER, "alice")
    assert [g["value"] for g in got["groups"]] == ["staff"]
    with pytest.raises(NotFound):
        await h.store.delete(T, CONTRACT_USER, "ghost")
    with pytest.raises(NotFound):
        await h.store.delete(T, CONTRACT_GROUP, "gone")
    assert await h.memberships.count_documents({"t": T, "m": "ghost"}) == 0
    assert await h.memberships.count_documents({"t": T, "g": "gone"}) == 0
    members = (await h.store.get(T, CONTRACT_GROUP, "staff"))["members"]
    assert [m["value"] for m in members] == ["alice"]


async def test_a_not_found_delete_spares_another_types_memberships(harness: Harness) -> None:
    h = harness
    await h.store.create(T, CONTRACT_GROUP, group("inner", "alice"))
    await h.store.create(T, CONTRACT_GROUP, group("outer", "inner"))
    with pytest.raises(NotFound):
        await h.store.delete(T, CONTRACT_USER, "inner")  # wrong endpoint for a group id
    assert [m["value"] for m in (await h.store.get(T, CONTRACT_GROUP, "outer"))["members"]] == [
        "inner"
    ]


async def test_arguments_cannot_carry_operators(harness: Harness) -> None:
    h = harness
    await h.store.create(T, CONTRACT_USER, user("alice"))
    sneaky: Any = {"$ne": None}
    with pytest.raises(InternalError):
        await h.store.get(sneaky, CONTRACT_USER, "alice")
    with pytest.raises(NotFound):
        await h.store.get(T, CONTRACT_USER, sneaky)
    with pytest.raises(InternalError):
        await h.store.query("", CONTRACT_USER, StoreQuery())


async def test_only_the_declared_resource_types_are_served(harness: Harness) -> None:
    other = ResourceType("Device", "/Devices", GROUP_SCHEMA)
    with pytest.raises(InternalError):
        await harness.store.get(T, other, "x")


# -- failures ---------------------------------------------------------------------------------


@pytest.mark.parametrize("driver", ["pymongo", "motor"])
async def test_an_unreachable_server_is_service_unavailable(
    driver: str, mongo_server: MongoServer
) -> None:
    client: Any
    options: dict[str, Any] = {"serverSelectionTimeoutMS": 300, "connectTimeoutMS": 300}
    if driver == "pymongo":
        client = AsyncMongoClient(mongo_server.uri, **options)
    else:
        client = AsyncIOMotorClient(mongo_server.uri, **options)
    try:
        store = MongoStore(client.scimkit_failures, CONTRACT_RESOURCE_TYPES, operation_timeout=1.0)
        created = await store.create(T, CONTRACT_USER, user("alice"))
        mongo_server.stop()
        assert await store.ping() is False
        calls = [
            store.create(T, CONTRACT_USER, user("bob")),
            store.get(T, CONTRACT_USER, "alice"),
            store.replace(T, CONTRACT_USER, "alice", user("alice")),
            store.update(
                T, CONTRACT_USER, "alice", PatchResult(created, True), expected_version=None
            ),
            store.delete(T, CONTRACT_USER, "alice"),
            store.query(T, CONTRACT_USER, StoreQuery()),
            store.ensure_indexes(),
        ]
        for call in calls:
            with pytest.raises(ServiceUnavailable) as caught:
                await call
            assert isinstance(caught.value.__cause__, PyMongoError)
            assert caught.value.headers["Retry-After"]
        mongo_server.start()
        assert await store.ping() is True
    finally:
        closed = client.close()
        if closed is not None:
            await closed


@pytest.mark.parametrize("driver", ["pymongo", "motor"])
async def test_a_stalled_server_is_service_unavailable_within_the_deadline(
    driver: str, mongo_server: MongoServer
) -> None:
    """Issue 12 §5: no store call waits on a stuck server past ``operation_timeout``."""
    client: Any
    if driver == "pymongo":
        client = AsyncMongoClient(mongo_server.uri)
    else:
        client = AsyncIOMotorClient(mongo_server.uri)
    try:
        store = MongoStore(client.scimkit_stall, CONTRACT_RESOURCE_TYPES, operation_timeout=0.5)
        created = await store.create(T, CONTRACT_USER, user("alice"))
        with mongo_server.stalled():
            calls = [
                store.get(T, CONTRACT_USER, "alice"),
                store.query(T, CONTRACT_USER, StoreQuery()),
                store.create(T, CONTRACT_USER, user("bob")),
                store.update(
                    T, CONTRACT_USER, "alice", PatchResult(created, True), expected_version=None
                ),
                store.resource_types_of(T, ["alice"]),
                store.get_with_types(T, CONTRACT_USER, "alice", ["alice"]),
            ]
            for call in calls:
                started = time.monotonic()
                with pytest.raises(ServiceUnavailable) as caught:
                    await asyncio.wait_for(call, timeout=10)
                assert time.monotonic() - started < 2.5
                assert caught.value.headers["Retry-After"]
            assert await asyncio.wait_for(store.ping(), timeout=10) is False
        assert (await store.get(T, CONTRACT_USER, "alice"))["userName"] == "alice"
    finally:
        closed = client.close()
        if closed is not None:
            await closed
