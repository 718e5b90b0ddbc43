"""Shared resources and helpers for the PATCH engine tests."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from scimkit import (
    ENTERPRISE_USER_SCHEMA,
    GROUP_SCHEMA,
    STRICT,
    USER_SCHEMA,
    PatchResult,
    ResourceType,
    Schema,
    SchemaExtension,
    Tolerance,
    apply_patch,
    parse_patch,
)

SAMPLES = Path(__file__).parent / "samples"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ENTERPRISE = ENTERPRISE_USER_SCHEMA.id
FCC = "urn:ietf:params:scim:schemas:extension:fcc:2.0:User"

BABS = "2819c223-7f76-453a-919d-413861904646"
JAMES = "08e1d05d-121c-4561-8b96-473d93df9210"
GROUP_ID = "acbf3ae7-8463-4692-b4fd-9b4da3f908ce"

FCC_SCHEMA = Schema.from_json(
    {
        "id": FCC,
        "name": "FccUser",
        "description": "Fortes Change Cloud user extension",
        "attributes": [
            {"name": "administrator", "type": "boolean", "multiValued": False},
            {"name": "loginDisabled", "type": "boolean", "multiValued": False},
        ],
    }
)
FCC_USER = ResourceType(
    name="User",
    endpoint="/Users",
    schema=USER_SCHEMA,
    extensions=(SchemaExtension(ENTERPRISE_USER_SCHEMA), SchemaExtension(FCC_SCHEMA)),
)
"""User with the enterprise and the Fortes (fcc) extensions, as the reference app serves it."""

_META_TIME = datetime(2010, 1, 23, 4, 56, 22, tzinfo=UTC)


def sample(name: str) -> Any:
    """An RFC example body, by file name (named after its RFC section)."""
    return json.loads((SAMPLES / name).read_text(encoding="utf-8"))


def body(*operations: dict[str, Any]) -> dict[str, Any]:
    """A PatchOp message holding ``operations``."""
    return {"schemas": [PATCH_OP], "Operations": list(operations)}


def meta(resource_type: str) -> dict[str, Any]:
    return {
        "resourceType": resource_type,
        "created": _META_TIME,
        "lastModified": _META_TIME,
        "version": 'W/"a330bc54f0671c9"',
    }


def user(**extra: Any) -> dict[str, Any]:
    """A stored (canonical) User: Babs Jensen, work and home e-mail, a work address."""
    resource: dict[str, Any] = {
        "schemas": [USER_SCHEMA.id],
        "id": BABS,
        "externalId": "bjensen",
        "userName": "bjensen@example.com",
        "name": {
            "formatted": "Ms. Barbara J Jensen III",
            "familyName": "Jensen",
            "givenName": "Barbara",
        },
        "displayName": "Babs Jensen",
        "active": True,
        "emails": [
            {"value": "bjensen@example.com", "type": "work", "primary": True},
            {"value": "babs@jensen.org", "type": "home"},
        ],
        "addresses": [
            {
                "streetAddress": "100 Universal City Plaza",
                "locality": "Hollywood",
                "region": "CA",
                "postalCode": "91608",
                "country": "USA",
                "type": "work",
                "primary": True,
            }
        ],
        "meta": meta("User"),
    }
    resource.update(extra)
    return resource


def bare_user() -> dict[str, Any]:
    """A User with only ``userName``: what Entra creates before PATCHing attributes in."""
    return {
        "schemas": [USER_SCHEMA.id],
        "id": BABS,
        "userName": "bjensen@example.com",
        "meta": meta("User"),
    }


def member(ident: str, display: str | None = None) -> dict[str, Any]:
    found: dict[str, Any] = {"value": ident}
    if display is not None:
        found["display"] = display
    return found


def group(*members: dict[str, Any]) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "schemas": [GROUP_SCHEMA.id],
        "id": GROUP_ID,
        "displayName": "Tour Guides",
        "meta": meta("Group"),
    }
    if members:
        resource["members"] = list(members)
    return resource


def frozen_copy(resource: dict[str, Any]) -> dict[str, Any]:
    """A deep copy to compare the input with after a PATCH (the engine must not touch it)."""
    return copy.deepcopy(resource)


def apply_message(
    resource: dict[str, Any],
    message: Any,
    resource_type: ResourceType,
    *,
    tolerance: Tolerance = STRICT,
    members_loaded: bool = True,
) -> PatchResult:
    """Parse a PatchOp message and apply its operations, as the service does."""
    operations = parse_patch(message, tolerance)
    return apply_patch(
        resource, operations, resource_type, tolerance=tolerance, members_loaded=members_loaded
    )
