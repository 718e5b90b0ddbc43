"""Hypothesis strategies for HTTP fuzzing: hostile text, JSON, filters, PATCH bodies, requests.

Everything is "valid-ish": drawn around what a SCIM client really sends (attribute names of the
schemas, the filter grammar, PatchOp and BulkRequest shapes) and then damaged (wrong types,
junk keys, deep nesting, huge strings, odd Unicode, garbled syntax), so that requests get past
the first checks and reach the validators, the filter compiler, the PATCH engine and the store.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from tests.hardening.support import (
    BULK_SCHEMA,
    ENTERPRISE_URN,
    GROUP_URN,
    PATCH_SCHEMA,
    SCIM_JSON,
    SEARCH_SCHEMA,
    USER_URN,
)

__all__ = [
    "Request",
    "bulk_requests",
    "create_requests",
    "filters",
    "patch_requests",
    "query_requests",
    "raw_requests",
    "replace_requests",
    "search_requests",
]


@dataclass(frozen=True)
class Request:
    """One HTTP request of tenant A (or another tenant's URL when ``tenant`` is set)."""

    method: str
    path: str
    params: tuple[tuple[str, str], ...] = ()
    body: bytes | None = None
    headers: tuple[tuple[str, bytes], ...] = ()
    raw_query: bytes | None = None

    @property
    def writes(self) -> bool:
        return self.method not in ("GET", "HEAD", "OPTIONS")


def mostly(
    common: st.SearchStrategy[Any], rare: st.SearchStrategy[Any], one_in: int = 7
) -> st.SearchStrategy[Any]:
    """``rare`` once in ``one_in`` draws, else ``common``.

    ``st.one_of`` cannot be weighted by repeating a branch (equal branches count once).
    """
    return st.integers(min_value=1, max_value=one_in).flatmap(
        lambda n: rare if n == one_in else common
    )


# -- text and scalars -------------------------------------------------------------------------

TRICKY_TEXT = [
    "",
    " ",
    "\x00",
    "a\x00b",
    "\\",
    '"',
    "'",
    "%",
    "%00",
    "%ZZ",
    "+",
    "&",
    "=",
    "$where",
    "$gt",
    '{"$ne": null}',
    "{$ne: 1}",
    ".*",
    "^",
    "(?i)",
    ".",
    "a.b",
    "urn:",
    ":",
    "[",
    "]",
    "(",
    ")",
    "\u202e",
    "\ufeff",
    "\U0001d518\U0001d52b",
    "\u0130",
    "ß",
    "\u212a",
    "e\u0301",
    "\U0010ffff",
    "\ufffd",
    "null",
    "true",
    "1e309",
    "-0",
    "0001-01-01T00:00:00+01:00",
    "9999-12-31T23:59:59.999-01:00",
    "2024-02-30T00:00:00Z",
    "2024-01-01T00:00:00.1234567Z",
    "2024-01-01",
    "24:00",
    'W/"1"',
    "bulkId:x",
    "bulkId:",
    'members[value eq "x"]',
    "/..",
    "../..",
    "\r\n",
    "\t",
]
"""Strings that have broken parsers, encoders and MongoDB queries elsewhere."""

texts: st.SearchStrategy[str] = st.one_of(
    st.sampled_from(TRICKY_TEXT),
    st.text(max_size=24),
    st.text(alphabet=st.characters(max_codepoint=0x7F), max_size=24),
)
huge_texts = st.integers(min_value=5_000, max_value=120_000).map(lambda n: "x\u00e9" * (n // 2))
ints = st.one_of(
    st.integers(min_value=-3, max_value=3),
    st.integers(min_value=-(2**65), max_value=2**65),
    st.sampled_from([2**31, 2**53 + 1, 2**63 - 1, 2**63, 2**64 - 1, 2**64, -(2**63) - 1]),
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    ints,
    st.floats(allow_nan=False, allow_infinity=False),
    st.floats(allow_nan=False, allow_infinity=False),
    st.floats(),
    texts,
    st.sampled_from(["True", "FALSE", "1", "0"]),
)

USER_ATTRIBUTES = [
    "schemas",
    "id",
    "externalId",
    "meta",
    "userName",
    "name",
    "displayName",
    "nickName",
    "profileUrl",
    "title",
    "userType",
    "preferredLanguage",
    "locale",
    "timezone",
    "active",
    "password",
    "emails",
    "phoneNumbers",
    "ims",
    "photos",
    "addresses",
    "groups",
    "entitlements",
    "roles",
    "x509Certificates",
    ENTERPRISE_URN,
]
GROUP_ATTRIBUTES = ["schemas", "id", "externalId", "meta", "displayName", "members"]
JUNK_KEYS = ["$set", "$where", "a.b", "", "\x00", "USERNAME", "Members", "urn:x:y", "__proto__"]
keys = st.one_of(st.sampled_from(USER_ATTRIBUTES + GROUP_ATTRIBUTES + JUNK_KEYS), texts)

json_values: st.SearchStrategy[Any] = st.recursive(
    scalars,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(keys, children, max_size=4),
    ),
    max_leaves=10,
)


@dataclass(frozen=True)
class Deep:
    """A value buried under ``depth`` lists or objects, written as text by :func:`encode`.

    Kept symbolic because Python's own json module (and hypothesis's printer) would recurse
    that deep; orjson on the server refuses more than 1024 levels.
    """

    depth: int
    as_list: bool
    leaf: str

    def text(self) -> str:
        if self.as_list:
            return "[" * self.depth + self.leaf + "]" * self.depth
        return '{"value":' * self.depth + self.leaf + "}" * self.depth


deep_values = st.builds(
    Deep,
    st.sampled_from([20, 200, 1000, 1023, 1024, 1025, 3000]),
    st.booleans(),
    st.sampled_from(['"x"', "1", "null", "{}", "[]"]),
)
values = st.one_of(json_values, json_values, json_values, huge_texts, deep_values)


def encode(value: Any, ascii_only: bool) -> bytes:
    """JSON text, NaN and huge numbers allowed, lone surrogates sent as invalid UTF-8."""
    deep: dict[str, Deep] = {}

    def placeholder(obj: Any) -> str:
        if not isinstance(obj, Deep):
            raise TypeError(type(obj).__name__)
        key = f"__deep_{len(deep)}__"
        deep[key] = obj
        return key

    text = json.dumps(value, ensure_ascii=ascii_only, allow_nan=True, default=placeholder)
    for key, obj in deep.items():
        text = text.replace(f'"{key}"', obj.text(), 1)
    return text.encode("utf-8", "surrogatepass")


@st.composite
def bodies(draw: st.DrawFn, document: st.SearchStrategy[Any]) -> bytes:
    """A document encoded as JSON, sometimes damaged at the byte level."""
    body = encode(draw(document), draw(st.booleans()))
    # Hypothesis favours small draws: 0 is the common case here and elsewhere.
    damage = draw(st.integers(min_value=0, max_value=9))
    if damage == 9 and body:  # truncated
        body = body[: draw(st.integers(min_value=0, max_value=len(body) - 1))]
    elif damage == 8:  # a byte that is not UTF-8, or a stray one
        at = draw(st.integers(min_value=0, max_value=len(body)))
        body = (
            body[:at] + draw(st.sampled_from([b"\xff", b"\xc3", b"\x00", b"}", b","])) + body[at:]
        )
    elif damage == 7:  # a byte-order mark, or trailing junk
        body = draw(st.sampled_from([b"\xef\xbb\xbf" + body, body + b" x", body + body]))
    return body


# -- attribute paths and filters --------------------------------------------------------------

FILTER_ATTRIBUTES = [
    "userName",
    "USERNAME",
    "id",
    "externalId",
    "displayName",
    "active",
    "title",
    "name.givenName",
    "name.familyName",
    "name",
    "emails",
    "emails.value",
    "emails.type",
    "emails.primary",
    "addresses.postalCode",
    "members",
    "members.value",
    "members.display",
    "groups",
    "groups.value",
    "meta.created",
    "meta.lastModified",
    "meta.version",
    "meta.resourceType",
    "schemas",
    f"{USER_URN}:userName",
    f"{USER_URN}:name.givenName",
    f"{ENTERPRISE_URN}:employeeNumber",
    f"{ENTERPRISE_URN}:manager.value",
    f"{ENTERPRISE_URN}:manager",
    f"{GROUP_URN}:displayName",
    "urn:ietf:params:scim:schemas:core:2.0:Nope:x",
    "password",
    "x509Certificates.value",
    "unknown",
    "a-b",
    "$where",
    "1abc",
    "name..givenName",
    "emails.value.x",
]
OPERATORS = ["eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le", "EQ", "Sw", "like", "==", "in"]
LITERALS = [
    '"x"',
    '""',
    '"a\\"b"',
    '"\\u0000"',
    '"\\ud800"',
    '"a\\\\"',
    '"%"',
    '".*"',
    '"^a$"',
    '"$ne"',
    "true",
    "False",
    "null",
    "12",
    "-0",
    "1.5",
    "1e309",
    "-1e309",
    "99999999999999999999999999",
    "18446744073709551616",
    "9223372036854775808",
    '"2024-01-01T00:00:00Z"',
    '"0001-01-01T00:00:00+01:00"',
    '"9999-12-31T23:59:59-01:00"',
    '"2024-13-01T00:00:00Z"',
    '"W/\\"1\\""',
    "'single'",
    '"unterminated',
]
filter_literals = st.one_of(
    st.sampled_from(LITERALS),
    texts.map(lambda text: json.dumps(text, ensure_ascii=False)),
)


@st.composite
def filter_leaves(draw: st.DrawFn) -> str:
    attribute = draw(st.sampled_from(FILTER_ATTRIBUTES))
    kind = draw(st.integers(min_value=0, max_value=5))
    if kind == 0:
        return f"{attribute} pr"
    if kind == 1:
        inner = draw(st.sampled_from(['type eq "work"', "primary eq true", 'value co "@"', "x pr"]))
        tail = draw(st.sampled_from(["", ".value", ".type", ".nope"]))
        return f"{attribute}[{inner}]{tail}"
    return f"{attribute} {draw(st.sampled_from(OPERATORS))} {draw(filter_literals)}"


def _combine(children: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.tuples(children, st.sampled_from(["and", "or", "AND", "Or"]), children).map(" ".join),
        children.map(lambda text: f"not ({text})"),
        children.map(lambda text: f"({text})"),
        st.tuples(st.sampled_from(FILTER_ATTRIBUTES), children).map(
            lambda pair: f"{pair[0]}[{pair[1]}]"
        ),
    )


grammar_filters = st.recursive(filter_leaves(), _combine, max_leaves=6)
SPECIAL = list('"()[]\\ .:$%+&=\x00') + ["\u00e9", "\ud7ff", "\u2028", " and ", " or ", " not "]


@st.composite
def garbled(draw: st.DrawFn, source: st.SearchStrategy[str]) -> str:
    """``source`` text with a few characters inserted, deleted or replaced."""
    text = draw(source)
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        at = draw(st.integers(min_value=0, max_value=len(text)))
        edit = draw(st.integers(min_value=0, max_value=2))
        if edit == 0:
            text = text[:at] + draw(st.sampled_from(SPECIAL)) + text[at:]
        elif edit == 1:
            text = text[:at] + text[at + 1 :]
        else:
            text = text[:at] + draw(st.sampled_from(SPECIAL)) + text[at + 1 :]
    return text


@st.composite
def deep_filters(draw: st.DrawFn) -> str:
    """Filters at and beyond the nesting and length limits."""
    depth = draw(st.sampled_from([30, 31, 32, 33, 34, 100, 2000]))
    leaf = 'userName eq "a"'
    shape = draw(st.integers(min_value=0, max_value=3))
    if shape == 0:
        return "(" * depth + leaf + ")" * depth
    if shape == 1:
        return "not (" * depth + leaf + ")" * depth
    if shape == 2:
        return " or ".join([leaf] * depth)
    return leaf + " and " + " and ".join(["x pr"] * (depth * 2))


filters = st.one_of(
    grammar_filters,
    grammar_filters,
    garbled(grammar_filters),
    deep_filters(),
    texts,
    st.integers(min_value=4090, max_value=5000).map(lambda n: 'userName eq "' + "a" * n + '"'),
)

PATCH_PATHS = [
    "displayName",
    "userName",
    "name.givenName",
    "name",
    "emails",
    'emails[type eq "work"].value',
    'emails[type eq "work"]',
    "emails[primary eq true]",
    'phoneNumbers[type eq "mobile"].value',
    'addresses[type eq "work"].streetAddress',
    "active",
    "externalId",
    "members",
    'members[value eq "{member}"]',
    'members[value eq "nobody"]',
    'members[value eq "{member}" or value eq "x"]',
    "members.display",
    "members[display pr].value",
    f"{ENTERPRISE_URN}:employeeNumber",
    f"{ENTERPRISE_URN}:manager",
    f"{ENTERPRISE_URN}:manager.value",
    f"{ENTERPRISE_URN}",
    f"{USER_URN}:userName",
    "id",
    "meta",
    "meta.version",
    "groups",
    "schemas",
    "password",
    "roles[primary eq true]",
    "nope",
    "",
]


# -- resources --------------------------------------------------------------------------------


def base_user(user_name: str) -> dict[str, Any]:
    return {
        "schemas": [USER_URN, ENTERPRISE_URN],
        "userName": user_name,
        "externalId": "ext",
        "name": {"givenName": "Ada", "familyName": "Lovelace", "formatted": "Ada Lovelace"},
        "displayName": "Ada",
        "active": True,
        "password": "p4ssw0rd!",
        "emails": [{"value": "ada@example.com", "type": "work", "primary": True}],
        "phoneNumbers": [{"value": "+1 555", "type": "mobile"}],
        "addresses": [{"type": "work", "streetAddress": "1 Main St", "country": "NL"}],
        "roles": [{"value": "admin", "primary": True}],
        ENTERPRISE_URN: {"employeeNumber": "7", "manager": {"value": "someone"}},
    }


def base_group(display_name: str, members: list[str]) -> dict[str, Any]:
    return {
        "schemas": [GROUP_URN],
        "displayName": display_name,
        "externalId": "gext",
        "members": [{"value": member, "type": "User"} for member in members],
    }


def _paths(document: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every key path and list index path into a document."""
    found = [prefix]
    if isinstance(document, dict):
        for key, value in document.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(document, list):
        for index, value in enumerate(document):
            found += _paths(value, (*prefix, index))
    return found


def _set(document: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    head, rest = path[0], path[1:]
    copy: Any = dict(document) if isinstance(document, dict) else list(document)
    copy[head] = _set(copy[head], rest, value) if rest else value
    return copy


def _delete(document: Any, path: tuple[Any, ...]) -> Any:
    if len(path) == 1:
        copy: Any = dict(document) if isinstance(document, dict) else list(document)
        del copy[path[0]]
        return copy
    return _set(document, path[:1], _delete(document[path[0]], path[1:]))


@st.composite
def mutated(draw: st.DrawFn, document: dict[str, Any]) -> Any:
    """``document`` after a few random mutations: junk values, lost keys, odd keys, wrapping."""
    for _ in range(draw(st.integers(min_value=0, max_value=4))):
        paths = _paths(document)
        path = draw(st.sampled_from(paths))
        action = draw(st.integers(min_value=0, max_value=6))
        if action == 0 or not path:
            if isinstance(document, dict):
                document = {**document, draw(keys): draw(values)}
        elif action == 1:
            document = _set(document, path, draw(values))
        elif action == 2:
            document = _delete(document, path)
        elif action == 3:
            document = _set(document, path, [_get(document, path)])
        elif action == 4:
            document = _set(document, path, {"value": _get(document, path)})
        elif action == 5 and isinstance(path[-1], str):
            renamed = draw(st.sampled_from([path[-1].upper(), path[-1].lower(), "$" + path[-1]]))
            value = _get(document, path)
            document = _set(_delete(document, path), (*path[:-1], renamed), value)
        else:
            document = _set(document, path, draw(scalars))
    return document


def _get(document: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        document = document[part]
    return document


user_names = st.one_of(
    st.text(min_size=1, max_size=30),
    st.sampled_from(TRICKY_TEXT),
    st.from_regex(r"[a-z]{1,8}@[a-z]{1,5}\.com", fullmatch=True),
)


@st.composite
def user_documents(draw: st.DrawFn) -> Any:
    return draw(mutated(base_user(draw(user_names))))


@st.composite
def group_documents(draw: st.DrawFn, members: list[str]) -> Any:
    chosen = draw(st.lists(st.sampled_from([*members, "missing-id", ""]), max_size=4))
    return draw(mutated(base_group(draw(user_names), chosen)))


# -- headers and query parameters -------------------------------------------------------------

header_bytes = st.one_of(
    st.sampled_from(
        [
            b"*",
            b'W/"1"',
            b'"1"',
            b'W/"999999999999999999999999"',
            b'W/"1", W/"2"',
            b"W/",
            b'W/""',
            b",,,",
            b"\xff\xfe",
            b"x" * 9000,
        ]
    ),
    st.binary(max_size=40).map(lambda b: bytes(c for c in b if c >= 0x20 or c == 0x09)),
)
content_types = st.sampled_from(
    [
        b"application/scim+json",
        b"application/json",
        b"APPLICATION/SCIM+JSON; charset=UTF-8",
        b"application/scim+json; charset=latin-1",
        b"application/scim+json; charset",
        b"application/x-www-form-urlencoded",
        b"text/plain",
        b"",
        b";",
        b"application/json;;;",
    ]
)


@st.composite
def extra_headers(draw: st.DrawFn) -> tuple[tuple[str, bytes], ...]:
    headers: list[tuple[str, bytes]] = []
    if draw(st.integers(min_value=0, max_value=4)) == 4:
        headers.append(("Content-Type", draw(content_types)))
    for name in ("If-Match", "If-None-Match", "Accept", "Accept-Charset", "X-Forwarded-Host"):
        if draw(st.integers(min_value=0, max_value=6)) == 6:
            headers.append((name, draw(header_bytes)))
    if draw(st.integers(min_value=0, max_value=12)) == 12:
        headers.append(
            (
                "Authorization",
                draw(
                    st.sampled_from(
                        [b"", b"Bearer", b"Bearer ", b"Basic abc", b"bearer  x", b"Bearer \xff"]
                    )
                ),
            )
        )
    return tuple(headers)


PARAMETERS = [
    "filter",
    "sortBy",
    "sortOrder",
    "startIndex",
    "count",
    "cursor",
    "attributes",
    "excludedAttributes",
    "FILTER",
    "Count",
    "aadOptscim062020",
    "",
    "x",
]
attribute_lists = st.lists(
    st.sampled_from(FILTER_ATTRIBUTES + ["", " ", ",", "members", "groups", "urn:", ":"]),
    max_size=4,
).map(",".join)
number_text = st.one_of(
    ints.map(str),
    st.sampled_from(["", " 5 ", "1.5", "1e3", "0x10", "１２", "1_000", "-", "9" * 5000]),
)


@st.composite
def parameters(draw: st.DrawFn) -> tuple[tuple[str, str], ...]:
    pairs: list[tuple[str, str]] = []
    for _ in range(draw(st.integers(min_value=0, max_value=5))):
        name = draw(st.sampled_from(PARAMETERS))
        lowered = name.lower()
        if lowered == "filter":
            value = draw(filters)
        elif lowered in ("startindex", "count"):
            value = draw(number_text)
        elif lowered in ("attributes", "excludedattributes", "sortby"):
            value = draw(attribute_lists)
        elif lowered == "sortorder":
            value = draw(st.sampled_from(["ascending", "DESCENDING", "", "up", "\x00"]))
        elif lowered == "cursor":
            value = draw(st.sampled_from(["", "abc", "a.b", "eyJ2IjoxfQ.AAAA", "." * 3000]))
        else:
            value = draw(texts)
        pairs.append((name, value))
    return tuple(pairs)


raw_queries = st.one_of(
    st.binary(max_size=60),
    st.sampled_from(
        [
            b'filter=userName eq "\xc3\xa9"',
            b"filter=userName%20eq%20%22%ZZ%22",
            b"filter=%ff%fe",
            b"filter=userName+eq+%22a%22&filter=x",
            b"count=%2B5&startIndex=%2D1",
            b"%66ilter=id%20pr",
            b"&&&==&",
            b"filter=" + b"(" * 40 + b"id pr" + b")" * 40,
        ]
    ),
)


# -- requests ---------------------------------------------------------------------------------

COLLECTIONS = ["/Users", "/Groups"]


@st.composite
def query_requests(draw: st.DrawFn) -> Request:
    path = draw(st.sampled_from([*COLLECTIONS, "/Users/.search", "/", "/Schemas", "/Me"]))
    if draw(st.integers(min_value=0, max_value=5)) == 5:
        return Request("GET", path, raw_query=draw(raw_queries), headers=draw(extra_headers()))
    return Request("GET", path, params=draw(parameters()), headers=draw(extra_headers()))


search_fields = st.fixed_dictionaries(
    {},
    optional={
        "schemas": st.one_of(st.just([SEARCH_SCHEMA]), json_values),
        "filter": st.one_of(filters, json_values),
        "startIndex": st.one_of(ints, json_values),
        "count": st.one_of(ints, json_values),
        "sortBy": st.one_of(attribute_lists, json_values),
        "sortOrder": st.one_of(st.sampled_from(["ascending", "descending"]), json_values),
        "attributes": st.one_of(
            st.lists(st.sampled_from(FILTER_ATTRIBUTES), max_size=3), json_values
        ),
        "excludedAttributes": st.one_of(attribute_lists, json_values),
        "cursor": st.one_of(st.just(""), json_values),
    },
)


@st.composite
def search_requests(draw: st.DrawFn) -> Request:
    path = draw(st.sampled_from(["/Users/.search", "/Groups/.search", "/.search"]))
    document: Any = draw(search_fields)
    if not draw(st.booleans()):
        document = {**document, "schemas": [SEARCH_SCHEMA]}
    return Request(
        "POST", path, body=draw(bodies(st.just(document))), headers=draw(extra_headers())
    )


@st.composite
def create_requests(draw: st.DrawFn, members: list[str]) -> Request:
    if draw(st.booleans()):
        path, document = "/Users", user_documents()
    else:
        path, document = "/Groups", group_documents(members)
    return Request(
        "POST",
        path,
        params=draw(st.one_of(st.just(()), parameters())),
        body=draw(bodies(mostly(document, values))),
        headers=draw(extra_headers()),
    )


@st.composite
def replace_requests(draw: st.DrawFn, users: list[str], groups: list[str]) -> Request:
    if draw(st.booleans()):
        target = draw(st.sampled_from([*users, "missing-id"]))
        path, document = f"/Users/{target}", user_documents()
    else:
        target = draw(st.sampled_from([*groups, "missing-id"]))
        path, document = f"/Groups/{target}", group_documents(users)
    return Request(
        "PUT",
        path,
        body=draw(bodies(mostly(document, values))),
        headers=draw(extra_headers()),
    )


def plausible(path: str, members: list[str]) -> st.SearchStrategy[Any]:
    """A value of the right shape for ``path``, so that some PATCHes get applied."""
    member_values = st.lists(
        st.fixed_dictionaries(
            {"value": st.sampled_from([*members, "ghost"])},
            optional={"display": texts, "type": st.sampled_from(["User", "Group"])},
        ),
        min_size=1,
        max_size=3,
    )
    if path.startswith("members"):
        return member_values
    if path == "active":
        return st.one_of(st.booleans(), st.sampled_from(["True", "false"]))
    if path == "name":
        return st.fixed_dictionaries({"givenName": texts}, optional={"familyName": texts})
    if path == "emails":
        return st.lists(
            st.fixed_dictionaries({"value": texts, "type": st.sampled_from(["work", "home"])}),
            max_size=2,
        )
    if path.endswith(":manager"):
        return st.fixed_dictionaries({"value": st.sampled_from([*members, "boss"])})
    if path in ("", "nope") or path.endswith("]"):
        # Path-less values: attribute names (Entra also sends dotted paths) to values.
        return st.dictionaries(
            st.sampled_from(["displayName", "name.givenName", "title", "active", "externalId"]),
            st.one_of(texts, st.booleans()),
            max_size=3,
        )
    return texts


@st.composite
def patch_operations(draw: st.DrawFn, members: list[str]) -> Any:
    operation: dict[str, Any] = {}
    if draw(st.integers(min_value=0, max_value=8)) < 8:
        operation["op"] = draw(
            mostly(
                st.sampled_from(["add", "remove", "replace", "Add", "REPLACE"]),
                st.one_of(st.sampled_from(["delete", "", "move", "copy", "test"]), scalars),
                one_in=5,
            )
        )
    template = ""
    if draw(st.integers(min_value=0, max_value=3)) < 3:
        template = draw(st.sampled_from(PATCH_PATHS))
        path: Any = template.replace("{member}", draw(st.sampled_from([*members, "x"])))
        choice = draw(st.integers(min_value=0, max_value=9))
        if choice == 9:
            path = draw(garbled(st.just(path)))
        elif choice == 8:
            path = draw(st.one_of(texts, scalars))
        operation["path"] = path
    if draw(st.integers(min_value=0, max_value=5)) < 5:
        operation["value"] = draw(mostly(plausible(template, members), values, one_in=4))
    if draw(st.integers(min_value=0, max_value=9)) == 9:
        return draw(mutated(operation))
    return operation


@st.composite
def patch_documents(draw: st.DrawFn, members: list[str]) -> Any:
    document: dict[str, Any] = {
        "schemas": draw(
            mostly(st.just([PATCH_SCHEMA]), st.one_of(st.just([PATCH_SCHEMA.lower()]), json_values))
        ),
        "Operations": draw(st.lists(patch_operations(members), min_size=1, max_size=4)),
    }
    if draw(st.integers(min_value=0, max_value=5)) == 5:
        return draw(mutated(document))
    return document


@st.composite
def patch_requests(draw: st.DrawFn, users: list[str], groups: list[str]) -> Request:
    if draw(st.booleans()):
        path = f"/Users/{draw(st.sampled_from([*users, 'missing-id']))}"
    else:
        path = f"/Groups/{draw(st.sampled_from([*groups, 'missing-id']))}"
    return Request(
        "PATCH",
        path,
        params=draw(st.one_of(st.just(()), parameters())),
        body=draw(bodies(mostly(patch_documents(users), values))),
        headers=draw(extra_headers()),
    )


@st.composite
def bulk_operations(draw: st.DrawFn, users: list[str], groups: list[str]) -> Any:
    method = draw(st.sampled_from(["POST", "PUT", "PATCH", "DELETE", "GET", "post", ""]))
    target = draw(st.sampled_from([*users, *groups, "bulkId:u1", "bulkId:nope", "x/y", ""]))
    path = draw(
        st.sampled_from(
            ["/Users", "/Groups", f"/Users/{target}", f"/Groups/{target}", "/Nope", "", "Users/"]
        )
    )
    data: Any
    if method.upper() == "PATCH":
        data = draw(patch_documents([*users, "bulkId:u1"]))
    elif draw(st.booleans()):
        data = draw(user_documents())
    else:
        data = draw(group_documents([*users, "bulkId:u1"]))
    operation: dict[str, Any] = {"method": method, "path": path, "data": data}
    operation["bulkId"] = draw(st.one_of(st.sampled_from(["u1", "g1", "u1", ""]), scalars))
    if draw(st.integers(min_value=0, max_value=3)) == 3:
        operation["version"] = draw(st.one_of(st.just('W/"1"'), scalars))
    if draw(st.integers(min_value=0, max_value=6)) == 6:
        return draw(mutated(operation))
    return operation


@st.composite
def bulk_requests(draw: st.DrawFn, users: list[str], groups: list[str]) -> Request:
    document: dict[str, Any] = {
        "schemas": draw(mostly(st.just([BULK_SCHEMA]), json_values)),
        "Operations": draw(st.lists(bulk_operations(users, groups), max_size=5)),
    }
    if draw(st.booleans()):
        document["failOnErrors"] = draw(st.one_of(st.integers(min_value=1, max_value=3), scalars))
    if draw(st.integers(min_value=0, max_value=5)) == 5:
        document = draw(mutated(document))
    return Request(
        "POST", "/Bulk", body=draw(bodies(st.just(document))), headers=draw(extra_headers())
    )


METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "TRACE", "PROPFIND"]
SEGMENTS = [
    "Users",
    "Groups",
    "users",
    "Me",
    "Bulk",
    ".search",
    "ServiceProviderConfig",
    "ResourceTypes",
    "ResourceTypes/User",
    "ResourceTypes/%00",
    "Schemas",
    f"Schemas/{USER_URN}",
    "Schemas/urn:x",
    "missing-id",
    "%2E%2E",
    "..",
    "%E9",
    "%FF",
    "%",
    "x" * 5000,
    "",
]


@st.composite
def raw_requests(draw: st.DrawFn, users: list[str]) -> Request:
    """Any method on any path under the tenant, any body: the router and the 404/405 paths."""
    method = draw(st.sampled_from(METHODS))
    segments = draw(st.lists(st.sampled_from([*SEGMENTS, *users]), min_size=1, max_size=3))
    path = "/" + "/".join(segments)
    body = draw(st.one_of(st.none(), st.binary(max_size=64), bodies(values)))
    headers = draw(extra_headers())
    if body is not None and not any(name == "Content-Type" for name, _ in headers):
        headers = (*headers, ("Content-Type", SCIM_JSON.encode()))
    if method == "DELETE" and any(segment in users for segment in segments):
        method = "GET"  # deleting the fixtures would starve the other strategies
    return Request(method, path, body=body, headers=headers)
