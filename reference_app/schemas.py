"""The reference app's resource types: Fortes Change Cloud-compatible Users and Groups.

Both are declared as RFC 7643 §7 schema data, so ``/Schemas`` shows exactly what is enforced.
"""

from __future__ import annotations

from typing import Any

from scimkit import (
    ENTERPRISE_USER_SCHEMA,
    GROUP_SCHEMA,
    USER_SCHEMA,
    ResourceType,
    Schema,
    SchemaExtension,
)

__all__ = [
    "FCC_USER_SCHEMA",
    "FCC_USER_URN",
    "GROUPS",
    "REFERENCE_GROUP_SCHEMA",
    "RESOURCE_TYPES",
    "USERS",
]

FCC_USER_URN = "urn:ietf:params:scim:schemas:extension:fcc:2.0:User"

_FCC_USER_JSON: dict[str, Any] = {
    "id": FCC_USER_URN,
    "name": "FortesChangeCloudUser",
    "description": "Fortes Change Cloud user extension",
    "attributes": [
        {
            "name": "administrator",
            "type": "boolean",
            "multiValued": False,
            "description": "Whether the user is an administrator in Fortes Change Cloud.",
            "required": False,
            "mutability": "readWrite",
            "returned": "default",
            "uniqueness": "none",
        },
        {
            "name": "loginDisabled",
            "type": "boolean",
            "multiValued": False,
            "description": "Whether the user is barred from signing in to Fortes Change Cloud.",
            "required": False,
            "mutability": "readWrite",
            "returned": "default",
            "uniqueness": "none",
        },
    ],
}

FCC_USER_SCHEMA = Schema.from_json(_FCC_USER_JSON)
"""``urn:ietf:params:scim:schemas:extension:fcc:2.0:User``: Boolean ``administrator`` and
``loginDisabled``, the two extension attributes of the Fortes provisioning tutorial."""


def _group_schema_with_unique_display_name() -> Schema:
    # Entra's validator expects 409 for a second group with the same displayName, and Entra
    # matches groups by displayName, so it must be unique per tenant. The core Group schema
    # (RFC 7643 §8.7.1) says "uniqueness: none"; only that one characteristic changes here.
    data = GROUP_SCHEMA.to_json()
    for attribute in data["attributes"]:
        if attribute["name"] == "displayName":
            attribute["uniqueness"] = "server"
    return Schema.from_json(data)


REFERENCE_GROUP_SCHEMA = _group_schema_with_unique_display_name()
"""The core Group schema with ``displayName`` declared ``uniqueness: server``."""

USERS = ResourceType(
    name="User",
    endpoint="/Users",
    schema=USER_SCHEMA,
    extensions=(
        SchemaExtension(ENTERPRISE_USER_SCHEMA),
        SchemaExtension(FCC_USER_SCHEMA),
    ),
    description="User Account",
)

GROUPS = ResourceType(
    name="Group",
    endpoint="/Groups",
    schema=REFERENCE_GROUP_SCHEMA,
    description="Group",
)

RESOURCE_TYPES: tuple[ResourceType, ...] = (USERS, GROUPS)
