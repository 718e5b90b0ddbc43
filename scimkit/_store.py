"""The storage contract: an async, tenant-scoped ``ResourceStore`` protocol.

The contract is written in the docstrings; ``scimkit.testing`` ships one contract test suite
that every store must pass.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from scimkit._change import PatchResult
from scimkit._resource_type import AttrRef, ResourceType

if TYPE_CHECKING:
    from scimkit._filter import BoundFilter

__all__ = ["Page", "ResourceStore", "StoreQuery"]


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

    ``keys`` has one keyset position (sort value, id) per resource, for cursor paging.
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
