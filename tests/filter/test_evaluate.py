"""In-memory evaluation: RFC 7644 §3.4.2.2 semantics, and the §3.4.2.3 sort order."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from scimkit._builtin import USER
from scimkit._errors import InvalidValue
from scimkit._filter import compile_filter, matches, sort_resources, sort_value
from tests.filter.samples import ENTERPRISE, WIDGET, utc


def check(text: str, resource: dict[str, Any], resource_type=USER) -> bool:
    return matches(compile_filter(text, resource_type), resource)


# -- multi-valued attributes -----------------------------------------------------------------

EMAILS = {
    "emails": [
        {"value": "a@example.com", "type": "work"},
        {"value": "b@example.org", "type": "home", "primary": True},
        {"type": "other"},
    ]
}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('emails.value eq "b@example.org"', True),
        ('emails.value eq "c@example.org"', False),
        ('emails.type eq "home"', True),
        ("emails.primary eq true", True),
        ("emails.primary eq false", False),
        ('emails co "example.org"', True),
        ('emails.value ew ".com"', True),
        ('emails.value gt "b"', True),
        ('emails.value lt "a"', False),
        # ne is "not eq": true only when no value equals.
        ('emails.value ne "a@example.com"', False),
        ('emails.value ne "zzz"', True),
        ('emails.type ne "other"', False),
    ],
)
def test_multi_valued_matches_if_any_value_matches(text: str, expected: bool) -> None:
    """RFC 7644 §3.4.2.2: a multi-valued attribute matches if any value matches.

    "the filter matches if any of the values of the specified attribute match the specified
    criterion"
    """
    assert check(text, EMAILS) is expected


def test_value_path_needs_one_element_with_all_properties() -> None:
    assert check('emails[type eq "home" and value ew ".org"]', EMAILS)
    assert not check('emails[type eq "work" and value ew ".org"]', EMAILS)
    assert check('emails.type eq "work" and emails.value ew ".org"', EMAILS)


def test_value_path_negation_is_per_element() -> None:
    # Some email is not of type work (the home one), although one is.
    assert check('emails[not (type eq "work")]', EMAILS)
    assert not check('not (emails[type eq "work"])', EMAILS)
    # The element without a value: "not (value pr)" holds for it.
    assert check("emails[not (value pr)]", EMAILS)
    assert check('emails[value ne "x"]', EMAILS)


def test_value_path_on_single_valued_complex() -> None:
    user = {"name": {"givenName": "Barbara", "familyName": "Jensen"}}
    assert check('name[givenName eq "barbara" and familyName sw "J"]', user)
    assert not check('name[givenName eq "barbara" and familyName sw "X"]', user)
    assert check("name[not (middleName pr)]", user)
    assert not check("name[not (middleName pr)]", {})


# -- missing attributes, ne, not, pr ---------------------------------------------------------


def test_missing_attribute() -> None:
    assert not check('title eq "x"', {})
    assert check('title ne "x"', {})
    assert check('not (title eq "x")', {})
    assert not check('title gt "a"', {})
    assert not check('emails.value ne "x"', EMAILS | {"emails": [{"value": "x"}]})
    assert check('emails.value ne "x"', {})


@pytest.mark.parametrize(
    ("resource", "present"),
    [
        ({}, False),
        ({"title": None}, False),
        ({"title": ""}, False),
        ({"title": "x"}, True),
        ({"emails": []}, False),
        ({"emails": [{}]}, False),
        ({"emails": [{"value": None, "type": ""}]}, False),
        ({"emails": [{"primary": False}]}, True),
        ({"name": {}}, False),
        ({"name": {"givenName": ""}}, False),
        ({"name": {"givenName": "B"}}, True),
        ({"active": False}, True),
    ],
)
def test_pr(resource: dict[str, Any], present: bool) -> None:
    """RFC 7644 §3.4.2.2 ``pr``, and ``eq null`` as its negation.

    "If the attribute has a non-empty or non-null value, or if it contains a non-empty node
    for complex attributes, there is a match."
    """
    attribute = next(iter(resource), "title")
    assert check(f"{attribute} pr", resource) is present
    assert check(f"{attribute} eq null", resource) is not present


def test_extension_attributes() -> None:
    user = {ENTERPRISE: {"manager": {"value": "M1"}, "department": "Tour"}}
    assert check(f'{ENTERPRISE}:manager eq "M1"', user)
    assert not check(f'{ENTERPRISE}:manager eq "m1"', user)  # manager.value is caseExact
    assert check(f'{ENTERPRISE}:department eq "TOUR"', user)
    assert check(f"{ENTERPRISE}:manager pr", user)
    assert not check(f"{ENTERPRISE}:costCenter pr", user)
    assert not check(f'{ENTERPRISE}:department eq "Tour"', {ENTERPRISE: "not an object"})


# -- case and Unicode ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("stored", "text"),
    [
        ("BJensen@Example.COM", 'userName eq "bjensen@example.com"'),
        ("straße", 'userName eq "STRASSE"'),
        ("STRASSE", 'userName eq "straße"'),
        ("Straße", 'userName sw "stras"'),
        ("\u0130stanbul", 'userName eq "i\u0307stanbul"'),
        ("Caf\u00e9", 'userName eq "CAFE\u0301"'),
        ("ΣΊΣΥΦΟΣ", 'userName eq "σίσυφος"'),
    ],
)
def test_case_insensitive_strings_compare_folded(stored: str, text: str) -> None:
    assert check(text, {"userName": stored})


def test_case_exact_strings_compare_exactly() -> None:
    assert check('id eq "AbC"', {"id": "AbC"})
    assert not check('id eq "abc"', {"id": "AbC"})
    assert check('externalId sw "Ab"', {"externalId": "AbC"})
    assert not check('externalId sw "ab"', {"externalId": "AbC"})


def test_string_order_is_code_point_order_of_folded_values() -> None:
    assert check('userName gt "a"', {"userName": "B"})  # "b" > "a"
    assert not check('userName gt "b"', {"userName": "B"})
    assert check('id gt "a"', {"id": "b"})
    assert not check('id gt "a"', {"id": "B"})  # "B" < "a" in code point order
    assert check('userName lt "z"', {"userName": "é"}) is False  # "é" > "z"


# -- numbers, dates, types -------------------------------------------------------------------


def test_numbers_and_dates() -> None:
    widget = {"count": 5, "score": 2.5, "born": utc(2020, 1, 1, 12)}
    assert check("count gt 4 and count le 5", widget, WIDGET)
    assert check("score ge 2.5 and score lt 3", widget, WIDGET)
    assert check("score gt 2", widget, WIDGET)
    assert check('born gt "2020-01-01T11:59:59.999Z"', widget, WIDGET)
    assert check('born eq "2020-01-01T13:00:00+01:00"', widget, WIDGET)
    assert not check('born lt "2020-01-01T12:00:00Z"', widget, WIDGET)


def test_dates_compare_at_millisecond_precision() -> None:
    widget = {"born": datetime(2020, 1, 1, 12, 0, 0, 999_999, tzinfo=UTC)}
    assert check('born eq "2020-01-01T12:00:00.999Z"', widget, WIDGET)
    naive = {"born": datetime(2020, 1, 1, 12)}  # naive values are taken as UTC
    assert check('born eq "2020-01-01T12:00:00Z"', naive, WIDGET)


def test_values_of_the_wrong_type_never_match() -> None:
    assert not check("count eq 1", {"count": True}, WIDGET)
    assert not check("count gt 0", {"count": "5"}, WIDGET)
    assert not check("flag eq true", {"flag": 1}, WIDGET)
    assert not check('born gt "2000-01-01T00:00:00Z"', {"born": "2020-01-01T00:00:00Z"}, WIDGET)
    assert not check('label co "1"', {"label": 123}, WIDGET)
    assert check('label ne "1"', {"label": 1}, WIDGET)


def test_multi_valued_simple_attribute() -> None:
    widget = {"tags": ["Red", "blue"]}
    assert check('tags eq "RED"', widget, WIDGET)
    assert check('tags ne "green"', widget, WIDGET)
    assert not check('tags ne "BLUE"', widget, WIDGET)
    assert check("tags pr", widget, WIDGET)
    assert not check("tags pr", {"tags": ["", None]}, WIDGET)


# -- sort ------------------------------------------------------------------------------------


def ref(text: str, resource_type=USER):
    found = resource_type.resolve_path(text)
    assert found is not None
    return found


def test_sort_missing_last_ascending_first_descending() -> None:
    """RFC 7644 §3.4.2.3: resources without a value sort last ascending, first descending.

    "if there is no data for the specified "sortBy" value, they are sorted via the "sortOrder"
    parameter, i.e., they are ordered last if ascending and first if descending"
    """
    users = [
        {"id": "1", "title": "b"},
        {"id": "2"},
        {"id": "3", "title": "A"},
        {"id": "4", "title": ""},
    ]
    ascending = [u["id"] for u in sort_resources(users, ref("title"))]
    descending = [u["id"] for u in sort_resources(users, ref("title"), descending=True)]
    assert ascending == ["3", "1", "2", "4"]
    assert descending == ["2", "4", "1", "3"]


def test_sort_multi_valued_by_primary_else_first() -> None:
    """RFC 7644 §3.4.2.3: multi-valued attributes sort by the primary value, else the first.

    "resources are sorted by the value of the primary attribute, if any, or else the first
    value in the list, if any"
    """
    primary = {"emails": [{"value": "z@x"}, {"value": "A@x", "primary": True}]}
    first = {"emails": [{"value": "M@x"}, {"value": "b@x"}]}
    assert sort_value(primary, ref("emails.value")) == "a@x"
    assert sort_value(first, ref("emails")) == "m@x"
    assert sort_value({"emails": [{"type": "work"}]}, ref("emails")) is None


def test_sort_is_stable_and_case_aware() -> None:
    users = [{"id": str(i), "userName": name} for i, name in enumerate(["b", "B", "a", "A"])]
    assert [u["id"] for u in sort_resources(users, ref("userName"))] == ["2", "3", "0", "1"]
    ids = [{"id": v} for v in ["b", "B", "a"]]
    assert [u["id"] for u in sort_resources(ids, ref("id"))] == ["B", "a", "b"]


def test_sort_by_complex_without_value_is_invalid() -> None:
    with pytest.raises(InvalidValue):
        sort_value({}, ref("name"))
    with pytest.raises(InvalidValue):
        sort_value({}, ref("password"))


# A literal with digits below the millisecond compares at its own precision with stored values
# (milliseconds): no stored value equals 12:00:00.1235, which lies between .123 and .124.
_BORN = "2020-01-01T12:00:00"
_LITERALS = [".1235", ".1225", ".1230", ".123", ".1230001", ".1229999", ".9999", ".0001", ""]
_STORED_MS = [122, 123, 124, 0, 999]


def _exactly(stored_ms: int, op: str, fraction: str) -> bool:
    """``op`` on exact decimal fractions of the second (the stored value has whole ms)."""
    left, right = Decimal(stored_ms) / 1000, Decimal("0" + (fraction or ".0"))
    return {
        "eq": left == right,
        "ne": left != right,
        "gt": left > right,
        "ge": left >= right,
        "lt": left < right,
        "le": left <= right,
    }[op]


@pytest.mark.parametrize("fraction", _LITERALS)
@pytest.mark.parametrize("op", ["eq", "ne", "gt", "ge", "lt", "le"])
def test_dates_compare_at_the_literal_precision(op: str, fraction: str) -> None:
    for stored_ms in _STORED_MS:
        widget = {"born": datetime(2020, 1, 1, 12, 0, 0, stored_ms * 1000, tzinfo=UTC)}
        text = f'born {op} "{_BORN}{fraction}Z"'
        assert check(text, widget, WIDGET) is _exactly(stored_ms, op, fraction), (text, stored_ms)


def test_sub_millisecond_literal_from_the_issue() -> None:
    user = {"meta": {"created": datetime(2020, 1, 1, 12, 0, 0, 123000, tzinfo=UTC)}}
    assert check('meta.created lt "2020-01-01T12:00:00.1235Z"', user)
    assert not check('meta.created ge "2020-01-01T12:00:00.1235Z"', user)
    assert not check('meta.created eq "2020-01-01T12:00:00.1235Z"', user)
    assert check('meta.created ne "2020-01-01T12:00:00.1235Z"', user)
    assert check('meta.created eq "2020-01-01T12:00:00.12300Z"', user)
