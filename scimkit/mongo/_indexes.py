"""The indexes MongoStore declares, and their idempotent creation.

Every index starts with the tenant (``t``) and, on resources, the resource type (``rt``), so
every query the store sends (they all start with those fields) has a usable index prefix.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from pymongo import IndexModel
from pymongo.errors import BulkWriteError

from scimkit._filter import is_folded
from scimkit._resource_type import ResourceType
from scimkit.mongo._codec import field_path, sort_field

__all__ = [
    "IndexSpec",
    "ensure_indexes",
    "membership_indexes",
    "only_duplicate_keys",
    "outbox_indexes",
    "resource_indexes",
]


@dataclass(frozen=True, slots=True)
class IndexSpec:
    """One index: its name, keys and options, and the attribute a violation is reported on."""

    name: str
    keys: tuple[tuple[str, int], ...]
    unique: bool = False
    partial: Mapping[str, Any] | None = field(default=None, compare=False)
    attribute: str | None = None
    ttl: int | None = None
    """``expireAfterSeconds`` of a TTL index (the event feed's retention)."""

    def model(self) -> IndexModel:
        options: dict[str, Any] = {"name": self.name, "unique": self.unique}
        if self.partial is not None:
            options["partialFilterExpression"] = dict(self.partial)
        if self.ttl is not None:
            options["expireAfterSeconds"] = self.ttl
        return IndexModel(list(self.keys), **options)

    def matches(self, info: Mapping[str, Any]) -> bool:
        """Whether an existing index (an ``index_information()`` entry) is this one."""
        keys = tuple((str(k), int(v)) for k, v in info.get("key", ()))
        partial = info.get("partialFilterExpression")
        return (
            keys == self.keys
            and bool(info.get("unique", False)) == self.unique
            and _plain(partial) == _plain(self.partial)
            and info.get("expireAfterSeconds") == self.ttl
        )


def _plain(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def resource_indexes(
    resource_types: Iterable[ResourceType],
    indexed: Mapping[str, Iterable[str]],
    sorted_by: Mapping[str, Iterable[str]],
) -> tuple[IndexSpec, ...]:
    """The indexes of the resource collection.

    - ``t_rt_id``: unique ``(t, rt, a.id)``: gets, writes, ``id eq``, the default order.
    - ``unique_<path>``: unique ``(t, rt, <path>)`` for every ``uniqueness: server/global``
      attribute, on its folded copy when caseExact=false. The partial filter keeps it to the
      resource types that declare the attribute unique and to documents that have a value.
    - ``lookup_<path>``: ``(t, rt, <path>)`` for ``externalId`` and the ``indexed`` paths.
    - ``sort_<path>``: ``(t, rt, s.<path>.p, s.<path>.k, a.id)`` for the ``sorted_by`` paths,
      so sorted pages and keyset cursors read the index in order.
    """
    specs: list[IndexSpec] = [
        IndexSpec("t_rt_id", (("t", 1), ("rt", 1), ("a.id", 1)), unique=True, attribute="id")
    ]
    unique_types: dict[str, list[str]] = {}
    unique_names: dict[str, str] = {}
    lookups: dict[str, None] = {}
    sorts: dict[str, None] = {}
    for resource_type in resource_types:
        for ref in resource_type.unique_attributes():
            if ref.attribute.is_complex:
                continue
            path = field_path(ref, is_folded(ref.attribute))
            unique_types.setdefault(path, []).append(resource_type.name)
            unique_names[path] = ref.dotted
        for text in ("externalId", *indexed.get(resource_type.name, ())):
            ref = _resolve(resource_type, text)
            lookups[field_path(ref, is_folded(ref.target))] = None
        for text in sorted_by.get(resource_type.name, ()):
            sorts[sort_field(_resolve(resource_type, text))] = None
    for path, names in unique_types.items():
        types: Any = names[0] if len(names) == 1 else {"$in": sorted(names)}
        specs.append(
            IndexSpec(
                f"unique_{path}",
                (("t", 1), ("rt", 1), (path, 1)),
                unique=True,
                partial={"rt": types, path: {"$exists": True}},
                attribute=unique_names[path],
            )
        )
    for path in lookups:
        # A unique index on the same keys already serves the lookup (for the types it covers).
        if path not in unique_types:
            specs.append(IndexSpec(f"lookup_{path}", (("t", 1), ("rt", 1), (path, 1))))
    for path in sorts:
        keys = (("t", 1), ("rt", 1), (f"{path}.p", -1), (f"{path}.k", 1), ("a.id", 1))
        specs.append(IndexSpec(f"sort_{path}", keys))
    return tuple(specs)


def _resolve(resource_type: ResourceType, text: str) -> Any:
    ref = resource_type.resolve_path(text)
    if ref is None or ref.target.is_complex:
        raise ValueError(f"{resource_type.name} has no simple attribute {text!r} to index")
    return ref


def outbox_indexes() -> tuple[IndexSpec, ...]:
    """Partial indexes on the resources with undrained events and on tombstones.

    Both hold only the documents the drainer still has work on, so its sweep for what a dead
    writer left costs nothing per resource stored.
    """
    return (
        IndexSpec("t_outbox", (("t", 1), ("rt", 1)), partial={"_outbox": {"$exists": True}}),
        IndexSpec(
            "t_deleted",
            (("t", 1), ("rt", 1), ("_deleted", 1)),
            partial={"_deleted": {"$exists": True}},
        ),
    )


def membership_indexes() -> tuple[IndexSpec, ...]:
    """The indexes of the membership collection: one per direction.

    ``t_g_m`` lists a group's members in order and makes a membership unique; ``t_m_g``
    finds a member's groups (``members eq``, the derived ``groups``, cascades on delete).
    """
    return (
        IndexSpec("t_g_m", (("t", 1), ("g", 1), ("m", 1)), unique=True),
        IndexSpec("t_m_g", (("t", 1), ("m", 1), ("g", 1))),
    )


async def ensure_indexes(collection: Any, specs: Iterable[IndexSpec]) -> None:
    """Create the missing indexes; replace ours whose definition changed. Idempotent.

    An index of the same name but another definition (a resource type became unique, or a
    second type shares a unique path) is dropped and built again.
    """
    wanted = list(specs)
    existing: dict[str, Any] = await collection.index_information()
    missing = []
    for spec in wanted:
        info = existing.get(spec.name)
        if info is not None and spec.matches(info):
            continue
        if info is not None:
            await collection.drop_index(spec.name)
        missing.append(spec.model())
    if missing:
        await collection.create_indexes(missing)


_DUPLICATE_KEY = 11000


def only_duplicate_keys(exc: BulkWriteError) -> bool:
    """Whether every error of an unordered bulk write is a unique-index violation.

    Writers that make a write idempotent through a unique index (a membership, an event's
    ``jti``) treat those as "already there"; any other error is a failure.
    """
    details = exc.details or {}
    errors = details.get("writeErrors", ())
    return not details.get("writeConcernErrors") and all(
        error.get("code") == _DUPLICATE_KEY for error in errors
    )
