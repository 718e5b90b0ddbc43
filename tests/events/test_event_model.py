"""The event model: which events a write makes (RFC 9967 §2.4), and their payloads."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from scimkit import (
    ENTERPRISE_USER_SCHEMA,
    ENTRA,
    GROUP,
    USER,
    EventForm,
    EventType,
    MemoryStore,
    ResourceService,
    ServiceConfig,
    apply_patch,
    changed_paths,
    departure_events,
    parse_patch,
    write_events,
)

T = "acme"
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


def patch_body(*operations: dict[str, Any]) -> dict[str, Any]:
    return {"schemas": [PATCH], "Operations": list(operations)}


@pytest.fixture
def service() -> ResourceService:
    config = ServiceConfig(change_password=True)
    return ResourceService(MemoryStore(), [USER, GROUP], tolerance=ENTRA, config=config)


async def new_user(service: ResourceService, **extra: Any) -> dict[str, Any]:
    body = {"schemas": [USER.schema.id], "userName": "bjensen", "externalId": "hr-1", **extra}
    return await service.create(T, USER, body)


async def test_create_event_carries_the_resource_as_a_get_returns_it(service):
    after = await new_user(service, password="hunter2", active=True)
    (event,) = write_events(T, USER, EventType.CREATE, after["id"], iat=NOW, after=after)
    assert event.type is EventType.CREATE
    assert event.uri == f"/Users/{after['id']}"
    assert event.external_id == "hr-1"
    assert event.version == after["meta"]["version"]
    assert event.data["userName"] == "bjensen"
    assert "password" not in event.data
    assert "password" not in event.attributes
    assert event.attributes == ("active", "externalId", "userName")
    assert event.payload(EventForm.FULL) == {"data": event.data, "version": event.version}
    assert event.payload(EventForm.NOTICE) == {
        "attributes": ["active", "externalId", "userName"],
        "version": event.version,
    }
    assert event.event_uri(EventForm.NOTICE) == "urn:ietf:params:scim:event:prov:create:notice"


async def test_put_reports_changed_paths_and_deactivation(service):
    before = await new_user(service, name={"givenName": "Barbara", "familyName": "Jensen"})
    body = {
        "schemas": [USER.schema.id],
        "userName": "bjensen",
        "externalId": "hr-1",
        "name": {"givenName": "Barbara", "familyName": "Smith"},
        "active": False,
    }
    after = await service.replace(T, USER, before["id"], body)
    events = write_events(T, USER, EventType.PUT, before["id"], iat=NOW, before=before, after=after)
    assert [e.type for e in events] == [EventType.PUT, EventType.DEACTIVATE]
    put, deactivate = events
    assert put.attributes == ("active", "name.familyName")
    assert put.data["name"]["familyName"] == "Smith"
    assert deactivate.payload() == {"version": after["meta"]["version"]}
    assert deactivate.event_uri() == "urn:ietf:params:scim:event:prov:deactivate"
    assert len({e.txn for e in events}) == 1
    assert len({e.jti for e in events}) == 2


@pytest.mark.parametrize(
    ("value", "expected"),
    [("False", EventType.DEACTIVATE), (False, EventType.DEACTIVATE), ("True", None)],
)
async def test_entra_active_strings_are_activation_changes(service, value, expected):
    before = await new_user(service, active=True)
    operations = parse_patch(patch_body({"op": "Replace", "path": "active", "value": value}), ENTRA)
    after = await service.patch(
        T, USER, before["id"], patch_body({"op": "Replace", "path": "active", "value": value})
    )
    events = write_events(
        T,
        USER,
        EventType.PATCH,
        before["id"],
        iat=NOW,
        before=before,
        after=after,
        operations=operations,
    )
    kinds = [e.type for e in events]
    if expected is None:
        assert kinds == [EventType.PATCH]
        assert events[0].attributes == ()
    else:
        assert kinds == [EventType.PATCH, expected]
        assert events[0].attributes == ("active",)
    assert events[0].data == {
        "schemas": [PATCH],
        "Operations": [{"op": "replace", "path": "active", "value": value}],
    }


async def test_reactivation(service):
    before = await new_user(service, active=False)
    after = await service.patch(
        T, USER, before["id"], patch_body({"op": "replace", "path": "active", "value": True})
    )
    events = write_events(
        T, USER, EventType.PATCH, before["id"], iat=NOW, before=before, after=after
    )
    assert [e.type for e in events] == [EventType.PATCH, EventType.ACTIVATE]


async def test_a_create_reports_no_activation(service):
    after = await new_user(service, active=False)
    events = write_events(T, USER, EventType.CREATE, after["id"], iat=NOW, after=after)
    assert [e.type for e in events] == [EventType.CREATE]


async def test_patch_data_hides_never_returned_values(service):
    before = await new_user(service)
    body = patch_body(
        {"op": "replace", "path": "password", "value": "hunter2"},
        {
            "op": "replace",
            "value": {"Password": "x2", "displayName": "Babs", "name.givenName": "B"},
        },
        {"op": "add", "path": "emails", "value": [{"value": "b@example.com", "type": "work"}]},
    )
    operations = parse_patch(body, ENTRA)
    after = await service.patch(T, USER, before["id"], body)
    (event,) = write_events(
        T,
        USER,
        EventType.PATCH,
        before["id"],
        iat=NOW,
        before=before,
        after=after,
        operations=operations,
    )
    assert "hunter2" not in repr(event) and "x2" not in repr(event)
    assert event.data["Operations"] == [
        {"op": "replace", "value": {"displayName": "Babs", "name.givenName": "B"}},
        {"op": "add", "path": "emails", "value": [{"value": "b@example.com", "type": "work"}]},
    ]
    assert event.attributes == ("displayName", "emails", "name.givenName")


async def test_extension_attributes_are_named_with_their_urn(service):
    from scimkit import ResourceType, SchemaExtension

    user_type = ResourceType(
        "User", "/Users", USER.schema, (SchemaExtension(ENTERPRISE_USER_SCHEMA),)
    )
    service = ResourceService(MemoryStore(), [user_type, GROUP], tolerance=ENTRA)
    before = await service.create(T, user_type, {"schemas": [USER.schema.id], "userName": "x"})
    after = await service.patch(
        T,
        user_type,
        before["id"],
        patch_body(
            {
                "op": "add",
                "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
                "value": "R&D",
            }
        ),
    )
    assert changed_paths(before, after, user_type) == (
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department",
    )


async def test_group_member_changes_are_a_members_patch(service):
    user = await new_user(service)
    group = await service.create(T, GROUP, {"schemas": [GROUP.schema.id], "displayName": "Ops"})
    operations = parse_patch(
        patch_body({"op": "add", "path": "members", "value": [{"value": user["id"]}]}), ENTRA
    )
    # As the service runs it for a member-only PATCH: members not loaded, a delta instead.
    current = await service.get(T, GROUP, group["id"], members=False)
    result = apply_patch(current, operations, GROUP, tolerance=ENTRA, members_loaded=False)
    assert result.member_delta
    after = await service.patch(
        T,
        GROUP,
        group["id"],
        patch_body({"op": "add", "path": "members", "value": [{"value": user["id"]}]}),
    )
    (event,) = write_events(
        T,
        GROUP,
        EventType.PATCH,
        group["id"],
        iat=NOW,
        before=current,
        after=result.resource | {"meta": after["meta"]},
        operations=operations,
        member_delta=result.member_delta,
    )
    assert event.attributes == ("members",)
    assert event.uri == f"/Groups/{group['id']}"
    assert event.data["Operations"][0]["value"] == [{"value": user["id"]}]


async def test_delete_and_the_groups_a_user_leaves(service):
    user = await new_user(service)
    (event,) = write_events(T, USER, EventType.DELETE, user["id"], iat=NOW, before=user)
    assert event.payload() == {} and event.version is None
    assert event.event_uri() == "urn:ietf:params:scim:event:prov:delete"
    left = departure_events(
        T,
        GROUP,
        user["id"],
        [("g1", 'W/"4"', None), ("g2", 'W/"2"', "ext")],
        iat=NOW,
        txn=event.txn,
    )
    assert [(e.id, e.version, e.attributes) for e in left] == [
        ("g1", 'W/"4"', ("members",)),
        ("g2", 'W/"2"', ("members",)),
    ]
    assert left[0].data["Operations"] == [
        {"op": "remove", "path": f'members[value eq "{user["id"]}"]'}
    ]
    assert {e.txn for e in left} == {event.txn}


def test_every_event_uri():
    assert len(EventType.all_uris()) == 9
    assert "urn:ietf:params:scim:event:prov:put:full" in EventType.all_uris()


async def test_json_round_trip(service):
    after = await new_user(service)
    (event,) = write_events(T, USER, EventType.CREATE, after["id"], iat=NOW, after=after)
    placed = event.at(7)
    assert type(placed).from_json(placed.to_json()) == placed


def test_write_events_refuses_non_writes():
    with pytest.raises(ValueError):
        write_events(T, USER, EventType.ACTIVATE, "x", iat=NOW, after={})


@pytest.mark.parametrize(
    ("path", "named"),
    [
        ("password", True),
        ("PassWord", True),
        ('emails[type eq "work"].value', False),
        # Longer than the texts whose answers are cached: checked, not cached.
        ('emails[value eq "' + "x" * 300 + '"].display', False),
        ('emails[value eq "' + "x" * 300 + '"].password', True),
    ],
)
def test_an_operation_naming_a_never_returned_attribute_is_found_in_any_case_and_length(
    path, named
):
    from scimkit._event import _operation_rows
    from scimkit._patch import PatchOperation

    hidden = frozenset({"password"})
    values: list[Any] = ["v", {"k": "v"}]
    for value in values:
        operations = [PatchOperation("replace", path, value)]
        assert (_operation_rows(operations, hidden) is None) is named
        if not named:
            assert _operation_rows(operations, hidden) == [("replace", path, value)]
    fragments: list[Any] = [{path: "v"}, {"urn:x": {path: "v"}}]
    for value in fragments:
        operations = [PatchOperation("replace", None, value)]
        assert (_operation_rows(operations, hidden) is None) is named
