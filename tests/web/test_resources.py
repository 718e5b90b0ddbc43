"""Single-resource endpoints end to end: create, read, replace, patch, delete; ETags."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from scimkit import ServiceConfig
from tests.web.conftest import BASE, group_body, patch_body, user_body

USER_URN = "urn:ietf:params:scim:schemas:core:2.0:User"


async def test_create_user_answers_201_with_location_etag_and_meta(
    client: httpx.AsyncClient,
) -> None:
    """RFC 7644 §3.3: 201 Created, the resource with id and meta, and a Location header."""
    response = await client.post("/Users", json=user_body("bob@example.com"))
    assert response.status_code == 201
    assert response.headers["content-type"] == "application/scim+json; charset=utf-8"
    data = response.json()
    assert data["userName"] == "bob@example.com"
    assert data["schemas"] == [USER_URN]
    location = f"{BASE}/Users/{data['id']}"
    assert response.headers["location"] == location
    assert data["meta"]["location"] == location
    assert data["meta"]["resourceType"] == "User"
    assert data["meta"]["created"].endswith("Z")
    assert response.headers["etag"] == data["meta"]["version"]


async def test_entra_create_body_is_accepted(client: httpx.AsyncClient) -> None:
    """entra-requests.md §3.2: client meta, enterprise URN, string booleans, empty roles."""
    body = {
        "schemas": [
            USER_URN,
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
        ],
        "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
        "userName": "Test_User_00aa00aa@testuser.com",
        "active": "True",
        "emails": [{"primary": True, "type": "work", "value": "t@testuser.com"}],
        "meta": {"resourceType": "User"},
        "name": {"formatted": "g f", "familyName": "f", "givenName": "g"},
        "roles": [],
    }
    response = await client.post("/Users", json=body)
    assert response.status_code == 201, response.text
    assert response.json()["active"] is True


async def test_duplicate_user_name_is_409_uniqueness(
    client: httpx.AsyncClient, user: dict[str, Any]
) -> None:
    response = await client.post("/Users", json=user_body(user["userName"].upper()))
    assert response.status_code == 409
    assert response.json()["scimType"] == "uniqueness"


async def test_get_returns_resource_with_headers(
    client: httpx.AsyncClient, user: dict[str, Any]
) -> None:
    response = await client.get(f"/Users/{user['id']}")
    assert response.status_code == 200
    assert response.json()["id"] == user["id"]
    assert response.headers["etag"] == user["meta"]["version"]
    assert response.headers["location"] == user["meta"]["location"]


async def test_get_unknown_id_is_scim_404(client: httpx.AsyncClient) -> None:
    response = await client.get("/Users/does-not-exist")
    assert response.status_code == 404
    body = response.json()
    assert body["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]
    assert body["status"] == "404"


async def test_if_none_match_gives_304_without_body(
    client: httpx.AsyncClient, user: dict[str, Any]
) -> None:
    """RFC 7644 §3.14: a GET whose If-None-Match matches the current version answers 304."""
    version = user["meta"]["version"]
    response = await client.get(f"/Users/{user['id']}", headers={"If-None-Match": version})
    assert response.status_code == 304
    assert response.content == b""
    assert response.headers["etag"] == version
    stale = await client.get(f"/Users/{user['id']}", headers={"If-None-Match": 'W/"nope"'})
    assert stale.status_code == 200


async def test_attributes_and_excluded_attributes_on_get(
    client: httpx.AsyncClient, user: dict[str, Any]
) -> None:
    only = (await client.get(f"/Users/{user['id']}?attributes=userName")).json()
    assert set(only) == {"id", "schemas", "userName"}
    without = (await client.get(f"/Users/{user['id']}?excludedAttributes=active")).json()
    assert "active" not in without and without["userName"] == user["userName"]


async def test_put_replaces_and_honours_if_match(
    client: httpx.AsyncClient, user: dict[str, Any]
) -> None:
    url = f"/Users/{user['id']}"
    body = user_body(user["userName"], displayName="Alice")
    stale = await client.put(url, json=body, headers={"If-Match": 'W/"stale"'})
    assert stale.status_code == 412
    assert stale.json()["status"] == "412"
    response = await client.put(url, json=body, headers={"If-Match": user["meta"]["version"]})
    assert response.status_code == 200, response.text
    data = response.json()
    assert data["displayName"] == "Alice"
    assert data["meta"]["version"] != user["meta"]["version"]
    assert data["meta"]["created"] == user["meta"]["created"]
    star = await client.put(url, json=user_body(user["userName"]), headers={"If-Match": "*"})
    assert star.status_code == 200
    assert "displayName" not in star.json()


async def test_patch_user_answers_200_with_resource(
    client: httpx.AsyncClient, user: dict[str, Any]
) -> None:
    """entra-requests.md §5.1: disable with a capitalised op and a string Boolean."""
    response = await client.patch(
        f"/Users/{user['id']}",
        json=patch_body({"op": "Replace", "path": "active", "value": "False"}),
    )
    assert response.status_code == 200, response.text
    data = response.json()
    assert data["active"] is False
    assert response.headers["etag"] == data["meta"]["version"]
    assert data["meta"]["lastModified"] >= user["meta"]["lastModified"]


async def test_patch_that_changes_nothing_keeps_the_version(
    client: httpx.AsyncClient, user: dict[str, Any]
) -> None:
    response = await client.patch(
        f"/Users/{user['id']}",
        json=patch_body({"op": "replace", "path": "active", "value": True}),
    )
    assert response.status_code == 200
    assert response.json()["meta"]["version"] == user["meta"]["version"]


async def test_patch_if_match_mismatch_is_412(
    client: httpx.AsyncClient, user: dict[str, Any]
) -> None:
    response = await client.patch(
        f"/Users/{user['id']}",
        json=patch_body({"op": "replace", "path": "active", "value": False}),
        headers={"If-Match": 'W/"999"'},
    )
    assert response.status_code == 412


async def test_group_patch_answers_204_unless_members_are_loaded_or_asked_for(
    client: httpx.AsyncClient, user: dict[str, Any]
) -> None:
    """RFC 7644 §3.5.2: 200 with the entire resource, or 204; never 200 with members left out.

    A PATCH that did not load the members (Entra's member adds on large groups) answers 204;
    one that loaded them anyway, or a client asking with ``attributes``/``excludedAttributes``,
    gets the resource as asked, members included unless excluded.
    """
    group = (await client.post("/Groups", json=group_body())).json()
    url = f"/Groups/{group['id']}"
    add = patch_body(
        {"op": "Add", "path": "members", "value": [{"$ref": None, "value": user["id"]}]}
    )
    response = await client.patch(url, json=add)
    assert response.status_code == 204, response.text
    assert response.content == b""
    version = response.headers["etag"]
    assert version == (await client.get(url)).json()["meta"]["version"]
    rename = patch_body({"op": "replace", "path": "displayName", "value": "Ops"})
    assert (await client.patch(url, json=rename)).status_code == 204
    # The members were loaded to apply a filter: the whole resource, members included.
    loaded = await client.patch(
        url,
        json=patch_body(
            {"op": "replace", "path": f'members[value eq "{user["id"]}"].display', "value": "A"}
        ),
    )
    assert loaded.status_code == 200, loaded.text
    assert [m["value"] for m in loaded.json()["members"]] == [user["id"]]
    asked = await client.patch(url + "?attributes=members", json=rename)
    assert asked.status_code == 200
    assert [m["value"] for m in asked.json()["members"]] == [user["id"]]
    lean = await client.patch(url + "?excludedAttributes=members", json=rename)
    assert lean.status_code == 200
    assert "members" not in lean.json() and lean.json()["displayName"] == "Ops"


@pytest.mark.parametrize(
    ("config", "status"),
    [
        (ServiceConfig(group_patch_response="always_resource"), 200),
        (ServiceConfig(group_patch_response="always_no_content"), 204),
    ],
)
async def test_group_patch_response_is_configurable(
    client: httpx.AsyncClient, user: dict[str, Any], status: int
) -> None:
    group = (await client.post("/Groups", json=group_body())).json()
    url = f"/Groups/{group['id']}"
    add = patch_body({"op": "add", "path": "members", "value": [{"value": user["id"]}]})
    response = await client.patch(url, json=add)
    assert response.status_code == status, response.text
    if status == 200:
        assert [m["value"] for m in response.json()["members"]] == [user["id"]]
    rename = patch_body({"op": "replace", "path": "displayName", "value": "Ops"})
    assert (await client.patch(url + "?attributes=members", json=rename)).status_code == status


def test_group_patch_response_rule_is_checked() -> None:
    with pytest.raises(ValueError, match="group_patch_response"):
        ServiceConfig(group_patch_response="sometimes")  # type: ignore[arg-type]


async def test_deleting_a_member_makes_its_groups_etags_stale(
    client: httpx.AsyncClient, user: dict[str, Any]
) -> None:
    """Issue 12 §3.1: the old ETag neither answers 304 nor lets a PUT write the member back."""
    group = (await client.post("/Groups", json=group_body(members=[{"value": user["id"]}]))).json()
    url = f"/Groups/{group['id']}"
    old = group["meta"]["version"]
    assert (await client.get(url, headers={"If-None-Match": old})).status_code == 304
    assert (await client.delete(f"/Users/{user['id']}")).status_code == 204
    fresh = await client.get(url, headers={"If-None-Match": old})
    assert fresh.status_code == 200 and "members" not in fresh.json()
    stale = await client.put(
        url, json=group_body(members=[{"value": user["id"]}]), headers={"If-Match": old}
    )
    assert stale.status_code == 412


async def test_user_groups_carry_ref(client: httpx.AsyncClient, user: dict[str, Any]) -> None:
    group = (await client.post("/Groups", json=group_body())).json()
    await client.patch(
        f"/Groups/{group['id']}",
        json=patch_body({"op": "add", "path": "members", "value": [{"value": user["id"]}]}),
    )
    data = (await client.get(f"/Users/{user['id']}")).json()
    assert data["groups"][0]["value"] == group["id"]
    assert data["groups"][0]["$ref"] == f"{BASE}/Groups/{group['id']}"


async def test_delete_answers_204_then_404(client: httpx.AsyncClient, user: dict[str, Any]) -> None:
    url = f"/Users/{user['id']}"
    stale = await client.delete(url, headers={"If-Match": 'W/"0"'})
    assert stale.status_code == 412
    response = await client.delete(url)
    assert response.status_code == 204
    assert response.content == b""
    assert (await client.get(url)).status_code == 404
    assert (await client.delete(url)).status_code == 404


async def test_delete_with_matching_if_match(
    client: httpx.AsyncClient, user: dict[str, Any]
) -> None:
    url = f"/Users/{user['id']}"
    response = await client.delete(url, headers={"If-Match": user["meta"]["version"]})
    assert response.status_code == 204


async def test_invalid_value_is_400_with_detail(client: httpx.AsyncClient) -> None:
    response = await client.post("/Users", json={"schemas": [USER_URN], "active": True})
    assert response.status_code == 400
    body = response.json()
    assert body["scimType"] == "invalidValue"
    assert "userName" in body["detail"]


async def test_password_is_never_returned_and_its_change_is_400_mutability(
    client: httpx.AsyncClient,
) -> None:
    config = (await client.get("/ServiceProviderConfig")).json()
    assert config["changePassword"] == {"supported": False}
    created = await client.post("/Users", json=user_body("pw@example.com", password="s3cret!"))
    assert created.status_code == 201
    assert "password" not in created.json()
    url = f"/Users/{created.json()['id']}"
    for response in (
        await client.get(url),
        await client.get(url, params={"attributes": "password"}),
    ):
        assert response.status_code == 200 and "password" not in response.json()
    refused = [
        await client.put(url, json=user_body("pw@example.com", password="n3w!")),
        await client.patch(
            url, json=patch_body({"op": "replace", "path": "password", "value": "n3w!"})
        ),
    ]
    for response in refused:
        assert response.status_code == 400
        body = response.json()
        assert body["scimType"] == "mutability" and "changePassword" in body["detail"]
        assert "n3w!" not in response.text
