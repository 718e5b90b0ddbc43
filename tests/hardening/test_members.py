"""Group members name existing resources of the tenant, of the type they claim (issue 12 §3.9).

Every way of adding members (POST, PUT, PATCH add/replace) is checked on both stores: a
nonexistent id, the group itself, a User claimed as a Group, a Group without ``type: "Group"``
and another tenant's user are 400 ``invalidValue`` naming the bad values, and nothing changes.
"""

from __future__ import annotations

from typing import Any

import httpx

from scimkit.store import ResourceStore
from tests.hardening.support import check_error, count, group_body, patch_body, user_body


async def _created(client: httpx.AsyncClient, path: str, body: dict[str, Any]) -> str:
    response = await client.post(path, json=body)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def _refused(response: httpx.Response, *named: str) -> None:
    assert response.status_code == 400, response.text
    error = check_error(response)
    assert error["scimType"] == "invalidValue", error
    for value in named:
        assert value in error["detail"], error


async def test_members_must_exist_in_the_tenant_with_their_type(
    client_a: httpx.AsyncClient, client_b: httpx.AsyncClient, store: ResourceStore
) -> None:
    alice = await _created(client_a, "/Users", user_body("alice@a.example"))
    other = await _created(client_b, "/Users", user_body("bob@b.example"))
    group = await _created(client_a, "/Groups", group_body("Staff", [alice]))
    inner = await _created(client_a, "/Groups", group_body("Inner"))
    url = f"/Groups/{group}"
    version = (await client_a.get(url)).json()["meta"]["version"]
    missing = "0" * 32
    bad_members: list[tuple[list[dict[str, Any]], str]] = [
        ([{"value": missing}], missing),
        ([{"value": group, "type": "Group"}], group),
        ([{"value": alice, "type": "Group"}], alice),
        ([{"value": inner}], inner),
        ([{"value": inner, "type": "User"}], inner),
        ([{"value": other}], other),
    ]
    for members, bad in bad_members:
        add = patch_body({"op": "add", "path": "members", "value": members})
        replace = patch_body({"op": "replace", "path": "members", "value": members})
        _refused(await client_a.patch(url, json=add), bad)
        _refused(await client_a.patch(url, json=replace), bad)
        kept = [{"value": alice}] if bad != alice else []
        put = {**group_body("Staff"), "members": [*kept, *members]}
        _refused(await client_a.put(url, json=put), bad)
        count("member checks", 3)
        if bad != group:  # for a new group, another group with type "Group" is fine
            _refused(await client_a.post("/Groups", json={**put, "displayName": "New"}), bad)
            count("member checks")
    after = (await client_a.get(url)).json()
    assert after["meta"]["version"] == version
    assert [m["value"] for m in after["members"]] == [alice]
    assert (await client_a.get("/Groups", params={"filter": 'displayName eq "New"'})).json()[
        "totalResults"
    ] == 0
    # Every bad value is named, not just the first.
    several = patch_body(
        {"op": "add", "path": "members", "value": [{"value": missing}, {"value": other}]}
    )
    _refused(await client_a.patch(url, json=several), missing, other)


async def test_nested_groups_need_type_group(
    client_a: httpx.AsyncClient, store: ResourceStore
) -> None:
    alice = await _created(client_a, "/Users", user_body("alice@a.example"))
    inner = await _created(client_a, "/Groups", group_body("Inner", [alice]))
    outer = await _created(client_a, "/Groups", group_body("Outer"))
    add = patch_body(
        {
            "op": "add",
            "path": "members",
            "value": [{"value": inner, "type": "Group"}, {"value": alice, "type": "User"}],
        }
    )
    assert (await client_a.patch(f"/Groups/{outer}", json=add)).status_code in (200, 204)
    members = (await client_a.get(f"/Groups/{outer}")).json()["members"]
    assert {m["value"] for m in members} == {inner, alice}
    # Removing a member that no longer exists is never refused.
    assert (await client_a.delete(f"/Users/{alice}")).status_code == 204
    gone = patch_body({"op": "remove", "path": "members", "value": [{"value": alice}]})
    assert (await client_a.patch(f"/Groups/{outer}", json=gone)).status_code in (200, 204)
