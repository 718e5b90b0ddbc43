"""Sub-attribute values the engine checks itself, and the attributes it leaves to the validator.

An attribute changed only by values the validator would take as they are (``Target.leaf``) is
not walked again (``WorkingCopy.checked``); any other write leaves it to ``validate_patched``.
The property test holds both walks equal on random operations.
"""

from __future__ import annotations

from typing import Any

import pytest

from scimkit import ENTRA, STRICT, USER, SCIMError, apply_patch, parse_patch
from scimkit._patch._working_copy import WorkingCopy
from tests.patch.support import body, frozen_copy, user


def working(*operations: dict[str, Any], tolerance: Any = STRICT) -> WorkingCopy:
    copy = WorkingCopy(user(), USER, tolerance, True)
    for operation in parse_patch(body(*operations), tolerance):
        copy.apply(operation)
    return copy


@pytest.mark.parametrize(
    ("path", "value"),
    [("name.familyName", "Doe"), ('emails[type eq "work"].value', "b@example.com")],
)
def test_a_string_written_into_stored_records_is_checked_by_the_engine(path: str, value: str):
    copy = working({"op": "replace", "path": path, "value": value})
    assert copy.checked == copy.owned == {path.partition(".")[0].partition("[")[0]}


@pytest.mark.parametrize(
    "operation",
    [
        {"op": "replace", "path": 'emails[type eq "work"].primary', "value": True},  # primary
        {"op": "replace", "path": 'emails[type eq "work"].value', "value": 5},  # wrong type
        {"op": "remove", "path": "name.familyName"},
        {"op": "add", "path": 'emails[type eq "other"].value', "value": "o@x"},  # creates
        {"op": "replace", "path": 'emails[type eq "work"]', "value": {"value": "w@x"}},
        {"op": "replace", "path": "name", "value": {"familyName": "Doe"}},
        {"op": "replace", "value": {"name.familyName": "Doe"}},  # path-less
    ],
)
def test_any_other_write_leaves_the_attribute_to_the_validator(operation: dict[str, Any]):
    copy = working(operation, tolerance=ENTRA)
    assert copy.owned and copy.checked == set()


def test_one_unchecked_write_makes_the_whole_attribute_walked():
    copy = working(
        {"op": "replace", "path": "name.familyName", "value": "Doe"},
        {"op": "replace", "path": "name.givenName", "value": 7},
    )
    assert copy.owned == {"name"} and copy.checked == set()


def test_a_wrong_type_is_refused_as_the_validator_refuses_it():
    with pytest.raises(SCIMError, match="must be a string"):
        apply_patch(
            user(),
            parse_patch(body({"op": "replace", "path": "name.familyName", "value": 7})),
            USER,
        )


def test_the_result_shares_no_record_with_the_input():
    stored = user()
    before = frozen_copy(stored)
    operation = {"op": "replace", "path": 'emails[type eq "work"].value', "value": "b@x"}
    result = apply_patch(stored, parse_patch(body(operation)), USER)
    assert result.resource["emails"] == [
        {"value": "b@x", "type": "work", "primary": True},
        {"value": "babs@jensen.org", "type": "home"},
    ]
    for new, old in zip(result.resource["emails"], stored["emails"], strict=True):
        assert new is not old
    assert stored == before
