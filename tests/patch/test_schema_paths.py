"""A PATCH path naming a whole schema (RFC 7644 §3.5.2: a path may start with a schema URI).

scim2-tester sends ``"path": "urn:...:enterprise:2.0:User"`` with an object of the extension's
attributes, and ``remove`` of it; both policies accept it.
"""

from __future__ import annotations

from typing import Any

import pytest

from scimkit import (
    ENTERPRISE_USER_SCHEMA,
    ENTRA,
    STRICT,
    USER,
    USER_SCHEMA,
    InvalidPath,
    InvalidValue,
    MutabilityError,
    ResourceType,
    Schema,
    SchemaExtension,
    Tolerance,
)
from tests.patch.support import ENTERPRISE, FCC, FCC_USER, apply_message, body, user

CORE = USER_SCHEMA.id
POLICIES = [pytest.param(STRICT, id="strict"), pytest.param(ENTRA, id="entra")]
BOSS = "26118915-6090-4610-87e4-49d8ca9f808d"


def enterprise_user() -> dict[str, Any]:
    return user(
        schemas=[CORE, ENTERPRISE],
        **{ENTERPRISE: {"department": "Sales", "employeeNumber": "1", "manager": {"value": "a"}}},
    )


@pytest.mark.parametrize("tolerance", POLICIES)
@pytest.mark.parametrize("op", ["add", "replace"])
def test_add_and_replace_merge_into_the_extension(op: str, tolerance: Tolerance):
    """§3.5.2.1/§3.5.2.3 on a complex target: named attributes are set, the others kept."""
    result = apply_message(
        enterprise_user(),
        body(
            {
                "op": op,
                "path": ENTERPRISE,
                "value": {"employeeNumber": "2", "costCenter": "4130", "manager": {"value": BOSS}},
            }
        ),
        USER,
        tolerance=tolerance,
    )
    assert result.resource[ENTERPRISE] == {
        "department": "Sales",
        "employeeNumber": "2",
        "costCenter": "4130",
        "manager": {"value": BOSS},
    }
    assert result.changed_attributes == {ENTERPRISE}


@pytest.mark.parametrize("tolerance", POLICIES)
def test_add_creates_an_absent_extension_and_lists_its_urn(tolerance: Tolerance):
    result = apply_message(
        user(),
        body({"op": "add", "path": FCC.upper(), "value": {"administrator": True}}),
        FCC_USER,
        tolerance=tolerance,
    )
    assert result.resource[FCC] == {"administrator": True}
    assert result.resource["schemas"] == [CORE, FCC]


@pytest.mark.parametrize("tolerance", POLICIES)
def test_remove_drops_the_whole_extension_and_its_urn(tolerance: Tolerance):
    result = apply_message(
        enterprise_user(), body({"op": "remove", "path": ENTERPRISE}), USER, tolerance=tolerance
    )
    assert ENTERPRISE not in result.resource
    assert result.resource["schemas"] == [CORE]
    assert result.changed_attributes == {ENTERPRISE, "schemas"}


@pytest.mark.parametrize("tolerance", POLICIES)
def test_remove_of_an_absent_extension_changes_nothing(tolerance: Tolerance):
    result = apply_message(
        user(), body({"op": "remove", "path": ENTERPRISE}), USER, tolerance=tolerance
    )
    assert not result.changed


BADGE_SCHEMA = Schema.from_json(
    {
        "id": "urn:example:params:scim:schemas:extension:badge:2.0:User",
        "name": "Badge",
        "attributes": [
            {"name": "number", "type": "string", "required": True},
            {"name": "colour", "type": "string"},
        ],
    }
)
BADGE_USER = ResourceType(
    name="User",
    endpoint="/Users",
    schema=USER_SCHEMA,
    extensions=(SchemaExtension(ENTERPRISE_USER_SCHEMA), SchemaExtension(BADGE_SCHEMA)),
)


@pytest.mark.parametrize("tolerance", POLICIES)
def test_removing_an_extension_holding_a_required_attribute_is_a_mutability_error(
    tolerance: Tolerance,
):
    """RFC 7644 §3.5.2.2: removing a required attribute answers "mutability"."""
    stored = user(
        schemas=[CORE, BADGE_SCHEMA.id], **{BADGE_SCHEMA.id: {"number": "7", "colour": "red"}}
    )
    with pytest.raises(MutabilityError):
        apply_message(
            stored, body({"op": "remove", "path": BADGE_SCHEMA.id}), BADGE_USER, tolerance=tolerance
        )


@pytest.mark.parametrize("tolerance", POLICIES)
@pytest.mark.parametrize("value", ["Sales", ["Sales"], None])
def test_add_with_a_value_that_is_not_an_object_is_invalid_value(value: Any, tolerance: Tolerance):
    with pytest.raises(InvalidValue):
        apply_message(
            user(),
            body({"op": "add", "path": ENTERPRISE, "value": value}),
            USER,
            tolerance=tolerance,
        )


@pytest.mark.parametrize("tolerance", POLICIES)
def test_unknown_attributes_in_the_value_are_invalid_value(tolerance: Tolerance):
    with pytest.raises(InvalidValue):
        apply_message(
            user(),
            body({"op": "replace", "path": ENTERPRISE, "value": {"badge": "x"}}),
            USER,
            tolerance=tolerance,
        )


def test_the_core_schema_urn_as_a_path_is_not_a_target_for_remove():
    """Removing the core schema would remove the resource's every attribute: not a PATCH."""
    with pytest.raises(InvalidPath):
        apply_message(user(), body({"op": "remove", "path": CORE}), USER)


def test_the_core_schema_urn_as_a_path_applies_its_attributes():
    result = apply_message(
        user(), body({"op": "replace", "path": CORE, "value": {"displayName": "Babs"}}), USER
    )
    assert result.resource["displayName"] == "Babs"


@pytest.mark.parametrize("tolerance", POLICIES)
def test_a_schemas_key_naming_the_path_schema_is_ignored(tolerance: Tolerance):
    """python-scim serialises an extension object with its own ``schemas``: it repeats the path."""
    result = apply_message(
        user(),
        body(
            {
                "op": "add",
                "path": FCC,
                "value": {"schemas": [FCC.lower()], "administrator": True},
            }
        ),
        FCC_USER,
        tolerance=tolerance,
    )
    assert result.resource[FCC] == {"administrator": True}


@pytest.mark.parametrize("tolerance", POLICIES)
def test_a_schemas_key_naming_another_schema_is_invalid_value(tolerance: Tolerance):
    with pytest.raises(InvalidValue):
        apply_message(
            user(),
            body({"op": "add", "path": FCC, "value": {"schemas": [CORE], "administrator": True}}),
            FCC_USER,
            tolerance=tolerance,
        )
