"""Group members as a delta: a store applies member changes without loading the member list."""

from __future__ import annotations

from typing import Any

import pytest

from scimkit import (
    ENTRA,
    GROUP,
    STRICT,
    USER,
    InternalError,
    InvalidSyntax,
    InvalidValue,
    MemberDelta,
    needs_members,
    parse_patch,
)
from tests.patch.support import BABS, JAMES, apply_message, body, group, member

CAROL = "7f4bc1a3-285e-48ae-8202-5accb43efb0e"


def unloaded(*operations: dict[str, Any], tolerance=ENTRA) -> Any:
    """Apply to a group read without its members (``members_loaded=False``)."""
    return apply_message(
        group(), body(*operations), GROUP, tolerance=tolerance, members_loaded=False
    )


class TestDeltaWithoutMembers:
    def test_add_becomes_added_members_with_null_ref_dropped(self):
        result = unloaded(
            {
                "op": "Add",
                "path": "members",
                "value": [
                    {"$ref": None, "value": BABS},
                    {"value": JAMES, "display": "James Smith"},
                ],
            }
        )
        assert result.member_delta == MemberDelta(
            added=({"value": BABS}, {"value": JAMES, "display": "James Smith"})
        )
        assert "members" not in result.resource
        assert result.changed
        assert result.changed_attributes == frozenset()

    def test_the_same_member_twice_is_added_once(self):
        result = unloaded(
            {"op": "add", "path": "members", "value": [{"value": BABS}, {"value": BABS}]}
        )
        assert result.member_delta.added == ({"value": BABS},)

    def test_remove_by_filter_becomes_removed_ids(self):
        result = unloaded(
            {"op": "remove", "path": f'members[value eq "{BABS}"]'},
            {"op": "remove", "path": f'members[value eq "{JAMES}" or value eq "{CAROL}"]'},
            tolerance=STRICT,
        )
        assert result.member_delta == MemberDelta(removed=(BABS, JAMES, CAROL))

    def test_remove_by_value_array_needs_the_tolerance(self):
        operation = {"op": "remove", "path": "members", "value": [{"value": BABS}]}
        assert unloaded(operation).member_delta == MemberDelta(removed=(BABS,))
        with pytest.raises(InvalidSyntax):
            unloaded(operation, tolerance=STRICT)

    def test_remove_all_members_is_an_empty_replacement(self):
        """RFC 7644 §3.5.2.2: remove on a multi-valued attribute without filter removes all."""
        result = unloaded({"op": "remove", "path": "members"}, tolerance=STRICT)
        assert result.member_delta == MemberDelta(replace=True)
        assert result.changed

    def test_replace_is_a_replacement(self):
        result = unloaded(
            {"op": "replace", "path": "members", "value": [{"value": BABS}]}, tolerance=STRICT
        )
        assert result.member_delta == MemberDelta(added=({"value": BABS},), replace=True)

    def test_pathless_members_value(self):
        result = unloaded(
            {"op": "add", "value": {"members": [{"value": BABS}], "displayName": "New"}}
        )
        assert result.member_delta == MemberDelta(added=({"value": BABS},))
        assert result.resource["displayName"] == "New"
        assert result.changed_attributes == {"displayName"}

    def test_later_operations_win_per_member(self):
        """Entra sends an add and a remove of the same member in one request (V1)."""
        result = unloaded(
            {"op": "add", "path": "members", "value": [{"value": BABS}, {"value": JAMES}]},
            {"op": "remove", "path": f'members[value eq "{BABS}"]'},
            {"op": "remove", "path": "members", "value": [{"value": CAROL}]},
            {"op": "add", "path": "members", "value": [{"value": CAROL}]},
        )
        assert result.member_delta == MemberDelta(
            added=({"value": JAMES},), removed=(BABS,), rewritten=({"value": CAROL},)
        )

    def test_a_member_removed_and_added_again_is_rewritten_in_its_new_form(self):
        """Issue 12 §3.8: the store must overwrite the member, not keep its stored form."""
        result = unloaded(
            {"op": "remove", "path": f'members[value eq "{BABS}"]'},
            {"op": "add", "path": "members", "value": [{"value": BABS, "display": "new"}]},
            {"op": "add", "path": "members", "value": [{"value": BABS, "display": "newer"}]},
        )
        assert result.member_delta == MemberDelta(rewritten=({"value": BABS, "display": "new"},))
        again = unloaded(
            {"op": "remove", "path": f'members[value eq "{BABS}"]'},
            {"op": "add", "path": "members", "value": [{"value": BABS, "display": "new"}]},
            {"op": "remove", "path": f'members[value eq "{BABS}"]'},
        )
        assert again.member_delta == MemberDelta(removed=(BABS,))

    def test_operations_after_a_replacement_edit_the_replacement(self):
        result = unloaded(
            {"op": "replace", "path": "members", "value": [{"value": BABS}, {"value": JAMES}]},
            {"op": "remove", "path": f'members[value eq "{BABS}"]'},
            {"op": "add", "path": "members", "value": [{"value": CAROL}]},
        )
        assert result.member_delta == MemberDelta(
            added=({"value": JAMES}, {"value": CAROL}), replace=True
        )

    def test_a_members_key_in_the_input_is_ignored(self):
        stored = group(member(BABS))
        result = apply_message(
            stored,
            body({"op": "replace", "path": "displayName", "value": "X"}),
            GROUP,
            members_loaded=False,
        )
        assert "members" not in result.resource
        assert result.changed_attributes == {"displayName"}

    @pytest.mark.parametrize(
        "value",
        [
            [{"display": "no id"}],
            [{"value": ""}],
            [{"value": 5}],
            [{"value": BABS, "display": 5}],
            [{"value": BABS, "nosuch": "x"}],
            ["just-an-id"],
        ],
    )
    def test_member_values_are_checked(self, value: Any):
        with pytest.raises(InvalidValue):
            unloaded({"op": "add", "path": "members", "value": value})

    def test_an_operation_needing_the_list_is_an_internal_error(self):
        with pytest.raises(InternalError):
            unloaded({"op": "remove", "path": 'members[type eq "Group"]'})


@pytest.mark.parametrize(
    ("operations", "expected"),
    [
        ([{"op": "add", "path": "members", "value": [{"value": BABS}]}], False),
        ([{"op": "replace", "path": "members", "value": []}], False),
        ([{"op": "remove", "path": "members"}], False),
        ([{"op": "remove", "path": "members", "value": [{"value": BABS}]}], False),
        ([{"op": "remove", "path": f'members[value eq "{BABS}"]'}], False),
        ([{"op": "remove", "path": f'members[value eq "{BABS}" or value eq "{JAMES}"]'}], False),
        ([{"op": "replace", "value": {"members": [{"value": BABS}]}}], False),
        ([{"op": "replace", "path": "displayName", "value": "x"}], False),
        ([{"op": "remove", "path": "nosuch[value eq 1]"}], False),
        ([{"op": "remove", "path": 'members[type eq "User"]'}], True),
        ([{"op": "remove", "path": f'members[value ne "{BABS}"]'}], True),
        ([{"op": "remove", "path": f'members[value eq "{BABS}" and type eq "User"]'}], True),
        (
            [{"op": "replace", "path": f'members[value eq "{BABS}"]', "value": {"value": BABS}}],
            True,
        ),
        ([{"op": "add", "path": f'members[value eq "{BABS}"].display', "value": "B"}], True),
        ([{"op": "remove", "path": f'members[value eq "{BABS}"].display'}], True),
    ],
)
def test_needs_members(operations: list[dict[str, Any]], expected: bool):
    assert needs_members(parse_patch(body(*operations), ENTRA), GROUP, tolerance=ENTRA) is expected


def test_resource_types_without_members_never_need_them():
    assert not needs_members(parse_patch(body({"op": "remove", "path": "members"})), USER)


class TestLoadedMembers:
    def test_adding_a_present_member_is_a_no_op(self):
        """Entra re-sends adds for existing members whenever one is removed (entra-quirks §A.8)."""
        stored = group(member(BABS, "Babs"), member(JAMES))
        result = apply_message(
            stored,
            body({"op": "add", "path": "members", "value": [{"$ref": None, "value": BABS}]}),
            GROUP,
        )
        assert not result.changed
        assert not result.member_delta

    def test_removing_an_absent_member_is_a_no_op(self):
        """A store cannot tell without loading the list, so neither path answers noTarget."""
        result = apply_message(
            group(member(BABS)),
            body({"op": "remove", "path": f'members[value eq "{JAMES}"]'}),
            GROUP,
        )
        assert not result.changed

    def test_a_changed_member_record_makes_a_replacement(self):
        stored = group(member(BABS), member(JAMES))
        result = apply_message(
            stored,
            body(
                {
                    "op": "replace",
                    "path": "members",
                    "value": [{"value": BABS, "type": "User"}, {"value": JAMES}],
                }
            ),
            GROUP,
        )
        assert result.member_delta == MemberDelta(
            added=({"value": BABS, "type": "User"}, {"value": JAMES}), replace=True
        )

    def test_filters_other_than_value_eq_work_on_the_loaded_list(self):
        stored = group(dict(member(BABS), type="User"), dict(member(JAMES), type="Group"))
        result = apply_message(
            stored, body({"op": "remove", "path": 'members[type eq "Group"]'}), GROUP
        )
        assert result.resource["members"] == [{"value": BABS, "type": "User"}]
        assert result.member_delta == MemberDelta(removed=(JAMES,))


MEMBER_BODIES: list[list[dict[str, Any]]] = [
    [{"op": "add", "path": "members", "value": [{"value": BABS}, {"value": CAROL}]}],
    [{"op": "remove", "path": f'members[value eq "{BABS}"]'}],
    [{"op": "remove", "path": "members", "value": [{"value": JAMES}, {"value": CAROL}]}],
    [
        {"op": "remove", "path": "members"},
        {"op": "add", "path": "members", "value": [{"value": CAROL}]},
    ],
    [{"op": "replace", "path": "members", "value": [{"value": CAROL}, {"value": BABS}]}],
    [
        {"op": "add", "path": "members", "value": [{"value": CAROL}]},
        {"op": "remove", "path": f'members[value eq "{CAROL}"]'},
        {"op": "add", "path": "members", "value": [{"value": JAMES}]},
    ],
    [
        {"op": "remove", "path": f'members[value eq "{BABS}"]'},
        {"op": "add", "path": "members", "value": [{"value": BABS, "display": "new"}]},
    ],
    [
        {"op": "remove", "path": "members", "value": [{"value": JAMES}]},
        {"op": "add", "path": "members", "value": [{"value": JAMES, "type": "User"}]},
        {"op": "add", "path": "members", "value": [{"value": BABS, "display": "kept"}]},
    ],
]


def apply_delta(members: list[dict[str, Any]], delta: MemberDelta) -> dict[str, Any]:
    """What a store does with a delta (in any order of its parts): members by id."""
    if delta.replace:
        return {m["value"]: m for m in delta.added}
    found = {m["value"]: m for m in members if m["value"] not in delta.removed}
    for added in delta.added:
        found.setdefault(added["value"], added)  # a present member keeps its stored form
    found.update((m["value"], m) for m in delta.rewritten)
    return found


@pytest.mark.parametrize("operations", MEMBER_BODIES)
def test_loaded_and_unloaded_runs_agree(operations: list[dict[str, Any]]):
    """The same members, records included, whether the list was loaded (issue 12 §3.8)."""
    members = [member(BABS, "old"), member(JAMES)]
    stored = group(*members)
    loaded = apply_message(stored, body(*operations), GROUP, tolerance=ENTRA)
    delta_only = apply_message(
        stored, body(*operations), GROUP, tolerance=ENTRA, members_loaded=False
    )
    final = {m["value"]: m for m in loaded.resource.get("members", [])}
    assert apply_delta(members, delta_only.member_delta) == final
    assert apply_delta(members, loaded.member_delta) == final
