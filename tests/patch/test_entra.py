"""Entra ID's PATCH dialects (entra-quirks.md §A), each with the body Entra sends.

Bodies are quoted from ``entra-requests.md`` §4–§6; every one applies under the ENTRA tolerance
and the non-RFC ones are refused in strict mode with the right scimType.
"""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path
from typing import Any

import pytest

from scimkit import (
    ENTRA,
    GROUP,
    STRICT,
    USER,
    InvalidPath,
    InvalidSyntax,
    InvalidValue,
    MemberDelta,
    NoTarget,
    SCIMError,
    Tolerance,
)
from tests.patch.support import (
    ENTERPRISE,
    FCC,
    FCC_USER,
    apply_message,
    bare_user,
    group,
    member,
    user,
)

GROUP_MEMBER = "f648f8d5ea4e4cd38e9c"
FLAG_MEMBER = "7f4bc1a3-285e-48ae-8202-5accb43efb0e"


def entra(resource: dict[str, Any], message: dict[str, Any], resource_type=FCC_USER, **kwargs: Any):
    return apply_message(resource, message, resource_type, tolerance=ENTRA, **kwargs)


def strict_error(
    resource: dict[str, Any], message: dict[str, Any], resource_type=FCC_USER
) -> SCIMError:
    with pytest.raises(SCIMError) as caught:
        apply_message(resource, message, resource_type, tolerance=STRICT)
    return caught.value


def only(tolerance: Tolerance, **switches: bool) -> Tolerance:
    return tolerance.with_(**switches)


# -- §4.1 default job ------------------------------------------------------------------------

D1_MULTI_VALUED: dict[str, Any] = {
    "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
    "Operations": [
        {
            "op": "Replace",
            "path": 'emails[type eq "work"].value',
            "value": "updatedEmail@microsoft.com",
        },
        {"op": "Replace", "path": "name.familyName", "value": "updatedFamilyName"},
    ],
}


def test_d1_replace_multi_valued_and_sub_attribute():
    result = entra(user(), D1_MULTI_VALUED)
    assert result.resource["emails"][0] == {
        "value": "updatedEmail@microsoft.com",
        "type": "work",
        "primary": True,
    }
    assert result.resource["name"]["familyName"] == "updatedFamilyName"


def test_d1_capitalised_op_is_refused_in_strict_mode():
    """entra-quirks §A.1; RFC 7644 §3.5.2 spells the ops "add", "remove", "replace"."""
    assert strict_error(user(), D1_MULTI_VALUED).scim_type == "invalidSyntax"


def test_d1_replace_single_valued():
    message = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [
            {
                "op": "Replace",
                "path": "userName",
                "value": "5b50642d-79fc-4410-9e90-4c077cdd1a59@testuser.com",
            }
        ],
    }
    assert (
        entra(user(), message).resource["userName"]
        == "5b50642d-79fc-4410-9e90-4c077cdd1a59@testuser.com"
    )


D2_REPLACE_SEVERAL: dict[str, Any] = {
    "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
    "Operations": [
        {"op": "Replace", "path": "displayName", "value": "Pvlo"},
        {
            "op": "Replace",
            "path": 'emails[type eq "work"].value',
            "value": "TestBcwqnm@test.microsoft.com",
        },
        {"op": "Replace", "path": "name.givenName", "value": "Gtfd"},
        {"op": "Replace", "path": "name.familyName", "value": "Pkqf"},
        {"op": "Replace", "path": "externalId", "value": "Eqpj"},
        {
            "op": "Replace",
            "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber",
            "value": "Eqpj",
        },
    ],
}


def test_d2_replace_several_attributes_on_a_bare_user():
    """The work e-mail does not exist yet: Entra expects it created (entra-quirks §A.4)."""
    result = entra(bare_user(), D2_REPLACE_SEVERAL)
    resource = result.resource
    assert resource["displayName"] == "Pvlo"
    assert resource["emails"] == [{"type": "work", "value": "TestBcwqnm@test.microsoft.com"}]
    assert resource["name"] == {"givenName": "Gtfd", "familyName": "Pkqf"}
    assert resource["externalId"] == "Eqpj"
    assert resource[ENTERPRISE] == {"employeeNumber": "Eqpj"}
    assert ENTERPRISE in resource["schemas"]


def test_add_nick_name():
    message = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "Add", "path": "nickName", "value": "Babs"}],
    }
    assert entra(user(), message).resource["nickName"] == "Babs"


I7_MIXED: dict[str, Any] = {
    "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
    "Operations": [
        {"op": "Replace", "path": 'emails[type eq "work"].value', "value": "ann@contoso.com"},
        {
            "op": "Replace",
            "path": 'addresses[type eq "work"].formatted',
            "value": "1 Main St, Springfield",
        },
        {
            "op": "Add",
            "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
            "value": "Sales",
        },
    ],
}


def test_i7_replace_filtered_paths_and_add_extension_attribute():
    result = entra(bare_user(), I7_MIXED)
    assert result.resource["emails"] == [{"type": "work", "value": "ann@contoso.com"}]
    assert result.resource["addresses"] == [{"type": "work", "formatted": "1 Main St, Springfield"}]
    assert result.resource[ENTERPRISE] == {"department": "Sales"}


@pytest.mark.parametrize(
    "operation",
    [
        {"op": "add", "path": 'emails[type eq "work"].value', "value": "ann@contoso.com"},
        {"op": "Add", "path": 'emails[type eq "work"].value', "value": "ann@contoso.com"},
        {"op": "Replace", "path": 'phoneNumbers[type eq "work"].value', "value": "+1 555 0100"},
    ],
)
def test_filtered_path_matching_nothing_creates_the_element(operation: dict[str, Any]):
    """I8/I10 (Add) and I9 (Replace): "answering 400 noTarget stalls the user"."""
    message = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [operation],
    }
    result = entra(bare_user(), message)
    attribute = operation["path"].split("[")[0]
    assert result.resource[attribute] == [{"type": "work", "value": operation["value"]}]
    lower = dict(operation, op=operation["op"].lower())
    error = strict_error(bare_user(), {"schemas": message["schemas"], "Operations": [lower]})
    assert isinstance(error, NoTarget)


def test_filter_creation_needs_an_eq_conjunction():
    message = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [
            {"op": "add", "path": 'emails[type ne "work"].value', "value": "a@b.example"}
        ],
    }
    with pytest.raises(NoTarget):
        entra(bare_user(), message)


@pytest.mark.parametrize(
    "path",
    [
        'emails[type eq "probe-none"].value',
        'emails[value eq "a@b.example"].display',
        'emails[type eq "probe-none" and primary eq true].value',
        'addresses[type eq "office"].locality',
    ],
)
@pytest.mark.parametrize("op", ["add", "replace"])
def test_filter_creation_needs_a_canonical_type(op: str, path: str):
    """Entra creates only its mapped types; any other filter keeps RFC 7644 §3.5.2.3's noTarget."""
    message = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": op, "path": path, "value": "x"}],
    }
    with pytest.raises(NoTarget):
        entra(bare_user(), message)


@pytest.mark.parametrize(
    ("path", "created"),
    [
        ('phoneNumbers[type eq "mobile"].value', {"type": "mobile", "value": "x"}),
        ('emails[type eq "Other"].value', {"type": "Other", "value": "x"}),
        ('addresses[type eq "home"].locality', {"type": "home", "locality": "x"}),
    ],
)
def test_filter_creation_takes_each_canonical_value_of_the_schema(
    path: str, created: dict[str, Any]
):
    """The canonical values are the schema's, matched as the sub-attribute's caseExact says."""
    message = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "path": path, "value": "x"}],
    }
    attribute = path.split("[")[0]
    assert entra(bare_user(), message).resource[attribute] == [created]


def test_filter_creation_from_several_eq_conditions_keeps_literal_types():
    message = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [
            {
                "op": "replace",
                "path": 'emails[type eq "work" and primary eq true].value',
                "value": "a@b.example",
            }
        ],
    }
    result = entra(bare_user(), message)
    assert result.resource["emails"] == [{"type": "work", "primary": True, "value": "a@b.example"}]


FCC_STRINGS: dict[str, Any] = {
    "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
    "Operations": [
        {
            "op": "Replace",
            "path": "urn:ietf:params:scim:schemas:extension:fcc:2.0:User:administrator",
            "value": "True",
        },
        {
            "op": "Add",
            "path": "urn:ietf:params:scim:schemas:extension:fcc:2.0:User:loginDisabled",
            "value": "False",
        },
    ],
}


def test_fcc_extension_paths_with_string_booleans():
    result = entra(user(), FCC_STRINGS)
    assert result.resource[FCC] == {"administrator": True, "loginDisabled": False}
    assert result.resource["schemas"][-1] == FCC


def test_string_booleans_are_refused_in_strict_mode():
    """entra-quirks §A.2; RFC 7643 §2.3.2: a Boolean is the JSON literal true or false."""
    lower = {
        "schemas": FCC_STRINGS["schemas"],
        "Operations": [dict(o, op=o["op"].lower()) for o in FCC_STRINGS["Operations"]],
    }
    error = strict_error(user(), lower)
    assert isinstance(error, InvalidValue)
    assert apply_message(
        user(), lower, FCC_USER, tolerance=only(STRICT, string_booleans=True)
    ).changed


MANAGER_ARRAY: dict[str, Any] = {
    "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
    "Operations": [
        {
            "op": "Add",
            "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
            "value": [
                {
                    "$ref": "http://.../scim/Users/00aa00aa-bb11-cc22-dd33-44ee44ee44ee",
                    "value": "00aa00aa-bb11-cc22-dd33-44ee44ee44ee",
                }
            ],
        }
    ],
}


def test_manager_as_a_legacy_value_array():
    """D1/D13 Example 5 (with the URN-qualified path Entra has used since 2018, D2)."""
    result = entra(user(), MANAGER_ARRAY)
    assert result.resource[ENTERPRISE]["manager"] == {
        "value": "00aa00aa-bb11-cc22-dd33-44ee44ee44ee",
        "$ref": "http://.../scim/Users/00aa00aa-bb11-cc22-dd33-44ee44ee44ee",
    }


def test_manager_value_array_is_refused_in_strict_mode():
    lower = {
        "schemas": MANAGER_ARRAY["schemas"],
        "Operations": [dict(MANAGER_ARRAY["Operations"][0], op="add")],
    }
    assert isinstance(strict_error(user(), lower), InvalidValue)


def test_manager_by_its_unqualified_name():
    """D1/D13 Example 5 exactly as printed: ``"path": "manager"``, no extension URN."""
    printed = {
        "schemas": MANAGER_ARRAY["schemas"],
        "Operations": [dict(MANAGER_ARRAY["Operations"][0], op="add", path="manager")],
    }
    result = entra(user(), printed)
    assert result.resource[ENTERPRISE]["manager"]["value"] == (
        "00aa00aa-bb11-cc22-dd33-44ee44ee44ee"
    )
    assert isinstance(strict_error(user(), printed), InvalidPath)
    alone = only(STRICT, unqualified_extension_paths=True, patch_value_arrays=True)
    assert apply_message(user(), printed, FCC_USER, tolerance=alone).changed
    # A core attribute of that name always wins over an extension's.
    title = {
        "schemas": MANAGER_ARRAY["schemas"],
        "Operations": [{"op": "add", "path": "title", "value": "Boss"}],
    }
    assert entra(user(), title).resource["title"] == "Boss"


def test_manager_as_a_bare_id_and_empty_string_to_clear():
    """entra-quirks §A.12: the validator sends the manager id as a string, and "" to clear it."""
    path = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager"
    set_body = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [
            {"op": "replace", "path": path, "value": "26118915-6090-4610-87e4-49d8ca9f808d"}
        ],
    }
    result = entra(user(), set_body)
    assert result.resource[ENTERPRISE] == {
        "manager": {"value": "26118915-6090-4610-87e4-49d8ca9f808d"}
    }
    clear_body = {
        "schemas": set_body["schemas"],
        "Operations": [{"op": "replace", "path": path, "value": ""}],
    }
    assert ENTERPRISE not in entra(result.resource, clear_body).resource
    assert isinstance(strict_error(user(), set_body), InvalidValue)


def test_roles_add_with_a_json_string_value():
    message: dict[str, Any] = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [
            {
                "op": "Add",
                "path": "roles",
                "value": [
                    {
                        "value": (
                            '{"id":"06b07648-ecfe-589f-9d2f-6325724a46ee",'
                            '"value":"25","displayName":"Role1234"}'
                        )
                    }
                ],
            }
        ],
    }
    result = entra(user(), message)
    assert result.resource["roles"] == message["Operations"][0]["value"]


# -- §4.2 aadOptscim062020 ---------------------------------------------------------------------

D2_FLAG: dict[str, Any] = {
    "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
    "Operations": [
        {
            "op": "replace",
            "path": 'emails[type eq "work"].value',
            "value": "TestMhvaes@test.microsoft.com",
        },
        {
            "op": "replace",
            "value": {
                "displayName": "Bjfe",
                "name.givenName": "Kkom",
                "name.familyName": "Unua",
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber": "Aklq",
            },
        },
    ],
}


def test_d2_flag_pathless_replace_with_dotted_and_urn_keys():
    """Dotted keys go into "name", not to a literal top-level key (entra-quirks §A.3)."""
    result = entra(user(), D2_FLAG)
    resource = result.resource
    assert resource["emails"][0]["value"] == "TestMhvaes@test.microsoft.com"
    assert resource["displayName"] == "Bjfe"
    assert resource["name"] == {
        "formatted": "Ms. Barbara J Jensen III",
        "givenName": "Kkom",
        "familyName": "Unua",
    }
    assert resource[ENTERPRISE] == {"employeeNumber": "Aklq"}
    assert "name.givenName" not in resource


def test_dotted_and_urn_keys_are_refused_in_strict_mode():
    error = strict_error(user(), D2_FLAG)
    assert isinstance(error, InvalidValue)
    assert "name.givenName" in error.detail
    urn_only = {
        "schemas": D2_FLAG["schemas"],
        "Operations": [
            {
                "op": "replace",
                "value": {f"{ENTERPRISE}:employeeNumber": "Aklq"},
            }
        ],
    }
    assert isinstance(strict_error(user(), urn_only), InvalidValue)


def test_pathless_add_with_dotted_keys():
    """I1/I4: path-less add with name.givenName, name.familyName, name.formatted, title."""
    message = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [
            {
                "op": "add",
                "value": {
                    "name.givenName": "Ann",
                    "name.familyName": "Lee",
                    "name.formatted": "Ann Lee",
                    "displayName": "Ann Lee",
                    "title": "CTO",
                },
            }
        ],
    }
    result = entra(bare_user(), message)
    assert result.resource["name"] == {
        "givenName": "Ann",
        "familyName": "Lee",
        "formatted": "Ann Lee",
    }
    assert result.resource["title"] == "CTO"


def test_fcc_pathless_replace():
    message = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [
            {
                "op": "replace",
                "value": {
                    "name.givenName": "Alice",
                    "name.formatted": "Alice Jansen",
                    "urn:ietf:params:scim:schemas:extension:fcc:2.0:User:administrator": True,
                },
            }
        ],
    }
    result = entra(user(), message)
    assert result.resource["name"]["givenName"] == "Alice"
    assert result.resource["name"]["formatted"] == "Alice Jansen"
    assert result.resource[FCC] == {"administrator": True}


# -- §4.3 SCIM Validator ---------------------------------------------------------------------


def test_validator_update_user_name_without_path():
    message = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "value": {"userName": "delpha@mullerwintheiser.biz"}}],
    }
    assert entra(user(), message).resource["userName"] == "delpha@mullerwintheiser.biz"


VALIDATOR_REPLACE_ATTRIBUTES: dict[str, Any] = {
    "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
    "Operations": [
        {"op": "replace", "path": "emails[primary eq true].value", "value": "noemi@hartmann.uk"},
        {"op": "replace", "path": "phoneNumbers[primary eq true].value", "value": "+1 555 0199"},
        {"op": "replace", "path": "addresses[primary eq true].formatted", "value": "9 Lane, Ely"},
        {"op": "replace", "path": "addresses[primary eq true].streetAddress", "value": "9 Lane"},
        {"op": "replace", "path": "addresses[primary eq true].locality", "value": "Ely"},
        {"op": "replace", "path": "addresses[primary eq true].region", "value": "Cambs"},
        {"op": "replace", "path": "addresses[primary eq true].postalCode", "value": "CB7 4AA"},
        {"op": "replace", "path": "addresses[primary eq true].country", "value": "UK"},
        {
            "op": "replace",
            "value": {
                "externalId": "1d8a8e5e-3c53-4b2c-8d36-0d7d1f0f2fd1",
                "name.formatted": "Noemi Hartmann",
                "name.familyName": "Hartmann",
                "name.givenName": "Noemi",
                "name.middleName": "Q",
                "name.honorificPrefix": "Dr.",
                "name.honorificSuffix": "PhD",
                "displayName": "Noemi",
                "nickName": "No",
                "profileUrl": "https://example.com/noemi",
                "title": "Engineer",
                "userType": "Employee",
                "preferredLanguage": "en-GB",
                "locale": "en-GB",
                "timezone": "Europe/London",
                "active": True,
            },
        },
    ],
}


def test_validator_replace_attributes():
    """The validator GETs the user afterwards and fails each value that is missing."""
    stored = user(phoneNumbers=[{"value": "+1 555 0100", "type": "work", "primary": True}])
    resource = entra(stored, VALIDATOR_REPLACE_ATTRIBUTES).resource
    assert resource["emails"][0]["value"] == "noemi@hartmann.uk"
    assert resource["phoneNumbers"][0]["value"] == "+1 555 0199"
    assert resource["addresses"][0]["country"] == "UK"
    assert resource["addresses"][0]["postalCode"] == "CB7 4AA"
    assert resource["name"] == {
        "formatted": "Noemi Hartmann",
        "familyName": "Hartmann",
        "givenName": "Noemi",
        "middleName": "Q",
        "honorificPrefix": "Dr.",
        "honorificSuffix": "PhD",
    }
    for key in (
        "displayName",
        "nickName",
        "profileUrl",
        "title",
        "userType",
        "preferredLanguage",
        "locale",
        "timezone",
    ):
        assert resource[key] == VALIDATOR_REPLACE_ATTRIBUTES["Operations"][-1]["value"][key]


def test_validator_multiple_operations_on_different_attributes():
    message = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [
            {"op": "remove", "path": "nickName"},
            {"op": "add", "value": {"externalId": "6a5b2cd1-1111-4c2b-9a0e-5e1f0b7c9d01"}},
            {"op": "replace", "value": {"displayName": "Cleo"}},
        ],
    }
    resource = entra(user(nickName="C"), message).resource
    assert "nickName" not in resource
    assert resource["externalId"] == "6a5b2cd1-1111-4c2b-9a0e-5e1f0b7c9d01"
    assert resource["displayName"] == "Cleo"


def test_validator_multiple_operations_on_the_same_attribute():
    """entra-quirks §A.9: applied in order, the final value wins (RFC 7644 §3.5.2, strict too)."""
    message = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [
            {"op": "remove", "path": "externalId"},
            {"op": "add", "value": {"externalId": "A"}},
            {"op": "replace", "value": {"externalId": "B"}},
        ],
    }
    assert entra(user(), message).resource["externalId"] == "B"
    assert apply_message(user(), message, FCC_USER, tolerance=STRICT).resource["externalId"] == "B"


def test_validator_add_attributes_to_a_user_without_emails():
    """V2: add on a filtered path for a user created without e-mails, plus dotted name keys."""
    message = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [
            {"op": "add", "path": 'emails[type eq "work"].value', "value": "lyla@kshlerin.name"},
            {"op": "add", "value": {"name.givenName": "Lyla", "name.familyName": "Kshlerin"}},
        ],
    }
    resource = entra(bare_user(), message).resource
    assert resource["emails"] == [{"type": "work", "value": "lyla@kshlerin.name"}]
    assert resource["name"] == {"givenName": "Lyla", "familyName": "Kshlerin"}


# -- §4.4 legacy customappsso -----------------------------------------------------------------

LEGACY: dict[str, Any] = {
    "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
    "Operations": [
        {"op": "Replace", "path": "name.givenName", "value": [{"$ref": None, "value": "X"}]},
        {"op": "Replace", "path": "displayName", "value": [{"$ref": None, "value": "X"}]},
    ],
}


def test_legacy_value_arrays_for_single_valued_attributes():
    resource = entra(user(), LEGACY).resource
    assert resource["name"]["givenName"] == "X"
    assert resource["displayName"] == "X"


def test_legacy_value_arrays_are_refused_in_strict_mode():
    lower = {
        "schemas": LEGACY["schemas"],
        "Operations": [dict(o, op="replace") for o in LEGACY["Operations"]],
    }
    assert isinstance(strict_error(user(), lower), InvalidValue)


# -- §5.1 disable -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("operation", "expected"),
    [
        ({"op": "Replace", "path": "active", "value": "False"}, False),
        ({"op": "replace", "path": "active", "value": False}, False),
        ({"op": "Replace", "path": "active", "value": False}, False),
        ({"op": "Replace", "path": "active", "value": "false"}, False),
        ({"op": "Replace", "path": "active", "value": "True"}, True),
        ({"op": "Replace", "path": "active", "value": True}, True),
    ],
)
def test_disable_and_enable(operation: dict[str, Any], expected: bool):
    message = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [operation],
    }
    stored = user(active=not expected)
    assert entra(stored, message).resource["active"] is expected


def test_disabling_an_already_disabled_user_changes_nothing():
    message = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "Replace", "path": "active", "value": "False"}],
    }
    assert not entra(user(active=False), message).changed


# -- §6 groups --------------------------------------------------------------------------------


def test_group_replace_display_name():
    message = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [
            {
                "op": "Replace",
                "path": "displayName",
                "value": "1879db59-3bdf-4490-ad68-ab880a269474updatedDisplayName",
            }
        ],
    }
    result = entra(group(), message, GROUP, members_loaded=False)
    assert (
        result.resource["displayName"] == "1879db59-3bdf-4490-ad68-ab880a269474updatedDisplayName"
    )
    assert not result.member_delta


@pytest.mark.parametrize(
    "value",
    [{"displayName": "ADSHOEMEQYJL"}, {"externalId": "9a2c03ee-3c1b-4f7e-b8a9-2d0c5a5e6f10"}],
)
def test_group_validator_pathless_replace(value: dict[str, Any]):
    message = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "replace", "value": value}],
    }
    resource = entra(group(), message, GROUP, members_loaded=False).resource
    assert resource.items() >= value.items()


MEMBER_ADD: dict[str, Any] = {
    "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
    "Operations": [
        {"op": "Add", "path": "members", "value": [{"$ref": None, "value": "f648f8d5ea4e4cd38e9c"}]}
    ],
}
MEMBER_REMOVE: dict[str, Any] = {
    "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
    "Operations": [
        {
            "op": "Remove",
            "path": "members",
            "value": [{"$ref": None, "value": "f648f8d5ea4e4cd38e9c"}],
        }
    ],
}
MEMBER_REMOVE_D2: dict[str, Any] = {
    "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
    "Operations": [{"op": "Remove", "path": "members", "value": [{"value": "u1091"}]}],
}
MEMBER_REMOVE_FLAG: dict[str, Any] = {
    "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
    "Operations": [
        {"op": "remove", "path": 'members[value eq "7f4bc1a3-285e-48ae-8202-5accb43efb0e"]'}
    ],
}


@pytest.mark.parametrize("members_loaded", [False, True])
def test_member_add_with_null_ref(members_loaded: bool):
    """entra-quirks §A.7: "$ref": null is literal; null is unassigned (RFC 7643 §2.5)."""
    result = entra(group(), MEMBER_ADD, GROUP, members_loaded=members_loaded)
    assert result.member_delta.added == ({"value": GROUP_MEMBER},)
    lower = {
        "schemas": MEMBER_ADD["schemas"],
        "Operations": [dict(MEMBER_ADD["Operations"][0], op="add")],
    }
    strict = apply_message(group(), lower, GROUP, tolerance=STRICT, members_loaded=members_loaded)
    assert strict.member_delta.added == ({"value": GROUP_MEMBER},)


@pytest.mark.parametrize("members_loaded", [False, True])
def test_member_add_is_idempotent(members_loaded: bool):
    """entra-quirks §A.8: Entra re-sends adds for members already present."""
    stored = group(member(GROUP_MEMBER))
    result = entra(stored, MEMBER_ADD, GROUP, members_loaded=members_loaded)
    if members_loaded:
        assert not result.changed
    assert apply_delta({GROUP_MEMBER}, result.member_delta) == {GROUP_MEMBER}


@pytest.mark.parametrize(
    ("message", "ident"), [(MEMBER_REMOVE, GROUP_MEMBER), (MEMBER_REMOVE_D2, "u1091")]
)
@pytest.mark.parametrize("members_loaded", [False, True])
def test_member_remove_with_a_value_array(
    message: dict[str, Any], ident: str, members_loaded: bool
):
    stored = group(member(ident), member(FLAG_MEMBER))
    result = entra(stored, message, GROUP, members_loaded=members_loaded)
    assert result.member_delta == MemberDelta(removed=(ident,))
    lower = {
        "schemas": message["schemas"],
        "Operations": [dict(message["Operations"][0], op="remove")],
    }
    with pytest.raises(InvalidSyntax):
        apply_message(stored, lower, GROUP, tolerance=STRICT, members_loaded=members_loaded)


@pytest.mark.parametrize("members_loaded", [False, True])
def test_member_remove_flag_form(members_loaded: bool):
    stored = group(member(GROUP_MEMBER), member(FLAG_MEMBER))
    for tolerance in (ENTRA, STRICT):
        result = apply_message(
            stored, MEMBER_REMOVE_FLAG, GROUP, tolerance=tolerance, members_loaded=members_loaded
        )
        assert result.member_delta == MemberDelta(removed=(FLAG_MEMBER,))


def test_validator_replace_members_then_add_and_remove_the_same_member():
    seed = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [
            {
                "op": "replace",
                "path": "members",
                "value": [{"value": GROUP_MEMBER}, {"value": FLAG_MEMBER}],
            }
        ],
    }
    seeded = entra(group(), seed, GROUP)
    assert [m["value"] for m in seeded.resource["members"]] == [GROUP_MEMBER, FLAG_MEMBER]
    same = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [
            {
                "op": "add",
                "path": "members",
                "value": [{"value": "d1c0a9a2-0b7e-4b5e-9a3f-2f3b7d6a1c55"}],
            },
            {"op": "remove", "path": 'members[value eq "d1c0a9a2-0b7e-4b5e-9a3f-2f3b7d6a1c55"]'},
        ],
    }
    for members_loaded in (True, False):
        result = entra(seeded.resource, same, GROUP, members_loaded=members_loaded)
        assert apply_delta({GROUP_MEMBER, FLAG_MEMBER}, result.member_delta) == {
            GROUP_MEMBER,
            FLAG_MEMBER,
        }


def test_entra_group_adds_several_members_in_one_operation():
    message = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [
            {
                "op": "Add",
                "path": "members",
                "value": [
                    {"$ref": None, "value": "a1"},
                    {"$ref": None, "value": "b2"},
                    {"$ref": None, "value": "c3"},
                ],
            }
        ],
    }
    result = entra(group(), message, GROUP, members_loaded=False)
    assert [m["value"] for m in result.member_delta.added] == ["a1", "b2", "c3"]


MS_REFERENCE_MEMBERS: dict[str, Any] = {
    "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
    "Operations": [
        {"op": "add", "path": "members", "value": [{"value": GROUP_MEMBER, "displayName": "Ann"}]}
    ],
}


@pytest.mark.parametrize("members_loaded", [True, False])
def test_member_display_name_from_microsofts_reference_code(members_loaded: bool):
    result = entra(group(), MS_REFERENCE_MEMBERS, GROUP, members_loaded=members_loaded)
    expected = {"value": GROUP_MEMBER, "display": "Ann"}
    if members_loaded:
        assert result.resource["members"] == [expected]
    assert result.member_delta.added == (expected,)
    with pytest.raises(InvalidValue, match="displayName"):
        apply_message(group(), MS_REFERENCE_MEMBERS, GROUP, tolerance=STRICT)
    alone = STRICT.with_(member_display_name=True)
    assert apply_message(group(), MS_REFERENCE_MEMBERS, GROUP, tolerance=alone).member_delta == (
        result.member_delta
    )


def test_member_display_name_beside_display_is_invalid():
    message = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [
            {
                "op": "add",
                "path": "members",
                "value": [{"value": GROUP_MEMBER, "display": "A", "displayName": "B"}],
            }
        ],
    }
    with pytest.raises(InvalidValue):
        entra(group(), message, GROUP, members_loaded=False)


def apply_delta(members: set[str], delta: MemberDelta) -> set[str]:
    if delta.replace:
        return {m["value"] for m in delta.added}
    return (members - set(delta.removed)) | {m["value"] for m in (*delta.added, *delta.rewritten)}


# -- one switch at a time ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("switch", "message", "resource"),
    [
        ("patch_op_any_case", D1_MULTI_VALUED, user),
        (
            "patch_dotted_keys",
            {"schemas": D2_FLAG["schemas"], "Operations": [D2_FLAG["Operations"][1]]},
            user,
        ),
        (
            "patch_filter_creates",
            {
                "schemas": D2_FLAG["schemas"],
                "Operations": [
                    {"op": "add", "path": 'emails[type eq "work"].value', "value": "a@b.example"}
                ],
            },
            bare_user,
        ),
        (
            "patch_value_arrays",
            {
                "schemas": LEGACY["schemas"],
                "Operations": [dict(LEGACY["Operations"][1], op="replace")],
            },
            user,
        ),
    ],
)
def test_each_switch_alone_admits_its_shape(switch: str, message: dict[str, Any], resource: Any):
    with pytest.raises(SCIMError):
        apply_message(resource(), message, FCC_USER, tolerance=STRICT)
    apply_message(resource(), message, FCC_USER, tolerance=STRICT.with_(**{switch: True}))


def test_replace_absent_adds_appends_for_a_non_eq_filter():
    message = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [
            {
                "op": "replace",
                "path": 'emails[value co "@old.example"]',
                "value": {"value": "new@new.example", "type": "work"},
            }
        ],
    }
    with pytest.raises(NoTarget):
        apply_message(bare_user(), message, USER, tolerance=STRICT)
    result = apply_message(
        bare_user(), message, USER, tolerance=STRICT.with_(patch_replace_absent_adds=True)
    )
    assert result.resource["emails"] == [{"value": "new@new.example", "type": "work"}]


DOCS = Path(__file__).parents[2] / "docs"


@pytest.mark.parametrize("switch", [f.name for f in fields(Tolerance)])
def test_every_switch_is_on_in_entra_off_in_strict_and_documented(switch: str):
    assert getattr(ENTRA, switch) is True
    assert getattr(STRICT, switch) is False
    documented = (DOCS / "patch.md").read_text() + (DOCS / "filters.md").read_text()
    assert f"`{switch}`" in documented


def test_an_unquoted_filter_word_creates_the_element_with_its_text():
    """`emails[type eq work].value` (Microsoft's unquoted shape) creates a plain-string type."""
    from scimkit import ENTRA, USER, apply_patch, parse_patch

    body = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [
            {"op": "replace", "path": "emails[type eq work].value", "value": "a@example.com"}
        ],
    }
    resource = {"schemas": [USER.schema.id], "id": "1", "userName": "a", "meta": {}}
    result = apply_patch(resource, parse_patch(body, ENTRA), USER, tolerance=ENTRA)
    [email] = result.resource["emails"]
    assert email == {"type": "work", "value": "a@example.com"}
    assert type(email["type"]) is str
