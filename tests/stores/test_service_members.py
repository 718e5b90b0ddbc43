"""ResourceService over each store: a group PATCH means the same whether members were loaded.

The service loads a group's member list only when an operation needs it (``needs_members``);
otherwise the engine hands the store a member delta. Both paths must store the same members.
"""

from __future__ import annotations

from typing import Any

import pytest

from scimkit import (
    GROUP,
    USER,
    ResourceService,
    ResourceType,
    needs_members,
    parse_patch,
)

T = "acme"
GROUP_URN = "urn:ietf:params:scim:schemas:core:2.0:Group"
USER_URN = "urn:ietf:params:scim:schemas:core:2.0:User"


@pytest.fixture
def resource_types() -> tuple[ResourceType, ...]:
    return (USER, GROUP)


def patch(*operations: dict[str, Any]) -> dict[str, Any]:
    return {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": list(operations),
    }


async def new_user(service: ResourceService, name: str) -> str:
    created = await service.create(T, USER, {"schemas": [USER_URN], "userName": name})
    return str(created["id"])


@pytest.mark.parametrize("loaded", [False, True], ids=["delta", "loaded"])
async def test_a_member_removed_and_added_again_takes_its_new_form(
    service: ResourceService, loaded: bool
):
    """Issue 12 §3.8: the re-added member's ``display`` is the new one, loaded or not."""
    alice = await new_user(service, "alice")
    bob = await new_user(service, "bob")
    group = await service.create(
        T,
        GROUP,
        {
            "schemas": [GROUP_URN],
            "displayName": "Tour Guides",
            "members": [{"value": alice, "display": "old"}, {"value": bob}],
        },
    )
    operations: list[dict[str, Any]] = [
        {"op": "remove", "path": f'members[value eq "{alice}"]'},
        {"op": "add", "path": "members", "value": [{"value": alice, "display": "new"}]},
    ]
    if loaded:
        # An operation that reads the list makes the service load it.
        operations.append({"op": "add", "path": f'members[value eq "{bob}"].display', "value": "B"})
    body = patch(*operations)
    assert needs_members(parse_patch(body), GROUP) is loaded
    await service.patch(T, GROUP, group["id"], body)
    stored = await service.get(T, GROUP, group["id"])
    by_id = {member["value"]: member for member in stored["members"]}
    assert by_id[alice]["display"] == "new"
    assert stored["meta"]["version"] != group["meta"]["version"]


async def test_a_member_removed_and_added_again_unchanged_keeps_the_version(
    service: ResourceService,
):
    alice = await new_user(service, "alice")
    group = await service.create(
        T,
        GROUP,
        {
            "schemas": [GROUP_URN],
            "displayName": "Tour Guides",
            "members": [{"value": alice, "display": "same"}],
        },
    )
    stored = await service.get(T, GROUP, group["id"])
    body = patch(
        {"op": "remove", "path": f'members[value eq "{alice}"]'},
        {"op": "add", "path": "members", "value": [dict(stored["members"][0])]},
    )
    await service.patch(T, GROUP, group["id"], body)
    again = await service.get(T, GROUP, group["id"])
    assert again["members"] == stored["members"]
    assert again["meta"]["version"] == stored["meta"]["version"]
