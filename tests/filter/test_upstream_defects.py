"""scim2-filter-parser 0.7.0's defects, each shown on the raw library, then fixed by ours.

The ``raw`` tests assert that the defect is still there: if an upgrade fixes one, its test
fails, and the corresponding workaround in ``scimkit/_filter/_parser.py`` can go.
"""

from __future__ import annotations

from typing import Any

import pytest
from scim2_filter_parser.lexer import SCIMLexer
from scim2_filter_parser.parser import SCIMParser

from scimkit._errors import InvalidFilter
from scimkit._filter import And, AttrPath, Compare, CompareOp, Or, Present, parse_filter


def raw_tokens(text: str) -> list[tuple[str, str]]:
    return [(t.type, t.value) for t in SCIMLexer().tokenize(text)]


def raw_parse(text: str) -> Any:
    return SCIMParser().parse(SCIMLexer().tokenize(text))


def raw_literal(text: str) -> Any:
    """The comparison value the raw parser keeps for ``attr op value``."""
    return raw_parse(text).expr.comp_value.value


def x_eq(value: object) -> Compare:
    return Compare(AttrPath(None, "x"), CompareOp.EQ, value)  # type: ignore[arg-type]


# -- multi-digit integers --------------------------------------------------------------------


def test_raw_lexes_one_digit_per_number() -> None:
    assert raw_tokens("x eq 55")[-2:] == [("NUMBER", "5"), ("NUMBER", "5")]
    with pytest.raises(Exception, match="Parsing error"):
        raw_parse("x eq 55")


def test_multi_digit_integers() -> None:
    assert parse_filter("x eq 55") == x_eq(55)
    assert parse_filter("x gt 1234567890123") == Compare(
        AttrPath(None, "x"), CompareOp.GT, 1234567890123
    )


# -- decimals, negative numbers, exponents ---------------------------------------------------


@pytest.mark.parametrize("text", ["x eq 1.5", "x eq -1"])
def test_raw_rejects_decimals_and_negatives(text: str) -> None:
    with pytest.raises(ValueError, match="Illegal character"):
        raw_parse(text)


def test_raw_splits_exponents() -> None:
    assert raw_tokens("x eq 1e3")[-2:] == [("NUMBER", "1"), ("ATTRNAME", "e3")]


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("x eq 1.5", 1.5),
        ("x eq -1", -1),
        ("x eq -0.25", -0.25),
        ("x eq 1e3", 1000.0),
        ("x eq 2.5E-2", 0.025),
        ("x eq 0", 0),
    ],
)
def test_json_numbers(text: str, value: float) -> None:
    node = parse_filter(text)
    assert node == x_eq(value)
    assert isinstance(node, Compare) and type(node.value) is type(value)


# -- escapes inside strings ------------------------------------------------------------------


def test_raw_fails_on_escaped_quote() -> None:
    with pytest.raises(Exception, match="Parsing error|Illegal character"):
        raw_parse(r'displayName eq "O\"Brien"')


def test_raw_keeps_escapes_undecoded() -> None:
    assert raw_literal(r'x eq "a\\b"') == r"a\\b"
    assert raw_literal(r'x eq "\u00e9"') == r"\u00e9"


@pytest.mark.parametrize(
    ("text", "value"),
    [
        (r'displayName eq "O\"Brien"', 'O"Brien'),
        (r'x eq "a\\b"', "a\\b"),
        (r'x eq "\u00e9t\u00E9"', "été"),
        (r'x eq "tab\there"', "tab\there"),
        (r'x eq "\ud83d\ude00"', "😀"),
        (r'x eq "slash\/"', "slash/"),
        ('x eq "ünïcødé"', "ünïcødé"),
    ],
)
def test_json_string_escapes(text: str, value: str) -> None:
    node = parse_filter(text)
    assert isinstance(node, Compare) and node.value == value


# -- literal types ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "quoted"),
    [("true", '"true"'), ("5", '"5"'), ("null", '"null"'), ("false", '"false"')],
)
def test_raw_loses_literal_types(typed: str, quoted: str) -> None:
    assert raw_literal(f"x eq {typed}") == raw_literal(f"x eq {quoted}")


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("x eq true", True),
        ('x eq "true"', "true"),
        ("x eq false", False),
        ("x eq 5", 5),
        ('x eq "5"', "5"),
        ("x eq null", None),
        ('x eq "null"', "null"),
    ],
)
def test_literal_types_are_kept(text: str, value: object) -> None:
    node = parse_filter(text)
    assert isinstance(node, Compare)
    assert node.value == value and type(node.value) is type(value)


def test_typed_literals_are_different_nodes() -> None:
    # In Python 1 == True == 1.0; the filters are still different.
    assert parse_filter("x eq 1") != parse_filter("x eq true")
    assert parse_filter("x eq 1") != parse_filter("x eq 1.0")
    assert len({parse_filter("x eq 1"), parse_filter("x eq true"), parse_filter("x eq 1.0")}) == 3


# -- names that begin with a keyword ---------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "keyword"), [("nullable", "NULL"), ("trueName", "TRUE"), ("falsehood", "FALSE")]
)
def test_raw_mislexes_names_starting_with_keywords(name: str, keyword: str) -> None:
    assert raw_tokens(f"{name} pr")[0][0] == keyword


@pytest.mark.parametrize("name", ["nullable", "trueName", "falsehood", "null-ish", "true_1"])
def test_names_starting_with_keywords(name: str) -> None:
    assert parse_filter(f"{name} pr") == Present(AttrPath(None, name))
    assert parse_filter(f"{name} eq null") == Compare(AttrPath(None, name), CompareOp.EQ, None)


# -- keywords in any case --------------------------------------------------------------------


def test_raw_reads_upper_case_true_as_a_name() -> None:
    assert raw_tokens("x eq TRUE")[-1] == ("ATTRNAME", "TRUE")


@pytest.mark.parametrize(
    ("word", "value"), [("TRUE", True), ("False", False), ("NULL", None), ("nUlL", None)]
)
def test_keywords_in_any_case(word: str, value: object) -> None:
    assert parse_filter(f"x eq {word}") == x_eq(value)


# -- and/or precedence -----------------------------------------------------------------------


def test_raw_gives_and_and_or_the_same_precedence() -> None:
    # RFC 7644 §3.4.2.2: "and" binds tighter than "or"; the raw parser groups left to right.
    assert raw_parse("a pr or b pr and c pr").expr.op == "and"


def test_and_binds_tighter_than_or() -> None:
    a, b, c = (Present(AttrPath(None, n)) for n in "abc")
    assert parse_filter("a pr or b pr and c pr") == Or(a, And(b, c))


# -- error positions -------------------------------------------------------------------------


def test_raw_errors_have_no_position() -> None:
    with pytest.raises(Exception, match=r"Parsing error at: None"):
        raw_parse("userName eq")


def test_errors_have_positions() -> None:
    with pytest.raises(InvalidFilter) as caught:
        parse_filter("userName eq")
    assert caught.value.position == len("userName eq")
    assert "expected a value" in caught.value.detail
