"""Hypothesis strategies for filter tests: syntax trees, and User resources and filters."""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from hypothesis import strategies as st

from scimkit._filter import (
    And,
    AttrPath,
    Compare,
    CompareOp,
    CompareValue,
    Filter,
    Not,
    Or,
    Present,
    ValuePath,
)

ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"

# Names that are not keywords; several start with one (the upstream lexer's defect).
NAMES = [
    "userName",
    "emails",
    "name",
    "nullable",
    "trueName",
    "falsehood",
    "a-b",
    "x_1",
    "true",
    "NULL",
]
SUBS = ["value", "givenName", "$ref", "type", "null", "primary"]

literals: st.SearchStrategy[CompareValue] = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
)


def attr_paths(relative: bool = False) -> st.SearchStrategy[AttrPath]:
    if relative:
        return st.builds(AttrPath, st.none(), st.sampled_from(SUBS), st.none())
    return st.builds(
        AttrPath,
        st.sampled_from([None, None, CORE_USER, ENTERPRISE]),
        st.sampled_from(NAMES),
        st.sampled_from([None, None, *SUBS]),
    )


def leaves(relative: bool = False) -> st.SearchStrategy[Filter]:
    paths = attr_paths(relative)
    return st.one_of(
        st.builds(Compare, paths, st.sampled_from(list(CompareOp)), literals),
        st.builds(Present, paths),
    )


def _combine(children: st.SearchStrategy[Filter]) -> st.SearchStrategy[Filter]:
    return st.one_of(
        st.builds(And, children, children),
        st.builds(Or, children, children),
        st.builds(Not, children),
    )


def value_filters() -> st.SearchStrategy[Filter]:
    return st.recursive(leaves(relative=True), _combine, max_leaves=5)


def filters() -> st.SearchStrategy[Filter]:
    value_paths = st.builds(
        ValuePath,
        st.builds(AttrPath, st.sampled_from([None, ENTERPRISE]), st.sampled_from(NAMES), st.none()),
        value_filters(),
    )
    return st.recursive(st.one_of(leaves(), value_paths), _combine, max_leaves=8)


# -- User resources and filters for the differential tests -----------------------------------

# Unicode case traps: ß/SS (full folding), dotted İ, combining accents (NFC), final sigma,
# ligatures; regex metacharacters and operator-looking text; a newline before the end.
WORDS = [
    "bjensen",
    "BJensen",
    "straße",
    "STRASSE",
    "Strasse",
    "ß",
    "SS",
    "\u0130stanbul",
    "i\u0307stanbul",
    "ISTANBUL",
    "Caf\u00e9",
    "CAFE\u0301",
    "ΣΊΣΥΦΟΣ",
    "σίσυφος",
    "ﬁle",
    "FILE",
    "a.b",
    "a*b",
    "(x)",
    "$where",
    "x\ny",
    "work",
    "Work",
    "home",
    "example.com",
    "user@Example.com",
    "",
]
FRAGMENTS = ["s", "SS", "ss", "i", "İ", "é", "e\u0301", "a.", ".", "*", "(", "$", "\n", "y", "k"]


def _text(rng: random.Random) -> str:
    word = rng.choice(WORDS)
    if word and rng.random() < 0.3:
        return word + rng.choice(FRAGMENTS)
    return word


def _maybe(rng: random.Random, p: float = 0.6) -> bool:
    return rng.random() < p


def _datetime(rng: random.Random) -> datetime:
    return DATES[rng.randrange(len(DATES))] + timedelta(microseconds=rng.choice([0, 999, 1500]))


DATES = [
    datetime(2011, 5, 13, 4, 42, 34, tzinfo=UTC),
    datetime(2011, 5, 13, 4, 42, 34, 123000, tzinfo=UTC),
    datetime(2020, 2, 29, 23, 59, 59, tzinfo=UTC),
    datetime(1999, 12, 31, tzinfo=UTC),
]


def _complex_list(rng: random.Random, subs: dict[str, Callable[[], Any]]) -> list[Any]:
    items: list[Any] = []
    for _ in range(rng.choice([0, 1, 1, 2, 3])):
        if rng.random() < 0.05:
            items.append(None)
            continue
        items.append({name: make() for name, make in subs.items() if _maybe(rng)})
    return items


def user(rng: random.Random, index: int) -> dict[str, Any]:
    """A User: any attribute may be missing, null or empty; values collide in folded form."""
    resource: dict[str, Any] = {"schemas": [CORE_USER], "id": f"u{index:02d}"}

    def text() -> Any:
        return None if rng.random() < 0.05 else _text(rng)

    for name in ("userName", "displayName", "title", "userType", "nickName", "externalId"):
        if _maybe(rng):
            resource[name] = text()
    if _maybe(rng):
        resource["active"] = rng.choice([True, False, None])
    if _maybe(rng):
        resource["name"] = {
            n: text() for n in ("givenName", "familyName", "middleName") if _maybe(rng, 0.5)
        }
    if _maybe(rng, 0.8):
        resource["emails"] = _complex_list(
            rng,
            {
                "value": text,
                "type": lambda: rng.choice(["work", "Work", "home", "other", "", None]),
                "display": text,
                "primary": lambda: rng.choice([True, False, None]),
            },
        )
    if _maybe(rng, 0.4):
        resource["phoneNumbers"] = _complex_list(
            rng, {"value": text, "type": lambda: rng.choice(["work", "mobile"])}
        )
    if _maybe(rng, 0.3):
        resource["x509Certificates"] = _complex_list(
            rng, {"value": lambda: rng.choice(["QUJD", "qujd", "WA=="])}
        )
    if _maybe(rng, 0.8):
        resource["meta"] = {
            "created": _datetime(rng),
            **({"lastModified": _datetime(rng)} if _maybe(rng) else {}),
            "resourceType": "User",
        }
    if _maybe(rng, 0.5):
        resource["schemas"].append(ENTERPRISE)
        extension: dict[str, Any] = {}
        for name in ("department", "employeeNumber"):
            if _maybe(rng):
                extension[name] = text()
        if _maybe(rng):
            extension["manager"] = {n: text() for n in ("value", "displayName") if _maybe(rng, 0.7)}
        resource[ENTERPRISE] = extension
    return resource


def users(seed: int, count: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    return [user(rng, index) for index in range(count)]


_E = f"{ENTERPRISE}:"
STRING_PATHS = [
    "userName",
    "displayName",
    "title",
    "nickName",
    "externalId",
    "id",
    "name.givenName",
    "name.familyName",
    "emails",
    "emails.value",
    "emails.type",
    "emails.display",
    "phoneNumbers.value",
    f"{_E}department",
    f"{_E}manager",
    f"{_E}manager.displayName",
    "urn:ietf:params:scim:schemas:core:2.0:User:userType",
]
PRESENT_PATHS = [
    *STRING_PATHS,
    "active",
    "name",
    "emails.primary",
    "phoneNumbers",
    "x509Certificates",
    f"{_E}manager",
    "meta.lastModified",
    "schemas",
]
SUB_PATHS = {
    "emails": (["value", "type", "display"], ["primary"]),
    "phoneNumbers": (["value", "type"], []),
    "name": (["givenName", "familyName", "middleName"], []),
    f"{_E}manager": (["value", "displayName"], []),
}
STRING_OPS = list(CompareOp)
EQUALITY = [CompareOp.EQ, CompareOp.NE]
ORDERING = [CompareOp.EQ, CompareOp.NE, CompareOp.GT, CompareOp.GE, CompareOp.LT, CompareOp.LE]


def _word_literals() -> st.SearchStrategy[str]:
    return st.one_of(
        st.sampled_from(WORDS),
        st.builds(lambda w, f: w + f, st.sampled_from(WORDS), st.sampled_from(FRAGMENTS)),
        st.sampled_from(FRAGMENTS),
    )


def _datetime_literals() -> st.SearchStrategy[str]:
    def render(moment: datetime, shift: int, micros: int) -> str:
        local = (moment + timedelta(microseconds=micros)).astimezone(
            timezone(timedelta(hours=shift))
        )
        return local.isoformat()

    return st.builds(
        render,
        st.sampled_from(DATES),
        st.sampled_from([0, 2, -5]),
        st.sampled_from([0, 999, 1000, 123_500]),
    )


def _path(text: str) -> AttrPath:
    urn = None
    if text.startswith("urn:"):
        urn, _, text = text.rpartition(":")
    name, _, sub = text.partition(".")
    return AttrPath(urn, name, sub or None)


def _leaf(paths: list[str]) -> st.SearchStrategy[Filter]:
    def typed(path: str) -> st.SearchStrategy[Filter]:
        node_path = _path(path)
        if path in ("active", "emails.primary", "primary"):
            return st.builds(Compare, st.just(node_path), st.sampled_from(EQUALITY), st.booleans())
        if path.startswith("meta."):
            return st.builds(
                Compare, st.just(node_path), st.sampled_from(ORDERING), _datetime_literals()
            )
        if path == "x509Certificates.value":
            return st.builds(
                Compare,
                st.just(node_path),
                st.sampled_from(EQUALITY),
                st.sampled_from(["QUJD", "x"]),
            )
        return st.builds(Compare, st.just(node_path), st.sampled_from(STRING_OPS), _word_literals())

    compare = st.sampled_from(paths).flatmap(typed)
    null = st.builds(
        Compare, st.sampled_from(paths).map(_path), st.sampled_from(EQUALITY), st.none()
    )
    present = st.builds(Present, st.sampled_from(paths).map(_path))
    return st.one_of(compare, compare, compare, null, present)


def _value_path(parent: str) -> st.SearchStrategy[Filter]:
    strings, booleans = SUB_PATHS[parent]
    inner = st.recursive(_leaf([*strings, *booleans]), _combine, max_leaves=4)
    return st.builds(ValuePath, st.just(_path(parent)), inner)


def user_filters() -> st.SearchStrategy[Filter]:
    leaves_ = st.one_of(
        _leaf(STRING_PATHS),
        _leaf(["meta.created", "meta.lastModified", "active", "emails.primary"]),
        _leaf(["x509Certificates.value"]),
        st.builds(Present, st.sampled_from(PRESENT_PATHS).map(_path)),
        st.sampled_from(sorted(SUB_PATHS)).flatmap(_value_path),
    )
    return st.recursive(leaves_, _combine, max_leaves=6)
