from __future__ import annotations

from reference_app.schemas import (
    FCC_USER_SCHEMA,
    FCC_USER_URN,
    GROUPS,
    REFERENCE_GROUP_SCHEMA,
    USERS,
)
from scimkit import GROUP_SCHEMA, AttributeType, Schema, Uniqueness


def test_fcc_extension_declares_two_booleans():
    assert FCC_USER_SCHEMA.id == FCC_USER_URN
    for name in ("administrator", "loginDisabled"):
        attribute = FCC_USER_SCHEMA.attribute(name)
        assert attribute is not None
        assert attribute.type is AttributeType.BOOLEAN
        assert not attribute.multi_valued and not attribute.required
    # Schema data round-trips through its RFC 7643 §7 JSON form.
    assert Schema.from_json(FCC_USER_SCHEMA.to_json()).to_json() == FCC_USER_SCHEMA.to_json()


def test_users_carry_enterprise_and_fcc_extensions():
    assert USERS.endpoint == "/Users"
    assert USERS.schema_ids == (
        "urn:ietf:params:scim:schemas:core:2.0:User",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
        FCC_USER_URN,
    )
    ref = USERS.resolve_path(f"{FCC_USER_URN}:administrator")
    assert ref is not None and ref.extension and ref.keys == (FCC_USER_URN, "administrator")


def test_group_display_name_is_unique_and_nothing_else_changed():
    display_name = REFERENCE_GROUP_SCHEMA.attribute("displayName")
    assert display_name is not None and display_name.uniqueness is Uniqueness.SERVER
    changed = REFERENCE_GROUP_SCHEMA.to_json()
    original = GROUP_SCHEMA.to_json()
    for attribute in changed["attributes"]:
        if attribute["name"] == "displayName":
            attribute["uniqueness"] = "none"
    assert changed == original
    assert [ref.dotted for ref in GROUPS.unique_attributes()] == ["displayName"]
