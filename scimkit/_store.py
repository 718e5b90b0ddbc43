"""The storage contract: an async, tenant-scoped ``ResourceStore`` protocol.

The contract is written in the docstrings; ``scimkit.testing`` ships one contract test suite
that every store must pass.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, Protocol

from scimkit._errors import InternalError, InvalidFilter, NotFound
from scimkit._filter import BoundFilter, filter_conditions
from scimkit._patch_result import MemberDelta, PatchResult
from scimkit._resource_type import AttrRef, ResourceType
from scimkit._types import Member, Position, Resource

__all__ = [
    "DEFAULT_INDEXED",
    "Page",
    "ResourceStore",
    "StoreQuery",
    "check_tenant",
    "effective_member_delta",
    "format_version",
    "group_entry",
    "member_form",
    "members_by_id",
    "named_members",
    "normalize_members",
    "not_found",
    "reject_derived_filters",
    "stored_form",
    "stored_value",
    "version_counter",
    "writes_resource",
]


@dataclass(frozen=True, slots=True)
class StoreQuery:
    """A bound query: filter, order and one page.

    ``start_index`` is 1-based (RFC 7644 §3.4.2.4). ``count`` ``None`` means "the store's
    maximum"; ``0`` asks only for the total. ``after`` is a keyset position for cursor paging
    (RFC 9865): the (sort value, id) of the last resource of the previous page; when it is set
    ``start_index`` is ignored. ``backward`` walks towards the start from ``after``.
    ``members`` false means group members need not be loaded (``excludedAttributes=members``).
    """

    filter: BoundFilter | None = None
    sort_by: AttrRef | None = None
    descending: bool = False
    start_index: int = 1
    count: int | None = None
    after: Position | None = None
    backward: bool = False
    members: bool = True


@dataclass(frozen=True, slots=True)
class Page:
    """One page of results and the total number of matches.

    ``resources`` are in the query's order, also for a ``backward`` query. ``keys`` has one
    keyset position (sort value, id) per resource, for cursor paging; a sort value is the
    store's own comparison value (opaque to callers, ``None`` when the resource lacks the sort
    attribute).
    """

    resources: Sequence[Resource]
    total: int
    keys: Sequence[Position] = ()


class ResourceStore(Protocol):
    """Async storage of SCIM resources, scoped to a tenant on every call.

    Contract (checked by ``scimkit.testing``):

    - Every method's first argument is the tenant; nothing of one tenant is ever read, written
      or counted by a call for another.
    - Returned resources are copies: mutating them never changes what is stored. An optional
      ``get_shared`` (same arguments as ``get``) may return stored values uncopied, which the
      caller must not mutate and the store never changes in place; a store with it also takes
      ``update(..., shared=True)`` (which also hands the result over: its changed values, in
      stored form, may be kept uncopied) and ``create(..., shared=True)``, answered the same way,
      and an optional ``query_shared`` (same arguments as ``query``) answers a page the same
      way (``docs/storage.md``).
    - ``id`` and ``meta`` are set by the caller on create and replace (``meta.created``,
      ``lastModified``, ``resourceType``); the store sets ``meta.version`` (an opaque weak ETag
      string such as ``W/"3"``) on every write that changes something, and never reuses a
      version of a resource. On ``update`` the store also stamps ``meta.lastModified``, so it
      changes exactly when the version does.
    - Attributes the resource type declares ``uniqueness: server`` or ``global`` (``userName`` of
      User) are unique per tenant and resource type, compared after ``fold_case`` (a canonical
      caseless match) when the attribute is caseExact=false; a violation raises
      ``UniquenessError`` atomically (no check-then-insert race).
    - A stale ``expected_version`` raises ``PreconditionFailed``; a missing resource raises
      ``NotFound``.
    - Group ``members`` are stored so that a ``MemberDelta`` costs O(k) in the members changed;
      deleting a resource removes it from every group; a User's readOnly ``groups`` is derived
      from memberships when the resource is read.
    - Backend failures raise ``ServiceUnavailable``; no driver exception escapes.
    """

    async def create(
        self, tenant: str, resource_type: ResourceType, resource: Resource
    ) -> Resource:
        """Store a new resource (with ``id`` and ``meta``) and return it as stored."""
        ...

    async def get(
        self, tenant: str, resource_type: ResourceType, id: str, *, members: bool = True
    ) -> Resource:
        """Return the resource, with group members unless ``members`` is false."""
        ...

    async def replace(
        self,
        tenant: str,
        resource_type: ResourceType,
        id: str,
        resource: Resource,
        *,
        expected_version: str | None = None,
    ) -> Resource:
        """Replace the whole resource (members included for groups) and return it."""
        ...

    async def update(
        self,
        tenant: str,
        resource_type: ResourceType,
        id: str,
        result: PatchResult,
        *,
        expected_version: str | None,
        modified: datetime | None = None,
    ) -> Resource:
        """Apply a PATCH result written against ``expected_version`` and return the resource.

        A write stamps ``meta.lastModified`` with ``modified`` (now when ``None``) as it stamps
        ``meta.version``; a result that changes nothing stored (:func:`writes_resource`) and
        no membership writes nothing and keeps both. The returned resource has members only if
        ``result.resource`` had them. ``expected_version`` ``None`` compares nothing; the
        service passes it only for a result that changes members alone (member deltas
        commute), and such a write must not fail because others changed the group meanwhile.
        """
        ...

    async def delete(
        self,
        tenant: str,
        resource_type: ResourceType,
        id: str,
        *,
        expected_version: str | None = None,
    ) -> None:
        """Delete the resource and its memberships."""
        ...

    async def query(self, tenant: str, resource_type: ResourceType, query: StoreQuery) -> Page:
        """Return one page of the resources matching the query, and the total."""
        ...

    async def resource_types_of(self, tenant: str, ids: Sequence[str]) -> Mapping[str, str]:
        """The resource type name of each of ``ids`` that names a resource in the tenant.

        Ids that name nothing (in this tenant) are left out. Costs O(k) in the ids asked, one
        indexed lookup whatever the number of resources: the service checks with it that the
        members a write adds exist, with the type they claim.
        """
        ...

    async def get_with_types(
        self,
        tenant: str,
        resource_type: ResourceType,
        id: str,
        ids: Sequence[str],
        *,
        members: bool = True,
    ) -> tuple[Resource, Mapping[str, str]]:
        """:meth:`get` and :meth:`resource_types_of` of ``ids`` together.

        The service asks this when it reads a group for a PATCH that adds members: the ids
        are known before the read, and a store answers both in one round trip (MongoDB: one
        ``aggregate``). ``NotFound`` as :meth:`get` when the resource does not exist.
        """
        ...

    async def ping(self) -> bool:
        """Whether the backend answers (for health checks)."""
        ...


# --- the rules every store shares ----------------------------------------------------------

DEFAULT_INDEXED: Mapping[str, tuple[str, ...]] = {"Group": ("displayName",)}
"""Attributes looked up by index besides ``id``, ``externalId`` and unique attributes, per
resource type: Group ``displayName``, which Entra looks groups up by."""

_VERSION_PREFIXES = ("W/", "w/")


def check_tenant(tenant: str) -> str:
    """``tenant`` if it is a non-empty string; :class:`InternalError` otherwise.

    The tenant scopes every read and write; in a query language anything but a string could
    smuggle in an operator (a dict such as ``{"$ne": null}``), so every store refuses it alike.
    """
    if not isinstance(tenant, str) or not tenant:
        raise InternalError("A tenant must be a non-empty string.")
    return tenant


def not_found(resource_type: ResourceType, id: str) -> NotFound:
    """The error for a resource that does not exist (in this tenant)."""
    return NotFound(f"{resource_type.name} '{id}' not found.")


def format_version(counter: int) -> str:
    """The weak ETag for a resource's ``counter``-th write: ``W/"3"``."""
    return f'W/"{counter}"'


def version_counter(version: str) -> int | None:
    """The counter of a version made by :func:`format_version`, weak or strong form.

    ``None`` for anything else: such a version can match no stored resource.
    """
    text = version.strip()
    if text[:2] in _VERSION_PREFIXES:
        text = text[2:]
    digits = text[1:-1]
    if len(text) < 3 or text[0] != '"' or text[-1] != '"' or not digits.isascii():
        return None
    return int(digits) if digits.isdigit() else None


def members_by_id(members: Any) -> dict[str, Member]:
    """Member objects by ``value``, once per id (the first form wins), in the order given.

    Anything that is not a list of member objects with a string ``value`` contributes nothing.
    """
    found: dict[str, Member] = {}
    if isinstance(members, list | tuple):
        for member in members:
            if isinstance(member, dict) and isinstance(member.get("value"), str):
                found.setdefault(member["value"], member)
    return found


def normalize_members(members: Any) -> list[Member]:
    """Member objects with one entry per ``value`` (the first wins), ordered by ``value``.

    Stores return members in this order, so every store lists a group identically.
    """
    by_id = members_by_id(members)
    return [by_id[value] for value in sorted(by_id)]


def effective_member_delta(delta: MemberDelta, current: Mapping[str, Any]) -> MemberDelta:
    """The part of ``delta`` that changes a group whose memberships are ``current``.

    ``current`` maps member ids to their stored form (:func:`member_form`). For a delta that
    adds and removes, only its keys matter, so a store may pass just the ids the delta names
    that are present (the store then costs O(k)); the stored forms of ``rewritten`` members
    matter too, and a replacing delta needs the whole map. Adding a present member keeps its
    stored form, removing an absent one does nothing, rewriting a member to its stored form
    does nothing, and a replacement equal to the current list changes nothing: none of these
    bumps the version.
    """
    if delta.replace:
        wanted = {value: member_form(m) for value, m in members_by_id(delta.added).items()}
        if wanted == current:
            return MemberDelta()
        return MemberDelta(tuple(wanted[value] for value in sorted(wanted)), replace=True)
    added: dict[str, Member] = {}
    for value, member in members_by_id(delta.added).items():
        if value not in current:
            added[value] = member_form(member)
    removed = tuple(dict.fromkeys(r for r in delta.removed if r in current))
    rewritten = tuple(
        form
        for value, member in members_by_id(delta.rewritten).items()
        if current.get(value) != (form := member_form(member))
    )
    return MemberDelta(tuple(added.values()), removed, rewritten=rewritten)


def named_members(delta: MemberDelta) -> list[str]:
    """The member ids a delta names, sorted and once each (what a store looks up)."""
    named = [
        m["value"] for m in (*delta.added, *delta.rewritten) if isinstance(m.get("value"), str)
    ]
    return sorted(set(named) | set(delta.removed))


def group_entry(group_id: str, display: Any) -> Member:
    """One derived ``groups`` value of a member: direct membership, no ``$ref``.

    The web layer adds ``$ref`` from the request's base URL, as it does ``meta.location``.
    """
    entry: Member = {"value": group_id}
    if isinstance(display, str):
        entry["display"] = display
    entry["type"] = "direct"
    return entry


def reject_derived_filters(bound: BoundFilter, resource_type: ResourceType) -> None:
    """Raise :class:`InvalidFilter` if ``bound`` tests the derived ``groups`` attribute.

    ``groups`` is computed from memberships when a resource is read, so no store can index it;
    every store refuses such filters alike (the group side, ``members eq``, is indexed).
    """
    derived = resource_type.groups_attribute
    if derived is None:
        return
    for condition in filter_conditions(bound):
        if condition.ref.attribute is derived and not condition.ref.extension:
            raise InvalidFilter(
                f"'{derived.name}' is derived from group membership and cannot be filtered; "
                f'filter the groups instead (members eq "<id>")'
            )


# Values stored as they are: not even visited by a call (most of a resource).
_PLAIN = frozenset({str, int, float, bool})


def _normalized(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            k: v if type(v) in _PLAIN else _normalized(v) for k, v in value.items() if v is not None
        }
    if isinstance(value, list):
        return [v if type(v) in _PLAIN else _normalized(v) for v in value if v is not None]
    if isinstance(value, datetime):
        if value.tzinfo is UTC and not value.microsecond % 1000:
            return value  # already as kept (the service's clock gives such values)
        moment = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return moment.replace(microsecond=moment.microsecond // 1000 * 1000)
    return value


def stored_form(resource: Mapping[str, Any], resource_type: ResourceType) -> Resource:
    """A deep copy of ``resource`` as stores keep it.

    Group ``members`` and derived ``groups`` are left out (stores keep memberships apart),
    nulls are dropped (RFC 7643 §2.5: null is unassigned) and dateTimes become UTC with
    millisecond precision, what MongoDB keeps, so every store returns the same values.
    """
    derived = _derived_names(resource_type)
    # One pass over the top level: the derived attributes left out as the copy is made.
    stored: Resource = {
        key: value if type(value) in _PLAIN else _normalized(value)
        for key, value in resource.items()
        if value is not None and key not in derived
    }
    meta = stored.get("meta")
    # A dict here is already the copy's own (made by _normalized).
    stored["meta"] = meta if type(meta) is dict else dict(meta or {})
    return stored


@lru_cache(maxsize=64)
def _derived_names(resource_type: ResourceType) -> frozenset[str]:
    """The names of the attributes stores keep apart: group ``members``, derived ``groups``."""
    return frozenset(
        attribute.name
        for attribute in (resource_type.members_attribute, resource_type.groups_attribute)
        if attribute is not None
    )


def stored_value(value: Any) -> Any:
    """One attribute value as stores keep it (see :func:`stored_form`)."""
    return _normalized(value)


def member_form(member: Mapping[str, Any]) -> Member:
    """A member object as stores keep it (see :func:`stored_form`)."""
    normalized: Member = _normalized(dict(member))
    return normalized


def writes_resource(result: PatchResult, resource_type: ResourceType) -> bool:
    """Whether a PATCH result changes the stored resource itself, members aside.

    ``changed_attributes`` limited to ``members`` changes nothing stored with the resource;
    then only an effective member change justifies a write. A changed result that names no
    attribute changed only its member delta when it has one (the engine ran without the
    member list); otherwise it does not say what changed and is written whole.
    """
    if not result.changed:
        return False
    if not result.changed_attributes:
        return not result.member_delta
    members = resource_type.members_attribute
    return bool(result.changed_attributes - ({members.name} if members is not None else set()))
