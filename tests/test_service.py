"""ResourceService over MemoryStore: ids and meta, tolerance, preconditions and races, paging."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from itertools import count
from typing import Any

import pytest

from scimkit import (
    ENTRA,
    GROUP,
    STRICT,
    USER,
    AuthenticationScheme,
    InvalidCount,
    InvalidCursor,
    InvalidFilter,
    InvalidValue,
    MemoryStore,
    NotFound,
    NotImplementedFeature,
    PatchResult,
    PreconditionFailed,
    QueryParams,
    ResourceService,
    ResourceType,
    ServiceConfig,
    ServiceUnavailable,
)
from scimkit._service import wants_members
from scimkit.store import StoreQuery

USER_URN = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_URN = "urn:ietf:params:scim:schemas:core:2.0:Group"
T = "acme"


def user(name: str, **extra: Any) -> dict[str, Any]:
    return {"schemas": [USER_URN], "userName": name, **extra}


def patch(*operations: dict[str, Any]) -> dict[str, Any]:
    return {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": list(operations),
    }


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2025, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


class SpyStore(MemoryStore):
    """A MemoryStore that records calls and can simulate a concurrent writer."""

    def __init__(self) -> None:
        super().__init__()
        self.gets: list[bool] = []
        self.queries: list[StoreQuery] = []
        self.writes = 0
        self.races = 0  # reads still to be followed by a competing write

    async def get(
        self, tenant: str, resource_type: ResourceType, id: str, *, members: bool = True
    ) -> dict[str, Any]:
        found = await super().get(tenant, resource_type, id, members=members)
        return await self._spied(tenant, resource_type, id, members, found)

    async def get_shared(
        self, tenant: str, resource_type: ResourceType, id: str, *, members: bool = True
    ) -> dict[str, Any]:
        found = await super().get_shared(tenant, resource_type, id, members=members)
        return await self._spied(tenant, resource_type, id, members, found)

    async def _spied(
        self,
        tenant: str,
        resource_type: ResourceType,
        id: str,
        members: bool,
        found: dict[str, Any],
    ) -> dict[str, Any]:
        self.gets.append(members)
        if self.races:
            self.races -= 1
            # Another writer changes the resource right after this read.
            await super().update(
                tenant,
                resource_type,
                id,
                PatchResult(
                    {**found, "nickName": f"race{self.races}"},
                    True,
                    changed_attributes=frozenset({"nickName"}),
                ),
                expected_version=None,
            )
        return found

    async def update(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        self.writes += 1
        return await super().update(*args, **kwargs)

    async def replace(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        self.writes += 1
        return await super().replace(*args, **kwargs)

    async def query(self, tenant: str, resource_type: ResourceType, query: StoreQuery) -> Any:
        self.queries.append(query)
        return await super().query(tenant, resource_type, query)


@pytest.fixture
def store() -> SpyStore:
    return SpyStore()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def service(store: SpyStore, clock: Clock) -> ResourceService:
    ids = count(1)
    return ResourceService(
        store,
        [USER, GROUP],
        config=ServiceConfig(max_results=3, default_count=2),
        clock=clock,
        id_factory=lambda: f"id{next(ids)}",
    )


async def test_create_sets_id_and_meta(service: ResourceService, clock: Clock) -> None:
    created = await service.create(T, USER, user("alice"))
    assert created["id"] == "id1"
    assert created["meta"]["resourceType"] == "User"
    assert created["meta"]["created"] == created["meta"]["lastModified"] == clock.now
    assert created["meta"]["version"]
    assert await service.get(T, USER, "id1") == created


async def test_tolerance_is_strict_by_default_and_per_tenant(store: SpyStore) -> None:
    strict = ResourceService(store, [USER])
    with pytest.raises(InvalidValue):
        await strict.create(T, USER, user("a", active="True"))
    per_tenant = ResourceService(
        store, [USER], tolerance_for=lambda tenant: ENTRA if tenant == "entra" else STRICT
    )
    assert per_tenant.tolerance("entra") is ENTRA
    created = await per_tenant.create("entra", USER, user("a", active="True"))
    assert created["active"] is True
    with pytest.raises(InvalidValue):
        await per_tenant.create(T, USER, user("b", active="True"))


async def test_patch_sets_last_modified_and_a_noop_writes_nothing(
    service: ResourceService, store: SpyStore, clock: Clock
) -> None:
    created = await service.create(T, USER, user("alice"))
    changed = await service.patch(
        T, USER, "id1", patch({"op": "add", "path": "displayName", "value": "Alice"})
    )
    assert changed["displayName"] == "Alice"
    assert changed["meta"]["lastModified"] == clock.now > created["meta"]["created"]
    assert changed["meta"]["created"] == created["meta"]["created"]
    assert changed["meta"]["version"] != created["meta"]["version"]
    writes = store.writes
    same = await service.patch(
        T, USER, "id1", patch({"op": "replace", "path": "displayName", "value": "Alice"})
    )
    assert store.writes == writes
    assert same["meta"]["version"] == changed["meta"]["version"]


async def test_patch_retries_a_lost_race_without_if_match(
    service: ResourceService, store: SpyStore
) -> None:
    await service.create(T, USER, user("alice"))
    store.races = 2
    result = await service.patch(
        T, USER, "id1", patch({"op": "add", "path": "title", "value": "Boss"})
    )
    assert result["title"] == "Boss"
    assert result["nickName"] == "race0"  # the competing writes were kept, not lost
    assert store.races == 0


async def test_patch_with_if_match_surfaces_the_race(
    service: ResourceService, store: SpyStore
) -> None:
    created = await service.create(T, USER, user("alice"))
    store.races = 1
    with pytest.raises(PreconditionFailed):
        await service.patch(
            T,
            USER,
            "id1",
            patch({"op": "add", "path": "title", "value": "Boss"}),
            if_match=created["meta"]["version"],
        )
    with pytest.raises(PreconditionFailed):
        await service.patch(
            T, USER, "id1", patch({"op": "add", "path": "title", "value": "X"}), if_match='"0"'
        )


async def test_endless_races_end_in_503_with_retry_after(
    service: ResourceService, store: SpyStore
) -> None:
    # Transient: Entra retries a 5xx on its next cycle, a 409 (EntryConflict) hours later.
    await service.create(T, USER, user("alice"))
    store.races = 1000
    with pytest.raises(ServiceUnavailable) as caught:
        await service.patch(T, USER, "id1", patch({"op": "add", "path": "title", "value": "B"}))
    assert caught.value.status == 503 and caught.value.headers["Retry-After"]


async def test_group_patch_loads_members_only_when_needed(
    service: ResourceService, store: SpyStore
) -> None:
    await service.create(T, USER, user("alice"))
    await service.create(T, GROUP, {"schemas": [GROUP_URN], "displayName": "G"})
    store.gets.clear()
    add = patch({"op": "add", "path": "members", "value": [{"value": "id1"}]})
    lean = await service.patch(T, GROUP, "id2", add, members=False)
    assert store.gets == [False]
    assert "members" not in lean
    rename = patch({"op": "replace", "path": "displayName", "value": "H"})
    full = await service.patch(T, GROUP, "id2", rename)
    assert [m["value"] for m in full["members"]] == ["id1"]
    assert store.gets[-1] is True


async def test_replace_keeps_created_and_skips_identical_writes(
    service: ResourceService, store: SpyStore
) -> None:
    created = await service.create(T, USER, user("alice", displayName="A"))
    writes = store.writes
    same = await service.replace(T, USER, "id1", user("alice", displayName="A"))
    assert store.writes == writes and same["meta"]["version"] == created["meta"]["version"]
    replaced = await service.replace(T, USER, "id1", user("alice"), if_match="*")
    assert "displayName" not in replaced
    assert replaced["meta"]["created"] == created["meta"]["created"]
    with pytest.raises(PreconditionFailed):
        await service.replace(T, USER, "id1", user("alice"), if_match=created["meta"]["version"])
    store.races = 1
    raced = await service.replace(T, USER, "id1", user("alice", title="T"))
    assert raced["title"] == "T"


async def test_delete_preconditions(service: ResourceService) -> None:
    created = await service.create(T, USER, user("alice"))
    with pytest.raises(PreconditionFailed):
        await service.delete(T, USER, "id1", if_match='W/"nope"')
    await service.delete(T, USER, "id1", if_match=created["meta"]["version"])
    with pytest.raises(NotFound):
        await service.delete(T, USER, "id1")
    with pytest.raises(NotFound):
        await service.delete(T, USER, "id1", if_match="*")


async def test_etag_disabled_ignores_if_match(store: SpyStore) -> None:
    service = ResourceService(store, [USER], config=ServiceConfig(etag=False))
    created = await service.create(T, USER, user("alice"))
    await service.patch(
        T, USER, created["id"], patch({"op": "add", "path": "title", "value": "x"}), if_match='"0"'
    )
    await service.delete(T, USER, created["id"], if_match='"0"')


async def _seed(service: ResourceService, names: str = "cabed") -> None:
    for name in names:
        await service.create(T, USER, user(name))


async def test_index_window_rules(service: ResourceService, store: SpyStore) -> None:
    """RFC 7644 §3.4.2.4; the config caps count (3) and gives the default page size (2)."""
    await _seed(service)
    default = await service.query(T, USER, QueryParams(sort_by="userName"))
    assert [r["userName"] for r in default.resources] == ["a", "b"]
    assert (default.total_results, default.items_per_page, default.start_index) == (5, 2, 1)
    capped = await service.query(T, USER, QueryParams(count=50, start_index=-2))
    assert capped.items_per_page == 3 and capped.start_index == 1
    totals = await service.query(T, USER, QueryParams(count=-1))
    assert totals.resources == [] and totals.total_results == 5
    last = await service.query(
        T, USER, QueryParams(sort_by="userName", sort_order="DESCENDING", start_index=5)
    )
    assert [r["userName"] for r in last.resources] == ["a"]
    assert store.queries[-1].descending is True


async def test_a_query_answers_copies_and_a_query_reply_the_stored_values(
    service: ResourceService, store: SpyStore
) -> None:
    """``query`` is safe to mutate; ``query_reply`` (what the web renders) shares, unchanged."""
    body = {**user("alice", emails=[{"value": "a@x", "type": "work"}]), "name": {"givenName": "A"}}
    created = await service.create(T, USER, body)
    params = QueryParams(filter='userName eq "ALICE"')
    page = await service.query(T, USER, params)
    reply = await service.query_reply(T, USER, params)
    assert reply == page and len(page.resources) == 1
    for resource in page.resources:
        resource["emails"][0]["value"] = "tampered"
        resource["name"]["givenName"] = "tampered"
        resource["meta"]["version"] = "tampered"
    assert await service.get(T, USER, created["id"]) == created
    assert reply.resources[0] == created  # the shared read saw none of it


async def test_query_errors(service: ResourceService) -> None:
    with pytest.raises(InvalidFilter):
        await service.query(T, USER, QueryParams(filter="userName eq"))
    with pytest.raises(InvalidValue):
        await service.query(T, USER, QueryParams(sort_by="nope"))
    with pytest.raises(InvalidValue):
        await service.query(T, USER, QueryParams(sort_by="userName", sort_order="up"))


async def test_members_flag_follows_projection(service: ResourceService, store: SpyStore) -> None:
    await service.query(T, GROUP, QueryParams(excluded_attributes=("MEMBERS",)))
    assert store.queries[-1].members is False
    await service.query(T, GROUP, QueryParams(attributes=("displayName",)))
    assert store.queries[-1].members is False
    await service.query(T, GROUP, QueryParams(attributes=("members.value",)))
    assert store.queries[-1].members is True
    await service.query(T, GROUP, QueryParams(excluded_attributes=("members.display",)))
    assert store.queries[-1].members is True
    assert wants_members(USER, (), ("members",)) is True


async def test_cursor_pages(service: ResourceService) -> None:
    await _seed(service)
    first = await service.query(T, USER, QueryParams(sort_by="userName", cursor=""))
    assert first.start_index is None and first.previous_cursor is None
    assert [r["userName"] for r in first.resources] == ["a", "b"]
    assert first.next_cursor is not None
    second = await service.query(T, USER, QueryParams(sort_by="userName", cursor=first.next_cursor))
    assert [r["userName"] for r in second.resources] == ["c", "d"]
    third = await service.query(T, USER, QueryParams(sort_by="userName", cursor=second.next_cursor))
    assert [r["userName"] for r in third.resources] == ["e"] and third.next_cursor is None
    assert third.previous_cursor is not None
    back = await service.query(
        T, USER, QueryParams(sort_by="userName", cursor=third.previous_cursor)
    )
    assert [r["userName"] for r in back.resources] == ["c", "d"]
    assert back.next_cursor is not None and back.previous_cursor is not None
    with pytest.raises(InvalidCursor):  # bound to its query: another sort is another query
        await service.query(T, USER, QueryParams(cursor=first.next_cursor))
    with pytest.raises(InvalidCount):
        await service.query(T, USER, QueryParams(cursor="", count=0))


async def test_cursor_back_to_a_short_first_page(service: ResourceService) -> None:
    """Walking back to the first page, whose window (count + 1) is longer than what is left."""
    await _seed(service)
    params = QueryParams(sort_by="userName", count=2)
    first = await service.query(T, USER, replace(params, cursor=""))
    second = await service.query(T, USER, replace(params, cursor=first.next_cursor))
    front = await service.query(T, USER, replace(params, cursor=second.previous_cursor))
    assert [r["userName"] for r in front.resources] == ["a", "b"]
    assert front.previous_cursor is None and front.next_cursor is not None


async def test_disabled_features_are_501(store: SpyStore) -> None:
    config = ServiceConfig(patch=False, sort=False, cursor=False, filter=False)
    service = ResourceService(store, [USER], config=config)
    for params in (
        QueryParams(sort_by="userName"),
        QueryParams(cursor=""),
        QueryParams(filter='userName eq "a"'),
    ):
        with pytest.raises(NotImplementedFeature):
            await service.query(T, USER, params)
    with pytest.raises(NotImplementedFeature):
        await service.patch(T, USER, "x", patch())


async def test_root_query_concatenates_types(service: ResourceService) -> None:
    await _seed(service, "ab")
    await service.create(T, GROUP, {"schemas": [GROUP_URN], "displayName": "G"})
    window = await service.query_all(T, QueryParams(start_index=2, count=3))
    assert window.total_results == 3
    assert [r["meta"]["resourceType"] for r in window.resources] == ["User", "Group"]
    only_groups = await service.query_all(T, QueryParams(filter='displayName eq "G"'))
    assert only_groups.total_results == 1
    users = await service.query_all(T, QueryParams(filter="userName pr"))
    assert users.total_results == 2
    with pytest.raises(InvalidFilter):
        await service.query_all(T, QueryParams(filter="nope eq 1"))
    with pytest.raises(InvalidCursor):
        await service.query_all(T, QueryParams(cursor=""))


def test_lookups_and_construction(store: SpyStore) -> None:
    service = ResourceService(store, [USER, GROUP])
    assert service.resource_type("group") is GROUP
    with pytest.raises(NotFound):
        service.resource_type("Printer")
    with pytest.raises(ValueError):
        ResourceService(store, [])
    with pytest.raises(ValueError):
        ResourceService(store, [USER, USER])


def test_config_validation_and_rendering() -> None:
    with pytest.raises(ValueError):
        ServiceConfig(max_results=0)
    with pytest.raises(ValueError):
        ServiceConfig(default_count=10, max_results=5)
    scheme = AuthenticationScheme(
        "httpbasic", "Basic", "HTTP Basic", documentation_uri="https://example.com/doc"
    )
    data = ServiceConfig(
        cursor=False, documentation_uri="https://example.com", authentication_schemes=(scheme,)
    ).to_json("https://example.com/ServiceProviderConfig")
    assert data["documentationUri"] == "https://example.com"
    assert "cursorTimeout" not in data["pagination"]
    assert data["authenticationSchemes"] == [
        {
            "type": "httpbasic",
            "name": "Basic",
            "description": "HTTP Basic",
            "documentationUri": "https://example.com/doc",
            "primary": False,
        }
    ]
    assert data["meta"] == {
        "resourceType": "ServiceProviderConfig",
        "location": "https://example.com/ServiceProviderConfig",
    }
