"""MongoDB translation shapes, the document layout, and injection attempts (no server)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from scimkit._builtin import GROUP, USER
from scimkit._filter import (
    BoundCompare,
    BoundPresent,
    BoundValuePath,
    compile_filter,
    fold_case,
)
from scimkit.mongo._codec import (
    decode_document,
    decode_key,
    document_fields,
    encode_document,
    encode_key,
    field_path,
    folded_mirror,
    sort_document,
)
from scimkit.mongo._query import translate_filter, translate_sort
from tests.filter.samples import BJENSEN, ENTERPRISE, WIDGET, utc

ENTERPRISE_KEY = "urn:ietf:params:scim:schemas:extension:enterprise:2%2E0:User"


def query(text: str, resource_type=USER) -> dict[str, Any]:
    return translate_filter(compile_filter(text, resource_type))


# -- exact shapes ----------------------------------------------------------------------------


def test_user_name_eq_is_an_exact_match_on_the_folded_field() -> None:
    assert query('userName eq "BJensen@Example.com"') == {"f.userName": "bjensen@example.com"}


def test_case_exact_eq_queries_the_original() -> None:
    assert query('externalId eq "AbC"') == {"a.externalId": "AbC"}
    assert query('members eq "U-1"', GROUP) == {"a.members.value": "U-1"}


def test_sw_is_an_anchored_escaped_prefix() -> None:
    assert query('userName sw "J.Smith+"') == {"f.userName": {"$regex": r"^j\.smith\+"}}


def test_co_and_ew_are_escaped() -> None:
    assert query('title co "a*b"') == {"f.title": {"$regex": r"a\*b"}}
    assert query('title ew "(x)"') == {"f.title": {"$regex": r"\(x\)(?![\s\S])"}}


def test_ne_and_ordering() -> None:
    assert query('title ne "x"') == {"f.title": {"$ne": "x"}}
    assert query('meta.lastModified ge "2011-05-13T04:42:34Z"') == {
        "a.meta.lastModified": {"$gte": utc(2011, 5, 13, 4, 42, 34)}
    }
    assert query("count lt 3", WIDGET) == {"a.count": {"$lt": 3}}


def test_not_is_nor() -> None:
    assert query('not (userName eq "x")') == {"$nor": [{"f.userName": "x"}]}


def test_and_or_chains_are_flat() -> None:
    assert query('title pr and userType eq "a" and id eq "1"') == {
        "$and": [
            {"a.title": {"$nin": [None, ""]}},
            {"f.userType": "a"},
            {"a.id": "1"},
        ]
    }
    assert query('id eq "1" or id eq "2" or id eq "3"') == {
        "$or": [{"a.id": "1"}, {"a.id": "2"}, {"a.id": "3"}]
    }


def test_value_path_is_elem_match_on_the_folded_array() -> None:
    assert query('emails[type eq "Work" and value co "@Example.com"]') == {
        "f.emails": {"$elemMatch": {"type": "work", "value": {"$regex": r"@example\.com"}}}
    }


def test_entra_match_filter() -> None:
    assert query('emails[type eq "work"].value eq "U@Contoso.com"') == {
        "f.emails": {"$elemMatch": {"type": "work", "value": "u@contoso.com"}}
    }


def test_value_path_with_or_and_not_becomes_alternatives() -> None:
    assert query('emails[type eq "work" or not (value co "x")]') == {
        "$or": [
            {"f.emails": {"$elemMatch": {"type": "work"}}},
            {"f.emails": {"$elemMatch": {"value": None}}},
            {"f.emails": {"$elemMatch": {"value": {"$regex": r"^(?![\s\S]*?x)"}}}},
        ]
    }


def test_value_path_merges_conditions_on_one_field() -> None:
    assert query('emails[value sw "a" and value ew "z" and value ne "q" and value ne "r"]') == {
        "f.emails": {
            "$elemMatch": {
                "value": {
                    "$regex": r"^(?=a)(?=[\s\S]*z(?![\s\S]))",
                    "$nin": ["q", "r"],
                }
            }
        }
    }
    assert query('emails[type eq "a" and type eq "b"]') == {"a": {"$in": []}}


def test_value_path_on_a_single_valued_complex_attribute() -> None:
    assert query(f'{ENTERPRISE}:manager[value eq "M" and not (displayName pr)]') == {
        "$and": [
            {f"a.{ENTERPRISE_KEY}.manager": {"$type": "object"}},
            {
                "$and": [
                    {f"a.{ENTERPRISE_KEY}.manager.value": "M"},
                    {"$nor": [{f"a.{ENTERPRISE_KEY}.manager.displayName": {"$nin": [None, ""]}}]},
                ]
            },
        ]
    }


def test_value_path_on_multi_valued_sub_attributes_uses_the_general_form() -> None:
    assert query('parts[size gt 1 or not (aliases eq "x")]', WIDGET) == {
        "f.parts": {"$elemMatch": {"$or": [{"size": {"$gt": 1}}, {"$nor": [{"aliases": "x"}]}]}}
    }


def test_pr_shapes() -> None:
    assert query("title pr") == {"a.title": {"$nin": [None, ""]}}
    assert query("active pr") == {"a.active": {"$ne": None}}
    assert query("emails.value pr") == {"a.emails": {"$elemMatch": {"value": {"$nin": [None, ""]}}}}
    assert query("tags pr", WIDGET) == {"a.tags": {"$elemMatch": {"$nin": [None, ""]}}}
    assert query("spec pr", WIDGET) == {
        "$or": [{"a.spec.width": {"$ne": None}}, {"a.spec.note": {"$nin": [None, ""]}}]
    }
    assert query("title eq null") == {"$nor": [{"a.title": {"$nin": [None, ""]}}]}


def test_extension_and_dollar_ref_paths_are_encoded() -> None:
    assert query(f'{ENTERPRISE}:manager eq "M1"') == {f"a.{ENTERPRISE_KEY}.manager.value": "M1"}
    assert query('members.$ref eq "https://x/Users/1"', GROUP) == {
        "f.members.%24ref": "https://x/users/1"
    }


def test_rewrite_replaces_top_level_leaves_and_value_paths() -> None:
    seen: list[str] = []

    def rewrite(node: BoundCompare | BoundPresent | BoundValuePath) -> dict[str, Any] | None:
        seen.append(str(node))
        if node.ref.attribute.name == "members":
            return {"_id": {"$in": ["g1"]}}
        return None

    bound = compile_filter('id eq "g1" and (members eq "u1" or members[value eq "u2"])', GROUP)
    assert translate_filter(bound, rewrite=rewrite) == {
        "$and": [{"a.id": "g1"}, {"$or": [{"_id": {"$in": ["g1"]}}, {"_id": {"$in": ["g1"]}}]}]
    }
    assert seen == ["id eq 'g1'", "members.value eq 'u1'", "members[members.value eq 'u2']"]


# -- injection -------------------------------------------------------------------------------


def walk(value: Any) -> list[tuple[str, Any]]:
    """Every (key, value) pair of a query, at any depth."""
    pairs: list[tuple[str, Any]] = []
    if isinstance(value, dict):
        for key, item in value.items():
            pairs.append((key, item))
            pairs.extend(walk(item))
    elif isinstance(value, list):
        for item in value:
            pairs.extend(walk(item))
    return pairs


@pytest.mark.parametrize(
    "text",
    [
        r'userName eq "x\" or \"1\" eq \"1"',
        'userName eq "$where"',
        'userName eq "{\\"$gt\\": \\"\\"}"',
        'userName co "$where: function() { return true }"',
        'userName sw ".*"',
        'userName ew "^$|[a-z]+(?=x)\\\\"',
        'userName co "\\u0000$ne"',
        'emails[value co ".*" or type eq "$regex"]',
    ],
)
def test_values_cannot_inject_operators(text: str) -> None:
    q = query(text)
    operators = {key for key, _ in walk(q) if key.startswith("$")}
    assert operators <= {"$and", "$or", "$nor", "$elemMatch", "$regex", "$ne", "$eq"}
    assert "$where" not in json.dumps(list(operators))
    for key, value in walk(q):
        if key == "$regex":
            # The pattern matches the literal text only: compile it and check it.
            assert isinstance(value, str)
            re.compile(value)
        if not key.startswith("$"):
            assert key.split(".")[0] in {"a", "f"} or key in {"type", "value"}


def test_quote_injection_stays_one_string() -> None:
    assert query(r'userName eq "x\" or \"1\" eq \"1"') == {"f.userName": 'x" or "1" eq "1'}


@given(st.text(max_size=8), st.text(max_size=8))
def test_regexes_test_exactly_the_literal(text: str, around: str) -> None:
    needle = fold_case(text)
    literal = json.dumps(text)
    for haystack in (fold_case(around), fold_case(around + text + around), needle):
        for op, expected in (
            ("co", needle in haystack),
            ("sw", haystack.startswith(needle)),
            ("ew", haystack.endswith(needle)),
        ):
            pattern = query(f"userName {op} {literal}")["f.userName"]["$regex"]
            assert (re.search(pattern, haystack) is not None) is expected, (op, pattern)


# -- keys and documents ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "encoded"),
    [
        ("userName", "userName"),
        ("$ref", "%24ref"),
        (ENTERPRISE, ENTERPRISE_KEY),
        ("50%.off", "50%25%2Eoff"),
        ("a$b", "a$b"),
        ("%24", "%2524"),
        ("nul\x00", "nul%00"),
    ],
)
def test_encode_key(key: str, encoded: str) -> None:
    assert encode_key(key) == encoded
    assert decode_key(encoded) == key


@given(st.text())
def test_encode_key_round_trips_and_is_safe(key: str) -> None:
    encoded = encode_key(key)
    assert decode_key(encoded) == key
    assert "." not in encoded and "\x00" not in encoded and not encoded.startswith("$")


def test_encode_document_drops_nulls_and_round_trips() -> None:
    resource = {
        "userName": "x",
        "title": None,
        "emails": [{"value": "a", "display": None}, None],
        ENTERPRISE: {"manager": {"$ref": "u", "value": "1"}},
    }
    encoded = encode_document(resource)
    assert encoded == {
        "userName": "x",
        "emails": [{"value": "a"}],
        ENTERPRISE_KEY: {"manager": {"%24ref": "u", "value": "1"}},
    }
    assert decode_document(encoded) == {
        "userName": "x",
        "emails": [{"value": "a"}],
        ENTERPRISE: {"manager": {"$ref": "u", "value": "1"}},
    }


def test_field_path() -> None:
    ref = USER.resolve_path(f"{ENTERPRISE}:manager.$ref")
    assert ref is not None
    assert field_path(ref, folded=False) == f"a.{ENTERPRISE_KEY}.manager.%24ref"
    assert field_path(ref, folded=True) == f"f.{ENTERPRISE_KEY}.manager.%24ref"


def test_folded_mirror() -> None:
    mirror = folded_mirror(
        BJENSEN | {"password": "Secret", "x509Certificates": [{"value": "QUJD"}]}, USER
    )
    assert mirror == {
        "schemas": [
            "urn:ietf:params:scim:schemas:core:2.0:user",
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:user",
        ],
        "userName": "bjensen",
        "name": {"familyName": "o'malley", "givenName": "barbara"},
        "title": "tour guide",
        "userType": "employee",
        "emails": [{"value": "bjensen@example.com", "type": "work", "primary": True}],
        "x509Certificates": [{"value": "QUJD"}],  # binary stays as is
        ENTERPRISE: {"employeeNumber": "701984", "manager": {"value": "26118915-6090-4610-87e4"}},
    }
    assert "password" not in mirror and "id" not in mirror and "active" not in mirror


def test_sort_document_and_translate_sort() -> None:
    entries = sort_document(BJENSEN, USER)
    assert entries["userName"] == {"p": 1, "k": "bjensen"}
    assert entries["emails%2Evalue"] == {"p": 1, "k": "bjensen@example.com"}
    assert entries[encode_key(f"{ENTERPRISE}:manager.value")]["k"] == "26118915-6090-4610-87e4"
    assert "title" in entries and "nickName" not in entries
    name = USER.resolve_path("name.givenName")
    emails = USER.resolve_path("emails")
    assert name is not None and emails is not None
    assert translate_sort(name, descending=False) == [
        ("s.name%2EgivenName.p", -1),
        ("s.name%2EgivenName.k", 1),
    ]
    assert translate_sort(emails, descending=True) == [
        ("s.emails%2Evalue.p", 1),
        ("s.emails%2Evalue.k", -1),
    ]


def test_document_fields() -> None:
    fields = document_fields(BJENSEN, USER)
    assert set(fields) == {"a", "f", "s"}
    assert fields["a"][ENTERPRISE_KEY]["manager"]["value"] == "26118915-6090-4610-87e4"
    assert fields["f"]["userName"] == "bjensen"
