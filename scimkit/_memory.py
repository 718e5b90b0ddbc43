"""MemoryStore: the embedded default store, one in-process namespace per tenant.

Each tenant has, per resource type, the stored resources by id plus dict indexes: one per
unique attribute (value -> id, values folded when caseExact=false) and one per looked-up
attribute (``externalId`` and the ``indexed`` ones: value -> ids). Group membership lives
apart from the groups, as a member map per group and a reverse map member -> groups, so a
member delta costs O(k). Every call runs under the tenant's ``asyncio.Lock``; nothing inside
awaits, so each call is atomic with respect to other tasks. Resources go in and out as deep
copies.

Queries whose filter is, or is a conjunction containing, ``eq`` on ``id``, an indexed
attribute or ``members[.value]`` start from the matching index entry (O(1)), and ``sw`` on an
indexed string attribute from the index keys with that prefix; they check the rest of the
filter on those candidates. Any other filter scans the resource type with the in-memory
evaluator, which defines the semantics MongoStore's translation reproduces. Pages without a
filter or ``sortBy`` slice an id order kept between queries, not a sort of every resource.
"""

from __future__ import annotations

import asyncio
from bisect import bisect_left, insort
from collections.abc import Iterable, Iterator, KeysView, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any, TypeVar

from scimkit._errors import PreconditionFailed, UniquenessError
from scimkit._event import WriteRecord
from scimkit._feed import MemoryFeed
from scimkit._filter import (
    BoundAnd,
    BoundCompare,
    BoundFilter,
    CompareOp,
    filter_conditions,
    filter_terms,
    fold_case,
    is_folded,
    matches,
    sort_value,
)
from scimkit._meta import utc_now
from scimkit._patch_result import MemberDelta, PatchResult
from scimkit._resource_type import AttrRef, ResourceType
from scimkit._schema import Attribute
from scimkit._store import (
    DEFAULT_INDEXED,
    Page,
    StoreQuery,
    check_tenant,
    effective_member_delta,
    format_version,
    group_entry,
    member_form,
    normalize_members,
    not_found,
    reject_derived_filters,
    stored_form,
    stored_value,
    version_counter,
    writes_resource,
)
from scimkit._types import Position, copy_json

__all__ = ["MemoryStore"]

_T = TypeVar("_T")
_NO_DELTA = MemberDelta()  # frozen: shared by every write of a type without members


@dataclass(frozen=True)
class _Plan:
    """What a store keeps for one resource type: its indexes and membership attributes."""

    unique: tuple[AttrRef, ...]
    lookup: tuple[AttrRef, ...]
    members: Attribute | None
    groups: Attribute | None

    @property
    def indexed(self) -> tuple[AttrRef, ...]:
        return self.unique + self.lookup

    @cached_property
    def index_keys(self) -> frozenset[str]:
        """The top-level keys holding an indexed attribute: a write elsewhere keeps indexes."""
        return frozenset(_index_key(ref) for ref in self.indexed)

    @cached_property
    def derived(self) -> frozenset[str]:
        """The keys stores never keep with the resource: ``members`` and ``groups``."""
        return frozenset(a.name for a in (self.members, self.groups) if a is not None)


@dataclass(slots=True, eq=False)
class _Entry:
    resource: dict[str, Any]  # as stored: no members, no groups, meta.version set
    counter: int


@dataclass(slots=True, eq=False)
class _Space:
    """The resources of one type in one tenant, and their indexes."""

    entries: dict[str, _Entry] = field(default_factory=dict)
    unique: dict[str, dict[Any, str]] = field(default_factory=dict)
    lookup: dict[str, dict[Any, set[str]]] = field(default_factory=dict)
    # Sorted ids ("") and sorted index keys (by dotted name), kept by queries.
    sorted: dict[str, _Sorted] = field(default_factory=dict)


@dataclass(slots=True, eq=False)
class _Sorted:
    """Keys in order and as a set: kept between queries, brought up to date on use.

    Checking it costs one set comparison (C speed) rather than a sort per query; keys written
    since the last use are inserted or removed one by one, unless there are many.
    """

    order: list[Any] = field(default_factory=list)
    known: set[Any] = field(default_factory=set)

    def of(self, keys: KeysView[Any]) -> list[Any]:
        known = self.known
        if len(known) == len(keys) and keys == known:
            return self.order
        added = keys - known
        removed = known - keys
        if len(added) + len(removed) > max(64, len(keys) // 16):
            self.order = sorted(keys)
            self.known = set(keys)
            return self.order
        order = self.order
        for key in removed:
            del order[bisect_left(order, key)]
        for key in added:
            insort(order, key)
        known -= removed
        known |= added
        return order


@dataclass(slots=True, eq=False)
class _Tenant:
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    spaces: dict[str, _Space] = field(default_factory=dict)
    # group id -> member id -> member object; member id -> group id -> group type name
    members: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    groups_of: dict[str, dict[str, str]] = field(default_factory=dict)


class MemoryStore:
    """The embedded :class:`~scimkit.store.ResourceStore`: fast, atomic, not persistent.

    ``max_page_size`` bounds a query that gives no ``count``. ``indexed`` names, per resource
    type, further attributes answered from an index on ``eq`` (Group ``displayName`` by
    default, which Entra looks groups up by). Resource types are told apart by name: use one
    definition per name with a given store.
    """

    def __init__(
        self,
        *,
        max_page_size: int = 1000,
        indexed: Mapping[str, Iterable[str]] = DEFAULT_INDEXED,
        feed: MemoryFeed | None = None,
    ) -> None:
        self.max_page_size = max_page_size
        # Events are appended under the tenant lock with the write they record (docs/events.md).
        self.feed = feed if feed is not None else MemoryFeed()
        self._types: dict[str, ResourceType] = {}
        self._indexed = {name: tuple(paths) for name, paths in indexed.items()}
        self._tenants: dict[str, _Tenant] = {}
        self._plans: dict[str, _Plan] = {}

    # -- the protocol -------------------------------------------------------------------------

    async def create(
        self,
        tenant: str,
        resource_type: ResourceType,
        resource: dict[str, Any],
        *,
        record: WriteRecord | None = None,
        shared: bool = False,
    ) -> dict[str, Any]:
        """Store a new resource (with ``id`` and ``meta``) and return it as stored.

        ``shared`` returns the stored values uncopied, as :meth:`get_shared` does.
        """
        plan = self._plan(resource_type)
        # Looked up first: a new _Tenant or _Space (a lock, seven dicts) only when missing.
        key = check_tenant(tenant)
        namespace = self._tenants.get(key)
        if namespace is None:
            namespace = self._tenants[key] = _Tenant()
        async with namespace.lock:
            space = namespace.spaces.get(resource_type.name)
            if space is None:
                space = namespace.spaces[resource_type.name] = _Space()
            id = resource["id"]
            if id in space.entries:
                raise UniquenessError(f"A {resource_type.name} with id '{id}' already exists.")
            stored = stored_form(resource, resource_type)
            self._check_unique(space, plan, stored, id)
            entry = _Entry(stored, 1)
            stored["meta"]["version"] = format_version(1)
            space.entries[id] = entry
            return self._settle(
                tenant, namespace, resource_type, entry, resource, record, None, shared=shared
            )

    async def get(
        self, tenant: str, resource_type: ResourceType, id: str, *, members: bool = True
    ) -> dict[str, Any]:
        """Return the resource, with group members unless ``members`` is false."""
        plan = self._plan(resource_type)
        namespace = self._namespace(tenant, resource_type, id)
        async with namespace.lock:
            entry = self._entry(namespace, resource_type, id)
            return self._view(namespace, plan, entry, members=members)

    async def get_shared(
        self, tenant: str, resource_type: ResourceType, id: str, *, members: bool = True
    ) -> dict[str, Any]:
        """:meth:`get` without the copy: the values are the stored ones, never to be mutated.

        Stored entries are replaced on every write, never changed in place, so what this
        returns stays as read; the service reads with it to PATCH (``docs/storage.md``).
        """
        plan = self._plan(resource_type)
        namespace = self._namespace(tenant, resource_type, id)
        # No lock: nothing here awaits, and no write awaits while it holds the tenant lock, so
        # no write is ever half done when this runs.
        entry = self._entry(namespace, resource_type, id)
        return self._view(namespace, plan, entry, members=members, copy=False)

    async def replace(
        self,
        tenant: str,
        resource_type: ResourceType,
        id: str,
        resource: dict[str, Any],
        *,
        expected_version: str | None = None,
        record: WriteRecord | None = None,
    ) -> dict[str, Any]:
        """Replace the whole resource (members included for groups) and return it."""
        plan = self._plan(resource_type)
        namespace = self._namespace(tenant, resource_type, id)
        async with namespace.lock:
            entry = self._entry(namespace, resource_type, id)
            _check_version(entry, expected_version)
            before = self._view(namespace, plan, entry, members=True) if record else None
            space = namespace.spaces[resource_type.name]
            stored = stored_form({**resource, "id": id}, resource_type)
            self._check_unique(space, plan, stored, id)
            self._unindex(space, plan, entry.resource, id)
            entry.counter += 1
            stored["meta"]["version"] = format_version(entry.counter)
            entry.resource = stored
            return self._settle(tenant, namespace, resource_type, entry, resource, record, before)

    async def update(
        self,
        tenant: str,
        resource_type: ResourceType,
        id: str,
        result: PatchResult,
        *,
        expected_version: str | None,
        modified: datetime | None = None,
        record: WriteRecord | None = None,
        shared: bool = False,
    ) -> dict[str, Any]:
        """Apply a PATCH result written against ``expected_version`` and return the resource.

        Members change only through ``result.member_delta``. When the delta changes no
        membership and ``writes_resource`` says the resource itself is unchanged, nothing is
        written and the version and ``lastModified`` stay (an idempotent re-add, as Entra sends).
        ``shared`` returns the stored values uncopied, as :meth:`get_shared` does, and keeps the
        result's changed values as they are: the caller hands the result over (the service's
        come from the PATCH engine, built new and validated, so already in stored form).
        """
        plan = self._plan(resource_type)
        namespace = self._namespace(tenant, resource_type, id)
        with_members = plan.members is not None and plan.members.name in result.resource
        async with namespace.lock:
            entry = self._entry(namespace, resource_type, id)
            _check_version(entry, expected_version)
            delta = (
                effective_member_delta(result.member_delta, namespace.members.get(id, {}))
                if plan.members is not None
                else _NO_DELTA
            )
            writes = writes_resource(result, resource_type)
            if not writes and not delta:
                return self._view(namespace, plan, entry, members=with_members, copy=not shared)
            # Stored entries are replaced, never mutated: the entry before the write is the
            # events' "before" as it is, without a copy. Members are compared through the delta.
            before = entry.resource
            space = namespace.spaces[resource_type.name]
            changed = result.changed_attributes
            # A result that does not say what changed is stored whole.
            whole = writes and not changed
            if whole:
                stored = stored_form({**result.resource, "id": id}, resource_type)
            else:
                stored = _merge(entry.resource, result.resource, changed, plan, copy=not shared)
            # Index upkeep only when an indexed attribute changed: most PATCHes (Entra's
            # attribute syncs) touch none.
            reindex = whole or not plan.index_keys.isdisjoint(changed)
            if reindex:
                self._check_unique(space, plan, stored, id)
                self._unindex(space, plan, entry.resource, id)
            entry.counter += 1
            stored["meta"]["version"] = format_version(entry.counter)
            stored["meta"]["lastModified"] = stored_value(
                utc_now() if modified is None else modified
            )
            entry.resource = stored
            if reindex:
                self._index(space, plan, stored, id)
            if delta is not _NO_DELTA:
                self._apply_delta(namespace, resource_type, id, delta)
            updated = self._view(namespace, plan, entry, members=with_members, copy=not shared)
            if record is not None:
                self._record(
                    tenant,
                    resource_type,
                    id,
                    record,
                    before,
                    updated,
                    # None rather than the shared empty delta: cheaper to test on every write.
                    delta=None if delta is _NO_DELTA else delta,
                    keys=None if whole else changed,
                )
            return updated

    async def delete(
        self,
        tenant: str,
        resource_type: ResourceType,
        id: str,
        *,
        expected_version: str | None = None,
        record: WriteRecord | None = None,
    ) -> None:
        """Delete the resource and its memberships (as a group and as a member)."""
        plan = self._plan(resource_type)
        namespace = self._namespace(tenant, resource_type, id)
        async with namespace.lock:
            entry = self._entry(namespace, resource_type, id)
            _check_version(entry, expected_version)
            left = self._groups_left(namespace, id) if record is not None else []
            # The stored entry as it is: it leaves the store unchanged (entries are replaced,
            # never mutated), and a delete's events read only its externalId. A copy with the
            # derived groups cost a tenth of a DELETE.
            before = entry.resource
            space = namespace.spaces[resource_type.name]
            self._unindex(space, plan, entry.resource, id)
            del space.entries[id]
            for member in namespace.members.pop(id, {}):
                _discard(namespace.groups_of, member, id)
            # Any change to a group's members changes its version, this one too.
            now = stored_value(utc_now())
            for group, type_name in namespace.groups_of.pop(id, {}).items():
                _discard(namespace.members, group, id)
                _next_version(namespace.spaces[type_name].entries[group], now)
            if record is not None:
                # Recorded after the cascade, in the same section: the groups' events carry the
                # versions the cascade gave them.
                left = [
                    (group_type, group, self._current_version(namespace, group_type, group), ext)
                    for group_type, group, _, ext in left
                ]
                self._record(tenant, resource_type, id, record, before, None, left=left)

    async def query(self, tenant: str, resource_type: ResourceType, query: StoreQuery) -> Page:
        """Return one page of the resources matching the query, and the total."""
        plan = self._plan(resource_type)
        namespace = self._query_namespace(tenant, resource_type, query)
        if namespace is None:
            return Page((), 0, ())
        async with namespace.lock:
            return self._page(namespace, plan, resource_type, query, copy=True)

    async def query_shared(
        self, tenant: str, resource_type: ResourceType, query: StoreQuery
    ) -> Page:
        """:meth:`query` without the copies: the values are the stored ones, never to be mutated.

        As :meth:`get_shared`: entries are replaced on every write, never changed in place;
        the service reads with it the pages the web layer only shapes and renders
        (``docs/storage.md``).
        """
        plan = self._plan(resource_type)
        namespace = self._query_namespace(tenant, resource_type, query)
        if namespace is None:
            return Page((), 0, ())
        # No lock, as in get_shared: nothing here awaits, so no write is ever half done.
        return self._page(namespace, plan, resource_type, query, copy=False)

    def _query_namespace(
        self, tenant: str, resource_type: ResourceType, query: StoreQuery
    ) -> _Tenant | None:
        """The tenant's namespace for a query (``None`` if it has none), the query checked."""
        if query.filter is not None:
            reject_derived_filters(query.filter, resource_type)
        return self._tenants.get(check_tenant(tenant))

    def _page(
        self,
        namespace: _Tenant,
        plan: _Plan,
        resource_type: ResourceType,
        query: StoreQuery,
        *,
        copy: bool,
    ) -> Page:
        """One page of a query, the resources deep copies if ``copy`` (see :meth:`_view`)."""
        space = namespace.spaces.get(resource_type.name)
        if space is None:
            return Page((), 0, ())
        by_id = query.sort_by is None and query.after is None
        entries: list[_Entry]
        keys: list[Position]
        if by_id and query.filter is None:
            # Every resource, in id order: a slice of the kept order, not a sort per page.
            order = space.sorted.setdefault("", _Sorted()).of(space.entries.keys())
            ids = self._slice(order, query)
            entries = [space.entries[id] for id in ids]
            keys = [(None, id) for id in ids]
            total = len(space.entries)
        else:
            matched = list(self._matching(namespace, space, plan, resource_type, query.filter))
            total = len(matched)
            if by_id:
                if total > 1:
                    matched.sort(key=_entry_id)
                entries = self._slice(matched, query)
                keys = [(None, _entry_id(e)) for e in entries]
            else:
                ordered = _order(matched, query.sort_by)
                if query.descending and query.sort_by is not None:
                    ordered.reverse()
                window = self._window(ordered, query)
                entries = [entry for _, entry in window]
                keys = [(key[1], key[2]) for key, _ in window]
        members = query.members
        resources = [
            self._view(namespace, plan, entry, members=members, copy=copy) for entry in entries
        ]
        return Page(resources, total, keys)

    async def resource_types_of(self, tenant: str, ids: Sequence[str]) -> dict[str, str]:
        """The resource type name of each of ``ids`` that names a resource in the tenant."""
        namespace = self._tenants.get(check_tenant(tenant))
        found: dict[str, str] = {}
        if namespace is None:
            return found
        async with namespace.lock:
            for id in ids:
                for name, space in namespace.spaces.items():
                    if isinstance(id, str) and id in space.entries:
                        found[id] = name
                        break
        return found

    async def get_with_types(
        self,
        tenant: str,
        resource_type: ResourceType,
        id: str,
        ids: Sequence[str],
        *,
        members: bool = True,
    ) -> tuple[dict[str, Any], dict[str, str]]:
        """:meth:`get` and :meth:`resource_types_of` of ``ids`` (no round trip to save here)."""
        resource = await self.get(tenant, resource_type, id, members=members)
        return resource, await self.resource_types_of(tenant, ids)

    async def ping(self) -> bool:
        """Always true: the store is in this process."""
        return True

    # -- resources and indexes ----------------------------------------------------------------

    def _settle(
        self,
        tenant: str,
        namespace: _Tenant,
        resource_type: ResourceType,
        entry: _Entry,
        resource: dict[str, Any],
        record: WriteRecord | None,
        before: dict[str, Any] | None,
        *,
        shared: bool = False,
    ) -> dict[str, Any]:
        """Finish storing a whole resource (create, replace) and return it as stored.

        Indexes the entry, makes a group's members those of ``resource`` and records the
        write's events, still under the tenant lock. ``shared``: the answer is not copied.
        """
        plan = self._plan(resource_type)
        id = entry.resource["id"]
        self._index(namespace.spaces[resource_type.name], plan, entry.resource, id)
        if plan.members is not None:
            self._set_members(namespace, resource_type, id, resource.get(plan.members.name))
        written = self._view(namespace, plan, entry, members=True, copy=not shared)
        if record is None:
            return written
        if before is None:
            # A create: the stored entry is never mutated (writes replace it), so the event
            # may refer to it instead of copying it.
            self._record(tenant, resource_type, id, record, None, entry.resource, snapshot=True)
        else:
            self._record(tenant, resource_type, id, record, before, written)
        return written

    def _record(
        self,
        tenant: str,
        resource_type: ResourceType,
        id: str,
        record: WriteRecord,
        before: dict[str, Any] | None,
        after: dict[str, Any] | None,
        *,
        delta: MemberDelta | None = None,
        left: list[tuple[ResourceType, str, str | None, str | None]] | None = None,
        keys: frozenset[str] | None = None,
        snapshot: bool = False,
    ) -> None:
        # Called under the tenant lock, before it is released: nothing awaits in between, so
        # the write and its events happen together or not at all.
        drafts = record.drafts(
            resource_type,
            id,
            before=before,
            after=after,
            member_delta=delta,
            left=left or (),
            keys=keys,
            snapshot=snapshot,
        )
        self.feed.record(tenant, record, resource_type, drafts)

    @staticmethod
    def _current_version(namespace: _Tenant, group_type: ResourceType, id: str) -> str | None:
        version: str | None = (
            namespace.spaces[group_type.name].entries[id].resource["meta"].get("version")
        )
        return version

    def _groups_left(
        self, namespace: _Tenant, id: str
    ) -> list[tuple[ResourceType, str, str | None, str | None]]:
        """(group type, id, version, externalId) of each group ``id`` is a member of."""
        left = []
        for group_id, type_name in sorted(namespace.groups_of.get(id, {}).items()):
            group_type = self._types.get(type_name)
            group = namespace.spaces.get(type_name, _Space()).entries.get(group_id)
            if group_type is None or group is None:
                continue
            external_id = group.resource.get("externalId")
            left.append(
                (
                    group_type,
                    group_id,
                    group.resource["meta"].get("version"),
                    external_id if isinstance(external_id, str) else None,
                )
            )
        return left

    def _plan(self, resource_type: ResourceType) -> _Plan:
        plan = self._plans.get(resource_type.name)
        if plan is None:
            self._types[resource_type.name] = resource_type
            unique = tuple(
                ref for ref in resource_type.unique_attributes() if not ref.attribute.is_complex
            )
            taken = {ref.dotted for ref in unique}
            lookup: list[AttrRef] = []
            for path in ("externalId", *self._indexed.get(resource_type.name, ())):
                ref = resource_type.resolve_path(path)
                if ref is None:
                    raise ValueError(f"{resource_type.name} has no attribute {path!r} to index")
                if ref.dotted not in taken and not ref.target.is_complex:
                    taken.add(ref.dotted)
                    lookup.append(ref)
            plan = _Plan(
                unique,
                tuple(lookup),
                resource_type.members_attribute,
                resource_type.groups_attribute,
            )
            self._plans[resource_type.name] = plan
        return plan

    def _namespace(self, tenant: str, resource_type: ResourceType, id: str) -> _Tenant:
        """The tenant's namespace; a tenant that never stored anything has no ``id`` either."""
        namespace = self._tenants.get(check_tenant(tenant))
        if namespace is None:
            raise not_found(resource_type, id)
        return namespace

    @staticmethod
    def _entry(namespace: _Tenant, resource_type: ResourceType, id: str) -> _Entry:
        space = namespace.spaces.get(resource_type.name)
        entry = space.entries.get(id) if space is not None else None
        if entry is None:
            raise not_found(resource_type, id)
        return entry

    @staticmethod
    def _check_unique(space: _Space, plan: _Plan, resource: dict[str, Any], id: str) -> None:
        for ref in plan.unique:
            index = space.unique.get(ref.dotted, {})
            for key in _index_keys(resource, ref):
                owner = index.get(key)
                if owner is not None and owner != id:
                    raise UniquenessError(f"The {ref.dotted} value is already in use.")

    @staticmethod
    def _index(space: _Space, plan: _Plan, resource: dict[str, Any], id: str) -> None:
        for ref in plan.unique:
            index = space.unique.setdefault(ref.dotted, {})
            for key in _index_keys(resource, ref):
                index[key] = id
        for ref in plan.lookup:
            lookup = space.lookup.setdefault(ref.dotted, {})
            for key in _index_keys(resource, ref):
                lookup.setdefault(key, set()).add(id)

    @staticmethod
    def _unindex(space: _Space, plan: _Plan, resource: dict[str, Any], id: str) -> None:
        for ref in plan.unique:
            index = space.unique.get(ref.dotted, {})
            for key in _index_keys(resource, ref):
                if index.get(key) == id:
                    del index[key]
        for ref in plan.lookup:
            lookup = space.lookup.get(ref.dotted, {})
            for key in _index_keys(resource, ref):
                _discard(lookup, key, id)

    # -- memberships ----------------------------------------------------------------------------

    @staticmethod
    def _set_members(
        namespace: _Tenant, resource_type: ResourceType, group: str, members: Any
    ) -> None:
        """Make the group's member list exactly ``members`` (costs the old and new lists)."""
        for member in namespace.members.pop(group, {}):
            _discard(namespace.groups_of, member, group)
        wanted = {m["value"]: member_form(m) for m in normalize_members(members)}
        if wanted:
            namespace.members[group] = wanted
            for member in wanted:
                namespace.groups_of.setdefault(member, {})[group] = resource_type.name

    def _apply_delta(
        self, namespace: _Tenant, resource_type: ResourceType, group: str, delta: MemberDelta
    ) -> None:
        if delta.replace:
            self._set_members(namespace, resource_type, group, list(delta.added))
            return
        for member_id in delta.removed:
            _discard(namespace.members, group, member_id)
            _discard(namespace.groups_of, member_id, group)
        for member in (*delta.added, *delta.rewritten):
            namespace.members.setdefault(group, {})[member["value"]] = member
            namespace.groups_of.setdefault(member["value"], {})[group] = resource_type.name

    def _view(
        self, namespace: _Tenant, plan: _Plan, entry: _Entry, *, members: bool, copy: bool = True
    ) -> dict[str, Any]:
        """A stored resource with members and derived groups filled in, a deep copy if ``copy``.

        Without ``copy`` only the top-level dict is new; the values are the stored ones.
        """
        resource: dict[str, Any] = copy_json(entry.resource) if copy else dict(entry.resource)
        id = resource["id"]
        if plan.members is not None and members:
            found = namespace.members.get(id)
            if found:
                resource[plan.members.name] = [
                    copy_json(found[m]) if copy else found[m] for m in sorted(found)
                ]
        # Most resources are in no group: nothing to sort then.
        if plan.groups is not None and id in namespace.groups_of:
            groups = []
            for group_id, type_name in sorted(namespace.groups_of[id].items()):
                space = namespace.spaces.get(type_name)
                group = space.entries.get(group_id) if space is not None else None
                if group is not None:
                    groups.append(group_entry(group_id, group.resource.get("displayName")))
            if groups:
                resource[plan.groups.name] = groups
        return resource

    # -- queries --------------------------------------------------------------------------------

    def _matching(
        self,
        namespace: _Tenant,
        space: _Space,
        plan: _Plan,
        resource_type: ResourceType,
        bound: BoundFilter | None,
    ) -> Iterator[_Entry]:
        if bound is None:
            yield from space.entries.values()
            return
        candidates = self._candidates(namespace, space, plan, resource_type, bound)
        entries: Iterable[_Entry]
        if candidates is None:
            entries = space.entries.values()
        else:
            entries = (space.entries[id] for id in sorted(candidates) if id in space.entries)
        if candidates is not None and isinstance(bound, BoundCompare) and bound.op is CompareOp.SW:
            # A lone prefix term: the index keys are the values in comparison form, so the
            # candidates are the matches (no evaluation of each: a search may match thousands).
            yield from entries
            return
        with_members = plan.members is not None and any(
            condition.ref.attribute is plan.members for condition in filter_conditions(bound)
        )
        for entry in entries:
            resource: Mapping[str, Any] = entry.resource
            if with_members and plan.members is not None:
                found = namespace.members.get(resource["id"], {})
                resource = {**resource, plan.members.name: list(found.values())}
            if matches(bound, resource):
                yield entry

    def _candidates(
        self,
        namespace: _Tenant,
        space: _Space,
        plan: _Plan,
        resource_type: ResourceType,
        bound: BoundFilter,
    ) -> set[str] | None:
        """Ids that can match, from the smallest index hit among the top-level ``eq`` terms.

        ``None`` when no term is indexed: the caller scans. The caller still evaluates the
        whole filter on each candidate, so a superset is harmless.
        """
        best: set[str] | None = None
        # A lone comparison (Entra's match query) is its own only term: no walk for it.
        terms = (bound,) if isinstance(bound, BoundCompare) else filter_terms(bound, (BoundAnd,))
        for term in terms:
            if not isinstance(term, BoundCompare):
                continue
            if term.op is CompareOp.SW:
                found = self._prefixed(space, plan, term)
            elif term.op is CompareOp.EQ:
                found = self._lookup(namespace, space, plan, resource_type, term)
            else:
                continue
            if found is not None and (best is None or len(found) < len(best)):
                best = found
        return best

    @staticmethod
    def _lookup(
        namespace: _Tenant,
        space: _Space,
        plan: _Plan,
        resource_type: ResourceType,
        term: BoundCompare,
    ) -> set[str] | None:
        ref, value = term.ref, term.value
        if ref.extension or isinstance(value, bool):
            return None
        if plan.members is not None and ref.attribute is plan.members:
            if ref.sub_attribute is None or ref.sub_attribute.name != "value":
                return None
            groups = namespace.groups_of.get(value, {}) if isinstance(value, str) else {}
            return {g for g, type_name in groups.items() if type_name == resource_type.name}
        if ref.sub_attribute is not None:
            return None
        if ref.attribute.name == "id":
            return {value} if isinstance(value, str) else set()
        for unique in plan.unique:
            if unique.attribute is ref.attribute:
                owner = space.unique.get(unique.dotted, {}).get(value)
                return {owner} if owner is not None else set()
        for lookup in plan.lookup:
            if lookup.attribute is ref.attribute:
                return set(space.lookup.get(lookup.dotted, {}).get(value, ()))
        return None

    @staticmethod
    def _prefixed(space: _Space, plan: _Plan, term: BoundCompare) -> set[str] | None:
        """Ids whose indexed string value starts with the term's; ``None``: no index to ask.

        Index keys are the values in the evaluator's comparison form (folded when
        caseExact=false), so the keys that start with the bound prefix are exactly the matches.
        Empty values are not indexed, so an empty prefix scans.
        """
        ref, prefix = term.ref, term.value
        if ref.extension or ref.sub_attribute is not None or not isinstance(prefix, str):
            return None
        if not prefix:
            return None
        for unique in plan.unique:
            if unique.attribute is ref.attribute:
                owners = space.unique.get(unique.dotted, {})
                keys = _prefixed_keys(space, unique.dotted, owners, prefix)
                return {owners[key] for key in keys}
        for lookup in plan.lookup:
            if lookup.attribute is ref.attribute:
                holders = space.lookup.get(lookup.dotted, {})
                found: set[str] = set()
                for key in _prefixed_keys(space, lookup.dotted, holders, prefix):
                    found.update(holders[key])
                return found
        return None

    def _slice(self, ordered: list[_T], query: StoreQuery) -> list[_T]:
        """The ``startIndex``/``count`` window of ``ordered``."""
        count = self.max_page_size if query.count is None else max(0, query.count)
        start = max(1, query.start_index) - 1
        return ordered[start : start + count] if count else []

    def _window(
        self, ordered: list[tuple[tuple[Any, ...], _Entry]], query: StoreQuery
    ) -> list[tuple[tuple[Any, ...], _Entry]]:
        count = self.max_page_size if query.count is None else max(0, query.count)
        if query.after is None:
            return self._slice(ordered, query)
        descending = query.descending and query.sort_by is not None
        position = _position(query.after, keyed=query.sort_by is not None)
        if query.backward:
            before = [item for item in ordered if _follows(position, item[0], descending)]
            return before[max(0, len(before) - count) :] if count else []
        after = [item for item in ordered if _follows(item[0], position, descending)]
        return after[:count]


# -- helpers ----------------------------------------------------------------------------------


def _check_version(entry: _Entry, expected: str | None) -> None:
    # The service passes the version it read, the stored string itself: no parsing then.
    if (
        expected is not None
        and expected != entry.resource["meta"].get("version")
        and version_counter(expected) != entry.counter
    ):
        raise PreconditionFailed()


def _next_version(entry: _Entry, modified: datetime) -> None:
    """Give ``entry`` its next version and ``lastModified`` (a new dict: entries are replaced)."""
    entry.counter += 1
    stored = dict(entry.resource)
    meta = {**stored["meta"], "version": format_version(entry.counter), "lastModified": modified}
    stored["meta"] = meta
    entry.resource = stored


def _index_key(ref: AttrRef) -> str:
    """The top-level resource key holding an indexed attribute (its extension URN, if any)."""
    return ref.schema if ref.extension else ref.attribute.name


def _merge(
    old: dict[str, Any],
    new: Mapping[str, Any],
    changed: frozenset[str],
    plan: _Plan,
    *,
    copy: bool = True,
) -> dict[str, Any]:
    """The stored form of a PATCH result: ``old`` with only the changed keys replaced.

    Stored entries are replaced, never mutated, so the unchanged values can be shared with the
    previous entry; this skips copying the whole resource on every PATCH. Without ``copy`` the
    changed values are kept as they are (a result handed over in stored form).
    """
    stored = dict(old)
    derived = plan.derived
    for key in changed:
        if key in derived:
            continue
        value = new.get(key)
        if value is None:
            stored.pop(key, None)
        else:
            stored[key] = stored_value(value) if copy else value
    stored["meta"] = dict(stored.get("meta") or {})
    return stored


def _index_keys(resource: Mapping[str, Any], ref: AttrRef) -> list[Any]:
    """The index keys of a simple top-level attribute: its values, folded if caseExact=false."""
    container: Any = resource.get(ref.schema) if ref.extension else resource
    if not isinstance(container, Mapping):
        return []
    value = container.get(ref.attribute.name)
    values = value if isinstance(value, list) else [value]
    folded = is_folded(ref.attribute)
    keys: list[Any] = []
    for item in values:
        if item is None or item == "" or isinstance(item, dict | list):
            continue
        keys.append(fold_case(item) if folded and isinstance(item, str) else item)
    return keys


def _discard(mapping: dict[str, Any], key: Any, item: str) -> None:
    """Remove ``item`` from the set or dict at ``mapping[key]``, dropping it once empty."""
    found = mapping.get(key)
    if found is None:
        return
    if isinstance(found, set):
        found.discard(item)
    else:
        found.pop(item, None)
    if not found:
        del mapping[key]


def _entry_id(entry: _Entry) -> str:
    id: str = entry.resource["id"]
    return id


def _prefixed_keys(space: _Space, name: str, index: Mapping[Any, Any], prefix: str) -> list[str]:
    """The string keys of ``index`` that start with ``prefix``: a range of its sorted keys."""
    keys = space.sorted.setdefault(name, _Sorted())
    try:
        order = keys.of(index.keys())
        first = bisect_left(order, prefix)
    except TypeError:  # keys that do not sort with strings: look at each
        del space.sorted[name]
        return [k for k in index if isinstance(k, str) and k.startswith(prefix)]
    found = []
    for position in range(first, len(order)):
        key = order[position]
        if not key.startswith(prefix):
            break
        found.append(key)
    return found


def _order(entries: list[_Entry], sort_by: AttrRef | None) -> list[tuple[tuple[Any, ...], _Entry]]:
    """Entries with their order keys, ascending: (0, value, id) or (1, None, id) if missing.

    Missing values sort after every value ascending and, reversed, before them descending
    (RFC 7644 §3.4.2.3); the id breaks ties, so the order is total and stable across pages.
    """
    keyed: list[tuple[tuple[Any, ...], _Entry]] = []
    for entry in entries:
        id = entry.resource["id"]
        if sort_by is None:
            keyed.append(((0, None, id), entry))
            continue
        value = sort_value(entry.resource, sort_by)
        keyed.append(((1, None, id) if value is None else (0, value, id), entry))
    keyed.sort(key=lambda item: item[0])
    return keyed


def _position(after: tuple[Any, str], *, keyed: bool) -> tuple[Any, ...]:
    value, id = after
    if not keyed or value is not None:
        return (0, value if keyed else None, id)
    return (1, None, id)


def _follows(key: tuple[Any, ...], position: tuple[Any, ...], descending: bool) -> bool:
    """Whether ``key`` comes after ``position`` in the query's order."""
    return key < position if descending else key > position
