"""Rewriting the derived parts of stored documents after the folding rule changed.

A document's folded mirror (``f``) and sort keys (``s``) are derived from its values (``a``)
when it is written. When :func:`scimkit._filter.fold_case` changes (it became a canonical
caseless match, Unicode §3.13 D145), documents written before keep the old fold: ``eq``
misses them and the unique indexes compare old and new forms. :func:`refold` recomputes
both parts from ``a`` and writes those that differ. See ``docs/storage.md``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pymongo.errors import DuplicateKeyError

from scimkit._resource_type import ResourceType
from scimkit.mongo._codec import (
    member_from_document,
    membership_document,
    resource_document,
    resource_from_document,
)

__all__ = ["RefoldReport", "refold"]


@dataclass(frozen=True, slots=True)
class RefoldReport:
    """What :meth:`MongoStore.refold` did.

    ``updated`` counts documents rewritten (resources and memberships). ``conflicts`` lists
    ``(tenant, resource type, id)`` of resources left with their old fold because the new one
    collides with another resource's unique value (e.g. two userNames that are a canonical
    caseless match): rename or delete one of them, then run the re-fold again.
    """

    updated: int = 0
    conflicts: tuple[tuple[str, str, str], ...] = ()


async def refold(
    resources: Any, memberships: Any, types: Mapping[str, ResourceType]
) -> RefoldReport:
    """Recompute ``f`` and ``s`` of every resource and ``f`` of every membership.

    Idempotent and safe while the service runs: each write is conditional on the document
    being unchanged since it was read (a concurrent write derives the parts itself).
    """
    updated = 0
    conflicts: list[tuple[str, str, str]] = []
    async for document in resources.find({}, {"t": 1, "rt": 1, "v": 1, "a": 1, "f": 1, "s": 1}):
        resource_type = types.get(document.get("rt"))
        if resource_type is None:
            continue  # a type this store does not serve: not ours to rewrite
        resource = resource_from_document(document)
        fresh = resource_document(document["t"], resource_type, resource, document["v"])
        change = {key: fresh[key] for key in ("f", "s") if document.get(key) != fresh[key]}
        if not change:
            continue
        try:
            result = await resources.update_one(
                {"_id": document["_id"], "v": document["v"]}, {"$set": change}
            )
        except DuplicateKeyError:
            conflicts.append((document["t"], resource_type.name, resource["id"]))
            continue
        updated += result.modified_count
    async for document in memberships.find({}):
        group_type = types.get(document.get("gt"))
        if group_type is None:
            continue
        member = member_from_document(document)
        fresh = membership_document(document["t"], group_type, document["g"], member)
        if document.get("f") == fresh["f"]:
            continue
        result = await memberships.update_one(
            {"_id": document["_id"], "f": document.get("f")}, {"$set": {"f": fresh["f"]}}
        )
        updated += result.modified_count
    return RefoldReport(updated, tuple(conflicts))
