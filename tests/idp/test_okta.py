"""Okta provisioning, as Okta's developer documentation describes it, replayed over HTTP.

Two sources, both Okta's:

- the SCIM 2.0 SPEC test Okta publishes for SCIM apps (a Runscope/BlazeMeter suite run before an
  OIN submission): the Users endpoint and its ListResponse, a user by id, an unknown userName and
  an unknown id, a realistic create, the duplicate create, the case-insensitive userName match,
  the Groups endpoint;
- Okta's SCIM 2.0 protocol reference: the match-then-create flow, import by pages of 100, PUT
  for profile updates (Okta GETs the user, changes it, PUTs it all back), PATCH for
  (de)activation with a path-less ``replace`` whose value is ``{"active": ...}``, and group push:
  POST, rename by PATCH (value carrying the group's own ``id``) or PUT, membership by PATCH
  (``remove`` with a ``members[value eq ...]`` filter, ``add`` and ``replace`` on ``members``),
  DELETE. Okta never deletes users: unassigning deactivates them.

Okta accepts 200 with the resource or 204 for a PATCH, and a group PATCH answer need not carry
its members. Each scenario runs for a ``strict`` and an ``entra`` tenant (``okta_app`` fixture):
Okta's shapes are RFC shapes, so both policies must take them.
"""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import quote

import httpx

from tests.reference_app.support import ERROR_SCHEMA, LIST_SCHEMA, patch_body

USER_URN = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_URN = "urn:ietf:params:scim:schemas:core:2.0:Group"


# -- what Okta sends ----------------------------------------------------------------------------


def user_filter(user_name: str) -> str:
    """Okta's match query: ``userName eq "…"`` percent-encoded, first page of 100."""
    return f"/Users?filter=userName%20eq%20%22{quote(user_name, safe='')}%22&startIndex=1&count=100"


def okta_user(user_name: str, given: str, family: str) -> dict[str, Any]:
    """The body of Okta's create: the app profile, an empty ``groups`` and a password."""
    return {
        "schemas": [USER_URN],
        "userName": user_name,
        "name": {"givenName": given, "familyName": family},
        "emails": [{"primary": True, "value": user_name, "type": "work"}],
        "displayName": f"{given} {family}",
        "locale": "en-US",
        "externalId": "00u" + uuid.uuid4().hex[:17],
        "groups": [],
        "password": "t0p-" + uuid.uuid4().hex[:8],
        "active": True,
    }


def listed(response: httpx.Response) -> dict[str, Any]:
    """A ListResponse as Okta pages through it: integer counters, ``Resources`` when non-empty."""
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert LIST_SCHEMA in body["schemas"]
    for counter in ("totalResults", "startIndex", "itemsPerPage"):
        # Okta: "exchanged as integers, not as strings" (and a bool is no count either).
        assert type(body[counter]) is int, (counter, body[counter])
    assert body["itemsPerPage"] == len(body.get("Resources", []))
    return body


async def create(okta: httpx.AsyncClient, endpoint: str, body: dict[str, Any]) -> dict[str, Any]:
    response = await okta.post(endpoint, json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    assert created["id"]
    return created


async def read(okta: httpx.AsyncClient, path: str) -> dict[str, Any]:
    response = await okta.get(path)
    assert response.status_code == 200, response.text
    resource: dict[str, Any] = response.json()
    return resource


async def patch(okta: httpx.AsyncClient, path: str, *operations: dict[str, Any]) -> None:
    """A PATCH as Okta takes it: 200 with the resource (members may be left out) or 204."""
    response = await okta.patch(path, json=patch_body(*operations))
    assert response.status_code in (200, 204), response.text
    if response.status_code == 200:
        body = response.json()
        assert body["id"] == path.rsplit("/", 1)[1]
        assert body["meta"]["resourceType"] in ("User", "Group")


def member_ids(group: dict[str, Any]) -> set[str]:
    return {member["value"] for member in group.get("members") or []}


def random_email() -> str:
    return f"{uuid.uuid4().hex[:12]}@okta-spec.example"


# -- Okta SCIM 2.0 SPEC test ---------------------------------------------------------------------


async def test_spec_test_sequence(okta: httpx.AsyncClient):
    """The published SPEC test, step by step, on a tenant already holding one user."""
    await create(okta, "/Users", okta_user("seed.user@okta.local", "Seed", "User"))

    # Test Users endpoint: the first page of one, with the attributes Okta maps.
    first_page = listed(await okta.get("/Users?count=1&startIndex=1"))
    [first] = first_page["Resources"]
    assert first_page["totalResults"] == 1 and first_page["startIndex"] == 1
    assert first["id"] and first["userName"]
    assert first["name"]["familyName"] and first["name"]["givenName"]
    assert first["active"] is True
    assert first["emails"][0]["value"]

    # Get Users/{id}: the same user.
    by_id = await read(okta, f"/Users/{first['id']}")
    assert by_id["id"] == first["id"] and by_id["userName"] == first["userName"]
    assert by_id["name"]["familyName"] and by_id["emails"][0]["value"]

    # An unknown userName: 200 and an empty list (Okta also takes a 404; the RFC says 200).
    unknown = listed(await okta.get(user_filter(random_email())))
    assert unknown["totalResults"] == 0 and unknown.get("Resources", []) == []

    # An unknown id: 404 with a SCIM Error carrying a detail.
    response = await okta.get(f"/Users/{uuid.uuid4()}")
    assert response.status_code == 404
    error = response.json()
    assert ERROR_SCHEMA in error["schemas"] and error["detail"] and error["status"] == "404"

    # Make sure the random user to create does not exist, then create it with realistic values.
    user_name, given, family = random_email(), "Grace", "Hopper"
    assert listed(await okta.get(user_filter(user_name)))["totalResults"] == 0
    body = okta_user(user_name, given, family)
    created = await create(okta, "/Users", body)
    assert created["active"] is True
    assert USER_URN in created["schemas"]
    assert created["userName"] == user_name
    assert created["name"] == {"givenName": given, "familyName": family}
    assert created["externalId"] == body["externalId"]
    assert "password" not in created  # returned "never" (RFC 7643 §4.1.1)

    # Verify that the user was created.
    fetched = await read(okta, f"/Users/{created['id']}")
    assert fetched["userName"] == user_name and fetched["name"]["givenName"] == given

    # The same create again: 409, which stops Okta's provisioning job for that user.
    again = await okta.post("/Users", json=body)
    assert again.status_code == 409, again.text
    assert again.json()["scimType"] == "uniqueness"

    # userName case sensitivity: userName is caseExact false (RFC 7643 §4.1.1), so the
    # upper-cased name finds the user.
    upper = listed(await okta.get(user_filter(user_name.upper())))
    assert [u["id"] for u in upper["Resources"]] == [created["id"]]

    # Verify the Groups endpoint.
    assert listed(await okta.get("/Groups"))["totalResults"] == 0


# -- Okta SCIM 2.0 protocol reference: users ------------------------------------------------------


async def test_user_provisioning(okta: httpx.AsyncClient):
    """Assignment, import, profile update (PUT), deactivation and reactivation (PATCH)."""
    user_name = "test.user@okta.local"

    # Assignment: match on userName, no match, so create.
    assert listed(await okta.get(user_filter(user_name)))["totalResults"] == 0
    uid = (await create(okta, "/Users", okta_user(user_name, "Test", "User")))["id"]
    [matched] = listed(await okta.get(user_filter(user_name)))["Resources"]
    assert matched["id"] == uid

    # Import: every user, 100 at a time, in the same order whatever the page size.
    for i in range(4):
        await create(okta, "/Users", okta_user(f"import{i}@okta.local", "Import", f"N{i}"))
    everyone = listed(await okta.get("/Users?startIndex=1&count=100"))
    assert everyone["totalResults"] == 5
    ids = [u["id"] for u in everyone["Resources"]]
    paged = [
        u["id"]
        for start in (1, 3, 5)
        for u in listed(await okta.get(f"/Users?startIndex={start}&count=2"))["Resources"]
    ]
    assert paged == ids

    # Profile update: Okta reads the user, changes the mapped attributes, PUTs it all back
    # (id, meta, groups and the emails' display included).
    current = await read(okta, f"/Users/{uid}")
    current["name"]["middleName"] = "Excited"
    current["emails"][0]["display"] = user_name
    current["groups"] = []
    response = await okta.put(f"/Users/{uid}", json=current)
    assert response.status_code == 200, response.text
    updated = response.json()
    assert updated["name"]["middleName"] == "Excited"
    assert updated["emails"][0]["display"] == user_name
    assert updated["userName"] == user_name and updated["active"] is True

    # Deactivation (user unassigned, suspended or deactivated in Okta): a path-less replace.
    await patch(okta, f"/Users/{uid}", {"op": "replace", "value": {"active": False}})
    deactivated = await read(okta, f"/Users/{uid}")
    assert deactivated["active"] is False
    assert deactivated["name"]["middleName"] == "Excited"
    # Okta never deletes: the deactivated user is still there for the next match.
    [still] = listed(await okta.get(user_filter(user_name)))["Resources"]
    assert still["id"] == uid and still["active"] is False

    # Reactivation (assigned again).
    await patch(okta, f"/Users/{uid}", {"op": "replace", "value": {"active": True}})
    assert (await read(okta, f"/Users/{uid}"))["active"] is True


# -- Okta SCIM 2.0 protocol reference: group push -------------------------------------------------


async def test_group_push(okta: httpx.AsyncClient):
    """Push a group, rename it, change its members every way Okta does, then unlink it."""
    u1 = (await create(okta, "/Users", okta_user("one@okta.local", "One", "Member")))["id"]
    u2 = (await create(okta, "/Users", okta_user("two@okta.local", "Two", "Member")))["id"]

    # Push: created empty.
    created = await create(
        okta, "/Groups", {"schemas": [GROUP_URN], "displayName": "Test SCIMv2", "members": []}
    )
    gid = created["id"]
    assert created["displayName"] == "Test SCIMv2"
    assert created.get("members", []) == []
    assert GROUP_URN in created["schemas"]

    # Import and lookup.
    groups = listed(await okta.get("/Groups?startIndex=1&count=100"))
    assert [g["id"] for g in groups["Resources"]] == [gid]
    assert (await read(okta, f"/Groups/{gid}"))["displayName"] == "Test SCIMv2"

    # Rename (OIN integrations): a path-less replace whose value repeats the group's own id.
    # `id` is readOnly, but the value is the one it has, so nothing is modified.
    group = f"/Groups/{gid}"
    await patch(okta, group, {"op": "replace", "value": {"id": gid, "displayName": "Test SCIMv20"}})
    renamed = await read(okta, group)
    assert renamed["id"] == gid and renamed["displayName"] == "Test SCIMv20"

    # Membership: add a member.
    one = {"value": u1, "display": "one@okta.local"}
    two = {"value": u2, "display": "two@okta.local"}
    await patch(okta, group, {"op": "add", "path": "members", "value": [one]})
    assert member_ids(await read(okta, group)) == {u1}

    # One request removing a member by filter and adding another.
    await patch(
        okta,
        group,
        {"op": "remove", "path": f'members[value eq "{u1}"]'},
        {"op": "add", "path": "members", "value": [two]},
    )
    assert member_ids(await read(okta, group)) == {u2}

    # A full push of the membership.
    await patch(okta, group, {"op": "replace", "path": "members", "value": [one, two]})
    assert member_ids(await read(okta, group)) == {u1, u2}
    assert [g["value"] for g in (await read(okta, f"/Users/{u1}"))["groups"]] == [gid]

    # Custom (AIW) integrations send the name and membership by PUT.
    response = await okta.put(
        group,
        json={"schemas": [GROUP_URN], "id": gid, "displayName": "Test SCIMv2.1", "members": [two]},
    )
    assert response.status_code == 200, response.text
    replaced = await read(okta, group)
    assert replaced["displayName"] == "Test SCIMv2.1" and member_ids(replaced) == {u2}
    assert (await read(okta, f"/Users/{u1}")).get("groups", []) == []

    # Unlink with "Delete the group in the target app": 204, then gone; members stay.
    response = await okta.delete(group)
    assert response.status_code == 204 and response.content == b""
    assert (await okta.get(group)).status_code == 404
    assert (await read(okta, f"/Users/{u2}")).get("groups", []) == []
