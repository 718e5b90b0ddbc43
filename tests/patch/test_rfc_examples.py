"""The RFC 7644 §3.5.2 examples, applied to the RFC's own Babs Jensen user and group."""

from __future__ import annotations

from scimkit import GROUP, USER, MemberDelta
from tests.patch.support import BABS, JAMES, apply_message, frozen_copy, group, member, sample, user

BABS_REF = f"https://example.com/v2/Users/{BABS}"
JAMES_REF = f"https://example.com/v2/Users/{JAMES}"


def test_3_5_2_1_add_member():
    """§3.5.2.1: "add" on ``members`` adds a value to the multi-valued attribute."""
    stored = group(member(JAMES))
    result = apply_message(stored, sample("rfc7644-3.5.2.1-add-member.json"), GROUP)
    assert result.resource["members"] == [
        {"value": JAMES},
        {"value": BABS, "$ref": BABS_REF, "display": "Babs Jensen"},
    ]
    assert result.changed
    assert result.changed_attributes == {"members"}
    assert result.member_delta == MemberDelta(added=(result.resource["members"][1],))


def test_3_5_2_1_add_member_already_present_changes_nothing():
    """Re-adding a present member is not a change.

    §3.5.2.1: "If the target location already contains the value specified, no changes
    SHOULD be made to the resource ... this operation SHALL NOT change the modify timestamp".
    """
    stored = group(member(BABS, "Babs Jensen"))
    result = apply_message(stored, sample("rfc7644-3.5.2.1-add-member.json"), GROUP)
    assert not result.changed
    assert result.resource == stored
    assert not result.member_delta


def test_3_5_2_1_add_without_path():
    """§3.5.2.1: without "path" the value holds attributes to add; multi-valued ones append."""
    stored = user()
    result = apply_message(stored, sample("rfc7644-3.5.2.1-add-pathless.json"), USER)
    assert result.resource["nickName"] == "Babs"  # "nickname" in the RFC: canonical name kept
    # babs@jensen.org (home) is already there, so nothing is appended.
    assert result.resource["emails"] == stored["emails"]
    assert result.changed_attributes == {"nickName"}


def test_3_5_2_1_add_without_path_appends_new_email():
    stored = user(emails=[{"value": "bjensen@example.com", "type": "work", "primary": True}])
    result = apply_message(stored, sample("rfc7644-3.5.2.1-add-pathless.json"), USER)
    assert result.resource["emails"] == [
        {"value": "bjensen@example.com", "type": "work", "primary": True},
        {"value": "babs@jensen.org", "type": "home"},
    ]


def test_3_5_2_2_remove_single_member():
    """§3.5.2.2: a filter on a multi-valued attribute removes the matching values."""
    stored = group(member(BABS), member(JAMES))
    before = frozen_copy(stored)
    result = apply_message(stored, sample("rfc7644-3.5.2.2-remove-member.json"), GROUP)
    assert result.resource["members"] == [{"value": JAMES}]
    assert result.member_delta == MemberDelta(removed=(BABS,))
    assert stored == before


def test_3_5_2_2_remove_all_members():
    """§3.5.2.2: no filter on a multi-valued attribute: all values go, it becomes unassigned."""
    result = apply_message(
        group(member(BABS), member(JAMES)), sample("rfc7644-3.5.2.2-remove-all-members.json"), GROUP
    )
    assert "members" not in result.resource
    assert result.member_delta == MemberDelta(removed=(BABS, JAMES))


def test_3_5_2_2_remove_email_by_complex_filter():
    """§3.5.2.2: "emails[type eq "work" and value ew "example.com"]" removes that record."""
    result = apply_message(user(), sample("rfc7644-3.5.2.2-remove-email.json"), USER)
    assert result.resource["emails"] == [{"value": "babs@jensen.org", "type": "home"}]


def test_3_5_2_2_remove_all_then_add_members():
    """§3.5.2.2: operations apply in order: remove every member, then add two."""
    stored = group(member("0c3b0a63-39f6-4a95-bfd3-2c9f6e1c1e3a"))
    result = apply_message(stored, sample("rfc7644-3.5.2.2-remove-and-add-members.json"), GROUP)
    assert [m["value"] for m in result.resource["members"]] == [BABS, JAMES]
    assert result.member_delta == MemberDelta(
        added=tuple(result.resource["members"]), removed=("0c3b0a63-39f6-4a95-bfd3-2c9f6e1c1e3a",)
    )


def test_3_5_2_3_replace_members():
    """§3.5.2.3: replace on a multi-valued attribute without filter replaces all values."""
    stored = group(member("0c3b0a63-39f6-4a95-bfd3-2c9f6e1c1e3a"))
    result = apply_message(stored, sample("rfc7644-3.5.2.3-replace-members.json"), GROUP)
    assert result.resource["members"] == [
        {"value": BABS, "$ref": BABS_REF, "display": "Babs Jensen"},
        {"value": JAMES, "$ref": JAMES_REF, "display": "James Smith"},
    ]


def test_3_5_2_3_replace_work_address():
    """§3.5.2.3: a value filter without sub-attribute replaces the matching records whole."""
    result = apply_message(user(), sample("rfc7644-3.5.2.3-replace-work-address.json"), USER)
    assert result.resource["addresses"] == [
        {
            "type": "work",
            "streetAddress": "911 Universal City Plaza",
            "locality": "Hollywood",
            "region": "CA",
            "postalCode": "91608",
            "country": "US",
            "formatted": "911 Universal City Plaza\nHollywood, CA 91608 US",
            "primary": True,
        }
    ]
    assert result.changed_attributes == {"addresses"}


def test_3_5_2_3_replace_street_address():
    """§3.5.2.3: "addresses[type eq "work"].streetAddress": only that sub-attribute changes."""
    stored = user()
    result = apply_message(stored, sample("rfc7644-3.5.2.3-replace-street-address.json"), USER)
    expected = dict(stored["addresses"][0], streetAddress="1010 Broadway Ave")
    assert result.resource["addresses"] == [expected]


def test_3_5_2_3_replace_without_path():
    """§3.5.2.3: without "path" the listed attributes are replaced; multi-valued ones whole."""
    stored = user(emails=[{"value": "old@example.com", "type": "other"}])
    result = apply_message(stored, sample("rfc7644-3.5.2.3-replace-pathless.json"), USER)
    assert result.resource["emails"] == [
        {"value": "bjensen@example.com", "type": "work", "primary": True},
        {"value": "babs@jensen.org", "type": "home"},
    ]
    assert result.resource["nickName"] == "Babs"
    assert result.changed_attributes == {"emails", "nickName"}
