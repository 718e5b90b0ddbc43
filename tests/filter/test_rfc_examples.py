"""The example filters of RFC 7644 §3.4.2.2, bound to the User resource type and evaluated.

Each test quotes the RFC's example; the sample users are in ``samples.py``.
"""

from __future__ import annotations

import pytest

from scimkit._builtin import USER
from scimkit._filter import compile_filter, matches
from scimkit.mongo._query import translate_filter
from tests.filter.samples import USERS


def selected(text: str) -> set[str]:
    bound = compile_filter(text, USER)
    translate_filter(bound)  # every example also translates
    return {user["id"] for user in USERS if matches(bound, user)}


def test_3_4_2_2_user_name_eq() -> None:
    """``filter=userName eq "bjensen"``."""
    assert selected('userName eq "bjensen"') == {"u1"}


def test_3_4_2_2_family_name_co() -> None:
    """``filter=name.familyName co "O'Malley"``."""
    assert selected('name.familyName co "O\'Malley"') == {"u1"}


def test_3_4_2_2_user_name_sw() -> None:
    """``filter=userName sw "J"`` (userName is caseExact=false, so "jane" matches too)."""
    assert selected('userName sw "J"') == {"u2", "u3"}


def test_3_4_2_2_urn_qualified_user_name_sw() -> None:
    """``filter=urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J"``."""
    assert selected('urn:ietf:params:scim:schemas:core:2.0:User:userName sw "J"') == {"u2", "u3"}


def test_3_4_2_2_title_pr() -> None:
    """``filter=title pr`` (an empty string is not present)."""
    assert selected("title pr") == {"u1"}


@pytest.mark.parametrize(
    ("op", "expected"),
    [("gt", {"u2"}), ("ge", {"u1", "u2"}), ("lt", {"u3"}), ("le", {"u1", "u3"})],
)
def test_3_4_2_2_last_modified_ordering(op: str, expected: set[str]) -> None:
    """``filter=meta.lastModified gt "2011-05-13T04:42:34Z"`` (and ge, lt, le)."""
    assert selected(f'meta.lastModified {op} "2011-05-13T04:42:34Z"') == expected


def test_3_4_2_2_title_pr_and_user_type() -> None:
    """``filter=title pr and userType eq "Employee"``."""
    assert selected('title pr and userType eq "Employee"') == {"u1"}


def test_3_4_2_2_title_pr_or_user_type() -> None:
    """``filter=title pr or userType eq "Intern"``."""
    assert selected('title pr or userType eq "Intern"') == {"u1", "u2"}


def test_3_4_2_2_schemas_eq() -> None:
    """``filter=schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"``."""
    text = 'schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"'
    assert selected(text) == {"u1"}


def test_3_4_2_2_emails_co_or_emails_value_co() -> None:
    """``emails co`` and ``emails.value co`` inside parentheses.

    ``filter=userType eq "Employee" and (emails co "example.com" or emails.value co
    "example.org")`` (``emails co`` tests the ``value`` sub-attribute).
    """
    text = 'userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")'
    assert selected(text) == {"u1", "u3"}


def test_3_4_2_2_ne_and_not() -> None:
    """``ne`` and ``not``.

    ``filter=userType ne "Employee" and not (emails co "example.com" or emails.value co
    "example.org")``
    """
    text = (
        'userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")'
    )
    assert selected(text) == {"u4"}


def test_3_4_2_2_emails_type_in_parentheses() -> None:
    """``filter=userType eq "Employee" and (emails.type eq "work")``."""
    assert selected('userType eq "Employee" and (emails.type eq "work")') == {"u1", "u3"}


def test_3_4_2_2_value_path() -> None:
    """``filter=userType eq "Employee" and emails[type eq "work" and value co "@example.com"]``.

    u3 has a work email and an @example.com email, but not one email with both.
    """
    text = 'userType eq "Employee" and emails[type eq "work" and value co "@example.com"]'
    assert selected(text) == {"u1"}


def test_3_4_2_2_two_value_paths() -> None:
    """Two value paths joined by ``or``.

    ``filter=emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and
    value co "@foo.com"]``
    """
    text = (
        'emails[type eq "work" and value co "@example.com"] or '
        'ims[type eq "xmpp" and value co "@foo.com"]'
    )
    assert selected(text) == {"u1", "u2"}
