"""Documents of MongoStore's two collections: the layout every query is written against.

A resource document::

    {"t": tenant, "rt": resource type name, "v": write counter,
     "a": resource (keys encoded, dateTimes as BSON dates),
     "f": folded mirror (keys encoded),            # see folded_mirror()
     "s": {<encoded dotted path>: {"p": 1, "k": <sort key>}, ...}}   # see sort_document()

caseExact=false string comparisons query ``f`` (so ``userName eq`` is an exact match on an
indexable field and ``sw`` an anchored prefix regex on it); everything else queries ``a``.
``a``/``f``/``s`` come from :func:`document_fields` in one call, so the folded and sort copies
are always rewritten together with the values they shadow. ``members`` and ``groups`` are
never in ``a``. A membership document::

    {"t": tenant, "gt": group type name, "g": group id, "m": member id,
     "a": {"members": [member]}, "f": {"members": [folded member]}}

holds the member in the same layout a group would, so a filter on ``members`` translated for
a group document runs unchanged on memberships.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any

from scimkit._filter import SCHEMAS_ATTRIBUTE, fold_case, is_folded, sort_ref, sort_value
from scimkit._resource_type import AttrRef, ResourceType
from scimkit._schema import Attribute, Returned
from scimkit._store import format_version, stored_value

__all__ = [
    "decode_document",
    "decode_key",
    "document_fields",
    "encode_document",
    "encode_key",
    "field_path",
    "folded_mirror",
    "has_folded_mirror",
    "member_from_document",
    "membership_document",
    "next_version",
    "resource_document",
    "resource_from_document",
    "sort_document",
    "sort_field",
    "sort_key",
]

_KEY_ESCAPES = {"%": "%25", ".": "%2E", "\x00": "%00"}
_KEY_ENCODE = re.compile(r"[%.\x00]")
_KEY_DECODE = re.compile(r"%(25|2E|24|00)")
_KEY_UNESCAPES = {"25": "%", "2E": ".", "24": "$", "00": "\x00"}


def encode_key(name: str) -> str:
    """Make a key safe for MongoDB, reversibly: ``%``→``%25``, ``.``→``%2E``, leading ``$``→``%24``.

    Extension URNs contain dots (``...:enterprise:2.0:User``) and ``$ref`` starts with ``$``.
    """
    encoded = _KEY_ENCODE.sub(lambda m: _KEY_ESCAPES[m.group()], name)
    return "%24" + encoded[1:] if encoded.startswith("$") else encoded


def decode_key(name: str) -> str:
    """Invert :func:`encode_key`."""
    return _KEY_DECODE.sub(lambda m: _KEY_UNESCAPES[m.group(1)], name)


def encode_document(obj: Any) -> Any:
    """Encode every key of nested dicts and lists; drop ``None`` values.

    RFC 7643 §2.5 makes null equivalent to unassigned, and without nulls every stored value
    has its attribute's type, so range queries need no type guard (mongoeco has no type
    bracketing: it orders null below every value).
    """
    if isinstance(obj, Mapping):
        return {encode_key(k): encode_document(v) for k, v in obj.items() if v is not None}
    if isinstance(obj, list):
        return [encode_document(v) for v in obj if v is not None]
    return obj


def decode_document(obj: Any) -> Any:
    """Invert :func:`encode_document` (nulls stay dropped)."""
    if isinstance(obj, Mapping):
        return {decode_key(k): decode_document(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [decode_document(v) for v in obj]
    return obj


def field_path(ref: AttrRef, folded: bool) -> str:
    """The dotted document path of ``ref``'s value under ``f`` (folded) or ``a``."""
    return ("f." if folded else "a.") + ".".join(encode_key(key) for key in ref.keys)


def sort_field(ref: AttrRef) -> str:
    """The ``s`` entry of ``ref`` (after :func:`sort_ref`): ``s.<encoded dotted path>``."""
    return "s." + encode_key(sort_ref(ref).dotted)


def has_folded_mirror(attribute: Attribute) -> bool:
    """Whether a top-level attribute is copied into ``f``: it has a caseExact=false string leaf.

    Attributes that are never returned (``password``) are not copied.
    """
    if attribute.returned is Returned.NEVER:
        return False
    if attribute.is_complex:
        return any(is_folded(sub) for sub in attribute.sub_attributes)
    return is_folded(attribute)


def _top_level(resource_type: ResourceType) -> Iterator[AttrRef]:
    yield AttrRef(resource_type.schema.id, SCHEMAS_ATTRIBUTE)
    yield from resource_type.attributes()


def folded_mirror(resource: Mapping[str, Any], resource_type: ResourceType) -> dict[str, Any]:
    """The ``f`` part of a document (keys not yet encoded).

    For every top-level attribute with a caseExact=false string leaf, a copy of its whole
    value with those leaves folded (:func:`fold_case`) and every other leaf as is, so one
    ``$elemMatch`` can mix folded and exact conditions on the same element.
    """
    mirror: dict[str, Any] = {}
    for ref in _top_level(resource_type):
        attribute = ref.attribute
        if not has_folded_mirror(attribute):
            continue
        container: Any = resource.get(ref.schema) if ref.extension else resource
        if not isinstance(container, Mapping):
            continue
        value = container.get(attribute.name)
        if value is None:
            continue
        target = mirror.setdefault(ref.schema, {}) if ref.extension else mirror
        target[attribute.name] = _fold_value(value, attribute)
    return mirror


def _fold_value(value: Any, attribute: Attribute) -> Any:
    if isinstance(value, list):
        return [_fold_value(item, attribute) for item in value]
    if attribute.is_complex:
        if not isinstance(value, Mapping):
            return value
        folded: dict[str, Any] = {}
        for key, item in value.items():
            sub = attribute.sub_attribute(key)
            folded[key] = _fold_value(item, sub) if sub is not None else item
        return folded
    if isinstance(value, str) and is_folded(attribute):
        return fold_case(value)
    return value


def sort_document(resource: Mapping[str, Any], resource_type: ResourceType) -> dict[str, Any]:
    """The ``s`` part of a document: ``{encoded dotted path: {"p": 1, "k": key}}``.

    One entry per sortable path that has a value (see :func:`sort_value`). ``p`` exists so
    :func:`translate_sort` can put resources without a value last when ascending and first
    when descending (RFC 7644 §3.4.2.3); MongoDB alone would put them first ascending.
    """
    entries: dict[str, Any] = {}
    for top in _top_level(resource_type):
        if top.attribute.returned is Returned.NEVER:
            continue
        subs = top.attribute.sub_attributes if top.attribute.is_complex else (None,)
        for sub in subs:
            if sub is not None and sub.returned is Returned.NEVER:
                continue
            ref = top.with_sub(sub)
            key = sort_value(resource, ref)
            if key is not None:
                entries[encode_key(ref.dotted)] = {"p": 1, "k": key}
    return entries


def document_fields(resource: Mapping[str, Any], resource_type: ResourceType) -> dict[str, Any]:
    """``{"a": ..., "f": ..., "s": ...}`` for ``resource``, ready to store (add ``_id`` etc.)."""
    return {
        "a": encode_document(resource),
        "f": encode_document(folded_mirror(resource, resource_type)),
        "s": sort_document(resource, resource_type),
    }


def resource_document(
    tenant: str, resource_type: ResourceType, resource: Mapping[str, Any], counter: int
) -> dict[str, Any]:
    """The document of a stored-form resource (see ``stored_form``) at write ``counter``."""
    return {"t": tenant, "rt": resource_type.name, "v": counter} | document_fields(
        resource, resource_type
    )


def resource_from_document(document: Mapping[str, Any]) -> dict[str, Any]:
    """The resource held by a document (its ``a``)."""
    resource: dict[str, Any] = decode_document(document["a"])
    return resource


def next_version(modified: datetime) -> list[dict[str, Any]]:
    """An update pipeline giving a resource its next version without rewriting it.

    For writes that change only what is kept apart from the resource (its memberships): one
    atomic update adds one to the counter ``v`` and stamps ``meta.version`` (the
    :func:`~scimkit.store.format_version` of the new counter) and ``meta.lastModified``
    where :func:`document_fields` keeps them, in ``a`` and as sort keys in ``s`` (both are
    caseExact, so they have no folded copy). No read, no compare-and-set: concurrent member
    changes commute and each gets its own version.
    """
    counter = {"$add": ["$v", 1]}
    prefix, suffix = format_version(0).split("0")
    version = {"$concat": [prefix, {"$toString": counter}, suffix]}
    moment = stored_value(modified)
    return [
        {
            "$set": {
                "v": counter,
                "a.meta.version": version,
                "a.meta.lastModified": moment,
                f"s.{encode_key('meta.version')}": {"p": 1, "k": version},
                f"s.{encode_key('meta.lastModified')}": {"p": 1, "k": moment},
            }
        }
    ]


def membership_document(
    tenant: str, group_type: ResourceType, group: str, member: Mapping[str, Any]
) -> dict[str, Any]:
    """The document recording that ``member`` (a member object) belongs to ``group``."""
    as_group = {"members": [dict(member)]}
    return {
        "t": tenant,
        "gt": group_type.name,
        "g": group,
        "m": member["value"],
        "a": encode_document(as_group),
        "f": encode_document(folded_mirror(as_group, group_type)),
    }


def member_from_document(document: Mapping[str, Any]) -> dict[str, Any]:
    """The member object of a membership document."""
    member: dict[str, Any] = decode_document(document["a"]["members"][0])
    return member


def sort_key(document: Mapping[str, Any], field: str | None) -> Any:
    """The sort key a document holds at ``field`` (a :func:`sort_field`), if any."""
    if field is None:
        return None
    entry: Any = document
    for part in field.split("."):
        entry = entry.get(part) if isinstance(entry, Mapping) else None
    return entry.get("k") if isinstance(entry, Mapping) else None
