"""Errors as RFC 7644 §3.5.2 and §3.12 assign them; a failed PATCH changes nothing."""

from __future__ import annotations

from typing import Any

import pytest

from scimkit import (
    ENTRA,
    GROUP,
    USER,
    InvalidFilter,
    InvalidPath,
    InvalidSyntax,
    InvalidValue,
    MutabilityError,
    NoTarget,
    ResourceType,
    Schema,
    SCIMError,
)
from tests.patch.support import BABS, apply_message, body, frozen_copy, group, member, user

BADGES = ResourceType(
    name="Badge",
    endpoint="/Badges",
    schema=Schema.from_json(
        {
            "id": "urn:example:params:scim:schemas:Badge",
            "name": "Badge",
            "attributes": [
                {"name": "label", "type": "string", "required": True},
                {"name": "serial", "type": "string", "mutability": "immutable"},
                {
                    "name": "holder",
                    "type": "complex",
                    "subAttributes": [
                        {"name": "id", "type": "string", "mutability": "immutable"},
                        {"name": "name", "type": "string"},
                    ],
                },
            ],
        }
    ),
)


def badge(**extra: Any) -> dict[str, Any]:
    return {"schemas": [BADGES.schema.id], "id": "b1", "label": "Front desk", **extra}


def scim_type(error: SCIMError) -> str | None:
    return error.to_body().get("scimType")


@pytest.mark.parametrize(
    "operation",
    [
        {"op": "replace", "path": "id", "value": "other"},
        {"op": "remove", "path": "id"},
        {"op": "replace", "path": "meta.lastModified", "value": "2011-05-13T04:42:34Z"},
        {"op": "remove", "path": "meta"},
        {"op": "add", "path": "groups", "value": [{"value": "g"}]},
        {"op": "remove", "path": 'groups[value eq "g"]'},
    ],
)
def test_a_read_only_target_is_a_mutability_error(operation: dict[str, Any]):
    """§3.5.2: "a client MUST NOT modify an attribute that has mutability "readOnly"."""
    with pytest.raises(MutabilityError) as caught:
        apply_message(user(groups=[{"value": "g"}]), body(operation), USER)
    assert scim_type(caught.value) == "mutability"


def test_read_only_attributes_inside_a_pathless_value_are_ignored():
    """As in a POST body (RFC 7644 §3.3), readOnly attributes in a value are ignored."""
    stored = user()
    result = apply_message(
        stored, body({"op": "replace", "value": {"id": "x", "displayName": "B"}}), USER
    )
    assert result.resource["id"] == stored["id"]
    assert result.resource["displayName"] == "B"


class TestImmutable:
    """RFC 7643 §7 "immutable": may be set once (PATCH add included), never changed."""

    def test_add_when_unassigned_is_allowed(self):
        result = apply_message(
            badge(), body({"op": "add", "path": "serial", "value": "S1"}), BADGES
        )
        assert result.resource["serial"] == "S1"

    def test_writing_the_same_value_is_allowed(self):
        result = apply_message(
            badge(serial="S1"), body({"op": "replace", "path": "serial", "value": "S1"}), BADGES
        )
        assert not result.changed

    @pytest.mark.parametrize(
        "operation",
        [
            {"op": "replace", "path": "serial", "value": "S2"},
            {"op": "add", "path": "serial", "value": "S2"},
            {"op": "remove", "path": "serial"},
            {"op": "replace", "value": {"serial": "S2"}},
            {"op": "replace", "path": "holder.id", "value": "h2"},
            {"op": "remove", "path": "holder.id"},
            {"op": "add", "path": "holder", "value": {"id": "h2"}},
        ],
    )
    def test_changing_a_set_value_is_a_mutability_error(self, operation: dict[str, Any]):
        stored = badge(serial="S1", holder={"id": "h1", "name": "Ann"})
        with pytest.raises(MutabilityError):
            apply_message(stored, body(operation), BADGES)

    def test_changing_a_member_value_in_place_is_a_mutability_error(self):
        with pytest.raises(MutabilityError):
            apply_message(
                group(member(BABS)),
                body({"op": "replace", "path": f'members[value eq "{BABS}"].value', "value": "x"}),
                GROUP,
            )


@pytest.mark.parametrize(
    "operation",
    [
        {"op": "remove", "path": "userName"},
        {"op": "replace", "path": "userName", "value": None},
        {"op": "replace", "value": {"userName": None}},
    ],
)
def test_removing_a_required_attribute_is_a_mutability_error(operation: dict[str, Any]):
    """Removing a required attribute answers 400 "mutability" (RFC 7644 §3.5.2.2).

    RFC 7644 §3.5.2.2: "If an attribute is removed or becomes unassigned and is defined as a
    required attribute or a read-only attribute, the server SHALL return an HTTP response status
    code and a JSON detail error response as defined in Section 3.12, with a "scimType" error
    code of "mutability"." (not "invalidValue", which the validator uses when a create or replace
    body lacks a required attribute).
    """
    with pytest.raises(MutabilityError) as caught:
        apply_message(user(), body(operation), USER)
    assert caught.value.status == 400


def test_removing_a_required_group_display_name_is_a_mutability_error():
    with pytest.raises(MutabilityError):
        apply_message(group(), body({"op": "remove", "path": "displayName"}), GROUP)


@pytest.mark.parametrize(
    "path",
    [
        "nosuch",
        "name.nosuch",
        "displayName.value",
        'emails[type eq "work"].nosuch',
        'name[givenName eq "Barbara"]',
        'displayName[value eq "x"]',
        "emails.value",
        'emails[type eq "work"',
        "urn:ietf:params:scim:schemas:extension:unknown:2.0:User:badge",
        "",
        "   ",
    ],
)
def test_bad_paths_are_invalid_path(path: str):
    with pytest.raises(InvalidPath) as caught:
        apply_message(user(), body({"op": "replace", "path": path, "value": "x"}), USER)
    assert scim_type(caught.value) == "invalidPath"


def test_a_filter_on_an_unknown_sub_attribute_is_invalid_filter():
    """RFC 7644 §3.12 lists invalidFilter for PATCH path filters."""
    with pytest.raises(InvalidFilter):
        apply_message(user(), body({"op": "remove", "path": 'emails[nosuch eq "x"]'}), USER)


def test_remove_without_path_is_no_target():
    """§3.5.2.2: "If "path" is unspecified, the operation fails with ... "noTarget"."""
    with pytest.raises(NoTarget):
        apply_message(user(), body({"op": "remove"}), USER)


@pytest.mark.parametrize(
    "operation",
    [
        {"op": "replace", "path": 'emails[type eq "other"].value', "value": "x@example.com"},
        {"op": "replace", "path": 'emails[type eq "other"]', "value": {"value": "x@example.com"}},
        {"op": "add", "path": 'emails[type eq "other"].value', "value": "x@example.com"},
        {"op": "remove", "path": 'emails[type eq "other"]'},
        {"op": "remove", "path": 'emails[type eq "other"].display'},
    ],
)
def test_a_filter_matching_nothing_is_no_target(operation: dict[str, Any]):
    """§3.5.2.3: a value filter with no match: 400 "noTarget"."""
    with pytest.raises(NoTarget) as caught:
        apply_message(user(), body(operation), USER)
    assert scim_type(caught.value) == "noTarget"


@pytest.mark.parametrize(
    "operation",
    [
        {"op": "replace", "path": "active", "value": "yes"},
        {"op": "replace", "path": "active", "value": "True"},
        {"op": "add", "path": "name", "value": "Barbara"},
        {"op": "add", "path": "displayName", "value": ["a", "b"]},
        {"op": "add", "path": "displayName", "value": {"value": "a"}},
        {"op": "add", "path": "emails", "value": [{"nosuch": 1}]},
        {"op": "add", "path": "emails", "value": [{"value": ["a"]}]},
        {"op": "add", "path": "emails", "value": "x@example.com"},
        {"op": "add", "value": "displayName"},
        {"op": "add", "value": {"nosuch": 1}},
        {"op": "add", "value": {"name.givenName": "B"}},
        {"op": "replace", "path": "x509Certificates", "value": [{"value": "not base64!"}]},
    ],
)
def test_invalid_values_are_invalid_value(operation: dict[str, Any]):
    with pytest.raises(InvalidValue) as caught:
        apply_message(user(), body(operation), USER)
    assert scim_type(caught.value) == "invalidValue"


def test_remove_with_a_value_is_invalid_syntax_in_strict_mode():
    with pytest.raises(InvalidSyntax):
        apply_message(user(), body({"op": "remove", "path": "title", "value": "x"}), USER)
    result = apply_message(
        user(title="x"),
        body({"op": "remove", "path": "title", "value": "x"}),
        USER,
        tolerance=ENTRA,
    )
    assert "title" not in result.resource


def test_a_failing_operation_leaves_the_input_untouched_and_names_its_index():
    """A failed PATCH changes nothing.

    §3.5.2: "A PATCH request, regardless of the number of operations, SHALL be treated as
    atomic".
    """
    stored = user()
    before = frozen_copy(stored)
    with pytest.raises(NoTarget) as caught:
        apply_message(
            stored,
            body(
                {"op": "replace", "path": "displayName", "value": "B"},
                {"op": "remove", "path": "emails"},
                {"op": "remove", "path": 'addresses[type eq "home"]'},
            ),
            USER,
        )
    assert "Operations[2]" in caught.value.detail
    assert stored == before


def test_unsupported_body_types_are_invalid_syntax():
    with pytest.raises(InvalidSyntax):
        apply_message(user(), "not a body", USER)
