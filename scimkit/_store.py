"""The storage contract: an async, tenant-scoped ``ResourceStore`` protocol.

The contract is written in the docstrings; ``scimkit.testing`` ships one contract test suite
that every store must pass.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from scimkit._change import PatchResult
from scimkit._errors import InvalidFilter
from scimkit._filter import BoundFilter, filter_conditions
from scimkit._resource_type import AttrRef, ResourceType
from scimkit._schema import Attribute, Mutability

__all__ = [
    "Page",
    "ResourceStore",
    "StoreQuery",
    "format_version",
    "group_entry",
    "groups_attribute",
    "member_form",
    "members_attribute",
    "normalize_members",
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
    after: tuple[Any, str] | None = None
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

    resources: Sequence[dict[str, Any]]
    total: int
    keys: Sequence[tuple[Any, str]] = ()


class ResourceStore(Protocol):
    """Async storage of SCIM resources, scoped to a tenant on every call.

    Contract (checked by ``scimkit.testing``):

    - Every method's first argument is the tenant; nothing of one tenant is ever read, written
      or counted by a call for another.
    - Returned resources are copies: mutating them never changes what is stored.
    - ``id`` and ``meta`` are set by the caller on create (``meta.created``, ``lastModified``,
      ``resourceType``); the store sets ``meta.version`` (an opaque weak ETag string such as
      ``W/"3"``) on every write that changes something, and never reuses a version of a resource.
    - Attributes the resource type declares ``uniqueness: server`` or ``global`` (``userName`` of
      User) are unique per tenant and resource type, compared after NFC + casefold when the
      attribute is caseExact=false; a violation raises ``UniquenessError`` atomically (no
      check-then-insert race).
    - A stale ``expected_version`` raises ``PreconditionFailed``; a missing resource raises
      ``NotFound``.
    - Group ``members`` are stored so that a ``MemberDelta`` costs O(k) in the members changed;
      deleting a resource removes it from every group; a User's readOnly ``groups`` is derived
      from memberships when the resource is read.
    - Backend failures raise ``ServiceUnavailable``; no driver exception escapes.
    """

    async def create(
        self, tenant: str, resource_type: ResourceType, resource: dict[str, Any]
    ) -> dict[str, Any]:
        """Store a new resource (with ``id`` and ``meta``) and return it as stored."""
        ...

    async def get(
        self, tenant: str, resource_type: ResourceType, id: str, *, members: bool = True
    ) -> dict[str, Any]:
        """Return the resource, with group members unless ``members`` is false."""
        ...

    async def replace(
        self,
        tenant: str,
        resource_type: ResourceType,
        id: str,
        resource: dict[str, Any],
        *,
        expected_version: str | None = None,
    ) -> dict[str, Any]:
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
    ) -> dict[str, Any]:
        """Apply a PATCH result written against ``expected_version`` and return the resource.

        The returned resource has members only if ``result.resource`` had them.
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

    async def ping(self) -> bool:
        """Whether the backend answers (for health checks)."""
        ...


# --- helpers shared by store implementations -------------------------------------------------

_VERSION_PREFIXES = ("W/", "w/")


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


def members_attribute(resource_type: ResourceType) -> Attribute | None:
    """The ``members`` attribute when resources of this type are groups, else ``None``.

    A group type has a top-level multi-valued complex ``members`` with a ``value``; stores keep
    its values apart from the resource, as memberships.
    """
    attribute = resource_type.schema.attribute("members")
    if (
        attribute is not None
        and attribute.multi_valued
        and attribute.is_complex
        and attribute.sub_attribute("value") is not None
    ):
        return attribute
    return None


def groups_attribute(resource_type: ResourceType) -> Attribute | None:
    """The readOnly ``groups`` attribute that stores derive from memberships, else ``None``."""
    attribute = resource_type.schema.attribute("groups")
    if (
        attribute is not None
        and attribute.multi_valued
        and attribute.is_complex
        and attribute.mutability is Mutability.READ_ONLY
    ):
        return attribute
    return None


def normalize_members(members: Any) -> list[dict[str, Any]]:
    """Member objects with one entry per ``value`` (the first wins), ordered by ``value``.

    Stores return members in this order, so every store lists a group identically.
    """
    by_value: dict[str, dict[str, Any]] = {}
    for member in members or ():
        if isinstance(member, dict) and isinstance(member.get("value"), str):
            by_value.setdefault(member["value"], member)
    return [by_value[value] for value in sorted(by_value)]


def group_entry(group_id: str, display: Any) -> dict[str, Any]:
    """One derived ``groups`` value of a member: direct membership, no ``$ref``.

    The web layer adds ``$ref`` from the request's base URL, as it does ``meta.location``.
    """
    entry: dict[str, Any] = {"value": group_id}
    if isinstance(display, str):
        entry["display"] = display
    entry["type"] = "direct"
    return entry


def reject_derived_filters(bound: BoundFilter, resource_type: ResourceType) -> None:
    """Raise :class:`InvalidFilter` if ``bound`` tests the derived ``groups`` attribute.

    ``groups`` is computed from memberships when a resource is read, so no store can index it;
    every store refuses such filters alike (the group side, ``members eq``, is indexed).
    """
    derived = groups_attribute(resource_type)
    if derived is None:
        return
    for condition in filter_conditions(bound):
        if condition.ref.attribute is derived and not condition.ref.extension:
            raise InvalidFilter(
                f"'{derived.name}' is derived from group membership and cannot be filtered; "
                f'filter the groups instead (members eq "<id>")'
            )


def _normalized(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _normalized(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [_normalized(item) for item in value if item is not None]
    if isinstance(value, datetime):
        moment = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return moment.replace(microsecond=moment.microsecond // 1000 * 1000)
    return value


def stored_form(resource: Mapping[str, Any], resource_type: ResourceType) -> dict[str, Any]:
    """A deep copy of ``resource`` as stores keep it.

    Group ``members`` and derived ``groups`` are left out (stores keep memberships apart),
    nulls are dropped (RFC 7643 §2.5: null is unassigned) and dateTimes become UTC with
    millisecond precision, what MongoDB keeps, so every store returns the same values.
    """
    derived = {
        attribute.name
        for attribute in (members_attribute(resource_type), groups_attribute(resource_type))
        if attribute is not None
    }
    stored: dict[str, Any] = _normalized(
        {key: value for key, value in resource.items() if key not in derived}
    )
    stored["meta"] = dict(stored.get("meta") or {})
    return stored


def stored_value(value: Any) -> Any:
    """One attribute value as stores keep it (see :func:`stored_form`)."""
    return _normalized(value)


def member_form(member: Mapping[str, Any]) -> dict[str, Any]:
    """A member object as stores keep it (see :func:`stored_form`)."""
    normalized: dict[str, Any] = _normalized(dict(member))
    return normalized


def writes_resource(result: PatchResult, resource_type: ResourceType) -> bool:
    """Whether a PATCH result changes the stored resource itself, members aside.

    ``changed_attributes`` limited to ``meta`` (the service's new ``lastModified``) and
    ``members`` changes nothing stored with the resource; then only an effective member
    change justifies a write. Without ``changed_attributes``, ``changed`` decides.
    """
    if not result.changed:
        return False
    if not result.changed_attributes:
        return True
    members = members_attribute(resource_type)
    ignored = {"meta"} | ({members.name} if members is not None else set())
    return bool(result.changed_attributes - ignored)
