"""Unquoted filter values (Microsoft's SCIM reference implementation): a tolerance, never RFC.

``externalId eq jyoung``, ``userName sw O``, ``meta.created gt 2015-10-10T14:38:21.8617979-07:00``
bind under ``Tolerance.unquoted_filter_values`` (on in ``ENTRA``) as if quoted, read against the
attribute's type; ``STRICT`` answers 400 ``invalidFilter`` saying the value needs quotes.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scimkit import ENTRA, STRICT, USER, InvalidFilter, Tolerance
from scimkit._filter import (
    AttrPath,
    BoundFilter,
    Compare,
    CompareOp,
    bind_filter,
    compile_filter,
    matches,
    parse_filter,
)
from tests.filter.samples import WIDGET

TOLERANT = STRICT.with_(unquoted_filter_values=True)


def long_way(text: str, resource_type=USER, tolerance: Tolerance = ENTRA) -> BoundFilter:
    return bind_filter(parse_filter(text), resource_type, tolerance)


def refused(text: str, resource_type=USER, tolerance: Tolerance = STRICT) -> InvalidFilter:
    with pytest.raises(InvalidFilter) as caught:
        compile_filter(text, resource_type, tolerance)
    assert caught.value.to_body()["scimType"] == "invalidFilter"
    return caught.value


@pytest.mark.parametrize(
    ("unquoted", "quoted"),
    [
        # The three shapes of the issue, as Microsoft's reference implementation sends them.
        ("externalId eq jyoung", 'externalId eq "jyoung"'),
        ("userName sw O", 'userName sw "O"'),
        (
            "meta.created gt 2015-10-10T14:38:21.8617979-07:00",
            'meta.created gt "2015-10-10T14:38:21.8617979-07:00"',
        ),
        # A string attribute reads the value as written, whatever it looks like.
        ("externalId eq 701984", 'externalId eq "701984"'),
        ("externalId eq 007", 'externalId eq "007"'),
        ("externalId eq 1.50", 'externalId eq "1.50"'),
        ("externalId eq TRUE", 'externalId eq "TRUE"'),
        ("externalId eq 5abc", 'externalId eq "5abc"'),
        ("userName eq john.doe@example.com", 'userName eq "john.doe@example.com"'),
        ("userName eq O'Brien", 'userName eq "O\'Brien"'),
        ("userName eq and", 'userName eq "and"'),
        (
            "id eq 2819c223-7f76-453a-919d-413861904646",
            'id eq "2819c223-7f76-453a-919d-413861904646"',
        ),
        # Inside brackets, parentheses and logic; the match filter form; extension paths.
        (
            "emails[type eq work and value co @example.com]",
            'emails[type eq "work" and value co "@example.com"]',
        ),
        ('emails[type eq work].value eq "x"', 'emails[type eq "work"].value eq "x"'),
        ("emails[type eq work].value ne x", 'emails[type eq "work"].value ne "x"'),
        ("(userName eq a) or not (title pr)", '(userName eq "a") or not (title pr)'),
        ("userName eq a\tor userName eq b", 'userName eq "a" or userName eq "b"'),
        (
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq 42",
            'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber eq "42"',
        ),
        # null stays unassigned (RFC 7643 §2.5), a Boolean stays Boolean, JSON numbers stay
        # numbers where the attribute is numeric.
        ("title eq null", "title eq null"),
        ("title eq NULL", "title eq null"),
        ("active eq True", "active eq true"),
        ("emails[primary eq FALSE]", "emails[primary eq false]"),
    ],
)
def test_unquoted_values_bind_as_if_quoted(unquoted: str, quoted: str) -> None:
    for tolerance in (ENTRA, TOLERANT):
        expected = long_way(quoted, USER, tolerance)
        assert long_way(unquoted, USER, tolerance) == expected
        assert compile_filter(unquoted, USER, tolerance) == expected


def test_entra_manager_check_from_its_old_documentation() -> None:
    """DOC D13: ``id eq <guid> and manager eq <guid>``, both GUIDs unquoted."""
    unquoted = (
        "id eq 54D382A4-2050-4C03-94D1-E769F1D15682 and "
        "manager eq 2819c223-7f76-453a-919d-413861904646"
    )
    quoted = (
        'id eq "54D382A4-2050-4C03-94D1-E769F1D15682" and '
        'manager eq "2819c223-7f76-453a-919d-413861904646"'
    )
    assert compile_filter(unquoted, USER, ENTRA) == compile_filter(quoted, USER, ENTRA)
    assert (
        "double quotes"
        in refused(unquoted, USER, STRICT.with_(unqualified_extension_paths=True)).detail
    )


@pytest.mark.parametrize(
    ("unquoted", "quoted"),
    [
        ("count eq 5", "count eq 5"),
        ("score gt 2.5", "score gt 2.5"),
        ("born le 2020-01-01T12:00:00Z", 'born le "2020-01-01T12:00:00Z"'),
        ("code eq AbC", 'code eq "AbC"'),  # caseExact: kept as written
        ("label eq AbC", 'label eq "abc"'),  # caseExact=false: folded
        ("link eq https://example.com/x", 'link eq "https://example.com/x"'),
        ("blob eq QUJD", 'blob eq "QUJD"'),
    ],
)
def test_unquoted_values_follow_the_attribute_type(unquoted: str, quoted: str) -> None:
    assert long_way(unquoted, WIDGET) == long_way(quoted, WIDGET, STRICT)


@pytest.mark.parametrize(
    ("text", "detail"),
    [
        ("count eq five", "is not an integer"),
        ("count eq 007", "is not an integer"),
        ("score eq 1.5.5", "is not a number"),
        ("flag eq yes", "is not true or false"),
        ("born gt yesterday", "RFC 3339"),
    ],
)
def test_unquoted_values_invalid_for_the_type_are_refused(text: str, detail: str) -> None:
    assert detail in refused(text, WIDGET, ENTRA).detail


@pytest.mark.parametrize(
    "text",
    [
        "externalId eq jyoung",
        "userName sw O",
        "meta.created gt 2015-10-10T14:38:21.8617979-07:00",
        "externalId eq 007",
        "externalId eq 5abc",
        'emails[type eq work].value eq "x"',
    ],
)
def test_strict_refuses_unquoted_values_saying_to_quote_them(text: str) -> None:
    error = refused(text)
    assert "double quotes" in error.detail
    assert error.position is not None


def test_strict_error_names_the_value_and_its_quoted_form() -> None:
    detail = refused("meta.created gt 2015-10-10T14:38:21.8617979-07:00").detail
    assert '"2015-10-10T14:38:21.8617979-07:00"' in detail


def test_json_literals_written_unquoted_are_rfc_and_unchanged_in_strict() -> None:
    assert compile_filter("title eq null", USER) == compile_filter("not (title pr)", USER)
    assert compile_filter("active eq TRUE", USER) == compile_filter("active eq true", USER)
    assert "a string in double quotes" in refused("externalId eq 701984").detail


@pytest.mark.parametrize(
    ("text", "position", "detail"),
    [
        ("userName eq", 11, "expected a value"),
        ("userName eq )", 12, "expected a value"),
        ("userName eq a b", 14, "expected 'and', 'or' or the end"),
        ("userName eq a and", 17, "expected an attribute name"),
        ("(userName eq a", 14, "expected ')'"),
        ("emails[type eq a", 16, "expected ']'"),
        ('userName eq a"b"', 13, "expected 'and', 'or' or the end"),
        ("userName eq 'x'", 12, "strings must be in double quotes"),
        ("userName eq 1e999", 12, "out of range"),
        ("userName eq a\udc80", 12, "unpaired surrogate"),
        ("userName eq a eq b", 14, "expected 'and', 'or' or the end"),
    ],
)
def test_malformed_filters_are_still_refused(text: str, position: int, detail: str) -> None:
    for tolerance in (STRICT, ENTRA):
        error = refused(text, USER, tolerance)
        assert error.position == position, error.detail
        assert detail in error.detail


def test_unquoted_literal_round_trips_and_differs_from_the_quoted_one() -> None:
    node = parse_filter("externalId eq jyoung")
    assert isinstance(node, Compare)
    assert parse_filter(str(node)) == node
    assert node != parse_filter('externalId eq "jyoung"')
    assert str(node) == "externalId eq jyoung"
    assert node == Compare(AttrPath(None, "externalId"), CompareOp.EQ, node.value)


def test_unquoted_values_match_in_memory() -> None:
    user = {
        "externalId": "jyoung",
        "userName": "Olivia",
        "emails": [{"type": "work", "value": "x"}],
    }
    assert matches(compile_filter("externalId eq jyoung", USER, ENTRA), user)
    assert matches(compile_filter("userName sw o", USER, ENTRA), user)
    assert not matches(compile_filter("emails[type eq work].value ne x", USER, ENTRA), user)


_BARE = st.text(
    st.characters(exclude_characters=' \t\r\n()[]"\\', exclude_categories=("Cs", "Cc")),
    min_size=1,
    max_size=10,
).filter(lambda word: not word.startswith("'"))


@settings(max_examples=300, deadline=None)
@given(
    path=st.sampled_from(["userName", "externalId", "displayName", "emails", "active", "nope"]),
    word=_BARE,
    tolerance=st.sampled_from([STRICT, ENTRA]),
)
def test_fast_path_binds_unquoted_values_like_the_parser(
    path: str, word: str, tolerance: Tolerance
) -> None:
    text = f"{path} eq {word}"

    def outcome(compile_: object) -> object:
        try:
            return compile_(text, USER, tolerance)  # type: ignore[operator]
        except InvalidFilter as exc:
            return type(exc)

    assert outcome(compile_filter) == outcome(long_way)
