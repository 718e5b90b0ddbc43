"""The SCIM operations as one async service over a :class:`~scimkit.store.ResourceStore`.

:class:`ResourceService` validates request bodies, runs the PATCH engine, enforces the
:class:`~scimkit._config.ServiceConfig` and preconditions, and calls the store. It returns stored
resources (dicts); projection and ``meta.location`` belong to the adapter that renders them,
because they depend on the request. It raises only :class:`~scimkit.SCIMError` subclasses.
"""

from __future__ import annotations

import asyncio
import os
import random
import secrets
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, TypeVar

from scimkit._config import ServiceConfig
from scimkit._cursor import CursorCodec, CursorScope
from scimkit._errors import (
    InvalidCount,
    InvalidCursor,
    InvalidFilter,
    InvalidValue,
    NotFound,
    NotImplementedFeature,
    PreconditionFailed,
    ServiceUnavailable,
)
from scimkit._event import EventType, WriteRecord, new_event_id
from scimkit._filter import BoundFilter, compile_filter
from scimkit._meta import etag_matches, new_meta, parse_etags, utc_now
from scimkit._operation import Operation
from scimkit._password import seal_password, seal_patch
from scimkit._patch import PatchOperation, apply_patch_shared, needs_members, parse_patch
from scimkit._resource_type import AttrRef, ResourceType
from scimkit._store import Page, ResourceStore, StoreQuery, writes_resource
from scimkit._tolerance import STRICT, Tolerance
from scimkit._types import Position, Resource, copy_json
from scimkit._validation import validate_resource

__all__ = ["ListResult", "PatchReply", "QueryParams", "ResourceService", "wants_members"]

# Writes lost to a concurrent writer are retried this often before giving up (503).
_MAX_ATTEMPTS = 10
# Between attempts a lost writer waits a random time below a bound that doubles per attempt:
# writers that collided start again spread out instead of colliding again. Without it, 20
# parallel PATCHes of one group on MongoDB exhausted the attempts (tests/hardening).
_BACKOFF_FIRST = 0.002
_BACKOFF_MAX = 0.1
_MAX_START_INDEX = 2**31 - 1
_ANY: tuple[str, ...] | None = None  # parse_etags() result for "If-Match: *"
_T = TypeVar("_T")


@dataclass(frozen=True, slots=True)
class QueryParams:
    """The parameters of a query (RFC 7644 §3.4.2, RFC 9865), as the client sent them.

    ``start_index`` and ``count`` are the client's numbers before the RFC's corrections
    (the service treats ``start_index < 1`` as 1 and a negative ``count`` as 0). ``cursor`` is
    ``None`` for index paging and a string (``""`` for the first page) for cursor paging.
    """

    filter: str | None = None
    sort_by: str | None = None
    sort_order: str | None = None
    start_index: int | None = None
    count: int | None = None
    cursor: str | None = None
    attributes: tuple[str, ...] = ()
    excluded_attributes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ListResult:
    """One page of a query, ready to render as a ListResponse.

    ``start_index`` is ``None`` for cursor pages (RFC 9865); ``next_cursor`` and
    ``previous_cursor`` are set only for cursor pages that have a neighbour.
    """

    resources: Sequence[Resource]
    total_results: int
    items_per_page: int
    start_index: int | None = 1
    next_cursor: str | None = None
    previous_cursor: str | None = None


@dataclass(frozen=True, slots=True)
class PatchReply:
    """A patched resource and whether the response carries it (200) or not (204)."""

    resource: Resource
    represent: bool


def _new_id() -> str:
    """``uuid.uuid4().hex`` without building a UUID: 122 random bits, version 4, RFC variant."""
    bits = int.from_bytes(os.urandom(16))
    bits = (bits & ~(0xF000 << 64) | 4 << 76) & ~(0xC000 << 48) | 0x8000 << 48
    return f"{bits:032x}"


class ResourceService:
    """One async method per SCIM operation, each scoped to a tenant.

    ``tolerance`` is the input policy for every tenant unless ``tolerance_for`` maps a tenant to
    its own. ``clock`` returns aware UTC datetimes; ``id_factory`` makes resource ids.
    ``cursor_codec`` signs RFC 9865 cursors; without one, a codec with a random secret is made,
    which is right for one process only (workers behind one URL must share a secret).
    ``record_events`` has every write record its provisioning events in the store's feed
    (``docs/events.md``); the store must support it (``MemoryStore`` and ``MongoStore`` do).
    """

    def __init__(
        self,
        store: ResourceStore,
        resource_types: Iterable[ResourceType],
        *,
        config: ServiceConfig | None = None,
        tolerance: Tolerance = STRICT,
        tolerance_for: Callable[[str], Tolerance] | None = None,
        clock: Callable[[], datetime] = utc_now,
        id_factory: Callable[[], str] = _new_id,
        cursor_codec: CursorCodec | None = None,
        record_events: bool = False,
    ) -> None:
        self.store = store
        self.config = config if config is not None else ServiceConfig()
        self.resource_types: tuple[ResourceType, ...] = tuple(resource_types)
        if not self.resource_types:
            raise ValueError("a service needs at least one resource type")
        self._by_name: dict[str, ResourceType] = {}
        for resource_type in self.resource_types:
            key = resource_type.name.lower()
            if key in self._by_name:
                raise ValueError(f"resource type {resource_type.name!r} is given twice")
            self._by_name[key] = resource_type
        self._tolerance = tolerance
        self._tolerance_for = tolerance_for
        self._clock = clock
        if record_events and getattr(store, "feed", None) is None:
            raise ValueError("record_events needs a store that records events (it has a feed)")
        self.record_events = record_events
        self._id_factory = id_factory
        if cursor_codec is None and self.config.cursor:
            cursor_codec = CursorCodec(
                secret=secrets.token_bytes(32), ttl=timedelta(seconds=self.config.cursor_ttl)
            )
        self._cursors = cursor_codec

    # -- lookups ------------------------------------------------------------------------------

    def resource_type(self, name: str) -> ResourceType:
        """The resource type called ``name`` (case-insensitive); :class:`NotFound` if none."""
        found = self._by_name.get(name.lower())
        if found is None:
            raise NotFound(f"Unknown resource type '{name}'.")
        return found

    def tolerance(self, tenant: str) -> Tolerance:
        """The input policy for a tenant."""
        if self._tolerance_for is not None:
            return self._tolerance_for(tenant)
        return self._tolerance

    # -- single resources ---------------------------------------------------------------------

    async def create(
        self, tenant: str, resource_type: ResourceType, body: Any, *, shared: bool = False
    ) -> Resource:
        """Create a resource from a request body (RFC 7644 §3.3) and return it as stored.

        With ``shared`` the answer is made to be shaped and rendered, as ``patch_reply``'s:
        its top-level dict is the caller's, its values may be the store's own
        (``docs/storage.md``, "Copies"), to be replaced, never mutated.
        """
        resource = validate_resource(
            body, resource_type, Operation.CREATE, tolerance=self.tolerance(tenant)
        )
        await seal_password(resource, resource_type)
        await self._check_members(tenant, resource_type, None, resource)
        resource["id"] = self._id_factory()
        now = self._clock()
        resource["meta"] = new_meta(resource_type, now)
        # Asked only of a store with shared reads, so any other is called as before.
        sharing = {"shared": True} if shared and hasattr(self.store, "get_shared") else {}
        return await self.store.create(
            tenant, resource_type, resource, **self._record(EventType.CREATE, at=now), **sharing
        )

    async def get(
        self, tenant: str, resource_type: ResourceType, id: str, *, members: bool = True
    ) -> Resource:
        """The resource with this id; group members only if ``members``."""
        return await self.store.get(tenant, resource_type, id, members=members)

    async def replace(
        self,
        tenant: str,
        resource_type: ResourceType,
        id: str,
        body: Any,
        *,
        if_match: str | None = None,
    ) -> Resource:
        """Replace a resource (PUT, RFC 7644 §3.5.1); ``if_match`` is the If-Match header."""
        tolerance = self.tolerance(tenant)
        tags, strict = self._precondition(if_match)

        async def attempt() -> Resource:
            existing = await self.store.get(tenant, resource_type, id)
            self._check(existing, tags, strict)
            resource = validate_resource(
                body, resource_type, Operation.REPLACE, tolerance=tolerance, existing=existing
            )
            await seal_password(
                resource,
                resource_type,
                existing=existing,
                replacing=True,
                change_allowed=self.config.change_password,
            )
            resource["id"] = existing["id"]
            if _same_content(resource, existing):
                return existing
            await self._check_members(tenant, resource_type, id, resource)
            meta = existing["meta"]
            now = self._clock()  # one reading for lastModified and the event's iat
            resource["meta"] = {
                "resourceType": meta["resourceType"],
                "created": meta["created"],
                "lastModified": now,
            }
            return await self.store.replace(
                tenant,
                resource_type,
                id,
                resource,
                expected_version=meta.get("version"),
                **self._record(EventType.PUT, before=existing, at=now),
            )

        return await _retrying(attempt, strict)

    async def patch(
        self,
        tenant: str,
        resource_type: ResourceType,
        id: str,
        body: Any,
        *,
        if_match: str | None = None,
        members: bool = True,
    ) -> Resource:
        """Apply a PatchOp body (RFC 7644 §3.5.2) and return the resource.

        Group members are loaded only when an operation needs them. ``members`` says whether
        the returned resource must carry them (one extra read when the PATCH did not load them).
        A PATCH that changes nothing writes nothing and keeps the version.
        """
        updated, loaded = await self._patched(tenant, resource_type, id, body, if_match, False)
        if members and not loaded and resource_type.members_attribute is not None:
            return await self.store.get(tenant, resource_type, id, members=True)
        return updated

    async def patch_reply(
        self,
        tenant: str,
        resource_type: ResourceType,
        id: str,
        body: Any,
        *,
        if_match: str | None = None,
        attributes: Sequence[str] = (),
        excluded_attributes: Sequence[str] = (),
    ) -> PatchReply:
        """Apply a PatchOp body and say whether the response carries the resource.

        RFC 7644 §3.5.2 answers a PATCH with 200 and the entire resource (shaped by
        ``attributes``/``excludedAttributes``) or with 204. Users always get the resource;
        groups follow ``ServiceConfig.group_patch_response``. The reply's resource is made to
        be shaped and rendered: its top-level dict is the caller's, but its values may be the
        store's own (``docs/storage.md``, "Copies"), to be replaced, never mutated.
        """
        updated, loaded = await self._patched(tenant, resource_type, id, body, if_match, True)
        if resource_type.members_attribute is None:
            return PatchReply(updated, True)
        rule = self.config.group_patch_response
        asked = bool(attributes or excluded_attributes)
        if rule == "always_no_content" or (
            rule == "no_content_when_members_unloaded" and not loaded and not asked
        ):
            return PatchReply(updated, False)
        if not loaded and wants_members(resource_type, attributes, excluded_attributes):
            updated = await self.store.get(tenant, resource_type, id, members=True)
        return PatchReply(updated, True)

    async def _patched(
        self,
        tenant: str,
        resource_type: ResourceType,
        id: str,
        body: Any,
        if_match: str | None,
        shared: bool,
    ) -> tuple[Resource, bool]:
        """The patched resource, and whether the group's members were loaded to patch it.

        ``shared`` lets its values be the store's own (a store with ``get_shared``).
        """
        if not self.config.patch:
            raise NotImplementedFeature("PATCH is not supported by this service provider.")
        tolerance = self.tolerance(tenant)
        operations = parse_patch(body, tolerance)
        load_members = needs_members(operations, resource_type, tolerance=tolerance)
        tags, strict = self._precondition(if_match)
        adding = _member_ids_carried(operations, resource_type)

        # A store that offers it is read without a copy: the engine copies only what the PATCH
        # changes, and the store copies what it keeps (docs/storage.md, "Copies").
        read_shared = getattr(self.store, "get_shared", None)
        read = self.store.get if read_shared is None else read_shared
        shared = shared and read_shared is not None
        # Passed only when asked, so a store without shared reads is called as before.
        sharing = {"shared": True} if shared else {}

        async def attempt() -> Resource:
            if adding:  # one read that also answers which of the ids exist (get_with_types)
                current, known = await self.store.get_with_types(
                    tenant, resource_type, id, sorted(adding), members=load_members
                )
            else:
                current, known = await read(tenant, resource_type, id, members=load_members), {}
            self._check(current, tags, strict)
            result = apply_patch_shared(current, operations, resource_type, tolerance, load_members)
            result = await seal_patch(
                result, resource_type, current, change_allowed=self.config.change_password
            )
            if not result.changed:
                if read_shared is None:
                    return current
                return dict(current) if shared else copy_json(current)
            if result.member_delta.added:
                await self._check_members(
                    tenant,
                    resource_type,
                    id,
                    {"members": result.member_delta.added},
                    known=(adding, known),
                )
            # Member deltas commute: without the client's If-Match, a PATCH that changes only
            # members holds whatever else changed meanwhile, so the store need not compare.
            members_only = (
                not strict
                and resource_type.members_attribute is not None
                and not writes_resource(result, resource_type)
            )
            return await self.store.update(
                tenant,
                resource_type,
                id,
                result,
                expected_version=None if members_only else current["meta"].get("version"),
                modified=(now := self._clock()),  # one reading for lastModified and the iat
                **self._record(EventType.PATCH, operations, before=current, at=now),
                **sharing,
            )

        return await _retrying(attempt, strict), load_members

    async def delete(
        self,
        tenant: str,
        resource_type: ResourceType,
        id: str,
        *,
        if_match: str | None = None,
    ) -> None:
        """Delete a resource (RFC 7644 §3.6)."""
        tags, strict = self._precondition(if_match)
        if if_match is None or not self.config.etag:
            await self.store.delete(tenant, resource_type, id, **self._record(EventType.DELETE))
            return

        async def attempt() -> None:
            current = await self.store.get(tenant, resource_type, id, members=False)
            self._check(current, tags, strict)
            await self.store.delete(
                tenant,
                resource_type,
                id,
                expected_version=current["meta"].get("version"),
                **self._record(EventType.DELETE),
            )

        await _retrying(attempt, strict)

    # -- queries ------------------------------------------------------------------------------

    async def query(
        self, tenant: str, resource_type: ResourceType, params: QueryParams
    ) -> ListResult:
        """Run a query (RFC 7644 §3.4.2) with index or cursor (RFC 9865) paging.

        The resources are copies: the caller may keep and change them.
        """
        return await self._query(tenant, resource_type, params, self.store.query)

    async def query_reply(
        self, tenant: str, resource_type: ResourceType, params: QueryParams
    ) -> ListResult:
        """:meth:`query` made to be shaped and rendered, as :meth:`patch_reply` is.

        Each resource's top-level dict is the caller's, but its values may be the store's own
        (a store with ``query_shared``; ``docs/storage.md``, "Copies"): to be replaced, never
        mutated. The web layer answers GET and ``.search`` with it; projection builds new
        containers where it changes anything, so the copies of :meth:`query` would be waste.
        """
        read = getattr(self.store, "query_shared", None)
        return await self._query(
            tenant, resource_type, params, self.store.query if read is None else read
        )

    async def _query(
        self,
        tenant: str,
        resource_type: ResourceType,
        params: QueryParams,
        read: Callable[[str, ResourceType, StoreQuery], Awaitable[Page]],
    ) -> ListResult:
        tolerance = self.tolerance(tenant)
        self._check_features(params)
        bound = (
            compile_filter(params.filter, resource_type, tolerance)
            if params.filter is not None
            else None
        )
        sort_by = _sort_ref(resource_type, params.sort_by)
        if params.cursor is not None:
            plan = _plan(resource_type, params, bound, sort_by)
            return await self._cursor_page(tenant, resource_type, params, plan, read)
        start_index, count = self._index_window(params)
        plan = _plan(resource_type, params, bound, sort_by, start_index, count)
        page = await read(tenant, resource_type, plan)
        resources = list(page.resources[:count])
        return ListResult(resources, page.total, len(resources), start_index)

    async def query_all(self, tenant: str, params: QueryParams) -> ListResult:
        """A root query over every resource type (RFC 7644 §3.4.2.1).

        Results are the concatenation of each type's matches, in the order the resource types
        were given, each type sorted by ``sortBy`` when it has that attribute; ``startIndex``
        and ``count`` page over that concatenation. A filter naming an attribute a type lacks
        matches nothing of that type (the RFC's "no attribute value"; an approximation for
        ``not``/``ne`` over such attributes). Cursor paging is per resource type only.
        """
        if params.cursor is not None:
            raise InvalidCursor("Cursor pagination is not supported for queries at the root.")
        tolerance = self.tolerance(tenant)
        self._check_features(params)
        start_index, count = self._index_window(params)
        plans: list[tuple[ResourceType, StoreQuery]] = []
        first_error: InvalidFilter | None = None
        for resource_type in self.resource_types:
            bound = None
            if params.filter is not None:
                try:
                    bound = compile_filter(params.filter, resource_type, tolerance)
                except InvalidFilter as exc:
                    first_error = first_error or exc
                    continue
            sort_by = None
            if params.sort_by is not None:
                sort_by = resource_type.resolve_path(params.sort_by)
            plans.append((resource_type, _plan(resource_type, params, bound, sort_by)))
        if not plans and first_error is not None:
            raise first_error
        total = 0
        skip = start_index - 1  # matches still to skip before the window opens
        resources: list[Resource] = []
        for resource_type, plan in plans:
            wanted = count - len(resources)
            # Even with the window full, each type is counted for totalResults.
            page = await self.store.query(
                tenant,
                resource_type,
                replace(plan, start_index=skip + 1, count=wanted),
            )
            total += page.total
            resources.extend(page.resources[:wanted])
            skip = max(0, skip - page.total)
        return ListResult(resources, total, len(resources), start_index)

    # -- helpers ------------------------------------------------------------------------------

    def _record(
        self,
        kind: EventType,
        operations: tuple[PatchOperation, ...] = (),
        *,
        before: Resource | None = None,
        at: datetime | None = None,
    ) -> dict[str, Any]:
        """The ``record`` argument of a store write when events are recorded (else none).

        Stores that record events take it with the write and append the write's events in
        the same atomic step (``docs/events.md``); other stores are called as before. ``at``
        is the write's time when the caller has read the clock already.
        """
        if not self.record_events:
            return {}
        when = self._clock() if at is None else at
        # Positional, the txn drawn here: the keywords and default factory cost more.
        return {"record": WriteRecord(kind, when, new_event_id(), operations, before)}

    def _check_features(self, params: QueryParams) -> None:
        if params.filter is not None and not self.config.filter:
            raise NotImplementedFeature("Filtering is not supported by this service provider.")
        if params.sort_by is not None and not self.config.sort:
            raise NotImplementedFeature("Sorting is not supported by this service provider.")
        if params.cursor is not None and (not self.config.cursor or self._cursors is None):
            raise NotImplementedFeature(
                "Cursor pagination is not supported by this service provider."
            )

    def _index_window(self, params: QueryParams) -> tuple[int, int]:
        # RFC 7644 §3.4.2.4: startIndex < 1 is 1, a negative count is 0; we cap at maxResults.
        # A startIndex past _MAX_START_INDEX is past every match anyway; capping it keeps the
        # echoed value within JSON's 64-bit integers and MongoDB's skip (a 500 otherwise).
        start_index = max(1, params.start_index) if params.start_index is not None else 1
        start_index = min(start_index, _MAX_START_INDEX)
        count = self.config.default_count if params.count is None else max(0, params.count)
        return start_index, min(count, self.config.max_results)

    async def _cursor_page(
        self,
        tenant: str,
        resource_type: ResourceType,
        params: QueryParams,
        plan: StoreQuery,
        read: Callable[[str, ResourceType, StoreQuery], Awaitable[Page]],
    ) -> ListResult:
        codec = self._cursors
        assert codec is not None  # _check_features made sure
        if params.count is not None and params.count < 1:
            raise InvalidCount(
                f"With cursor pagination, count must be between 1 and {self.config.max_results}."
            )
        count = self.config.default_count if params.count is None else params.count
        count = min(count, self.config.max_results)
        scope = CursorScope(
            tenant,
            resource_type.name,
            params.filter,
            plan.sort_by.dotted if plan.sort_by is not None else None,
            plan.descending,
            count,
        )
        after: Position | None = None
        backward = False
        if params.cursor:
            decoded = codec.decode(params.cursor, scope)
            after, backward = decoded.position, decoded.backward
        # One extra match tells whether there is a page beyond this one.
        page = await read(
            tenant, resource_type, replace(plan, count=count + 1, after=after, backward=backward)
        )
        resources = list(page.resources)
        keys = list(page.keys)
        more = len(resources) > count
        if backward:
            # A backward page ends just before the cursor: the extra match is at its front.
            resources, keys = resources[-count:], keys[-count:]
            has_previous, has_next = more, after is not None
        else:
            resources, keys = resources[:count], keys[:count]
            has_previous, has_next = after is not None, more
        next_cursor = previous_cursor = None
        if keys and has_next:
            next_cursor = codec.encode(scope, keys[-1])
        if keys and has_previous:
            previous_cursor = codec.encode(scope, keys[0], backward=True)
        return ListResult(
            resources,
            page.total,
            len(resources),
            None,
            next_cursor,
            previous_cursor,
        )

    async def _check_members(
        self,
        tenant: str,
        resource_type: ResourceType,
        group_id: str | None,
        resource: Mapping[str, Any],
        *,
        known: tuple[frozenset[str], Mapping[str, str]] | None = None,
    ) -> None:
        """Refuse members that are not resources of this tenant of the type they claim (400).

        ``resource`` holds the members a write adds under the members attribute's name (or
        ``"members"``). A member without ``type`` must be a User; a nested group says
        ``type: "Group"`` and is never the group ``group_id`` itself. One store lookup for the
        k members (O(k)), whatever the group's size; every bad value is named. ``known`` is
        (ids asked, their types) from the read that came before; when it asked every id
        claimed here, no lookup is needed.
        """
        attribute = resource_type.members_attribute
        if attribute is None:
            return
        members = resource.get(attribute.name) or resource.get("members") or ()
        claimed: dict[str, str] = {}
        for member in members:
            value = member.get("value") if isinstance(member, Mapping) else None
            if isinstance(value, str):
                kind = member.get("type")
                claimed.setdefault(value, kind if isinstance(kind, str) and kind else "User")
        if not claimed:
            return
        if known is not None and known[0].issuperset(claimed):
            found = known[1]
        else:
            found = await self.store.resource_types_of(tenant, list(claimed))
        bad: list[str] = []
        for value, kind in claimed.items():
            actual = found.get(value)
            if value == group_id:
                bad.append(f"'{value}' is the group itself")
            elif actual is None:
                bad.append(f"'{value}' names no resource here")
            elif actual.lower() != kind.lower():
                bad.append(f"'{value}' is a {actual}, not a {kind}")
        if bad:
            raise InvalidValue(
                "Members must be Users, or Groups with type 'Group', of this tenant: "
                + "; ".join(bad)
                + "."
            )

    def _precondition(self, if_match: str | None) -> tuple[tuple[str, ...] | None, bool]:
        """Parsed If-Match tags and whether a lost race must surface as 412.

        ``If-Match: *`` only asks that the resource exists, so a race it loses is retried.
        """
        if if_match is None or not self.config.etag:
            return _ANY, False
        tags = parse_etags(if_match)
        return tags, tags is not None

    @staticmethod
    def _check(resource: Resource, tags: tuple[str, ...] | None, strict: bool) -> None:
        if strict and not etag_matches(resource["meta"].get("version"), tags):
            raise PreconditionFailed()


def wants_members(
    resource_type: ResourceType, attributes: Sequence[str], excluded: Sequence[str]
) -> bool:
    """Whether a response shaped by these parameters would show a group's ``members``."""
    members = resource_type.members_attribute
    if members is None:
        return True
    if attributes:
        return any(
            (ref := resource_type.resolve_path(name)) is not None and ref.attribute is members
            for name in attributes
        )
    return not any(
        (ref := resource_type.resolve_path(name)) is not None
        and ref.sub_attribute is None
        and ref.attribute is members
        for name in excluded
    )


def _plan(
    resource_type: ResourceType,
    params: QueryParams,
    bound: BoundFilter | None,
    sort_by: AttrRef | None,
    start_index: int = 1,
    count: int | None = None,
) -> StoreQuery:
    """The store query of ``params`` on one resource type, with the page window given."""
    descending = _descending(params.sort_order) if sort_by is not None else False
    members = wants_members(resource_type, params.attributes, params.excluded_attributes)
    return StoreQuery(bound, sort_by, descending, start_index, count, members=members)


def _member_ids_carried(
    operations: Sequence[PatchOperation], resource_type: ResourceType
) -> frozenset[str]:
    """The member ids that a PATCH's add and replace operations on ``members`` carry.

    Known before the group is read, so the read can check them at once; a superset of what the
    PATCH adds (an id already present is carried but not added), and an id added some other
    way is still checked, by a lookup of its own.
    """
    attribute = resource_type.members_attribute
    if attribute is None:
        return frozenset()
    name = attribute.name.lower()
    ids: set[str] = set()
    for operation in operations:
        value = operation.value
        if operation.op == "remove":
            continue
        if operation.path is None:
            if not isinstance(value, Mapping):
                continue
            value = next(
                (v for k, v in value.items() if isinstance(k, str) and k.lower() == name), None
            )
        elif operation.path.rsplit(":", 1)[-1].lower() != name:
            continue
        for member in value if isinstance(value, list) else (value,):
            if isinstance(member, Mapping) and isinstance(member.get("value"), str):
                ids.add(member["value"])
    return frozenset(ids)


def _sort_ref(resource_type: ResourceType, sort_by: str | None) -> AttrRef | None:
    if sort_by is None:
        return None
    ref = resource_type.resolve_path(sort_by)
    if ref is None:
        raise InvalidValue(f"Cannot sort by '{sort_by}': no such attribute.")
    return ref


def _descending(sort_order: str | None) -> bool:
    if sort_order is None:
        return False
    lowered = sort_order.lower()
    if lowered == "ascending":
        return False
    if lowered == "descending":
        return True
    raise InvalidValue("sortOrder must be 'ascending' or 'descending'.")


def _same_content(new: Resource, old: Resource) -> bool:
    """Whether a replacement equals the stored resource apart from ``meta``."""
    if new.keys() - {"meta"} != old.keys() - {"meta"}:
        return False
    return all(new[key] == old[key] for key in new if key != "meta")


async def _retrying(attempt: Callable[[], Awaitable[_T]], strict: bool) -> _T:
    """Run a read-check-write ``attempt`` until its write wins (or ``strict`` says it must not).

    A write that lost a race to another writer raises ``PreconditionFailed``. With a client's
    If-Match (``strict``) that is the answer (412); without one, nothing the client asked for
    is violated, so the attempt runs again on a fresh read, after a jittered backoff.
    """
    for number in range(_MAX_ATTEMPTS):
        try:
            return await attempt()
        except PreconditionFailed:
            if strict:
                raise
            if number + 1 < _MAX_ATTEMPTS:
                bound = min(_BACKOFF_MAX, _BACKOFF_FIRST * 2**number)
                await asyncio.sleep(random.uniform(0, bound))
    # Transient, not a conflict the client must resolve: Entra files a 409 as EntryConflict and
    # retries it only hours later, a 503 on its next cycle.
    raise ServiceUnavailable("The resource is being changed by other requests; retry the request.")
