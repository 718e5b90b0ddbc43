from __future__ import annotations

from datetime import UTC, datetime

import pytest

from scimkit import (
    ENTERPRISE_USER_SCHEMA,
    ENTRA,
    GROUP,
    STRICT,
    USER,
    USER_SCHEMA,
    InvalidSyntax,
    InvalidValue,
    MissingRequired,
    MutabilityError,
    Operation,
    ResourceType,
    Schema,
    SchemaExtension,
    parse_datetime,
    validate_resource,
)

CORE = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = ENTERPRISE_USER_SCHEMA.id
FCC = "urn:ietf:params:scim:schemas:extension:fcc:2.0:User"
FCC_USER = ResourceType(
    "User",
    "/Users",
    USER_SCHEMA,
    (
        SchemaExtension(ENTERPRISE_USER_SCHEMA),
        SchemaExtension(
            Schema.from_json(
                {
                    "id": FCC,
                    "name": "FortesUser",
                    "attributes": [
                        {"name": "administrator", "type": "boolean"},
                        {"name": "loginDisabled", "type": "boolean"},
                    ],
                }
            )
        ),
    ),
)


def create(data, resource_type=USER, tolerance=STRICT):
    return validate_resource(data, resource_type, Operation.CREATE, tolerance=tolerance)


@pytest.mark.parametrize(
    "sample",
    [
        "rfc7643-8.1-user-minimal.json",
        "rfc7643-8.2-user-full.json",
        "rfc7643-8.3-enterprise-user.json",
    ],
)
def test_rfc7643_section_8_users_validate(load_sample, sample):
    """RFC 7643 §8.1–8.3 example users are valid; readOnly id/meta/groups are ignored."""
    data = load_sample(sample)
    result = create(data)
    assert "id" not in result and "meta" not in result and "groups" not in result
    for key, value in data.items():
        if key in ("id", "meta", "groups", "schemas"):
            continue
        if key == ENTERPRISE:
            value = {k: v for k, v in value.items()}
            value["manager"] = {k: v for k, v in value["manager"].items() if k != "displayName"}
        assert result[key] == value, key
    assert result["schemas"] == data["schemas"]


def test_rfc7643_section_8_4_group_validates(load_sample):
    data = load_sample("rfc7643-8.4-group.json")
    result = validate_resource(data, GROUP, Operation.CREATE)
    assert result["displayName"] == "Tour Guides"
    assert [m["value"] for m in result["members"]] == [m["value"] for m in data["members"]]


def test_names_become_canonical():
    result = create({"schemas": [CORE], "USERNAME": "a", "Name": {"GIVENNAME": "B"}})
    assert result == {"userName": "a", "name": {"givenName": "B"}, "schemas": [CORE]}


def test_unknown_attribute_is_rejected_with_its_name():
    with pytest.raises(InvalidValue, match="'nickname2'"):
        create({"schemas": [CORE], "userName": "a", "nickname2": "x"})
    with pytest.raises(InvalidValue, match="name.middle"):
        create({"schemas": [CORE], "userName": "a", "name": {"middle": "x"}})


def test_required_attribute_missing():
    with pytest.raises(MissingRequired, match="userName"):
        create({"schemas": [CORE], "displayName": "x"})
    with pytest.raises(MissingRequired):
        create({"schemas": [CORE], "userName": None})


@pytest.mark.parametrize(
    ("attribute", "value"),
    [
        ("userName", 5),
        ("active", "yes"),
        ("active", 1),
        ("emails", {"value": "a@b"}),
        ("emails", ["a@b"]),
        ("name", "Babs"),
        ("x509Certificates", [{"value": "not base64!"}]),
    ],
)
def test_type_errors(attribute, value):
    with pytest.raises(InvalidValue, match=attribute):
        create({"schemas": [CORE], "userName": "a", attribute: value})


def test_string_booleans_only_under_tolerance():
    """entra-quirks §A2: Entra sends "True"/"False"; strict RFC mode rejects them."""
    data = {
        "schemas": [CORE],
        "userName": "a",
        "active": "True",
        "emails": [{"value": "a@b", "primary": "true"}],
    }
    with pytest.raises(InvalidValue):
        create(data)
    result = create(data, tolerance=ENTRA)
    assert result["active"] is True
    assert result["emails"][0]["primary"] is True
    assert create({**data, "active": "FALSE"}, tolerance=ENTRA)["active"] is False


def test_undeclared_extension_only_under_tolerance():
    """entra-quirks §A5: the custom extension URN is not listed in `schemas`."""
    data = {"schemas": [CORE], "userName": "a", FCC: {"administrator": "True"}}
    with pytest.raises(InvalidValue, match="not listed"):
        create(data, FCC_USER)
    result = create(data, FCC_USER, ENTRA)
    assert result[FCC] == {"administrator": True}
    assert result["schemas"] == [CORE, FCC]


def test_unknown_schema_urn_only_under_tolerance():
    """entra-quirks §A6: Entra's ADSCIM marker on group create."""
    marker = "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"
    data = {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group", marker],
        "displayName": "g",
        "meta": {"resourceType": "Group"},
    }
    with pytest.raises(InvalidValue, match="ADSCIM"):
        validate_resource(data, GROUP, Operation.CREATE)
    result = validate_resource(data, GROUP, Operation.CREATE, tolerance=ENTRA)
    assert result == {
        "displayName": "g",
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
    }


@pytest.mark.parametrize("operation", [Operation.CREATE, Operation.REPLACE])
def test_member_display_name_only_under_tolerance(operation: Operation):
    """Microsoft's SCIM reference code sends members with ``displayName`` for ``display``."""
    data = {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "displayName": "g",
        "members": [{"value": "u1", "displayName": "Alice"}, {"value": "u2"}],
    }
    with pytest.raises(InvalidValue, match="displayName"):
        validate_resource(data, GROUP, operation)
    result = validate_resource(
        data, GROUP, operation, tolerance=STRICT.with_(member_display_name=True)
    )
    assert result["members"] == [{"value": "u1", "display": "Alice"}, {"value": "u2"}]
    assert validate_resource(data, GROUP, operation, tolerance=ENTRA) == result


def test_member_display_and_display_name_together_are_invalid():
    data = {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "displayName": "g",
        "members": [{"value": "u1", "display": "A", "displayName": "B"}],
    }
    with pytest.raises(InvalidValue, match="display"):
        validate_resource(data, GROUP, Operation.CREATE, tolerance=ENTRA)


def test_display_name_stays_unknown_outside_group_members():
    data = {"schemas": [CORE], "userName": "a", "emails": [{"value": "a@b.c", "displayName": "A"}]}
    with pytest.raises(InvalidValue, match="displayName"):
        create(data, USER, ENTRA)


def test_entra_create_body_is_accepted():
    """entra-requests §3.2: the documented Create User body, nulls and empty roles included."""
    body = {
        "schemas": [CORE, ENTERPRISE],
        "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
        "userName": "Test_User_00aa00aa-bb11-cc22-dd33-44ee44ee44ee",
        "active": True,
        "emails": [{"primary": True, "type": "work", "value": "Test_User@testuser.com"}],
        "meta": {"resourceType": "User"},
        "name": {
            "formatted": "givenName familyName",
            "familyName": "familyName",
            "givenName": "givenName",
        },
        "roles": [],
        "title": None,
        FCC: {"administrator": True, "loginDisabled": False},
    }
    result = create(body, FCC_USER, ENTRA)
    assert "roles" not in result and "title" not in result and "meta" not in result
    assert result[FCC] == {"administrator": True, "loginDisabled": False}
    assert result["schemas"] == [CORE, FCC]


def test_schemas_checks():
    with pytest.raises(InvalidValue, match="schemas"):
        create({"userName": "a"})
    with pytest.raises(InvalidValue, match="must include"):
        create({"schemas": [ENTERPRISE], "userName": "a"})
    with pytest.raises(InvalidValue):
        create({"schemas": "nope", "userName": "a"})


def test_body_must_be_an_object():
    with pytest.raises(InvalidSyntax):
        validate_resource([], USER, Operation.CREATE)


def test_at_most_one_primary():
    """RFC 7643 §2.4: the primary value true MUST appear no more than once."""
    with pytest.raises(InvalidValue, match="primary"):
        create(
            {
                "schemas": [CORE],
                "userName": "a",
                "emails": [{"value": "a@x", "primary": True}, {"value": "b@x", "primary": True}],
            }
        )


def test_datetime_values_are_parsed_to_utc_milliseconds():
    assert parse_datetime("2011-05-13T04:42:34.1234567+02:00") == datetime(
        2011, 5, 13, 2, 42, 34, 123000, tzinfo=UTC
    )
    assert parse_datetime("2010-01-23T04:56:22Z") == datetime(2010, 1, 23, 4, 56, 22, tzinfo=UTC)
    for bad in ("2010-01-23", "yesterday", "2010-01-23T25:00:00Z"):
        with pytest.raises(ValueError):
            parse_datetime(bad)


def test_replace_keeps_read_only_and_checks_immutable():
    existing = {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
        "id": "g1",
        "meta": {"resourceType": "Group"},
        "displayName": "g",
    }
    result = validate_resource(
        {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "id": "other",
            "displayName": "h",
        },
        GROUP,
        Operation.REPLACE,
        existing=existing,
    )
    assert result["id"] == "g1" and result["meta"] == {"resourceType": "Group"}
    assert result["displayName"] == "h"


def test_immutable_attribute_cannot_change():
    immutable = Schema.from_json(
        {
            "id": "urn:example:Thing",
            "name": "Thing",
            "attributes": [{"name": "code", "type": "string", "mutability": "immutable"}],
        }
    )
    thing = ResourceType("Thing", "/Things", immutable)
    existing = {"schemas": ["urn:example:Thing"], "id": "t", "code": "A"}
    same = validate_resource(
        {"schemas": ["urn:example:Thing"]}, thing, Operation.REPLACE, existing=existing
    )
    assert same["code"] == "A"
    with pytest.raises(MutabilityError):
        validate_resource(
            {"schemas": ["urn:example:Thing"], "code": "B"},
            thing,
            Operation.REPLACE,
            existing=existing,
        )
    first = validate_resource(
        {"schemas": ["urn:example:Thing"], "code": "B"},
        thing,
        Operation.REPLACE,
        existing={"schemas": ["urn:example:Thing"], "id": "t"},
    )
    assert first["code"] == "B"


def test_empty_values_are_unassigned():
    """RFC 7643 §2.5: null and empty arrays mean unassigned."""
    result = create({"schemas": [CORE], "userName": "a", "emails": [], "name": {"givenName": None}})
    assert result == {"userName": "a", "schemas": [CORE]}


def test_write_only_password_is_accepted():
    assert (
        create({"schemas": [CORE], "userName": "a", "password": "s3cret"})["password"] == "s3cret"
    )


def test_required_extension():
    required = ResourceType(
        "User", "/Users", USER_SCHEMA, (SchemaExtension(ENTERPRISE_USER_SCHEMA, required=True),)
    )
    with pytest.raises(MissingRequired, match="enterprise"):
        create({"schemas": [CORE], "userName": "a"}, required)


GROUP_CORE = "urn:ietf:params:scim:schemas:core:2.0:Group"


@pytest.mark.parametrize("tolerance", [STRICT, ENTRA], ids=["strict", "entra"])
@pytest.mark.parametrize("operation", [Operation.CREATE, Operation.REPLACE])
@pytest.mark.parametrize(
    ("resource_type", "schemas", "data"),
    [
        (USER, [GROUP_CORE], {"userName": "a"}),
        (USER, [CORE, GROUP_CORE], {"userName": "a"}),
        (USER, [CORE, "URN:IETF:PARAMS:SCIM:SCHEMAS:CORE:2.0:GROUP"], {"userName": "a"}),
        (GROUP, [CORE], {"displayName": "g"}),
        (GROUP, [GROUP_CORE, "urn:ietf:params:scim:schemas:core:2.0:ResourceType"], {}),
    ],
)
def test_another_core_schema_in_schemas_is_invalid_under_every_policy(
    tolerance, operation, resource_type, schemas, data
):
    """Entra always sends its type's core URN: another type's core schema is a wrong body."""
    body = {"schemas": schemas, "displayName": "g", **data}
    with pytest.raises(InvalidValue, match="core schema of another resource type"):
        validate_resource(body, resource_type, operation, tolerance=tolerance)


def test_entra_still_tolerates_a_missing_extension_urn_and_odd_markers():
    marker = "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"
    user = create({"schemas": [CORE], "userName": "a", ENTERPRISE: {"division": "d"}}, USER, ENTRA)
    assert user["schemas"] == [CORE, ENTERPRISE]
    group = validate_resource(
        {"schemas": [GROUP_CORE, marker], "displayName": "g"},
        GROUP,
        Operation.CREATE,
        tolerance=ENTRA,
    )
    assert group["schemas"] == [GROUP_CORE]
