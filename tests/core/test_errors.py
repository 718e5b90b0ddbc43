from __future__ import annotations

import inspect

import pytest

import scimkit
from scimkit import InvalidFilter, SCIMError, ServiceUnavailable, UniquenessError

ERROR_CLASSES = [
    obj for obj in vars(scimkit).values() if inspect.isclass(obj) and issubclass(obj, SCIMError)
]


@pytest.mark.parametrize("cls", ERROR_CLASSES, ids=lambda c: c.__name__)
def test_every_error_renders_a_scim_error_body(cls):
    """RFC 7644 §3.12: Error messages carry the Error schema, status as a string and detail."""
    error = cls() if cls is not InvalidFilter else cls("bad")
    body = error.to_body()
    assert body["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]
    assert body["status"] == str(cls.status)
    assert 400 <= cls.status <= 599
    assert body["detail"]
    if cls.scim_type is None:
        assert "scimType" not in body
    else:
        assert body["scimType"] == cls.scim_type


def test_scim_types_are_the_rfc_ones():
    """RFC 7644 §3.12 Table 9 and RFC 9865 error types."""
    types = {cls.scim_type for cls in ERROR_CLASSES if cls.scim_type}
    assert types == {
        "invalidFilter",
        "tooMany",
        "uniqueness",
        "mutability",
        "invalidSyntax",
        "invalidPath",
        "noTarget",
        "invalidValue",
        "invalidVers",
        "sensitive",
        "invalidCursor",
        "expiredCursor",
        "invalidCount",
    }


def test_uniqueness_is_a_conflict():
    assert issubclass(UniquenessError, scimkit.Conflict)
    assert UniquenessError.status == 409


def test_invalid_filter_reports_position():
    error = InvalidFilter("Expected an operator", position=9)
    assert error.position == 9
    assert "position 9" in error.to_body()["detail"]


def test_service_unavailable_has_retry_after():
    error = ServiceUnavailable(retry_after=7)
    assert error.headers == {"Retry-After": "7"}


def test_module_docstring_lists_every_error():
    doc = scimkit._errors.__doc__
    assert doc is not None
    for cls in ERROR_CLASSES:
        assert cls.__name__ in doc
