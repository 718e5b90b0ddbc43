from __future__ import annotations

import pytest

from scimkit import (
    ENTERPRISE_USER_SCHEMA,
    GROUP,
    USER,
    USER_SCHEMA,
    Attribute,
    AttributeType,
    InvalidValue,
    Mutability,
    ResourceType,
    Returned,
    Schema,
    SchemaExtension,
    Uniqueness,
)

FCC_URN = "urn:ietf:params:scim:schemas:extension:fcc:2.0:User"
FCC_JSON = {
    "id": FCC_URN,
    "name": "FortesUser",
    "description": "Fortes Change Cloud user extension",
    "attributes": [
        {"name": "administrator", "type": "boolean", "multiValued": False, "required": False},
        {"name": "loginDisabled", "type": "boolean", "multiValued": False, "required": False},
    ],
}


def test_builtin_user_characteristics():
    """RFC 7643 §4.1: userName is required and unique; password is writeOnly, never returned."""
    user_name = USER_SCHEMA.attribute("userName")
    assert user_name is not None
    assert user_name.required and user_name.uniqueness is Uniqueness.SERVER
    assert not user_name.case_exact
    password = USER_SCHEMA.attribute("password")
    assert password is not None
    assert password.returned is Returned.NEVER
    assert password.mutability is Mutability.WRITE_ONLY
    groups = USER_SCHEMA.attribute("groups")
    assert groups is not None and groups.mutability is Mutability.READ_ONLY


def test_attribute_names_resolve_case_insensitively():
    """RFC 7643 §2.1: attribute names are case insensitive."""
    ref = USER.resolve_path("NAME.GIVENNAME")
    assert ref is not None
    assert ref.dotted == "name.givenName"
    assert ref.keys == ("name", "givenName")


def test_urn_qualified_paths_resolve():
    ref = USER.resolve_path(
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value"
    )
    assert ref is not None
    assert ref.extension
    assert ref.keys == (ENTERPRISE_USER_SCHEMA.id, "manager", "value")
    core = USER.resolve_path("urn:ietf:params:scim:schemas:core:2.0:User:userName")
    assert core is not None and not core.extension and core.keys == ("userName",)
    upper = USER.resolve_path(
        "URN:IETF:PARAMS:SCIM:SCHEMAS:EXTENSION:ENTERPRISE:2.0:USER:department"
    )
    assert upper is not None and upper.attribute.name == "department"


@pytest.mark.parametrize(
    "path",
    ["nope", "name.nope", "name.givenName.x", "urn:unknown:thing:attr", "", ".x", "name."],
)
def test_unknown_or_malformed_paths_do_not_resolve(path):
    assert USER.resolve_path(path) is None


def test_common_attributes_resolve_on_every_type():
    for resource_type in (USER, GROUP):
        assert resource_type.resolve_path("id") is not None
        assert resource_type.resolve_path("externalId") is not None
        meta = resource_type.resolve_path("meta.lastModified")
        assert meta is not None and meta.target.type is AttributeType.DATETIME


def test_extension_schema_loads_from_rfc_json():
    schema = Schema.from_json(FCC_JSON)
    assert schema.id == FCC_URN
    administrator = schema.attribute("ADMINISTRATOR")
    assert administrator is not None and administrator.type is AttributeType.BOOLEAN
    resource_type = ResourceType(
        "User",
        "/Users",
        USER_SCHEMA,
        (SchemaExtension(ENTERPRISE_USER_SCHEMA), SchemaExtension(schema)),
    )
    ref = resource_type.resolve_path(f"{FCC_URN}:loginDisabled")
    assert ref is not None and ref.extension and ref.schema == FCC_URN


def test_schema_json_round_trip():
    """RFC 7643 §7: schemas render in their JSON form and load back the same."""
    for schema in (USER_SCHEMA, ENTERPRISE_USER_SCHEMA, GROUP.schema):
        rendered = schema.to_json()
        assert Schema.from_json(rendered).to_json() == rendered


@pytest.mark.parametrize(
    "data",
    [
        {"name": "x", "attributes": []},
        {"id": "urn:x", "attributes": "nope"},
        {"id": "urn:x", "attributes": [{"name": "a", "type": "complex"}]},
        {"id": "urn:x", "attributes": [{"name": "a", "type": "float"}]},
        {"id": "urn:x", "attributes": [{"name": "a"}, {"name": "A"}]},
        {"id": "urn:x", "attributes": [{"name": "a", "required": "yes"}]},
        {"id": "urn:x", "attributes": [{"type": "string"}]},
    ],
)
def test_malformed_schema_definitions_are_rejected(data):
    with pytest.raises(InvalidValue):
        Schema.from_json(data)


def test_attribute_definition_checks():
    with pytest.raises(ValueError):
        Attribute("x", AttributeType.STRING, sub_attributes=(Attribute("y"),))


def test_unique_attributes_of_user():
    names = [ref.attribute.name for ref in USER.unique_attributes()]
    assert names == ["userName"]


def test_resource_type_json():
    data = USER.to_json("https://example.com/v2/ResourceTypes/User")
    assert data["schema"] == USER_SCHEMA.id
    assert data["schemaExtensions"] == [{"schema": ENTERPRISE_USER_SCHEMA.id, "required": False}]
    assert data["meta"]["location"].endswith("/ResourceTypes/User")
