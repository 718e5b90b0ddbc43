"""Binding filters to resource types: resolution, the value sub-attribute, type checks."""

from __future__ import annotations

from datetime import datetime

import pytest
from hypothesis import given

from scimkit import (
    ENTRA,
    GROUP,
    STRICT,
    USER,
    AttrPath,
    BoundAnd,
    BoundCompare,
    BoundFilter,
    BoundNot,
    BoundPresent,
    BoundValuePath,
    CompareOp,
    Filter,
    InvalidFilter,
    Present,
    ValuePath,
    bind_filter,
    compile_filter,
    parse_filter,
)
from scimkit._filter import MAX_VALUE_FILTER_ALTERNATIVES, fold_case
from tests.filter.samples import ENTERPRISE, WIDGET, utc
from tests.filter.strategies import filters


def bound(text: str, resource_type=USER, tolerance=STRICT) -> BoundFilter:
    return bind_filter(parse_filter(text), resource_type, tolerance)


def leaf(text: str, resource_type=USER, tolerance=STRICT) -> BoundCompare:
    node = bound(text, resource_type, tolerance)
    assert isinstance(node, BoundCompare)
    return node


def rejected(text: str, resource_type=USER, tolerance=STRICT) -> InvalidFilter:
    with pytest.raises(InvalidFilter) as caught:
        bound(text, resource_type, tolerance)
    return caught.value


# -- resolution ------------------------------------------------------------------------------


def test_names_resolve_case_insensitively_to_canonical_refs() -> None:
    node = leaf('NAME.GIVENNAME eq "x"')
    assert node.ref.dotted == "name.givenName"
    assert leaf('urn:ietf:params:scim:schemas:core:2.0:User:USERNAME eq "x"').ref.dotted == (
        "userName"
    )


def test_extension_attributes() -> None:
    node = leaf(f'{ENTERPRISE}:employeeNumber eq "701984"')
    assert node.ref.extension and node.ref.keys == (ENTERPRISE, "employeeNumber")


def test_common_attributes_resolve_on_every_type() -> None:
    for resource_type in (USER, GROUP, WIDGET):
        assert leaf('id eq "x"', resource_type).ref.dotted == "id"
        assert leaf('meta.lastModified gt "2020-01-01T00:00:00Z"', resource_type).ref.dotted == (
            "meta.lastModified"
        )


def test_schemas_is_filterable() -> None:
    node = leaf(f'schemas eq "{ENTERPRISE}"')
    assert node.ref.dotted == "schemas" and node.value == fold_case(ENTERPRISE)


@pytest.mark.parametrize(
    ("text", "position", "detail"),
    [
        ('nickname2 eq "x"', 0, "unknown attribute 'nickname2' for User resources"),
        ('userName eq "x" and name.middle pr', 20, "'name' has no sub-attribute 'middle'"),
        ("userName.x pr", 0, "'userName' has no sub-attributes"),
        ('urn:example:Nope:attr eq "x"', 0, "unknown schema 'urn:example:Nope'"),
        ('emails[kind eq "work"]', 7, "'kind' is not a sub-attribute of 'emails'"),
        ('emails[emails.type eq "work"]', 7, "is not a sub-attribute of 'emails'"),
    ],
)
def test_unknown_attributes_are_rejected(text: str, position: int, detail: str) -> None:
    """Undefined attributes are a 400 rather than matching nothing (so a typo shows)."""
    error = rejected(text)
    assert detail in error.detail
    assert error.position == position


def test_never_returned_attributes_cannot_be_filtered() -> None:
    assert "never returned" in rejected('password eq "hunter2"').detail
    assert "never returned" in rejected("secret pr", WIDGET).detail


# -- complex attributes without a sub-attribute ----------------------------------------------


@pytest.mark.parametrize(
    ("text", "resource_type", "dotted"),
    [
        ('emails co "example.com"', USER, "emails.value"),
        ('members eq "2819c223"', GROUP, "members.value"),
        (f'{ENTERPRISE}:manager eq "26118915"', USER, f"{ENTERPRISE}:manager.value"),
    ],
)
def test_complex_attribute_compares_its_value(text: str, resource_type, dotted: str) -> None:
    assert leaf(text, resource_type).ref.dotted == dotted


def test_entra_membership_check() -> None:
    node = bound('id eq "g1" and members eq "u1"', GROUP)
    assert isinstance(node, BoundAnd)
    assert isinstance(node.right, BoundCompare) and node.right.value == "u1"  # caseExact


def test_complex_without_value_needs_a_sub_attribute() -> None:
    assert "compare one of its sub-attributes" in rejected('name eq "Barbara"').detail


def test_pr_on_a_complex_attribute_stays_on_the_attribute() -> None:
    node = bound("emails pr")
    assert isinstance(node, BoundPresent) and node.ref.sub_attribute is None


# -- operators and types ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "active gt true",
        "emails.primary ge false",
        'x509Certificates.value lt "YWJj"',
        'name gt "x"',  # complex, bound to no value sub-attribute
        "flag le true",
        'blob gt "AA=="',
    ],
)
def test_ordering_on_boolean_binary_complex_is_invalid(text: str) -> None:
    """RFC 7644 §3.4.2.2: ordering on Boolean and Binary attributes is invalidFilter.

    "Boolean and Binary attributes SHALL cause a failed response (HTTP status code 400) with
    "scimType" of "invalidFilter"."
    """
    resource_type = WIDGET if text.split()[0] in ("flag", "blob") else USER
    error = rejected(text, resource_type)
    assert error.scim_type == "invalidFilter"


@pytest.mark.parametrize("text", ['active co "t"', 'count sw "1"', 'born ew "Z"', 'blob co "A"'])
def test_substring_operators_need_strings(text: str) -> None:
    resource_type = USER if text.startswith("active") else WIDGET
    assert "needs a string attribute" in rejected(text, resource_type).detail


@pytest.mark.parametrize(
    "text",
    [
        "userName eq 5",
        "userName eq true",
        'active eq "true"',
        "active eq 1",
        'count eq "5"',
        "count eq 5.5",
        "count eq true",
        'score eq "1.5"',
        "born eq 5",
        "label eq false",
    ],
)
def test_literal_must_fit_the_attribute_type(text: str) -> None:
    resource_type = USER if text.startswith(("userName", "active")) else WIDGET
    assert "is not" in rejected(text, resource_type).detail


def test_integer_range_is_int64() -> None:
    assert leaf(f"count eq {2**63 - 1}", WIDGET).value == 2**63 - 1
    assert "out of range" in rejected(f"count eq {2**63}", WIDGET).detail


def test_decimal_takes_integers() -> None:
    node = leaf("score gt 2", WIDGET)
    assert node.value == 2.0 and isinstance(node.value, float)


def test_string_booleans_with_tolerance() -> None:
    node = bound('emails[primary eq "True"]', USER, ENTRA)
    assert isinstance(node, BoundValuePath)
    assert isinstance(node.filter, BoundCompare) and node.filter.value is True
    assert leaf('active eq "FALSE"', USER, ENTRA).value is False
    rejected('active eq "yes"', USER, ENTRA)


@pytest.mark.parametrize("op", ["co", "sw", "gt", "le"])
def test_null_only_with_eq_and_ne(op: str) -> None:
    assert "null can only be compared with eq or ne" in rejected(f"title {op} null").detail


def test_eq_null_is_not_present() -> None:
    """``eq null`` asks for an unassigned attribute: the same as ``not (attr pr)``."""
    assert bound("title eq null") == BoundNot(bound("title pr"))
    assert bound("title ne null") == bound("title pr")


# -- literal conversion ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("literal", "expected"),
    [
        ("2011-05-13T04:42:34Z", utc(2011, 5, 13, 4, 42, 34)),
        ("2011-05-13t04:42:34z", utc(2011, 5, 13, 4, 42, 34)),
        ("2011-05-13T06:42:34+02:00", utc(2011, 5, 13, 4, 42, 34)),
        ("2011-05-12T23:42:34.5-05:00", utc(2011, 5, 13, 4, 42, 34, 500000)),
        ("2011-05-13T04:42:34.1239999Z", utc(2011, 5, 13, 4, 42, 34, 123000)),
        ("2011-05-13T04:42:34", utc(2011, 5, 13, 4, 42, 34)),
    ],
)
def test_datetime_literals_become_utc_milliseconds(literal: str, expected: datetime) -> None:
    # "le" rounds a literal with digits below the millisecond down (see the next test).
    node = leaf(f'meta.created le "{literal}"')
    assert node.value == expected
    assert isinstance(node.value, datetime) and node.value.tzinfo is not None


@pytest.mark.parametrize(
    ("op", "expected"),
    [
        ("lt", "meta.created lt datetime.datetime(2011, 5, 13, 4, 42, 34, 124000, tzinfo="),
        ("ge", "meta.created ge datetime.datetime(2011, 5, 13, 4, 42, 34, 124000, tzinfo="),
        ("le", "meta.created le datetime.datetime(2011, 5, 13, 4, 42, 34, 123000, tzinfo="),
        ("gt", "meta.created gt datetime.datetime(2011, 5, 13, 4, 42, 34, 123000, tzinfo="),
        ("eq", "(meta.created pr and not (meta.created pr))"),
        ("ne", "(meta.created pr or not (meta.created pr))"),
    ],
)
def test_sub_millisecond_literals_round_per_operator(op: str, expected: str) -> None:
    """Stored dateTimes are whole milliseconds; a literal between two compares exactly."""
    assert str(bound(f'meta.created {op} "2011-05-13T04:42:34.1230001Z"')).startswith(expected)
    # Zeros below the millisecond change nothing.
    assert bound(f'meta.created {op} "2011-05-13T04:42:34.123000Z"') == bound(
        f'meta.created {op} "2011-05-13T04:42:34.123Z"'
    )


@pytest.mark.parametrize(
    "literal", ["yesterday", "2011-05-13", "2011-13-01T00:00:00Z", "2011-05-13T25:00:00Z", ""]
)
def test_bad_datetime_literals(literal: str) -> None:
    assert "RFC 3339" in rejected(f'meta.created gt "{literal}"').detail


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ('userName eq "BJensen"', "bjensen"),
        ('userName eq "STRASSE"', "strasse"),
        ('userName eq "straße"', "strasse"),
        ('displayName sw "\u0130stanbul"', "i\u0307stanbul"),
        ('displayName eq "Cafe\u0301"', "caf\u00e9"),  # NFC first
        ('id eq "AbC"', "AbC"),  # caseExact
        ('externalId eq "AbC"', "AbC"),
    ],
)
def test_case_insensitive_values_are_folded_once(text: str, value: str) -> None:
    assert leaf(text).value == value


def test_members_value_is_case_exact() -> None:
    assert leaf('members.value eq "AbC"', GROUP).value == "AbC"


# -- value filters ---------------------------------------------------------------------------


def test_value_filter_refs_carry_the_sub_attribute() -> None:
    node = bound('emails[type eq "work" and value co "@x"]')
    assert isinstance(node, BoundValuePath) and node.ref.dotted == "emails"
    assert isinstance(node.filter, BoundAnd)
    assert isinstance(node.filter.left, BoundCompare)
    assert node.filter.left.ref.dotted == "emails.type"


def test_value_filter_needs_a_complex_attribute() -> None:
    assert "not a complex attribute" in rejected('userName[value eq "x"]').detail
    assert "not a complex attribute" in rejected('name.givenName[value eq "x"]').detail


def test_value_filter_on_single_valued_complex_and_extension() -> None:
    node = bound(f'{ENTERPRISE}:manager[value eq "x"]')
    assert isinstance(node, BoundValuePath) and node.ref.extension


def test_hand_built_nested_value_paths_are_rejected() -> None:
    inner = ValuePath(AttrPath(None, "emails"), Present(AttrPath(None, "type")))
    with pytest.raises(InvalidFilter, match="cannot be nested"):
        bind_filter(ValuePath(AttrPath(None, "emails"), inner), USER)


def test_value_filter_complexity_is_limited() -> None:
    terms = " and ".join(f'(type eq "a{i}" or value eq "b{i}")' for i in range(6))
    assert bound(f"emails[{terms}]")  # 2**6 = 64 alternatives
    terms = " and ".join(f'(type eq "a{i}" or value eq "b{i}")' for i in range(7))
    error = rejected(f"emails[{terms}]")
    assert f"at most {MAX_VALUE_FILTER_ALTERNATIVES}" in error.detail


# -- cache -----------------------------------------------------------------------------------


def test_compile_filter_caches_per_type_and_tolerance() -> None:
    text = 'userName sw "cache@example.com"'
    assert compile_filter(text, USER) is compile_filter(text, USER)
    assert compile_filter(text, USER, ENTRA) is not compile_filter(text, USER)
    assert compile_filter(text, USER, ENTRA) == compile_filter(text, USER)


def test_bound_nodes_render_readably() -> None:
    text = 'userName eq "X" and not (emails[type eq "work"] or title pr)'
    assert str(compile_filter(text, USER)) == (
        "(userName eq 'x' and not ((emails[emails.type eq 'work'] or title pr)))"
    )
    node = compile_filter("count gt 5", WIDGET)
    assert isinstance(node, BoundCompare) and node.op is CompareOp.GT


@given(filters())
def test_any_tree_binds_or_fails_with_invalid_filter(node: Filter) -> None:
    try:
        bind_filter(node, USER, ENTRA)
    except InvalidFilter:
        pass


def test_unqualified_extension_names_bind_only_under_tolerance() -> None:
    """entra-requests §4.1: the old manager check `id eq X and manager eq Y` names no URN."""
    text = 'id eq "54D382A4" and manager eq "2819c223"'
    with pytest.raises(InvalidFilter):
        compile_filter(text, USER)
    bound = compile_filter(text, USER, ENTRA)
    assert isinstance(bound, BoundAnd)
    right = bound.right
    assert isinstance(right, BoundCompare)
    assert right.ref.dotted == (
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value"
    )


# The 11 code points where NFC-then-casefold was not a canonical caseless match (Unicode
# §3.13 D145): their full upper-case forms (several code points) fold differently.
CASEFOLD_BREAKS_NORMALIZATION = "\u0390\u03b0\u1fb7\u1fc7\u1fd2\u1fd3\u1fd7\u1fe2\u1fe3\u1fe7\u1ff7"


@pytest.mark.parametrize("char", CASEFOLD_BREAKS_NORMALIZATION)
def test_fold_case_is_a_canonical_caseless_match(char: str) -> None:
    import unicodedata

    def d145(text: str) -> str:
        return unicodedata.normalize("NFD", unicodedata.normalize("NFD", text).casefold())

    for other in (char.upper(), unicodedata.normalize("NFD", char.upper()), char.title()):
        assert d145(char) == d145(other)
        assert fold_case(char) == fold_case(other)
    assert fold_case(fold_case(char)) == fold_case(char)
    # The folded form stays composed: substring filters never match half a character.
    assert fold_case("É\u0390") == unicodedata.normalize("NFC", fold_case("É\u0390"))
