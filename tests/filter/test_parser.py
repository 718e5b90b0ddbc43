"""The filter and PATCH-path parser: grammar, precedence, Entra's forms, errors and limits."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scimkit._errors import InvalidFilter, InvalidPath
from scimkit._filter import (
    MAX_FILTER_DEPTH,
    MAX_FILTER_LENGTH,
    And,
    AttrPath,
    Compare,
    CompareOp,
    Filter,
    Not,
    Or,
    PatchPath,
    Present,
    ValuePath,
    parse_filter,
    parse_path,
)
from tests.filter.strategies import ENTERPRISE, filters

A, B, C, D = (Present(AttrPath(None, n)) for n in "abcd")


def path(text: str) -> AttrPath:
    name, _, sub = text.partition(".")
    return AttrPath(None, name, sub or None)


def eq(text: str, value: object) -> Compare:
    return Compare(path(text), CompareOp.EQ, value)  # type: ignore[arg-type]


# -- precedence ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "tree"),
    [
        ("a pr and b pr or c pr", Or(And(A, B), C)),
        ("a pr or b pr and c pr", Or(A, And(B, C))),
        ("a pr or b pr and c pr or d pr", Or(Or(A, And(B, C)), D)),
        ("(a pr or b pr) and c pr", And(Or(A, B), C)),
        ("not (a pr) and b pr", And(Not(A), B)),
        ("not (a pr or b pr) and c pr", And(Not(Or(A, B)), C)),
        ("a pr and not (b pr) or c pr", Or(And(A, Not(B)), C)),
        ("((a pr))", A),
        ("not (not (a pr))", Not(Not(A))),
    ],
)
def test_precedence_not_over_and_over_or(text: str, tree: Filter) -> None:
    """RFC 7644 §3.4.2.2: "not" takes precedence over "and", which takes precedence over "or"."""
    assert parse_filter(text) == tree


def test_chains_are_balanced_trees() -> None:
    assert parse_filter("a pr and b pr and c pr and d pr") == And(And(A, B), And(C, D))
    assert parse_filter("a pr or b pr or c pr") == Or(Or(A, B), C)


def test_a_long_or_of_ids_is_shallow() -> None:
    text = " or ".join(f"id eq {i}" for i in range(300))
    assert len(text) < MAX_FILTER_LENGTH
    node = parse_filter(text)

    def depth(n: Filter) -> int:
        return 1 + max(depth(n.left), depth(n.right)) if isinstance(n, Or) else 1

    assert depth(node) == 10  # ceil(log2(300)) + 1


# -- case, whitespace, paths -----------------------------------------------------------------


def test_operators_and_keywords_in_any_case() -> None:
    expected = Or(And(eq("userName", "x"), Not(A)), Present(path("title")))
    assert parse_filter('userName EQ "x" AND NOT (a PR) Or title pR') == expected
    assert parse_filter('userName Eq "x" aNd nOt (a pr) OR title Pr') == expected


@pytest.mark.parametrize("op", list(CompareOp))
def test_every_operator(op: CompareOp) -> None:
    assert parse_filter(f'title {op.value.upper()} "x"') == Compare(path("title"), op, "x")


def test_whitespace_is_flexible() -> None:
    assert parse_filter('  userName\teq  "x"\n') == eq("userName", "x")


def test_urn_qualified_paths() -> None:
    node = parse_filter(f'{ENTERPRISE}:manager.value eq "42"')
    assert node == Compare(AttrPath(ENTERPRISE, "manager", "value"), CompareOp.EQ, "42")


def test_dollar_ref_sub_attribute() -> None:
    assert parse_filter("members.$ref pr") == Present(AttrPath(None, "members", "$ref"))


def test_attribute_names_are_kept_as_written() -> None:
    # Names are case-insensitive, but that is resolved at bind time against the schema.
    assert parse_filter("USERNAME pr") == Present(AttrPath(None, "USERNAME"))


# -- value paths -----------------------------------------------------------------------------


def test_value_path() -> None:
    node = parse_filter('emails[type eq "work" and value co "@example.com"]')
    assert node == ValuePath(
        path("emails"),
        And(eq("type", "work"), Compare(path("value"), CompareOp.CO, "@example.com")),
    )


def test_entra_match_filter_is_one_element_with_both_properties() -> None:
    """Entra's ``emails[type eq "work"].value eq "x"``: one email, work, with value x."""
    node = parse_filter('emails[type eq "work"].value eq "user@contoso.com"')
    assert node == ValuePath(
        path("emails"), And(eq("type", "work"), eq("value", "user@contoso.com"))
    )
    node = parse_filter('emails[type eq "work"].value pr')
    assert node == ValuePath(path("emails"), And(eq("type", "work"), Present(path("value"))))


@pytest.mark.parametrize("value", ["x", None])
def test_entra_match_filter_with_ne_is_not_eq(value: str | None) -> None:
    """``a[f].b ne v`` is ``not (a[f].b eq v)``: no value of ``a`` satisfies ``f`` with ``b`` = v.

    Rewriting it as ``a[f and b ne v]`` instead would ask for a value satisfying ``f`` whose
    ``b`` differs: false without such a value, true beside one whose ``b`` equals v.
    """
    literal = "null" if value is None else f'"{value}"'
    node = parse_filter(f'emails[type eq "work"].value ne {literal}')
    assert node == Not(ValuePath(path("emails"), And(eq("type", "work"), eq("value", value))))
    assert parse_filter(str(node)) == node


def test_value_path_inside_logic() -> None:
    node = parse_filter('not (emails[type eq "work"]) or userName pr')
    assert node == Or(Not(ValuePath(path("emails"), eq("type", "work"))), Present(path("userName")))


# -- errors ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "position", "detail"),
    [
        ("userName eq", 11, "expected a value"),
        ('userName eq "x" or', 18, "expected an attribute name"),
        ("(a pr", 5, "expected ')'"),
        ("a pr)", 4, "unbalanced ')'"),
        ('userName eq "x', 12, "unterminated string"),
        ("userName ! b", 9, "unexpected character '!'"),
        ('userName regex "x"', 9, "expected an operator"),
        ("userName", 8, "expected an operator"),
        ("not a pr", 4, "expected '(' after 'not'"),
        ("a.b.c pr", 3, "at most one sub-attribute"),
        ('emails[type[value eq "x"]]', 11, "cannot be nested"),
        ('emails[type eq "work"] eq "x"', 23, "'.subAttribute' before the operator"),
        ("x eq 1e999", 5, "out of range"),
        (r'x eq "\q"', 6, "Invalid \\escape"),
        (r'x eq "\ud800"', 5, "unpaired surrogate"),
        ("and pr", 0, "expected an attribute name, '(' or 'not'"),
        ("a pr b pr", 5, "expected 'and', 'or' or the end"),
        ("userName eq 'x'", 12, "strings must be in double quotes"),
        ("x eq 5 abc", 7, "expected 'and', 'or' or the end"),
        ("5abc eq 1", 0, "invalid number"),
    ],
)
def test_errors_say_what_and_where(text: str, position: int, detail: str) -> None:
    with pytest.raises(InvalidFilter) as caught:
        parse_filter(text)
    error = caught.value
    assert error.position == position
    assert detail in error.detail
    assert f"(at position {position})" in error.detail
    assert error.to_body()["scimType"] == "invalidFilter"


@pytest.mark.parametrize("text", ["", "   ", None, 5])
def test_empty_or_not_text(text: object) -> None:
    with pytest.raises(InvalidFilter):
        parse_filter(text)  # type: ignore[arg-type]


# -- limits ----------------------------------------------------------------------------------


def test_length_limit() -> None:
    text = 'userName eq "' + "x" * (MAX_FILTER_LENGTH - 14) + '"'
    assert len(text) == MAX_FILTER_LENGTH
    parse_filter(text)
    with pytest.raises(InvalidFilter, match="longer than 4096"):
        parse_filter(text + " ")


def test_parenthesis_nesting_limit() -> None:
    ok = "(" * MAX_FILTER_DEPTH + "a pr" + ")" * MAX_FILTER_DEPTH
    assert parse_filter(ok) == A
    too_deep = "(" + ok + ")"
    with pytest.raises(InvalidFilter, match="nested too deeply") as caught:
        parse_filter(too_deep)
    assert caught.value.position == MAX_FILTER_DEPTH


def test_tree_depth_limit() -> None:
    text = "a pr"
    for _ in range(MAX_FILTER_DEPTH - 1):
        text = f"not ({text})"
    parse_filter(text)
    with pytest.raises(InvalidFilter, match="nested too deeply"):
        parse_filter(f"not ({text})")


def test_thousands_of_parentheses_fail_cleanly() -> None:
    with pytest.raises(InvalidFilter, match="nested too deeply"):
        parse_filter("(" * 2000 + "a pr" + ")" * 2000)


# -- round trip and cache --------------------------------------------------------------------


def flat(node: Filter) -> object:
    """The tree with and/or chains flattened (chains parse as balanced trees)."""
    if isinstance(node, And | Or):
        operands: list[object] = []
        for side in (node.left, node.right):
            item = flat(side)
            if isinstance(item, tuple) and item[0] is type(node):
                operands.extend(item[1])
            else:
                operands.append(item)
        return (type(node), tuple(operands))
    if isinstance(node, Not):
        return (Not, flat(node.operand))
    if isinstance(node, ValuePath):
        return (ValuePath, node.path, flat(node.filter))
    return node


@given(filters())
def test_rendered_text_parses_back(node: Filter) -> None:
    assert flat(parse_filter(str(node))) == flat(node)


def test_parses_are_cached() -> None:
    text = 'userName eq "cached@example.com"'
    assert parse_filter(text) is parse_filter(text)


# -- PATCH paths -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("userName", PatchPath(path("userName"))),
        ("name.givenName", PatchPath(path("name.givenName"))),
        (f"{ENTERPRISE}:manager", PatchPath(AttrPath(ENTERPRISE, "manager"))),
        ('members[value eq "2819c223"]', PatchPath(path("members"), eq("value", "2819c223"))),
        (
            'emails[type eq "work"].value',
            PatchPath(path("emails"), eq("type", "work"), "value"),
        ),
        (
            'addresses[type eq "work" and primary eq TRUE].streetAddress',
            PatchPath(
                path("addresses"), And(eq("type", "work"), eq("primary", True)), "streetAddress"
            ),
        ),
    ],
)
def test_patch_paths(text: str, expected: PatchPath) -> None:
    """RFC 7644 §3.5.2: PATH = attrPath / valuePath [subAttr]."""
    assert parse_path(text) == expected
    assert parse_path(str(expected)) == expected


@pytest.mark.parametrize(
    ("text", "detail"),
    [
        ("a[b eq 1", "expected ']'"),
        ("a b", "expected '[', a sub-attribute or the end"),
        ('emails[type eq "work"].value.x', "expected a sub-attribute or the end"),
        ('emails[type eq "work"] eq "x"', "expected a sub-attribute or the end"),
        ('emails[value eq "x', "unterminated string"),
        ("", "empty"),
    ],
)
def test_patch_path_errors_are_invalid_path(text: str, detail: str) -> None:
    with pytest.raises(InvalidPath) as caught:
        parse_path(text)
    assert detail in caught.value.detail
    assert caught.value.to_body()["scimType"] == "invalidPath"


# -- robustness ------------------------------------------------------------------------------

_PIECES = [
    "userName",
    "emails",
    "name.givenName",
    "urn:ietf:params:scim:schemas:core:2.0:User:",
    " eq ",
    " ne ",
    " co ",
    " pr",
    " gt ",
    " and ",
    " or ",
    "not ",
    "(",
    ")",
    "[",
    "]",
    ".value",
    '"x"',
    '"\\"',
    "\\u00e9",
    "5",
    "-1.5e3",
    "true",
    "null",
    "'",
    " ",
    "\t",
    "$",
    "%",
    "\x00",
]
_TEXTS = st.one_of(
    st.text(max_size=40), st.lists(st.sampled_from(_PIECES), max_size=12).map("".join)
)


@given(_TEXTS)
def test_any_text_parses_or_fails_with_invalid_filter(text: str) -> None:
    try:
        node = parse_filter(text)
    except InvalidFilter as error:
        assert error.position is None or 0 <= error.position <= len(text)
    else:
        assert flat(parse_filter(str(node))) == flat(node)


@given(_TEXTS)
def test_any_text_parses_as_a_path_or_fails_with_invalid_path(text: str) -> None:
    try:
        parse_path(text)
    except InvalidPath:
        pass
