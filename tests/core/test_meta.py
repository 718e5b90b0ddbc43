from __future__ import annotations

from scimkit import USER, etag_matches, parse_etags, utc_now
from scimkit._meta import location, new_meta


def test_utc_now_is_millisecond_precision():
    assert utc_now().microsecond % 1000 == 0


def test_new_meta_and_location():
    now = utc_now()
    assert new_meta(USER, now) == {"resourceType": "User", "created": now, "lastModified": now}
    assert location("https://h/scim/v2/t/", USER, "abc") == "https://h/scim/v2/t/Users/abc"


def test_etags_compare_weakly():
    """RFC 7644 §3.14: versions are weak entity tags."""
    assert parse_etags("*") is None
    assert parse_etags('W/"1", "2"') == ('"1"', '"2"')
    assert etag_matches('W/"1"', parse_etags('"1"'))
    assert etag_matches('W/"1"', parse_etags("*"))
    assert not etag_matches('W/"1"', parse_etags('W/"2"'))
    assert not etag_matches(None, None)
