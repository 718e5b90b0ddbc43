from __future__ import annotations

from scimkit import ENTERPRISE_USER_SCHEMA, GROUP, USER, project

CORE = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = ENTERPRISE_USER_SCHEMA.id

RESOURCE = {
    "schemas": [CORE, ENTERPRISE],
    "id": "u1",
    "externalId": "e1",
    "userName": "bjensen",
    "name": {"givenName": "Barbara", "familyName": "Jensen"},
    "password": "secret",
    "emails": [{"value": "a@x", "type": "work"}, {"value": "b@x", "type": "home"}],
    "active": False,
    ENTERPRISE: {"employeeNumber": "7", "department": "Tours"},
    "meta": {"resourceType": "User", "version": 'W/"1"'},
}


def test_default_projection_never_returns_password():
    """RFC 7643 §7: returned "never" attributes are never returned."""
    out = project(RESOURCE, USER)
    assert "password" not in out
    assert out["active"] is False
    assert out[ENTERPRISE] == RESOURCE[ENTERPRISE]


def test_attributes_parameter_limits_output():
    """RFC 7644 §3.9: `attributes` returns the named attributes plus those returned "always"."""
    out = project(RESOURCE, USER, attributes=["userName", "name.givenName", "password"])
    assert out == {
        "id": "u1",
        "userName": "bjensen",
        "name": {"givenName": "Barbara"},
        "schemas": [CORE],
    }


def test_attributes_case_insensitive_and_extension():
    out = project(RESOURCE, USER, attributes=[f"{ENTERPRISE}:department", "EMAILS.value"])
    assert out[ENTERPRISE] == {"department": "Tours"}
    assert out["emails"] == [{"value": "a@x"}, {"value": "b@x"}]
    assert out["schemas"] == [CORE, ENTERPRISE]


def test_whole_extension_by_urn():
    out = project(RESOURCE, USER, attributes=[ENTERPRISE])
    assert out[ENTERPRISE] == RESOURCE[ENTERPRISE]
    out = project(RESOURCE, USER, excluded_attributes=[ENTERPRISE])
    assert ENTERPRISE not in out and out["schemas"] == [CORE]


def test_excluded_attributes():
    """RFC 7644 §3.9: excludedAttributes removes default attributes; id is always kept."""
    out = project(RESOURCE, USER, excluded_attributes=["emails", "name.familyName", "id"])
    assert "emails" not in out
    assert out["name"] == {"givenName": "Barbara"}
    assert out["id"] == "u1"


def test_group_members_excluded():
    """entra-quirks §B18: Entra asks for groups with excludedAttributes=members."""
    group = {
        "schemas": [GROUP.schema.id],
        "id": "g",
        "displayName": "G",
        "members": [{"value": "u1"}],
    }
    assert project(group, GROUP, excluded_attributes=["members"]) == {
        "id": "g",
        "displayName": "G",
        "schemas": [GROUP.schema.id],
    }


def test_unknown_names_are_ignored():
    assert project(RESOURCE, USER, attributes=["nope"]) == {"id": "u1", "schemas": [CORE]}


def test_projection_does_not_mutate_input():
    before = repr(RESOURCE)
    project(RESOURCE, USER, attributes=["name.givenName"])
    assert repr(RESOURCE) == before


def test_without_parameters_empty_values_go_and_the_rest_is_kept_as_it_is():
    """The no-parameter path (every attribute kept or dropped whole) shapes as the general one.

    ``excludedAttributes`` naming a sub-attribute the resource lacks takes the general path
    with the same outcome, so the two are compared on values that test their edges.
    """
    resource = {
        **RESOURCE,
        "nickName": "",
        "x509Certificates": [],
        "title": None,
        "unknownKey": 0,
        ENTERPRISE: {"employeeNumber": "7", "department": "", "division": None, "costCenter": 0},
        "urn:example:unknown": {"a": 1},
    }
    fast = project(resource, USER)
    general = project(resource, USER, excluded_attributes=["emails.display"])
    assert fast == general
    assert list(fast) == list(general)
    assert fast[ENTERPRISE] == {"employeeNumber": "7", "costCenter": 0}
    assert "nickName" not in fast and "x509Certificates" not in fast and "title" not in fast
    assert fast["unknownKey"] == 0 and fast["urn:example:unknown"] == {"a": 1}
    assert "password" not in fast
    only_empty = project({**RESOURCE, ENTERPRISE: {"department": ""}}, USER)
    assert ENTERPRISE not in only_empty and only_empty["schemas"] == [CORE]
