"""compile_filter's template path for `attr eq "literal"` must bind exactly like the parser."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from scimkit import ENTRA, GROUP, STRICT, USER, InvalidFilter
from scimkit._filter import bind_filter, compile_filter, parse_filter

PATHS = [
    "userName",
    "USERNAME",
    "externalId",
    "id",
    "displayName",
    "name.givenName",
    "emails",
    "emails.value",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:employeeNumber",
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager",
    "active",
    "meta.created",
    "password",
    "groups",
    "nope",
    "schemas",
]


def _long_way(text, resource_type, tolerance):
    try:
        return bind_filter(parse_filter(text), resource_type, tolerance)
    except InvalidFilter as exc:
        return type(exc)


def _fast_way(text, resource_type, tolerance):
    try:
        return compile_filter(text, resource_type, tolerance)
    except InvalidFilter as exc:
        return type(exc)


@settings(max_examples=300, deadline=None)
@given(
    path=st.sampled_from(PATHS),
    op=st.sampled_from(["eq", "EQ", "Eq"]),
    value=st.text(st.characters(exclude_characters='"\\'), max_size=12),
    spaces=st.sampled_from([" ", "  "]),
    tolerance=st.sampled_from([STRICT, ENTRA]),
)
def test_template_path_binds_like_the_parser(path, op, value, spaces, tolerance):
    text = f'{path}{spaces}{op} "{value}"'
    for resource_type in (USER, GROUP):
        assert _fast_way(text, resource_type, tolerance) == _long_way(
            text, resource_type, tolerance
        )


@pytest.mark.parametrize(
    "text",
    [
        'userName eq "Straße@Example.COM"',
        'members eq "2819c223"',
        'displayName eq "İstanbul"',
        'active eq "true"',
        'meta.created eq "2011-05-13T04:42:34Z"',
    ],
)
def test_known_shapes(text):
    for resource_type in (USER, GROUP):
        for tolerance in (STRICT, ENTRA):
            assert _fast_way(text, resource_type, tolerance) == _long_way(
                text, resource_type, tolerance
            )
