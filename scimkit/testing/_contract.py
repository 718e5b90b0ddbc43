"""The store contract suite: every ``ResourceStore`` must pass it.

Subclass :class:`StoreContract` in a test module, under a name pytest collects, and give it a
``store`` fixture returning a fresh, empty store that knows :data:`CONTRACT_RESOURCE_TYPES`::

    from scimkit.testing import CONTRACT_RESOURCE_TYPES, StoreContract

    class TestMyStore(StoreContract):
        @pytest.fixture
        async def store(self):
            return MyStore(resource_types=CONTRACT_RESOURCE_TYPES)

The tests are async (pytest-asyncio; in its strict mode make the fixture a
``pytest_asyncio.fixture``). They keep data sets small, so slow test servers stay usable.
"""

from __future__ import annotations

import asyncio
import copy
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from scimkit._builtin import GROUP_SCHEMA, USER
from scimkit._errors import (
    Conflict,
    InternalError,
    InvalidFilter,
    NotFound,
    PreconditionFailed,
    UniquenessError,
)
from scimkit._filter import compile_filter
from scimkit._patch_result import MemberDelta, PatchResult
from scimkit._resource_type import AttrRef, ResourceType
from scimkit._schema import Schema, Uniqueness
from scimkit.store import Page, ResourceStore, StoreQuery

__all__ = ["CONTRACT_GROUP", "CONTRACT_RESOURCE_TYPES", "CONTRACT_USER", "StoreContract"]


def _unique_display_name_group() -> ResourceType:
    # Group as the reference tenant declares it: displayName unique, like userName.
    attributes = tuple(
        replace(a, uniqueness=Uniqueness.SERVER) if a.name == "displayName" else a
        for a in GROUP_SCHEMA.attributes
    )
    schema = Schema(GROUP_SCHEMA.id, GROUP_SCHEMA.name, attributes, GROUP_SCHEMA.description)
    return ResourceType(name="Group", endpoint="/Groups", schema=schema, description="Group")


CONTRACT_USER = USER
"""The User resource type of the suite (the built-in one)."""
CONTRACT_GROUP = _unique_display_name_group()
"""The Group resource type of the suite: the built-in Group with ``displayName`` unique."""
CONTRACT_RESOURCE_TYPES: tuple[ResourceType, ...] = (CONTRACT_USER, CONTRACT_GROUP)
"""The resource types a store under test must accept."""

T1 = "tenant-one"
T2 = "tenant-two"
_CREATED = datetime(2024, 5, 1, 12, 30, 15, 123000, tzinfo=UTC)


def _ref(resource_type: ResourceType, path: str) -> AttrRef:
    ref = resource_type.resolve_path(path)
    assert ref is not None, path
    return ref


def _filter(resource_type: ResourceType, text: str) -> StoreQuery:
    return StoreQuery(filter=compile_filter(text, resource_type))


def _ids(page: Page) -> list[str]:
    return [resource["id"] for resource in page.resources]


def _member_ids(resource: dict[str, Any]) -> list[str]:
    return [member["value"] for member in resource.get("members", [])]


def _shared_read(store: ResourceStore) -> Any:
    """The store's optional ``get_shared`` (docs/storage.md, "Copies"); skips if it has none."""
    shared = getattr(store, "get_shared", None)
    if shared is None:
        pytest.skip("the store has no get_shared (optional; the service reads with get)")
    return shared


def _shared_query(store: ResourceStore) -> Any:
    """The store's optional ``query_shared`` (docs/storage.md, "Copies"); skips if it has none."""
    shared = getattr(store, "query_shared", None)
    if shared is None:
        pytest.skip("the store has no query_shared (optional; the service queries with query)")
    return shared


def _without_version(resource: dict[str, Any]) -> dict[str, Any]:
    meta = {k: v for k, v in resource["meta"].items() if k != "version"}
    return {**resource, "meta": meta}


class StoreContract:
    """The contract of :class:`~scimkit.store.ResourceStore`, as async test methods.

    Subclasses provide a ``store`` fixture (a fresh, empty store per test).
    """

    pytestmark = [pytest.mark.asyncio]

    # -- builders -------------------------------------------------------------------------------

    @staticmethod
    def new_id() -> str:
        return uuid.uuid4().hex

    def user(self, user_name: str, **attributes: Any) -> dict[str, Any]:
        """A validated-looking User with a fresh id and ``meta``."""
        return {
            "schemas": [CONTRACT_USER.schema.id],
            "id": attributes.pop("id", None) or self.new_id(),
            "userName": user_name,
            **attributes,
            "meta": {"resourceType": "User", "created": _CREATED, "lastModified": _CREATED},
        }

    def group(self, display_name: str, *members: str, **attributes: Any) -> dict[str, Any]:
        """A Group with a fresh id, ``meta`` and members given by id."""
        resource: dict[str, Any] = {
            "schemas": [CONTRACT_GROUP.schema.id],
            "id": attributes.pop("id", None) or self.new_id(),
            "displayName": display_name,
            **attributes,
            "meta": {"resourceType": "Group", "created": _CREATED, "lastModified": _CREATED},
        }
        if members:
            resource["members"] = [{"value": m, "type": "User"} for m in members]
        return resource

    async def users(self, store: ResourceStore, tenant: str, *names: str) -> list[dict[str, Any]]:
        return [await store.create(tenant, CONTRACT_USER, self.user(name)) for name in names]

    # -- create, get, copies --------------------------------------------------------------------

    async def test_create_returns_the_resource_with_a_weak_version(
        self, store: ResourceStore
    ) -> None:
        resource = self.user("alice", displayName="Alice", active=True)
        created = await store.create(T1, CONTRACT_USER, resource)
        version = created["meta"]["version"]
        assert isinstance(version, str) and version.startswith('W/"') and version.endswith('"')
        assert _without_version(created) == resource

    async def test_get_returns_what_was_stored(self, store: ResourceStore) -> None:
        created = await store.create(T1, CONTRACT_USER, self.user("alice", title="Engineer"))
        assert await store.get(T1, CONTRACT_USER, created["id"]) == created

    async def test_get_of_an_unknown_id_is_not_found(self, store: ResourceStore) -> None:
        with pytest.raises(NotFound):
            await store.get(T1, CONTRACT_USER, "missing")

    async def test_extension_attributes_round_trip(self, store: ResourceStore) -> None:
        urn = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
        resource = self.user(
            "alice", **{urn: {"employeeNumber": "701984", "manager": {"value": "m1"}}}
        )
        resource["schemas"] = [CONTRACT_USER.schema.id, urn]
        created = await store.create(T1, CONTRACT_USER, resource)
        assert (await store.get(T1, CONTRACT_USER, created["id"]))[urn] == resource[urn]

    async def test_datetimes_keep_milliseconds_in_utc(self, store: ResourceStore) -> None:
        moment = datetime(2024, 5, 1, 12, 30, 15, 123456, tzinfo=UTC)
        resource = self.user("alice")
        resource["meta"]["created"] = moment
        created = await store.create(T1, CONTRACT_USER, resource)
        got = (await store.get(T1, CONTRACT_USER, created["id"]))["meta"]["created"]
        assert got == moment.replace(microsecond=123000)
        assert got.utcoffset() == timedelta(0)

    async def test_an_id_used_twice_is_a_conflict(self, store: ResourceStore) -> None:
        first = await store.create(T1, CONTRACT_USER, self.user("alice"))
        with pytest.raises(Conflict):
            await store.create(T1, CONTRACT_USER, self.user("bob", id=first["id"]))

    async def test_returned_resources_are_copies(self, store: ResourceStore) -> None:
        user = await store.create(T1, CONTRACT_USER, self.user("alice", emails=[{"value": "a@x"}]))
        group = await store.create(T1, CONTRACT_GROUP, self.group("admins", user["id"]))
        expected_user = await store.get(T1, CONTRACT_USER, user["id"])
        expected_group = await store.get(T1, CONTRACT_GROUP, group["id"])
        got = await store.get(T1, CONTRACT_USER, user["id"])
        page = await store.query(T1, CONTRACT_GROUP, StoreQuery())
        for resource in (user, group, got, *page.resources):
            resource["meta"]["version"] = "tampered"
            for value in resource.values():
                if isinstance(value, list) and value and isinstance(value[0], dict):
                    value[0]["value"] = "tampered"
            resource["displayName"] = "tampered"
        assert await store.get(T1, CONTRACT_USER, user["id"]) == expected_user
        assert await store.get(T1, CONTRACT_GROUP, group["id"]) == expected_group

    async def test_the_input_resource_is_not_kept(self, store: ResourceStore) -> None:
        resource = self.user("alice", emails=[{"value": "a@x"}])
        created = await store.create(T1, CONTRACT_USER, resource)
        resource["emails"][0]["value"] = "changed"
        resource["meta"]["created"] = datetime(2000, 1, 1, tzinfo=UTC)
        assert await store.get(T1, CONTRACT_USER, created["id"]) == created

    async def test_a_shared_read_returns_what_get_returns(self, store: ResourceStore) -> None:
        shared = _shared_read(store)
        alice = (await self.users(store, T1, "alice"))[0]
        group = await store.create(T1, CONTRACT_GROUP, self.group("admins", alice["id"], "u2"))
        for resource_type, id in ((CONTRACT_USER, alice["id"]), (CONTRACT_GROUP, group["id"])):
            for members in (True, False):
                expected = await store.get(T1, resource_type, id, members=members)
                assert await shared(T1, resource_type, id, members=members) == expected
        with pytest.raises(NotFound):
            await shared(T1, CONTRACT_USER, self.new_id())

    async def test_a_shared_read_stays_as_read_while_writes_go_on(
        self, store: ResourceStore
    ) -> None:
        """What ``get_shared`` and ``update(shared=True)`` returned stays as it was.

        A store with ``get_shared`` takes ``shared=True`` on ``update`` too; later writes
        replace stored values, they never change them in place.
        """
        shared = _shared_read(store)
        alice = await store.create(
            T1,
            CONTRACT_USER,
            self.user("alice", name={"familyName": "A"}, emails=[{"value": "a@x", "type": "work"}]),
        )
        group = await store.create(T1, CONTRACT_GROUP, self.group("admins", alice["id"]))
        user_read = await shared(T1, CONTRACT_USER, alice["id"])
        group_read = await shared(T1, CONTRACT_GROUP, group["id"])
        user_was, group_was = copy.deepcopy(user_read), copy.deepcopy(group_read)
        patched = {
            **user_read,
            "name": {"familyName": "B"},
            "emails": [{"value": "b@x", "type": "work"}],
        }
        result = PatchResult(patched, True, changed_attributes=frozenset({"name", "emails"}))
        updated = await store.update(  # type: ignore[call-arg]
            T1, CONTRACT_USER, alice["id"], result, expected_version=None, shared=True
        )
        assert updated == await store.get(T1, CONTRACT_USER, alice["id"])
        updated_was = copy.deepcopy(updated)
        delta = MemberDelta(added=({"value": "u9"},), removed=(alice["id"],))
        without_members = {k: v for k, v in group_read.items() if k != "members"}
        await store.update(
            T1,
            CONTRACT_GROUP,
            group["id"],
            PatchResult(without_members, True, delta, frozenset({"members"})),
            expected_version=None,
        )
        renamed = self.group("staff", id=group["id"])
        await store.replace(T1, CONTRACT_GROUP, group["id"], renamed)
        await store.update(
            T1,
            CONTRACT_USER,
            alice["id"],
            PatchResult(
                {**updated, "name": {"familyName": "C"}},
                True,
                changed_attributes=frozenset({"name"}),
            ),
            expected_version=None,
        )
        assert (user_read, group_read, updated) == (user_was, group_was, updated_was)
        now = await store.get(T1, CONTRACT_USER, alice["id"])
        assert now["name"] == {"familyName": "C"} and "groups" not in now

    async def test_a_shared_query_returns_what_query_returns(self, store: ResourceStore) -> None:
        shared = _shared_query(store)
        alice, bob, _ = await self.users(store, T1, "alice", "bob", "carol")
        await store.create(T1, CONTRACT_GROUP, self.group("admins", alice["id"], bob["id"]))
        await store.create(T1, CONTRACT_GROUP, self.group("staff", bob["id"]))
        queries = [
            (CONTRACT_USER, StoreQuery()),
            (CONTRACT_USER, _filter(CONTRACT_USER, 'userName eq "BOB"')),
            (CONTRACT_USER, StoreQuery(start_index=2, count=1)),
            (CONTRACT_USER, StoreQuery(sort_by=_ref(CONTRACT_USER, "userName"), descending=True)),
            (CONTRACT_USER, StoreQuery(count=0)),
            (CONTRACT_GROUP, StoreQuery()),
            (CONTRACT_GROUP, StoreQuery(members=False)),
            (CONTRACT_GROUP, _filter(CONTRACT_GROUP, f'members.value eq "{alice["id"]}"')),
        ]
        for resource_type, query in queries:
            expected = await store.query(T1, resource_type, query)
            assert await shared(T1, resource_type, query) == expected
        assert (await shared(T2, CONTRACT_USER, StoreQuery())).total == 0
        with pytest.raises(InternalError):
            await shared("", CONTRACT_USER, StoreQuery())

    async def test_a_shared_query_stays_as_read_while_writes_go_on(
        self, store: ResourceStore
    ) -> None:
        """A page from ``query_shared`` stays as it was; its top-level dicts are the caller's."""
        shared = _shared_query(store)
        alice = await store.create(
            T1,
            CONTRACT_USER,
            self.user("alice", name={"familyName": "A"}, emails=[{"value": "a@x", "type": "work"}]),
        )
        group = await store.create(T1, CONTRACT_GROUP, self.group("admins", alice["id"]))
        users = await shared(T1, CONTRACT_USER, StoreQuery())
        groups = await shared(T1, CONTRACT_GROUP, StoreQuery())
        was = copy.deepcopy((users, groups))
        await store.update(
            T1,
            CONTRACT_USER,
            alice["id"],
            PatchResult(
                {**alice, "name": {"familyName": "B"}, "emails": [{"value": "b@x"}]},
                True,
                changed_attributes=frozenset({"name", "emails"}),
            ),
            expected_version=None,
        )
        delta = MemberDelta(added=({"value": "u9"},), removed=(alice["id"],))
        await store.update(
            T1,
            CONTRACT_GROUP,
            group["id"],
            PatchResult(
                {k: v for k, v in group.items() if k != "members"},
                True,
                delta,
                frozenset({"members"}),
            ),
            expected_version=None,
        )
        await store.replace(T1, CONTRACT_GROUP, group["id"], self.group("staff", id=group["id"]))
        assert (users, groups) == was
        expected = await store.get(T1, CONTRACT_USER, alice["id"])
        # Replacing top-level keys of a page's resource (as rendering does) changes nothing.
        for resource in (*users.resources, *groups.resources):
            resource["meta"] = {"location": "tampered"}
            resource["displayName"] = "tampered"
            resource.pop("name", None)
        assert await store.get(T1, CONTRACT_USER, alice["id"]) == expected
        assert (await store.get(T1, CONTRACT_GROUP, group["id"]))["displayName"] == "staff"

    async def test_a_shared_create_answers_as_create_and_stays_as_read(
        self, store: ResourceStore
    ) -> None:
        """``create(..., shared=True)`` answers what ``get`` reads; later writes leave it be."""
        _shared_read(store)
        alice = self.user("alice", name={"familyName": "A"}, emails=[{"value": "a@x"}])
        created = await store.create(T1, CONTRACT_USER, alice, shared=True)  # type: ignore[call-arg]
        assert created == await store.get(T1, CONTRACT_USER, created["id"])
        group = await store.create(  # type: ignore[call-arg]
            T1, CONTRACT_GROUP, self.group("admins", created["id"]), shared=True
        )
        assert group == await store.get(T1, CONTRACT_GROUP, group["id"])
        user_was, group_was = copy.deepcopy(created), copy.deepcopy(group)
        await store.replace(
            T1, CONTRACT_USER, created["id"], self.user("alice", id=created["id"], nickName="Al")
        )
        await store.replace(T1, CONTRACT_GROUP, group["id"], self.group("staff", id=group["id"]))
        assert (created, group) == (user_was, group_was)

    async def test_a_tenant_must_be_a_non_empty_string(self, store: ResourceStore) -> None:
        with pytest.raises(InternalError):
            await store.create("", CONTRACT_USER, self.user("alice"))
        with pytest.raises(InternalError):
            await store.query("", CONTRACT_USER, StoreQuery())

    async def test_ping(self, store: ResourceStore) -> None:
        assert await store.ping() is True

    # -- replace, update, delete, versions ----------------------------------------------------

    async def test_replace_changes_the_resource_and_the_version(self, store: ResourceStore) -> None:
        created = await store.create(T1, CONTRACT_USER, self.user("alice", title="Engineer"))
        new = self.user("alice", id=created["id"], nickName="Al")
        replaced = await store.replace(
            T1, CONTRACT_USER, created["id"], new, expected_version=created["meta"]["version"]
        )
        assert "title" not in replaced and replaced["nickName"] == "Al"
        assert replaced["meta"]["version"] != created["meta"]["version"]
        assert await store.get(T1, CONTRACT_USER, created["id"]) == replaced

    async def test_update_applies_a_patch_result(self, store: ResourceStore) -> None:
        created = await store.create(T1, CONTRACT_USER, self.user("alice"))
        new = {**created, "title": "Boss"}
        result = PatchResult(new, True, changed_attributes=frozenset({"title"}))
        updated = await store.update(
            T1, CONTRACT_USER, created["id"], result, expected_version=created["meta"]["version"]
        )
        assert updated["title"] == "Boss"
        assert updated["meta"]["version"] != created["meta"]["version"]
        assert await store.get(T1, CONTRACT_USER, created["id"]) == updated

    async def test_update_renames_and_removes_attributes(self, store: ResourceStore) -> None:
        """A PATCH result moves the unique value (the old one is free, the new one taken)."""
        created = await store.create(T1, CONTRACT_USER, self.user("alice", title="Engineer"))
        renamed = {k: v for k, v in created.items() if k != "title"}
        renamed["userName"] = "alicia"
        result = PatchResult(renamed, True, changed_attributes=frozenset({"userName", "title"}))
        updated = await store.update(
            T1, CONTRACT_USER, created["id"], result, expected_version=created["meta"]["version"]
        )
        assert updated["userName"] == "alicia" and "title" not in updated
        assert await store.get(T1, CONTRACT_USER, created["id"]) == updated
        await store.create(T1, CONTRACT_USER, self.user("ALICE"))
        with pytest.raises(UniquenessError):
            await store.create(T1, CONTRACT_USER, self.user("Alicia"))
        found = await store.query(
            T1, CONTRACT_USER, StoreQuery(filter=compile_filter('userName eq "ALICIA"', USER))
        )
        assert [r["id"] for r in found.resources] == [created["id"]]

    async def test_an_unchanged_patch_result_keeps_the_version(self, store: ResourceStore) -> None:
        created = await store.create(T1, CONTRACT_USER, self.user("alice"))
        result = PatchResult(dict(created), False)
        updated = await store.update(
            T1, CONTRACT_USER, created["id"], result, expected_version=created["meta"]["version"]
        )
        assert updated == created

    async def test_versions_are_never_reused(self, store: ResourceStore) -> None:
        created = await store.create(T1, CONTRACT_USER, self.user("alice"))
        seen = {created["meta"]["version"]}
        current = created
        for title in ("a", "b", "a"):
            current = await store.replace(
                T1,
                CONTRACT_USER,
                created["id"],
                self.user("alice", id=created["id"], title=title),
                expected_version=current["meta"]["version"],
            )
            assert current["meta"]["version"] not in seen
            seen.add(current["meta"]["version"])

    async def test_stale_versions_fail_with_412(self, store: ResourceStore) -> None:
        created = await store.create(T1, CONTRACT_USER, self.user("alice"))
        stale = created["meta"]["version"]
        await store.replace(T1, CONTRACT_USER, created["id"], self.user("alice", id=created["id"]))
        with pytest.raises(PreconditionFailed):
            await store.replace(
                T1, CONTRACT_USER, created["id"], dict(created), expected_version=stale
            )
        titled = {**created, "title": "x"}
        result = PatchResult(titled, True, changed_attributes=frozenset({"title"}))
        with pytest.raises(PreconditionFailed):
            await store.update(T1, CONTRACT_USER, created["id"], result, expected_version=stale)
        with pytest.raises(PreconditionFailed):
            await store.delete(T1, CONTRACT_USER, created["id"], expected_version=stale)
        with pytest.raises(PreconditionFailed):
            await store.delete(T1, CONTRACT_USER, created["id"], expected_version='W/"junk"')
        await store.get(T1, CONTRACT_USER, created["id"])  # still there

    async def test_writes_to_an_unknown_id_are_not_found(self, store: ResourceStore) -> None:
        with pytest.raises(NotFound):
            await store.replace(T1, CONTRACT_USER, "missing", self.user("x", id="missing"))
        with pytest.raises(NotFound):
            await store.update(
                T1,
                CONTRACT_USER,
                "missing",
                PatchResult(self.user("x", id="missing"), True),
                expected_version=None,
            )
        with pytest.raises(NotFound):
            await store.delete(T1, CONTRACT_USER, "missing")

    async def test_delete_removes_the_resource(self, store: ResourceStore) -> None:
        created = await store.create(T1, CONTRACT_USER, self.user("alice"))
        await store.delete(T1, CONTRACT_USER, created["id"], expected_version=None)
        with pytest.raises(NotFound):
            await store.get(T1, CONTRACT_USER, created["id"])
        with pytest.raises(NotFound):
            await store.delete(T1, CONTRACT_USER, created["id"])
        assert (await store.query(T1, CONTRACT_USER, StoreQuery())).total == 0

    async def test_concurrent_writers_at_one_version_let_exactly_one_win(
        self, store: ResourceStore
    ) -> None:
        created = await store.create(T1, CONTRACT_USER, self.user("alice"))
        version = created["meta"]["version"]

        async def write(title: str) -> dict[str, Any]:
            result = PatchResult(
                {**created, "title": title}, True, changed_attributes=frozenset({"title"})
            )
            return await store.update(
                T1, CONTRACT_USER, created["id"], result, expected_version=version
            )

        outcomes = await asyncio.gather(*(write(f"t{i}") for i in range(5)), return_exceptions=True)
        winners = [o for o in outcomes if isinstance(o, dict)]
        assert len(winners) == 1
        assert all(isinstance(o, PreconditionFailed) for o in outcomes if o not in winners)
        assert await store.get(T1, CONTRACT_USER, created["id"]) == winners[0]

    # -- uniqueness -----------------------------------------------------------------------------

    @pytest.mark.parametrize(
        ("first", "second"),
        [
            ("alice", "alice"),
            ("alice", "ALICE"),
            ("Straße", "STRASSE"),
            ("Ame\u0301lie", "am\u00e9lie"),  # decomposed and composed é (NFC)
            ("ÅSA", "åsa"),
        ],
    )
    async def test_user_name_is_unique_ignoring_case(
        self, store: ResourceStore, first: str, second: str
    ) -> None:
        await store.create(T1, CONTRACT_USER, self.user(first))
        with pytest.raises(UniquenessError) as caught:
            await store.create(T1, CONTRACT_USER, self.user(second))
        assert "userName" in caught.value.detail
        assert (await store.query(T1, CONTRACT_USER, StoreQuery())).total == 1

    async def test_a_declared_unique_attribute_is_unique(self, store: ResourceStore) -> None:
        await store.create(T1, CONTRACT_GROUP, self.group("Admins"))
        with pytest.raises(UniquenessError) as caught:
            await store.create(T1, CONTRACT_GROUP, self.group("ADMINS"))
        assert "displayName" in caught.value.detail

    async def test_writes_cannot_take_a_used_value(self, store: ResourceStore) -> None:
        alice, bob = await self.users(store, T1, "alice", "bob")
        with pytest.raises(UniquenessError):
            await store.replace(T1, CONTRACT_USER, bob["id"], self.user("Alice", id=bob["id"]))
        result = PatchResult(
            {**bob, "userName": "ALICE"}, True, changed_attributes=frozenset({"userName"})
        )
        with pytest.raises(UniquenessError):
            await store.update(
                T1, CONTRACT_USER, bob["id"], result, expected_version=bob["meta"]["version"]
            )
        assert await store.get(T1, CONTRACT_USER, bob["id"]) == bob
        # A resource may change the case of its own value.
        await store.replace(T1, CONTRACT_USER, alice["id"], self.user("ALICE", id=alice["id"]))

    async def test_a_deleted_resource_frees_its_values(self, store: ResourceStore) -> None:
        (alice,) = await self.users(store, T1, "alice")
        await store.delete(T1, CONTRACT_USER, alice["id"])
        await store.create(T1, CONTRACT_USER, self.user("Alice"))

    async def test_concurrent_creates_of_one_user_name_let_exactly_one_win(
        self, store: ResourceStore
    ) -> None:
        names = ["alice", "ALICE", "Alice", "aLiCe", "ALIce", "alicE", "AlIcE", "aLICE", "ALICe"]
        names.append("alIce")
        outcomes = await asyncio.gather(
            *(store.create(T1, CONTRACT_USER, self.user(name)) for name in names),
            return_exceptions=True,
        )
        winners = [o for o in outcomes if isinstance(o, dict)]
        assert len(winners) == 1
        assert all(isinstance(o, UniquenessError) for o in outcomes if o not in winners)
        assert (await store.query(T1, CONTRACT_USER, StoreQuery())).total == 1

    # -- tenants --------------------------------------------------------------------------------

    async def test_values_are_unique_per_tenant_only(self, store: ResourceStore) -> None:
        await store.create(T1, CONTRACT_USER, self.user("alice"))
        await store.create(T2, CONTRACT_USER, self.user("ALICE"))
        await store.create(T1, CONTRACT_GROUP, self.group("admins"))
        await store.create(T2, CONTRACT_GROUP, self.group("admins"))

    async def test_tenants_never_see_each_other(self, store: ResourceStore) -> None:
        (alice,) = await self.users(store, T1, "alice")
        id, version = alice["id"], alice["meta"]["version"]
        with pytest.raises(NotFound):
            await store.get(T2, CONTRACT_USER, id)
        with pytest.raises(NotFound):
            await store.replace(T2, CONTRACT_USER, id, self.user("x", id=id))
        with pytest.raises(NotFound):
            result = PatchResult(self.user("x", id=id), True)
            await store.update(T2, CONTRACT_USER, id, result, expected_version=None)
        with pytest.raises(NotFound):
            await store.delete(T2, CONTRACT_USER, id, expected_version=version)
        assert (await store.query(T2, CONTRACT_USER, StoreQuery())).total == 0
        page = await store.query(T2, CONTRACT_USER, _filter(CONTRACT_USER, 'userName eq "alice"'))
        assert page.total == 0
        assert await store.get(T1, CONTRACT_USER, id) == alice

    async def test_memberships_are_per_tenant(self, store: ResourceStore) -> None:
        (alice,) = await self.users(store, T1, "alice")
        twin = await store.create(T2, CONTRACT_USER, self.user("alice", id=alice["id"]))
        group = await store.create(T1, CONTRACT_GROUP, self.group("admins", alice["id"]))
        assert "groups" not in await store.get(T2, CONTRACT_USER, twin["id"])
        members_filter = _filter(CONTRACT_GROUP, f'members eq "{alice["id"]}"')
        assert (await store.query(T2, CONTRACT_GROUP, members_filter)).total == 0
        await store.delete(T2, CONTRACT_USER, twin["id"])
        assert _member_ids(await store.get(T1, CONTRACT_GROUP, group["id"])) == [alice["id"]]

    # -- memberships ----------------------------------------------------------------------------

    async def test_members_are_listed_once_in_id_order(self, store: ResourceStore) -> None:
        group = self.group("admins", "u3", "u1", "u2", "u1")
        created = await store.create(T1, CONTRACT_GROUP, group)
        assert _member_ids(created) == ["u1", "u2", "u3"]
        got = await store.get(T1, CONTRACT_GROUP, created["id"])
        assert got == created
        assert got["members"][0] == {"value": "u1", "type": "User"}

    async def test_members_false_leaves_members_out(self, store: ResourceStore) -> None:
        created = await store.create(T1, CONTRACT_GROUP, self.group("admins", "u1"))
        got = await store.get(T1, CONTRACT_GROUP, created["id"], members=False)
        assert "members" not in got
        assert got == {k: v for k, v in created.items() if k != "members"}
        page = await store.query(T1, CONTRACT_GROUP, StoreQuery(members=False))
        assert "members" not in page.resources[0]
        page = await store.query(T1, CONTRACT_GROUP, StoreQuery())
        assert _member_ids(page.resources[0]) == ["u1"]

    async def test_a_member_delta_adds_and_removes(self, store: ResourceStore) -> None:
        group = await store.create(T1, CONTRACT_GROUP, self.group("admins", "u1", "u2"))
        delta = MemberDelta(added=({"value": "u3"}, {"value": "u1"}), removed=("u2", "u9"))
        result = PatchResult(
            {k: v for k, v in group.items() if k != "members"},
            True,
            delta,
            frozenset({"members"}),
        )
        updated = await store.update(
            T1, CONTRACT_GROUP, group["id"], result, expected_version=group["meta"]["version"]
        )
        assert "members" not in updated  # the PATCH result had none
        assert updated["meta"]["version"] != group["meta"]["version"]
        got = await store.get(T1, CONTRACT_GROUP, group["id"])
        assert _member_ids(got) == ["u1", "u3"]
        assert got["members"][0] == {"value": "u1", "type": "User"}  # the first form stays

    async def test_re_adding_present_members_changes_nothing(self, store: ResourceStore) -> None:
        group = await store.create(T1, CONTRACT_GROUP, self.group("admins", "u1"))
        result = PatchResult(
            {k: v for k, v in group.items() if k != "members"},
            True,
            MemberDelta(added=({"value": "u1"},), removed=("u7",)),
            frozenset({"members"}),
        )
        updated = await store.update(
            T1, CONTRACT_GROUP, group["id"], result, expected_version=group["meta"]["version"]
        )
        assert updated["meta"]["version"] == group["meta"]["version"]
        assert await store.get(T1, CONTRACT_GROUP, group["id"]) == group

    async def test_a_rewritten_member_takes_its_new_form(self, store: ResourceStore) -> None:
        """A member removed and added again in one PATCH is stored as it was added last."""
        group = await store.create(T1, CONTRACT_GROUP, self.group("admins", "u1", "u2"))
        stripped = {k: v for k, v in group.items() if k != "members"}
        same = PatchResult(
            stripped,
            True,
            MemberDelta(rewritten=({"value": "u1", "type": "User"},)),
            frozenset({"members"}),
        )
        updated = await store.update(
            T1, CONTRACT_GROUP, group["id"], same, expected_version=group["meta"]["version"]
        )
        assert updated["meta"]["version"] == group["meta"]["version"]  # its stored form
        delta = MemberDelta(
            rewritten=({"value": "u1", "display": "new"}, {"value": "u3", "display": "c"})
        )
        result = PatchResult(stripped, True, delta, frozenset({"members"}))
        updated = await store.update(
            T1, CONTRACT_GROUP, group["id"], result, expected_version=group["meta"]["version"]
        )
        assert updated["meta"]["version"] != group["meta"]["version"]
        got = await store.get(T1, CONTRACT_GROUP, group["id"])
        assert got["members"] == [
            {"value": "u1", "display": "new"},
            {"value": "u2", "type": "User"},
            {"value": "u3", "display": "c"},
        ]

    async def test_a_replacing_delta_sets_the_whole_list(self, store: ResourceStore) -> None:
        group = await store.create(T1, CONTRACT_GROUP, self.group("admins", "u1", "u2"))
        new_list = [{"value": "u3", "type": "User"}, {"value": "u2", "type": "User"}]
        delta = MemberDelta(added=tuple(new_list), replace=True)
        result = PatchResult({**group, "members": new_list}, True, delta, frozenset({"members"}))
        updated = await store.update(
            T1, CONTRACT_GROUP, group["id"], result, expected_version=group["meta"]["version"]
        )
        assert _member_ids(updated) == ["u2", "u3"]  # the result had members: returned
        emptied = PatchResult(
            {k: v for k, v in group.items() if k != "members"},
            True,
            MemberDelta(replace=True),
            frozenset({"members"}),
        )
        await store.update(T1, CONTRACT_GROUP, group["id"], emptied, expected_version=None)
        assert "members" not in await store.get(T1, CONTRACT_GROUP, group["id"])

    async def test_concurrent_member_adds_all_land(self, store: ResourceStore) -> None:
        group = await store.create(T1, CONTRACT_GROUP, self.group("admins", "u0"))
        stripped = {k: v for k, v in group.items() if k != "members"}

        async def add(member: str) -> None:
            delta = MemberDelta(added=({"value": member},))
            result = PatchResult(stripped, True, delta, frozenset({"members"}))
            await store.update(T1, CONTRACT_GROUP, group["id"], result, expected_version=None)

        await asyncio.gather(*(add(f"u{i}") for i in range(1, 6)))
        got = await store.get(T1, CONTRACT_GROUP, group["id"])
        assert _member_ids(got) == [f"u{i}" for i in range(6)]

    async def test_concurrent_adds_of_one_member_change_the_version_once(
        self, store: ResourceStore
    ) -> None:
        # One of them adds the member; the others find it present and change nothing.
        group = await store.create(T1, CONTRACT_GROUP, self.group("admins", "u0"))
        stripped = {k: v for k, v in group.items() if k != "members"}
        delta = MemberDelta(added=({"value": "u1"},))
        result = PatchResult(stripped, True, delta, frozenset({"members"}))

        async def add() -> str:
            updated = await store.update(
                T1, CONTRACT_GROUP, group["id"], result, expected_version=None
            )
            assert "members" not in updated  # the PATCH result had none
            return str(updated["meta"]["version"])

        versions = await asyncio.gather(*(add() for _ in range(6)))
        got = await store.get(T1, CONTRACT_GROUP, group["id"])
        assert _member_ids(got) == ["u0", "u1"]
        assert got["meta"]["version"] != group["meta"]["version"]
        assert set(versions) <= {group["meta"]["version"], got["meta"]["version"]}
        # Re-adding it, or removing an absent member, without a version keeps the version.
        again = PatchResult(stripped, True, MemberDelta(removed=("u9",)), frozenset({"members"}))
        for unchanged in (result, again):
            updated = await store.update(
                T1, CONTRACT_GROUP, group["id"], unchanged, expected_version=None
            )
            assert updated["meta"]["version"] == got["meta"]["version"]
        assert await store.get(T1, CONTRACT_GROUP, group["id"]) == got

    async def test_each_concurrent_member_change_gets_its_own_version(
        self, store: ResourceStore
    ) -> None:
        # Without an expected version nothing is compared: every delta lands and bumps once.
        group = await store.create(T1, CONTRACT_GROUP, self.group("admins"))
        stripped = {k: v for k, v in group.items() if k != "members"}

        async def add(member: str) -> str:
            delta = MemberDelta(added=({"value": member},))
            result = PatchResult(stripped, True, delta, frozenset({"members"}))
            updated = await store.update(
                T1, CONTRACT_GROUP, group["id"], result, expected_version=None
            )
            return str(updated["meta"]["version"])

        versions = await asyncio.gather(*(add(f"u{i}") for i in range(8)))
        got = await store.get(T1, CONTRACT_GROUP, group["id"])
        assert len(set(versions)) == 8 and got["meta"]["version"] in versions
        assert got["meta"]["version"] != group["meta"]["version"]
        assert got["meta"]["lastModified"] > group["meta"]["lastModified"]
        assert got["displayName"] == "admins"

    async def test_a_member_change_at_a_stale_version_changes_nothing(
        self, store: ResourceStore
    ) -> None:
        group = await store.create(T1, CONTRACT_GROUP, self.group("admins", "u1"))
        stripped = {k: v for k, v in group.items() if k != "members"}
        first = PatchResult(stripped, True, MemberDelta(added=({"value": "u2"},)), frozenset())
        version = group["meta"]["version"]
        await store.update(T1, CONTRACT_GROUP, group["id"], first, expected_version=version)
        second = PatchResult(stripped, True, MemberDelta(removed=("u1",)), frozenset())
        with pytest.raises(PreconditionFailed):
            await store.update(T1, CONTRACT_GROUP, group["id"], second, expected_version=version)
        assert _member_ids(await store.get(T1, CONTRACT_GROUP, group["id"])) == ["u1", "u2"]
        with pytest.raises(NotFound):
            await store.update(T1, CONTRACT_GROUP, "nope", second, expected_version=None)

    async def test_replace_sets_the_member_list(self, store: ResourceStore) -> None:
        group = await store.create(T1, CONTRACT_GROUP, self.group("admins", "u1", "u2"))
        new = self.group("admins", "u2", "u3", id=group["id"])
        replaced = await store.replace(T1, CONTRACT_GROUP, group["id"], new)
        assert _member_ids(replaced) == ["u2", "u3"]
        without = self.group("admins", id=group["id"])
        replaced = await store.replace(T1, CONTRACT_GROUP, group["id"], without)
        assert "members" not in replaced

    async def test_groups_are_derived_from_memberships(self, store: ResourceStore) -> None:
        alice, bob = await self.users(store, T1, "alice", "bob")
        admins = await store.create(
            T1, CONTRACT_GROUP, self.group("Admins", alice["id"], bob["id"])
        )
        staff = await store.create(T1, CONTRACT_GROUP, self.group("Staff", alice["id"]))
        got = await store.get(T1, CONTRACT_USER, alice["id"])
        expected = sorted(
            [
                {"value": admins["id"], "display": "Admins", "type": "direct"},
                {"value": staff["id"], "display": "Staff", "type": "direct"},
            ],
            key=lambda entry: entry["value"],
        )
        assert got["groups"] == expected
        page = await store.query(T1, CONTRACT_USER, _filter(CONTRACT_USER, 'userName eq "bob"'))
        assert page.resources[0]["groups"] == [
            {"value": admins["id"], "display": "Admins", "type": "direct"}
        ]
        # The display follows the group.
        renamed = self.group("Administrators", alice["id"], bob["id"], id=admins["id"])
        await store.replace(T1, CONTRACT_GROUP, admins["id"], renamed)
        got = await store.get(T1, CONTRACT_USER, bob["id"])
        assert got["groups"][0]["display"] == "Administrators"

    async def test_groups_sent_by_a_client_are_not_stored(self, store: ResourceStore) -> None:
        resource = self.user("alice", groups=[{"value": "g1", "type": "direct"}])
        created = await store.create(T1, CONTRACT_USER, resource)
        assert "groups" not in created
        assert "groups" not in await store.get(T1, CONTRACT_USER, created["id"])

    async def test_resource_types_of_names_each_existing_id(self, store: ResourceStore) -> None:
        alice, bob = await self.users(store, T1, "alice", "bob")
        group = await store.create(T1, CONTRACT_GROUP, self.group("admins", alice["id"]))
        (stranger,) = await self.users(store, T2, "stranger")
        await store.delete(T1, CONTRACT_USER, bob["id"])
        asked = [alice["id"], group["id"], bob["id"], stranger["id"], "nothing", alice["id"]]
        found = await store.resource_types_of(T1, asked)
        assert dict(found) == {alice["id"]: "User", group["id"]: "Group"}
        assert dict(await store.resource_types_of(T1, [])) == {}
        assert dict(await store.resource_types_of("never-used", [alice["id"]])) == {}
        with pytest.raises(InternalError):
            await store.resource_types_of("", [alice["id"]])

    async def test_get_with_types_is_get_and_resource_types_of(self, store: ResourceStore) -> None:
        alice, bob = await self.users(store, T1, "alice", "bob")
        group = await store.create(T1, CONTRACT_GROUP, self.group("admins", alice["id"]))
        (stranger,) = await self.users(store, T2, "stranger")
        await store.delete(T1, CONTRACT_USER, bob["id"])
        asked = [alice["id"], group["id"], bob["id"], stranger["id"], "nothing"]
        got, found = await store.get_with_types(T1, CONTRACT_GROUP, group["id"], asked)
        assert got == await store.get(T1, CONTRACT_GROUP, group["id"])
        assert dict(found) == {alice["id"]: "User", group["id"]: "Group"}
        bare, found = await store.get_with_types(T1, CONTRACT_GROUP, group["id"], [], members=False)
        assert bare == await store.get(T1, CONTRACT_GROUP, group["id"], members=False)
        assert dict(found) == {}
        with pytest.raises(NotFound):
            await store.get_with_types(T1, CONTRACT_GROUP, "nope", [alice["id"]])
        with pytest.raises(NotFound):
            await store.get_with_types(T2, CONTRACT_GROUP, group["id"], [alice["id"]])

    async def test_deleting_a_member_removes_its_memberships(self, store: ResourceStore) -> None:
        alice, bob = await self.users(store, T1, "alice", "bob")
        group = await store.create(T1, CONTRACT_GROUP, self.group("admins", alice["id"], bob["id"]))
        await store.delete(T1, CONTRACT_USER, alice["id"])
        assert _member_ids(await store.get(T1, CONTRACT_GROUP, group["id"])) == [bob["id"]]
        members_filter = _filter(CONTRACT_GROUP, f'members eq "{alice["id"]}"')
        assert (await store.query(T1, CONTRACT_GROUP, members_filter)).total == 0

    async def test_deleting_a_member_changes_its_groups_versions(
        self, store: ResourceStore
    ) -> None:
        # Any change to a group's members changes its version: a cached ETag must not match.
        alice, bob = await self.users(store, T1, "alice", "bob")
        group = await store.create(T1, CONTRACT_GROUP, self.group("admins", alice["id"], bob["id"]))
        other = await store.create(T1, CONTRACT_GROUP, self.group("others", bob["id"]))
        await store.delete(T1, CONTRACT_USER, alice["id"])
        after = await store.get(T1, CONTRACT_GROUP, group["id"])
        assert after["meta"]["version"] != group["meta"]["version"]
        assert after["meta"]["lastModified"] > group["meta"]["lastModified"]
        assert (await store.get(T1, CONTRACT_GROUP, other["id"]))["meta"] == other["meta"]
        with pytest.raises(PreconditionFailed):
            await store.replace(
                T1, CONTRACT_GROUP, group["id"], group, expected_version=group["meta"]["version"]
            )

    async def test_deleting_a_group_removes_its_memberships(self, store: ResourceStore) -> None:
        (alice,) = await self.users(store, T1, "alice")
        inner = await store.create(T1, CONTRACT_GROUP, self.group("inner", alice["id"]))
        outer = await store.create(T1, CONTRACT_GROUP, self.group("outer", inner["id"]))
        await store.delete(T1, CONTRACT_GROUP, inner["id"])
        assert "groups" not in await store.get(T1, CONTRACT_USER, alice["id"])
        assert "members" not in await store.get(T1, CONTRACT_GROUP, outer["id"])
        # A new group is not haunted by old memberships.
        fresh = await store.create(T1, CONTRACT_GROUP, self.group("inner"))
        assert "members" not in fresh

    # -- filters --------------------------------------------------------------------------------

    async def test_filters_on_indexed_attributes(self, store: ResourceStore) -> None:
        alice = await store.create(T1, CONTRACT_USER, self.user("Alice", externalId="E-1"))
        await store.create(T1, CONTRACT_USER, self.user("bob", externalId="e-1"))
        admins = await store.create(T1, CONTRACT_GROUP, self.group("Admins"))
        await store.create(T1, CONTRACT_GROUP, self.group("Staff"))
        cases = [
            (CONTRACT_USER, 'userName eq "ALICE"', [alice["id"]]),
            (CONTRACT_USER, 'externalId eq "E-1"', [alice["id"]]),  # caseExact
            (CONTRACT_USER, f'id eq "{alice["id"]}"', [alice["id"]]),
            (CONTRACT_USER, 'userName eq "nobody"', []),
            (CONTRACT_GROUP, 'displayName eq "admins"', [admins["id"]]),
            (CONTRACT_USER, 'userName eq "alice" and externalId eq "e-1"', []),
        ]
        for resource_type, text, expected in cases:
            page = await store.query(T1, resource_type, _filter(resource_type, text))
            assert (_ids(page), page.total) == (expected, len(expected)), text

    async def test_general_filters(self, store: ResourceStore) -> None:
        users = [
            self.user("alice", title="Engineer", active=True),
            self.user("bob", title="Sales", active=False),
            self.user("carol", active=True, emails=[{"value": "c@x.org", "type": "work"}]),
        ]
        for user in users:
            await store.create(T1, CONTRACT_USER, user)
        ids = {u["userName"]: u["id"] for u in users}
        cases = [
            ('title sw "eng" or active eq false', ["alice", "bob"]),
            ("not (title pr)", ["carol"]),
            ('emails[type eq "work" and value ew ".org"]', ["carol"]),
            ('userName gt "alice" and active eq true', ["carol"]),
            ('title ne "Sales"', ["alice", "carol"]),
        ]
        for text, names in cases:
            page = await store.query(T1, CONTRACT_USER, _filter(CONTRACT_USER, text))
            assert sorted(_ids(page)) == sorted(ids[n] for n in names), text
            assert page.total == len(names)

    async def test_filters_on_members(self, store: ResourceStore) -> None:
        alice, bob = await self.users(store, T1, "alice", "bob")
        admins = await store.create(T1, CONTRACT_GROUP, self.group("admins", alice["id"]))
        staff = await store.create(T1, CONTRACT_GROUP, self.group("staff", alice["id"], bob["id"]))
        empty = await store.create(T1, CONTRACT_GROUP, self.group("empty"))
        a, b = alice["id"], bob["id"]
        cases = [
            (f'members eq "{a}"', [admins, staff]),
            (f'members.value eq "{b}"', [staff]),
            (f'members[value eq "{b}"]', [staff]),
            (f'id eq "{admins["id"]}" and members eq "{a}"', [admins]),
            (f'id eq "{admins["id"]}" and members eq "{b}"', []),
            (f'not (members eq "{b}")', [admins, empty]),
            (f'members ne "{b}"', [admins, empty]),
            ("members pr", [admins, staff]),
            (f'displayName sw "s" and members eq "{a}"', [staff]),
        ]
        for text, groups in cases:
            page = await store.query(T1, CONTRACT_GROUP, _filter(CONTRACT_GROUP, text))
            assert sorted(_ids(page)) == sorted(g["id"] for g in groups), text
            assert page.total == len(groups), text

    async def test_filters_on_derived_groups_are_refused(self, store: ResourceStore) -> None:
        with pytest.raises(InvalidFilter):
            await store.query(T1, CONTRACT_USER, _filter(CONTRACT_USER, 'groups eq "g1"'))

    # -- sorting and pages ----------------------------------------------------------------------

    async def test_sort_ignores_case_and_puts_missing_values_at_the_end(
        self, store: ResourceStore
    ) -> None:
        titles = {"u1": "beta", "u2": "Alpha", "u3": None, "u4": "gamma", "u5": None}
        for id, title in titles.items():
            extra = {"title": title} if title is not None else {}
            await store.create(T1, CONTRACT_USER, self.user(id, id=id, **extra))
        by_title = _ref(CONTRACT_USER, "title")
        ascending = await store.query(T1, CONTRACT_USER, StoreQuery(sort_by=by_title))
        assert _ids(ascending) == ["u2", "u1", "u4", "u3", "u5"]
        descending = await store.query(
            T1, CONTRACT_USER, StoreQuery(sort_by=by_title, descending=True)
        )
        assert _ids(descending) == ["u5", "u3", "u4", "u1", "u2"]
        unsorted = await store.query(T1, CONTRACT_USER, StoreQuery())
        assert _ids(unsorted) == ["u1", "u2", "u3", "u4", "u5"]  # by id when not sorted

    async def test_index_pages(self, store: ResourceStore) -> None:
        for name in ("c", "a", "e", "b", "d"):
            await store.create(T1, CONTRACT_USER, self.user(name))
        by_name = StoreQuery(sort_by=_ref(CONTRACT_USER, "userName"))

        async def names(**window: Any) -> tuple[list[str], int]:
            page = await store.query(T1, CONTRACT_USER, replace(by_name, **window))
            return [r["userName"] for r in page.resources], page.total

        assert await names(start_index=2, count=2) == (["b", "c"], 5)
        assert await names(start_index=4, count=10) == (["d", "e"], 5)
        assert await names(start_index=9, count=2) == ([], 5)
        assert await names(count=0) == ([], 5)
        assert await names() == (["a", "b", "c", "d", "e"], 5)
        filtered = replace(by_name, filter=compile_filter('userName ge "b"', CONTRACT_USER))
        page = await store.query(T1, CONTRACT_USER, replace(filtered, start_index=2, count=2))
        assert ([r["userName"] for r in page.resources], page.total) == (["c", "d"], 4)

    @pytest.mark.parametrize(
        ("sort_path", "descending"),
        [
            (None, False),
            ("userName", False),
            ("userName", True),
            ("title", False),
            ("title", True),
            ("meta.lastModified", True),
        ],
    )
    async def test_keyset_pages_walk_forward_and_back(
        self, store: ResourceStore, sort_path: str | None, descending: bool
    ) -> None:
        # Titles repeat and are sometimes missing, so ties and absent values cross pages.
        titles = ["x", None, "y", "x", None, "X", "y"]
        for i, title in enumerate(titles):
            extra = {"title": title} if title is not None else {}
            await store.create(T1, CONTRACT_USER, self.user(f"user{i}", id=f"id{i}", **extra))
        await store.create(T2, CONTRACT_USER, self.user("other", id="id9"))
        sort_by = _ref(CONTRACT_USER, sort_path) if sort_path is not None else None
        base = StoreQuery(sort_by=sort_by, descending=descending)
        everything = await store.query(T1, CONTRACT_USER, base)
        expected = _ids(everything)
        assert len(expected) == len(titles)

        walked: list[str] = []
        after: tuple[Any, str] | None = None
        while True:
            page = await store.query(T1, CONTRACT_USER, replace(base, count=3, after=after))
            assert page.total == len(titles)
            assert len(page.keys) == len(page.resources)
            walked += _ids(page)
            if len(page.resources) < 3:
                break
            after = page.keys[-1]
        assert walked == expected

        backward: list[str] = []
        after = everything.keys[-1]
        while True:
            page = await store.query(
                T1, CONTRACT_USER, replace(base, count=3, after=after, backward=True)
            )
            backward = _ids(page) + backward
            if len(page.resources) < 3:
                break
            after = page.keys[0]
        assert backward == expected[:-1]

    async def test_a_short_backward_page_holds_what_is_left(self, store: ResourceStore) -> None:
        for name in ("a", "b", "c", "d", "e"):
            await store.create(T1, CONTRACT_USER, self.user(name, id=name))
        for sort_by in (None, _ref(CONTRACT_USER, "userName")):
            base = StoreQuery(sort_by=sort_by, count=3, backward=True)
            everything = await store.query(T1, CONTRACT_USER, StoreQuery(sort_by=sort_by))
            page = await store.query(T1, CONTRACT_USER, replace(base, after=everything.keys[2]))
            assert _ids(page) == ["a", "b"]
            page = await store.query(T1, CONTRACT_USER, replace(base, after=everything.keys[0]))
            assert _ids(page) == []

    async def test_a_keyset_position_survives_the_deletion_of_its_resource(
        self, store: ResourceStore
    ) -> None:
        for name in ("a", "b", "c", "d"):
            await store.create(T1, CONTRACT_USER, self.user(name, id=name))
        by_name = StoreQuery(sort_by=_ref(CONTRACT_USER, "userName"), count=2)
        first = await store.query(T1, CONTRACT_USER, by_name)
        await store.delete(T1, CONTRACT_USER, "b")
        rest = await store.query(T1, CONTRACT_USER, replace(by_name, after=first.keys[-1]))
        assert _ids(rest) == ["c", "d"]
        assert rest.total == 3

    async def test_keyset_pages_honour_filters_and_members(self, store: ResourceStore) -> None:
        for name in ("g1", "g2", "g3", "h1"):
            await store.create(T1, CONTRACT_GROUP, self.group(name, "u1", id=name))
        query = StoreQuery(
            filter=compile_filter('displayName sw "g"', CONTRACT_GROUP), count=2, members=False
        )
        first = await store.query(T1, CONTRACT_GROUP, query)
        second = await store.query(T1, CONTRACT_GROUP, replace(query, after=first.keys[-1]))
        assert (_ids(first), _ids(second), second.total) == (["g1", "g2"], ["g3"], 3)
        assert all("members" not in r for r in (*first.resources, *second.resources))
