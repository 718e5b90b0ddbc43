"""Property: any operation list either applies or raises a SCIMError, and never touches the input.

Random operations over the User and Group schemas, well-formed or not, in both tolerance modes:
no KeyError / TypeError / AttributeError / ValueError escapes, the input is unchanged whatever
happens (atomicity), and group member deltas agree with the loaded member list. The PATCH
validator, which checks only what the operations changed, agrees with the whole-resource walk.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scimkit import (
    ENTRA,
    GROUP,
    STRICT,
    USER,
    MemberDelta,
    Operation,
    PatchResult,
    SCIMError,
    Tolerance,
    needs_members,
    parse_patch,
    validate_resource,
)
from scimkit._patch._working_copy import WorkingCopy
from scimkit._resource_type import ResourceType
from scimkit._validation import validate_patched
from tests.patch.support import (
    BABS,
    ENTERPRISE,
    JAMES,
    PATCH_OP,
    apply_message,
    bare_user,
    frozen_copy,
    group,
    member,
    user,
)

USER_PATHS = [
    "displayName",
    "DISPLAYNAME",
    "nickName",
    "title",
    "userName",
    "externalId",
    "active",
    "name",
    "name.givenName",
    "Name.FamilyName",
    "name.nosuch",
    "emails",
    "emails.value",
    'emails[type eq "work"]',
    'emails[type eq "work"].value',
    'emails[type eq "home"].primary',
    "emails[primary eq true].value",
    'emails[value co "example"]',
    'emails[type eq "work" and primary eq true].display',
    'emails[not (type eq "work")]',
    'phoneNumbers[type eq "mobile"].value',
    'addresses[type eq "work"].locality',
    'addresses[type eq "work"]',
    "x509Certificates",
    "roles",
    "id",
    "meta",
    "meta.version",
    "groups",
    'groups[value eq "g"]',
    f"{ENTERPRISE}:employeeNumber",
    f"{ENTERPRISE}:manager",
    f"{ENTERPRISE}:manager.value",
    f"{ENTERPRISE}:manager.displayName",
    "urn:ietf:params:scim:schemas:core:2.0:User:displayName",
    "urn:bogus:attr",
    "emails[",
    'emails[nosuch eq "x"]',
    "",
]
GROUP_PATHS = [
    "displayName",
    "externalId",
    "members",
    "Members",
    f'members[value eq "{BABS}"]',
    f'members[value eq "{JAMES}" or value eq "c3"]',
    'members[value eq "c3"]',
    'members[type eq "User"]',
    f'members[value eq "{BABS}"].display',
    f'members[value eq "{BABS}"].value',
    "members.value",
    "id",
    "nosuch",
]
KEYS = [
    "value",
    "Value",
    "type",
    "primary",
    "display",
    "$ref",
    "givenName",
    "familyName",
    "locality",
    "nosuch",
]
PATHLESS_KEYS = [
    "displayName",
    "nickName",
    "userName",
    "active",
    "name",
    "name.givenName",
    "emails",
    "members",
    "id",
    "schemas",
    "meta",
    "externalId",
    f"{ENTERPRISE}:employeeNumber",
    f"{ENTERPRISE}:manager.value",
    ENTERPRISE,
    "urn:ietf:params:scim:schemas:extension:fcc:2.0:User:administrator",
    "nosuch",
]

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 3),
    st.sampled_from(["", "x", "True", "false", "work", "home", BABS, JAMES, "c3", "ZmFrZQ=="]),
    st.text(max_size=4),
)
records = st.dictionaries(st.sampled_from(KEYS), scalars, max_size=4)
values = st.recursive(
    st.one_of(scalars, records),
    lambda inner: st.one_of(
        st.lists(inner, max_size=3),
        st.dictionaries(st.sampled_from(PATHLESS_KEYS + KEYS), inner, max_size=4),
    ),
    max_leaves=8,
)
op_names = st.sampled_from(["add", "remove", "replace", "Add", "Remove", "Replace", "move"])

texts = st.sampled_from(["Babs", "b@example.com", "work", "x", "ÄÖ"])
booleans = st.one_of(st.booleans(), st.sampled_from(["True", "false"]))
emails = st.fixed_dictionaries(
    {"value": texts},
    optional={"type": st.sampled_from(["work", "home", "other"]), "primary": booleans},
)
members = st.fixed_dictionaries(
    {"value": st.sampled_from([BABS, JAMES, "c3"])},
    optional={"$ref": st.none(), "display": texts, "type": st.sampled_from(["User", "Group"])},
)
names = st.dictionaries(st.sampled_from(["givenName", "familyName", "formatted"]), texts)
GOOD: dict[str, st.SearchStrategy[Any]] = {
    "active": booleans,
    "name": names,
    "emails": st.lists(emails, max_size=3),
    'emails[type eq "work"]': emails,
    'emails[type eq "home"].primary': booleans,
    'addresses[type eq "work"]': st.fixed_dictionaries({"locality": texts}),
    f"{ENTERPRISE}:manager": st.one_of(st.fixed_dictionaries({"value": texts}), texts),
    "members": st.lists(members, max_size=3),
    "Members": st.lists(members, max_size=3),
    f'members[value eq "{BABS}"]': members,
    "x509Certificates": st.lists(st.fixed_dictionaries({"value": st.just("ZmFrZQ==")})),
    "roles": st.lists(st.fixed_dictionaries({"value": texts}), max_size=2),
    ENTERPRISE: st.fixed_dictionaries({}, optional={"employeeNumber": texts}),
    "urn:ietf:params:scim:schemas:extension:fcc:2.0:User:administrator": booleans,
}
GOOD["name.givenName"] = GOOD["Name.FamilyName"] = texts


GROUP_KEYS = ["displayName", "externalId", "members", "Members", "id", "schemas", "nosuch"]


@st.composite
def pathless(draw: st.DrawFn, names: list[str]) -> dict[str, Any]:
    keys = draw(st.lists(st.sampled_from(names), min_size=1, max_size=3, unique=True))
    return {key: draw(GOOD.get(key, texts)) for key in keys}


@st.composite
def well_formed(draw: st.DrawFn, paths: list[str]) -> dict[str, Any]:
    """An operation of the right shape, usually with a value of the right type."""
    op = draw(st.sampled_from(["add", "remove", "replace"]))
    path = draw(st.one_of(st.none(), st.sampled_from(paths)))
    operation: dict[str, Any] = {"op": op}
    if path is not None:
        operation["path"] = path
    if op == "remove":
        if draw(st.integers(0, 4)) == 0:
            operation["value"] = draw(st.lists(members, max_size=2))
    elif path is None:
        operation["value"] = draw(pathless(GROUP_KEYS if "members" in paths else PATHLESS_KEYS))
    else:
        good = GOOD.get(path, texts)
        operation["value"] = draw(st.one_of(good, good, good, values))
    return operation


def operations(paths: list[str]) -> st.SearchStrategy[list[dict[str, Any]]]:
    anything = st.fixed_dictionaries(
        {"op": op_names},
        optional={"path": st.one_of(st.sampled_from(paths), st.none()), "value": values},
    )
    operation = st.one_of(well_formed(paths), well_formed(paths), well_formed(paths), anything)
    return st.lists(operation, min_size=1, max_size=4)


def check(stored: dict[str, Any], ops: list[dict[str, Any]], resource_type: Any, **kw: Any):
    """Apply; return the result or ``None`` on a SCIM error. The input must be untouched."""
    before = frozen_copy(stored)
    message = {"schemas": [PATCH_OP], "Operations": ops}
    try:
        result = apply_message(stored, message, resource_type, **kw)
    except SCIMError:
        result = None
    assert stored == before
    if result is not None:
        assert isinstance(result, PatchResult)
        if kw.get("members_loaded", True):
            assert result.changed == (result.resource != stored)
    return result


def check_validators_agree(
    stored: dict[str, Any],
    ops: list[dict[str, Any]],
    resource_type: ResourceType,
    tolerance: Tolerance,
) -> None:
    """``validate_patched`` on the working copy's candidate = ``validate_resource`` (PATCH)."""
    try:
        parsed = parse_patch({"schemas": [PATCH_OP], "Operations": ops}, tolerance)
        working = WorkingCopy(stored, resource_type, tolerance, True)
        for operation in parsed:
            working.apply(operation)
    except SCIMError:
        return
    before = frozen_copy(stored)
    try:
        whole: Any = validate_resource(
            working.work, resource_type, Operation.PATCH, tolerance=tolerance, existing=stored
        )
    except SCIMError as exc:
        whole = (type(exc), exc.detail)
    try:
        # The attributes the engine changed only by sub-attribute values it checked
        # (Target.leaf) are taken as they are: the candidate must validate the same.
        engine: Any = validate_patched(
            working.work,
            stored,
            resource_type,
            tolerance=tolerance,
            touched=working.owned,
            checked=working.checked,
        )
    except SCIMError as exc:
        engine = (type(exc), exc.detail)
    try:
        touched: Any = validate_patched(
            working.work, stored, resource_type, tolerance=tolerance, touched=working.owned
        )
    except SCIMError as exc:
        assert (type(exc), exc.detail) == whole == engine
        return
    assert engine == touched
    assert stored == before
    result, changed = touched
    assert result == whole
    assert validate_patched(working.work, stored, resource_type, tolerance=tolerance) == touched
    assert changed == {k for k in stored.keys() | result.keys() if stored.get(k) != result.get(k)}


def member_ids(delta: MemberDelta, before: set[str]) -> set[str]:
    if delta.replace:
        return {m["value"] for m in delta.added}
    kept = {m["value"] for m in (*delta.added, *delta.rewritten)}
    return (before - set(delta.removed)) | kept


def run_user(data: st.DataObject) -> None:
    tolerance = data.draw(st.sampled_from([STRICT, ENTRA]))
    stored = data.draw(st.sampled_from([user, bare_user]))()
    ops = data.draw(operations(USER_PATHS))
    check(stored, ops, USER, tolerance=tolerance)
    check_validators_agree(stored, ops, USER, tolerance)


def run_group(data: st.DataObject) -> None:
    tolerance = data.draw(st.sampled_from([STRICT, ENTRA]))
    stored = group(member(BABS, "Babs"), dict(member(JAMES), type="User"))
    ops = data.draw(operations(GROUP_PATHS))
    loaded = check(stored, ops, GROUP, tolerance=tolerance)
    check_validators_agree(stored, ops, GROUP, tolerance)
    try:
        parsed = parse_patch({"schemas": [PATCH_OP], "Operations": ops}, tolerance)
    except SCIMError:
        return
    if needs_members(parsed, GROUP, tolerance=tolerance):
        return
    unloaded = check(stored, ops, GROUP, tolerance=tolerance, members_loaded=False)
    # Without the list the engine must reach the same outcome, as a delta.
    assert (loaded is None) == (unloaded is None)
    if loaded is not None and unloaded is not None:
        final = {m["value"] for m in loaded.resource.get("members", [])}
        assert member_ids(unloaded.member_delta, {BABS, JAMES}) == final
        assert member_ids(loaded.member_delta, {BABS, JAMES}) == final


CI = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
BIG = settings(max_examples=5000, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@CI
@given(st.data())
def test_user_patches_apply_or_raise_scim_errors(data: st.DataObject):
    run_user(data)


@CI
@given(st.data())
def test_group_patches_apply_or_raise_scim_errors(data: st.DataObject):
    run_group(data)


@pytest.mark.slow
@BIG
@given(st.data())
def test_user_patches_many(data: st.DataObject):
    run_user(data)


@pytest.mark.slow
@BIG
@given(st.data())
def test_group_patches_many(data: st.DataObject):
    run_group(data)
