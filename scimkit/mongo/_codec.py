"""Documents of MongoStore's two collections, built from ``scimkit._filter``'s layout.

A resource document::

    {"t": tenant, "rt": resource type name, "v": write counter,
     "a": resource (keys encoded, dateTimes as BSON dates), "f": folded mirror, "s": sort keys}

``a``/``f``/``s`` come from :func:`scimkit._filter.document_fields` in one call, so the folded
and sort copies are always rewritten together with the values they shadow. ``members`` and
``groups`` are never in ``a``. A membership document::

    {"t": tenant, "gt": group type name, "g": group id, "m": member id,
     "a": {"members": [member]}, "f": {"members": [folded member]}}

holds the member in the same layout a group would, so a filter on ``members`` translated for
a group document runs unchanged on memberships.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from scimkit._filter import decode_document, document_fields, encode_document, folded_mirror
from scimkit._resource_type import ResourceType

__all__ = [
    "member_from_document",
    "membership_document",
    "resource_document",
    "resource_from_document",
]


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
