"""RFC 7644 §3.5.2 add / remove / replace on every kind of path, in strict mode."""

from __future__ import annotations

from typing import Any

import pytest

from scimkit import ENTRA, STRICT, USER, USER_SCHEMA, Tolerance
from tests.patch.support import ENTERPRISE, apply_message, body, frozen_copy, user

CORE = USER_SCHEMA.id


def test_sub_attribute_paths_add_replace_and_remove():
    stored = user()
    result = apply_message(
        stored,
        body(
            {"op": "add", "path": "name.middleName", "value": "Jane"},
            {"op": "replace", "path": "name.givenName", "value": "Babs"},
            {"op": "remove", "path": "name.formatted"},
        ),
        USER,
    )
    assert result.resource["name"] == {
        "familyName": "Jensen",
        "givenName": "Babs",
        "middleName": "Jane",
    }
    assert result.changed_attributes == {"name"}


def test_removing_the_last_sub_attribute_unassigns_the_complex_attribute():
    stored = user(name={"givenName": "Barbara"})
    result = apply_message(stored, body({"op": "remove", "path": "name.givenName"}), USER)
    assert "name" not in result.resource


def test_sub_attribute_of_an_absent_complex_attribute_creates_it():
    stored = user()
    del stored["name"]
    result = apply_message(
        stored, body({"op": "replace", "path": "name.givenName", "value": "B"}), USER
    )
    assert result.resource["name"] == {"givenName": "B"}


def test_names_are_case_insensitive_and_written_canonically():
    """RFC 7643 §2.1: attribute names are case-insensitive."""
    result = apply_message(
        user(),
        body(
            {"op": "replace", "path": "DISPLAYNAME", "value": "Babs"},
            {"op": "replace", "path": "Name.GIVENNAME", "value": "B"},
            {"op": "replace", "path": 'EMAILS[TYPE eq "work"].Value', "value": "b@example.com"},
            {"op": "add", "value": {"NICKNAME": "bb", "Name": {"FamilyName": "J"}}},
        ),
        USER,
    )
    resource = result.resource
    assert resource["displayName"] == "Babs"
    assert resource["nickName"] == "bb"
    assert resource["name"]["givenName"] == "B"
    assert resource["name"]["familyName"] == "J"
    assert resource["emails"][0]["value"] == "b@example.com"


def test_urn_qualified_paths_for_core_and_extension_attributes():
    result = apply_message(
        user(),
        body(
            {"op": "replace", "path": f"{CORE}:displayName", "value": "Babs"},
            {"op": "add", "path": f"{ENTERPRISE}:employeeNumber", "value": "701984"},
            {
                "op": "add",
                "path": f"{ENTERPRISE}:manager.value",
                "value": "26118915-6090-4610-87e4-49d8ca9f808d",
            },
        ),
        USER,
    )
    assert result.resource["displayName"] == "Babs"
    assert result.resource[ENTERPRISE] == {
        "employeeNumber": "701984",
        "manager": {"value": "26118915-6090-4610-87e4-49d8ca9f808d"},
    }
    assert result.resource["schemas"] == [CORE, ENTERPRISE]
    assert result.changed_attributes == {"displayName", ENTERPRISE, "schemas"}


def test_removing_the_last_extension_attribute_drops_the_extension_and_its_urn():
    stored = user(**{ENTERPRISE: {"employeeNumber": "1"}}, schemas=[CORE, ENTERPRISE])
    result = apply_message(
        stored, body({"op": "remove", "path": f"{ENTERPRISE}:employeeNumber"}), USER
    )
    assert ENTERPRISE not in result.resource
    assert result.resource["schemas"] == [CORE]


def test_pathless_value_with_an_extension_object_is_rfc_form():
    """RFC 7643 §3.3: extension attributes nest under the extension URN, in PATCH values too."""
    result = apply_message(
        user(), body({"op": "add", "value": {ENTERPRISE: {"department": "Tour Operations"}}}), USER
    )
    assert result.resource[ENTERPRISE] == {"department": "Tour Operations"}


def test_add_and_replace_on_a_complex_attribute_merge_sub_attributes():
    """§3.5.2.1 and §3.5.2.3: sub-attributes not in the value are left unchanged."""
    for op in ("add", "replace"):
        result = apply_message(
            user(), body({"op": op, "path": "name", "value": {"middleName": "J"}}), USER
        )
        assert result.resource["name"] == {
            "formatted": "Ms. Barbara J Jensen III",
            "familyName": "Jensen",
            "givenName": "Barbara",
            "middleName": "J",
        }


def test_a_null_sub_attribute_in_a_merge_unassigns_it():
    """RFC 7643 §2.5: null is equivalent to unassigned."""
    result = apply_message(
        user(), body({"op": "replace", "value": {"name": {"formatted": None}}}), USER
    )
    assert "formatted" not in result.resource["name"]


def test_replace_of_an_absent_attribute_acts_as_add():
    """Replace of an absent attribute adds it, in strict mode too.

    §3.5.2.3: "If the target location path specifies an attribute that does not exist, the
    service provider SHALL treat the operation as an "add"."
    """
    result = apply_message(
        user(), body({"op": "replace", "path": "title", "value": "Tour Guide"}), USER
    )
    assert result.resource["title"] == "Tour Guide"


def test_add_to_a_multi_valued_attribute_accepts_a_lone_value():
    result = apply_message(
        user(),
        body(
            {
                "op": "add",
                "path": "phoneNumbers",
                "value": {"value": "555-555-8377", "type": "work"},
            }
        ),
        USER,
    )
    assert result.resource["phoneNumbers"] == [{"value": "555-555-8377", "type": "work"}]


def test_add_with_a_value_filter_merges_into_matching_records():
    result = apply_message(
        user(),
        body({"op": "add", "path": 'emails[type eq "home"]', "value": {"display": "Home"}}),
        USER,
    )
    assert result.resource["emails"][1] == {
        "value": "babs@jensen.org",
        "type": "home",
        "display": "Home",
    }


def test_remove_a_sub_attribute_of_matching_records():
    result = apply_message(
        user(), body({"op": "remove", "path": 'emails[type eq "work"].primary'}), USER
    )
    assert result.resource["emails"][0] == {"value": "bjensen@example.com", "type": "work"}


@pytest.mark.parametrize("tolerance", [STRICT, ENTRA], ids=["strict", "entra"])
@pytest.mark.parametrize(
    "operation",
    [
        {"op": "remove", "path": 'emails[type eq "work"].value'},
        {"op": "replace", "path": 'emails[type eq "work"].value', "value": None},
        {"op": "add", "path": 'emails[type eq "work"]', "value": {"value": None}},
    ],
)
def test_a_multi_valued_record_left_without_its_value_is_removed(
    operation: dict[str, Any], tolerance: Tolerance
):
    """A stray ``{"type": "work", "primary": true}`` is no e-mail address: the record goes."""
    result = apply_message(user(), body(operation), USER, tolerance=tolerance)
    assert result.resource["emails"] == [{"value": "babs@jensen.org", "type": "home"}]


def test_a_record_losing_its_only_value_removes_the_attribute():
    stored = user(emails=[{"value": "b@example.com", "type": "work"}])
    result = apply_message(
        stored, body({"op": "remove", "path": 'emails[type eq "work"].value'}), USER
    )
    assert "emails" not in result.resource


def test_records_without_a_value_sub_attribute_keep_their_other_sub_attributes():
    result = apply_message(
        user(), body({"op": "remove", "path": 'addresses[type eq "work"].locality'}), USER
    )
    assert result.resource["addresses"][0]["streetAddress"] == "100 Universal City Plaza"
    assert "locality" not in result.resource["addresses"][0]


def test_remove_of_an_absent_attribute_is_a_no_op():
    result = apply_message(user(), body({"op": "remove", "path": "nickName"}), USER)
    assert not result.changed


class TestPrimary:
    """§3.5.2: setting "primary" to true on one value sets it to false on the others."""

    def test_adding_a_primary_value_clears_the_old_primary(self):
        result = apply_message(
            user(),
            body(
                {
                    "op": "add",
                    "path": "emails",
                    "value": [{"value": "b@new.example", "type": "other", "primary": True}],
                }
            ),
            USER,
        )
        emails = result.resource["emails"]
        assert [e.get("primary") for e in emails] == [False, None, True]

    def test_setting_primary_by_filter_clears_the_other(self):
        result = apply_message(
            user(),
            body({"op": "replace", "path": 'emails[type eq "home"].primary', "value": True}),
            USER,
        )
        assert [e.get("primary") for e in result.resource["emails"]] == [False, True]

    def test_two_primaries_in_one_value_are_refused(self):
        from scimkit import InvalidValue

        with pytest.raises(InvalidValue):
            apply_message(
                user(),
                body(
                    {
                        "op": "replace",
                        "path": "emails",
                        "value": [
                            {"value": "a@x.example", "primary": True},
                            {"value": "b@x.example", "primary": True},
                        ],
                    }
                ),
                USER,
            )


def test_operations_apply_in_order():
    result = apply_message(
        user(),
        body(
            {"op": "remove", "path": "externalId"},
            {"op": "add", "value": {"externalId": "A"}},
            {"op": "replace", "value": {"externalId": "B"}},
        ),
        USER,
    )
    assert result.resource["externalId"] == "B"


def test_a_patch_that_changes_nothing_reports_no_change():
    stored = user()
    result = apply_message(
        stored,
        body(
            {"op": "replace", "path": "displayName", "value": "Babs Jensen"},
            {
                "op": "add",
                "path": "emails",
                "value": [{"value": "babs@jensen.org", "type": "home"}],
            },
            {"op": "replace", "path": "title", "value": "T"},
            {"op": "remove", "path": "title"},
        ),
        USER,
    )
    assert not result.changed
    assert result.changed_attributes == frozenset()
    assert result.resource == stored


def test_the_input_is_never_modified_and_the_result_shares_nothing_with_it():
    stored = user(**{ENTERPRISE: {"manager": {"value": "m"}}}, schemas=[CORE, ENTERPRISE])
    before = frozen_copy(stored)
    result = apply_message(
        stored,
        body(
            {"op": "replace", "path": "name.givenName", "value": "B"},
            {"op": "add", "path": "emails", "value": [{"value": "c@x.example", "primary": True}]},
            {"op": "replace", "path": f"{ENTERPRISE}:manager.value", "value": "n"},
        ),
        USER,
    )
    assert stored == before
    result.resource["meta"]["version"] = 'W/"changed"'
    result.resource["addresses"][0]["type"] = "home"
    result.resource["name"]["familyName"] = "X"
    assert stored == before


def test_datetime_values_survive_unchanged():
    stored = user()
    result = apply_message(stored, body({"op": "replace", "path": "title", "value": "x"}), USER)
    assert result.resource["meta"] == stored["meta"]
