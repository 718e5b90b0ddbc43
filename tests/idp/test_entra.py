"""Microsoft Entra ID provisioning, replayed over HTTP in cycle order.

The requests are those of ``entra-requests.md`` (shared reference): Test Connection, then on each
~40-minute cycle match-by-``userName``, create, PATCH in every dialect Entra speaks, disable,
re-enable, delete; groups and their members; the 404/409 answers Entra relies on. Section numbers
below refer to that catalogue.
"""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import quote

import httpx
from starlette.applications import Starlette

from tests.idp.conftest import TENANT, TOKEN
from tests.reference_app.support import ERROR_SCHEMA, LIST_SCHEMA, patch_body, raw_get, scim_json

USER_URN = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
FCC = "urn:ietf:params:scim:schemas:extension:fcc:2.0:User"
GROUP_URN = "urn:ietf:params:scim:schemas:core:2.0:Group"
ADSCIM_GROUP = "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"


# -- what Entra sends ---------------------------------------------------------------------------


def wire(value: str) -> str:
    """A filter value as Entra puts it on the wire: ``+`` for space, ``%22`` quotes, ``%40``."""
    return "%22" + quote(value, safe="") + "%22"


async def match_user(entra: httpx.AsyncClient, user_name: str) -> list[dict[str, Any]]:
    """§3.1: ``GET /Users?filter=userName eq "…"``; always a 200 ListResponse."""
    response = await entra.get(f"/Users?filter=userName+eq+{wire(user_name)}")
    return _list(response)


async def match_group(entra: httpx.AsyncClient, display_name: str) -> list[dict[str, Any]]:
    """§6.1: ``GET /Groups?excludedAttributes=members&filter=displayName eq "…"``."""
    response = await entra.get(
        f"/Groups?excludedAttributes=members&filter=displayName+eq+{wire(display_name)}"
    )
    resources = _list(response)
    assert all("members" not in group for group in resources)
    return resources


def _list(response: httpx.Response) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/scim+json")
    body = response.json()
    assert body["schemas"] == [LIST_SCHEMA]
    assert body["totalResults"] == len(body["Resources"])
    assert all("id" in resource for resource in body["Resources"])
    resources: list[dict[str, Any]] = body["Resources"]
    return resources


def entra_user(user_name: str, **extra: Any) -> dict[str, Any]:
    """§3.2: the default job's POST body, with the FCC mapping (its URN not in ``schemas``)."""
    body: dict[str, Any] = {
        "schemas": [USER_URN, ENTERPRISE],
        "externalId": str(uuid.uuid4()),
        "userName": user_name,
        "active": True,
        "emails": [{"primary": True, "type": "work", "value": f"{user_name}@testuser.com"}],
        "meta": {"resourceType": "User"},
        "name": {"formatted": "Ada Lovelace", "familyName": "Lovelace", "givenName": "Ada"},
        "roles": [],
        FCC: {"administrator": "False", "loginDisabled": "False"},
    }
    body.update(extra)
    return body


async def post(entra: httpx.AsyncClient, endpoint: str, body: dict[str, Any]) -> dict[str, Any]:
    response = await entra.post(endpoint, **scim_json(body))
    assert response.status_code == 201, response.text
    assert response.headers["content-type"].startswith("application/scim+json")
    created: dict[str, Any] = response.json()
    assert created["id"]
    return created


async def patch(entra: httpx.AsyncClient, path: str, *operations: dict[str, Any]) -> None:
    """A PATCH Entra accepts: 200 with the resource or 204 (§4, §6)."""
    response = await entra.patch(path, **scim_json(patch_body(*operations)))
    assert response.status_code in (200, 204), response.text


async def get(entra: httpx.AsyncClient, path: str) -> dict[str, Any]:
    response = await entra.get(path)
    assert response.status_code == 200, response.text
    resource: dict[str, Any] = response.json()
    return resource


async def new_user(entra: httpx.AsyncClient, user_name: str) -> str:
    assert await match_user(entra, user_name) == []
    return str((await post(entra, "/Users", entra_user(user_name)))["id"])


def member_ids(group: dict[str, Any]) -> set[str]:
    return {member["value"] for member in group.get("members", [])}


# -- §2 Test Connection -----------------------------------------------------------------------


async def test_test_connection_probes_users_and_groups(entra: httpx.AsyncClient):
    """§2: a random GUID as the matching value → 200 and an empty ListResponse, never 404."""
    guid = str(uuid.uuid4())
    assert await match_user(entra, guid) == []
    assert await match_group(entra, guid) == []
    # Entra's feature flag may ride along on the Tenant URL: unknown parameters are ignored.
    flagged = await entra.get(f"/Users?aadOptscim062020&filter=userName+eq+{wire(guid)}")
    assert _list(flagged) == []


async def test_test_connection_with_a_wrong_token_is_refused(entra_app: Starlette):
    """§8: a bad Secret Token → 401, which Test Connection reports as invalid credentials."""
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=entra_app),
        base_url=f"http://testserver/scim/v2/{TENANT}",
        headers={"Authorization": "Bearer not-the-secret"},
    ) as client:
        response = await client.get(f"/Users?filter=userName+eq+{wire(str(uuid.uuid4()))}")
        assert response.status_code == 401
        assert response.json()["schemas"] == [ERROR_SCHEMA]


# -- §3–§5 users, default job -----------------------------------------------------------------


async def test_user_lifecycle_default_job(entra: httpx.AsyncClient):
    """One user through the cycles of a default (no flag) job."""
    user_name = "Test_User_00aa00aa-bb11-cc22-dd33-44ee44ee44ee"

    # Cycle 1 (§3): no match, so Entra creates the user; string Booleans and the unlisted FCC
    # extension are accepted and stored typed.
    assert await match_user(entra, user_name) == []
    created = await post(entra, "/Users", entra_user(user_name, active="True"))
    uid = created["id"]
    assert created["active"] is True
    assert created[FCC] == {"administrator": False, "loginDisabled": False}
    assert created["userName"] == user_name
    assert "roles" not in created  # an empty list means "unassigned"

    # Cycle 2: the match finds the user (case-insensitively), Entra reads it by id (§3.3).
    [found] = await match_user(entra, user_name.upper())
    assert found["id"] == uid
    assert (await get(entra, f"/Users/{uid}"))["emails"][0]["type"] == "work"

    # Attribute changes arrive as capitalised ops with string values (§4.1).
    await patch(
        entra,
        f"/Users/{uid}",
        {"op": "Replace", "path": 'emails[type eq "work"].value', "value": "new@contoso.com"},
        {"op": "Replace", "path": "name.familyName", "value": "Byron"},
        {"op": "Replace", "path": "name.formatted", "value": "Ada Byron"},
        {"op": "Replace", "path": "externalId", "value": "Eqpj"},
        {"op": "Replace", "path": f"{ENTERPRISE}:employeeNumber", "value": "Eqpj"},
        {"op": "Add", "path": f"{ENTERPRISE}:department", "value": "Engineering"},
        {"op": "Add", "path": "nickName", "value": "Babs"},
        {"op": "Replace", "path": f"{FCC}:administrator", "value": "True"},
        {"op": "Add", "path": f"{FCC}:loginDisabled", "value": "False"},
    )
    user = await get(entra, f"/Users/{uid}")
    assert user["emails"] == [{"primary": True, "type": "work", "value": "new@contoso.com"}]
    assert user["name"] == {"formatted": "Ada Byron", "familyName": "Byron", "givenName": "Ada"}
    assert user["externalId"] == "Eqpj"
    assert user[ENTERPRISE] == {"employeeNumber": "Eqpj", "department": "Engineering"}
    assert user["nickName"] == "Babs"
    assert user[FCC] == {"administrator": True, "loginDisabled": False}

    # A renamed user (single-valued replace, §4.1): the old name no longer matches.
    renamed = "5b50642d-79fc-4410-9e90-4c077cdd1a59@testuser.com"
    await patch(entra, f"/Users/{uid}", {"op": "Replace", "path": "userName", "value": renamed})
    assert await match_user(entra, user_name) == []
    user_name = renamed

    # Out of scope: disabled with the string "False" (§5.1); still found by filter and GET.
    await patch(entra, f"/Users/{uid}", {"op": "Replace", "path": "active", "value": "False"})
    assert (await get(entra, f"/Users/{uid}"))["active"] is False
    [inactive] = await match_user(entra, user_name)
    assert inactive["id"] == uid and inactive["active"] is False
    disabled = await entra.get("/Users?filter=active+eq+false")
    assert [u["id"] for u in _list(disabled)] == [uid]

    # Back in scope: re-enabled ("True"), also seen as a lower-case string with "Replace".
    await patch(entra, f"/Users/{uid}", {"op": "Replace", "path": "active", "value": "True"})
    assert (await get(entra, f"/Users/{uid}"))["active"] is True
    await patch(entra, f"/Users/{uid}", {"op": "Replace", "path": "active", "value": "false"})
    assert (await get(entra, f"/Users/{uid}"))["active"] is False
    await patch(entra, f"/Users/{uid}", {"op": "Replace", "path": "active", "value": True})
    assert (await get(entra, f"/Users/{uid}"))["active"] is True

    # Hard-deleted in Entra (§5.2): DELETE, then 404 on read and on a second DELETE.
    deleted = await entra.delete(f"/Users/{uid}")
    assert deleted.status_code == 204 and deleted.content == b""
    for response in (await entra.get(f"/Users/{uid}"), await entra.delete(f"/Users/{uid}")):
        assert response.status_code == 404
        body = response.json()
        assert body["schemas"] == [ERROR_SCHEMA] and body["status"] == "404"
    assert await match_user(entra, user_name) == []


async def test_patch_dialect_of_the_aadoptscim062020_flag(entra: httpx.AsyncClient):
    """§4.2: lower-case ops; a path-less replace with dotted and URN-qualified keys."""
    uid = await new_user(entra, "flagged@contoso.com")
    await patch(
        entra,
        f"/Users/{uid}",
        {"op": "replace", "path": 'emails[type eq "work"].value', "value": "Mhvaes@contoso.com"},
        {
            "op": "replace",
            "value": {
                "displayName": "Bjfe",
                "name.givenName": "Kkom",
                "name.familyName": "Unua",
                f"{ENTERPRISE}:employeeNumber": "Aklq",
                f"{FCC}:administrator": True,
                f"{FCC}:loginDisabled": "True",
            },
        },
    )
    user = await get(entra, f"/Users/{uid}")
    assert user["displayName"] == "Bjfe"
    assert user["name"]["givenName"] == "Kkom" and user["name"]["familyName"] == "Unua"
    assert "name.givenName" not in user  # dotted keys go into `name`, not to a literal key
    assert user[ENTERPRISE] == {"employeeNumber": "Aklq"}
    assert user[FCC] == {"administrator": True, "loginDisabled": True}
    assert user["emails"][0]["value"] == "Mhvaes@contoso.com"

    # Path-less add (seen in real traffic) and the flag's boolean disable.
    await patch(
        entra,
        f"/Users/{uid}",
        {"op": "add", "value": {"name.formatted": "Kkom Unua", "title": "Engineer"}},
        {"op": "replace", "path": "active", "value": False},
    )
    user = await get(entra, f"/Users/{uid}")
    assert user["name"]["formatted"] == "Kkom Unua" and user["title"] == "Engineer"
    assert user["active"] is False


async def test_patch_shapes_of_the_scim_validator(entra: httpx.AsyncClient):
    """§4.3: Microsoft's SCIM Validator sends lower-case, path-less and filtered-path forms."""
    created = await post(
        entra,
        "/Users",
        {
            "schemas": [USER_URN],
            "userName": "Delpha@Muller.biz",
            "nickName": "Del",
            "phoneNumbers": [{"type": "mobile", "value": "+1 555 0100", "primary": "true"}],
        },
    )
    uid = created["id"]
    assert created["phoneNumbers"][0]["primary"] is True

    await patch(entra, f"/Users/{uid}", {"op": "replace", "value": {"userName": "delpha@mw.biz"}})
    assert (await get(entra, f"/Users/{uid}"))["userName"] == "delpha@mw.biz"

    # Several operations on different attributes, applied in order.
    await patch(
        entra,
        f"/Users/{uid}",
        {"op": "remove", "path": "nickName"},
        {"op": "add", "value": {"externalId": "ext-1"}},
        {"op": "replace", "value": {"displayName": "Delpha"}},
    )
    user = await get(entra, f"/Users/{uid}")
    assert "nickName" not in user and user["externalId"] == "ext-1"
    assert user["displayName"] == "Delpha"

    # Several operations on the same attribute: the last one wins.
    await patch(
        entra,
        f"/Users/{uid}",
        {"op": "remove", "path": "externalId"},
        {"op": "add", "value": {"externalId": "A"}},
        {"op": "replace", "value": {"externalId": "B"}},
    )
    assert (await get(entra, f"/Users/{uid}"))["externalId"] == "B"

    # A filtered path that matches nothing creates the element, for add and for replace (§4.1),
    # and a replace of an absent attribute acts as add.
    await patch(
        entra,
        f"/Users/{uid}",
        {"op": "add", "path": 'emails[type eq "work"].value', "value": "delpha@work.biz"},
        {"op": "Replace", "path": 'phoneNumbers[type eq "work"].value', "value": "+1 555 0199"},
        {"op": "replace", "path": "title", "value": "Chief"},
    )
    user = await get(entra, f"/Users/{uid}")
    assert {"type": "work", "value": "delpha@work.biz"} in user["emails"]
    assert {"type": "work", "value": "+1 555 0199"} in user["phoneNumbers"]
    assert user["title"] == "Chief"


async def test_legacy_value_arrays_for_single_valued_attributes(entra: httpx.AsyncClient):
    """§4.4: pre-2018 ``customappsso`` jobs wrap single values in ``[{"$ref":null,"value":…}]``."""
    uid = await new_user(entra, "legacy@contoso.com")
    await patch(
        entra,
        f"/Users/{uid}",
        {"op": "Replace", "path": "name.givenName", "value": [{"$ref": None, "value": "X"}]},
        {"op": "Replace", "path": "displayName", "value": [{"$ref": None, "value": "Legacy"}]},
    )
    user = await get(entra, f"/Users/{uid}")
    assert user["name"]["givenName"] == "X" and user["displayName"] == "Legacy"


async def test_invalid_values_get_an_actionable_400(entra: httpx.AsyncClient):
    """§8: invalid values are refused with a descriptive detail, not silently transformed."""
    uid = await new_user(entra, "strict@contoso.com")
    response = await entra.patch(
        f"/Users/{uid}",
        **scim_json(patch_body({"op": "Replace", "path": "active", "value": "Maybe"})),
    )
    assert response.status_code == 400
    body = response.json()
    assert body["schemas"] == [ERROR_SCHEMA] and body["detail"]


# -- §6 groups --------------------------------------------------------------------------------


async def test_group_lifecycle_and_membership(entra: httpx.AsyncClient):
    """Groups are matched by displayName, created empty, then their members are PATCHed."""
    u1, u2, u3 = [await new_user(entra, f"member{i}@contoso.com") for i in (1, 2, 3)]

    # §6.1: match, then create with Entra's ADSCIM marker URN and client meta.
    assert await match_group(entra, "Engineering") == []
    created = await post(
        entra,
        "/Groups",
        {
            "schemas": [GROUP_URN, ADSCIM_GROUP],
            "externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159",
            "displayName": "Engineering",
            "meta": {"resourceType": "Group"},
        },
    )
    gid = created["id"]
    assert created["schemas"] == [GROUP_URN]
    assert created.get("members", []) == []
    [found] = await match_group(entra, "engineering")  # the validator matches in another case
    assert found["id"] == gid

    # §6.2: read without members.
    response = await entra.get(f"/Groups/{gid}?excludedAttributes=members")
    assert response.status_code == 200 and "members" not in response.json()

    # §6.3: rename (default and validator shapes).
    await patch(entra, f"/Groups/{gid}", {"op": "Replace", "path": "displayName", "value": "Eng"})
    await patch(entra, f"/Groups/{gid}", {"op": "replace", "value": {"externalId": "ext-g"}})
    group = await get(entra, f"/Groups/{gid}?excludedAttributes=members")
    assert group["displayName"] == "Eng" and group["externalId"] == "ext-g"

    # §6.4 add: several members in one op, `$ref: null` literal.
    members = f"/Groups/{gid}"
    await patch(
        entra,
        members,
        {
            "op": "Add",
            "path": "members",
            "value": [{"$ref": None, "value": u1}, {"$ref": None, "value": u2}],
        },
    )
    assert member_ids(await get(entra, members)) == {u1, u2}
    # Redundant adds (Entra re-sends existing members): idempotent.
    await patch(entra, members, {"op": "Add", "path": "members", "value": [{"value": u1}]})
    group = await get(entra, members)
    assert member_ids(group) == {u1, u2} and len(group["members"]) == 2

    # Remove, default job: the members to drop in `value`, with or without `$ref`.
    await patch(
        entra, members, {"op": "Remove", "path": "members", "value": [{"$ref": None, "value": u1}]}
    )
    assert member_ids(await get(entra, members)) == {u2}
    await patch(entra, members, {"op": "Remove", "path": "members", "value": [{"value": u2}]})
    assert member_ids(await get(entra, members)) == set()

    # Validator: add as a replace of the member list; remove in the flag form (filter path).
    await patch(
        entra,
        members,
        {"op": "replace", "path": "members", "value": [{"value": u1}, {"value": u3}]},
    )
    assert member_ids(await get(entra, members)) == {u1, u3}
    await patch(entra, members, {"op": "remove", "path": f'members[value eq "{u3}"]'})
    assert member_ids(await get(entra, members)) == {u1}
    # Add and remove of the same member in one request: absent afterwards.
    await patch(
        entra,
        members,
        {"op": "add", "path": "members", "value": [{"value": u2}]},
        {"op": "remove", "path": f'members[value eq "{u2}"]'},
    )
    assert member_ids(await get(entra, members)) == {u1}

    # §6.5: the membership check query.
    check = f"/Groups?filter=id+eq+{wire(gid)}+and+members+eq+{wire(u1)}&excludedAttributes=members"
    assert [g["id"] for g in _list(await entra.get(check))] == [gid]
    check = f"/Groups?filter=id+eq+{wire(gid)}+and+members+eq+{wire(u2)}&excludedAttributes=members"
    assert _list(await entra.get(check)) == []
    # A user's readOnly `groups` follows the memberships.
    assert [g["value"] for g in (await get(entra, f"/Users/{u1}"))["groups"]] == [gid]

    # A deleted user leaves every group.
    assert (await entra.delete(f"/Users/{u1}")).status_code == 204
    assert member_ids(await get(entra, members)) == set()

    # §6.6: delete, then 404.
    assert (await entra.delete(f"/Groups/{gid}")).status_code == 204
    assert (await entra.get(f"/Groups/{gid}")).status_code == 404
    assert (await entra.delete(f"/Groups/{gid}")).status_code == 404
    assert await match_group(entra, "Eng") == []


async def test_group_list_honours_excluded_members(entra: httpx.AsyncClient):
    """Quirk 18: members returned anyway trigger MultipleEntriesInResponse in Entra."""
    uid = await new_user(entra, "listed@contoso.com")
    await post(
        entra,
        "/Groups",
        {"schemas": [GROUP_URN], "displayName": "Listed", "members": [{"value": uid}]},
    )
    groups = _list(await entra.get("/Groups?excludedAttributes=members"))
    assert len(groups) == 1 and "members" not in groups[0]
    with_members = _list(await entra.get("/Groups"))
    assert member_ids(with_members[0]) == {uid}


# -- §8 errors --------------------------------------------------------------------------------


async def test_duplicate_user_name_in_another_case_is_a_conflict(entra: httpx.AsyncClient):
    await post(entra, "/Users", entra_user("Garry@KemmerStark.com"))
    response = await entra.post("/Users", **scim_json(entra_user("garry@kemmerstark.com")))
    assert response.status_code == 409
    body = response.json()
    assert body["schemas"] == [ERROR_SCHEMA] and body["scimType"] == "uniqueness"
    assert len(await match_user(entra, "GARRY@KEMMERSTARK.COM")) == 1


async def test_duplicate_group_display_name_is_a_conflict(entra: httpx.AsyncClient):
    await post(entra, "/Groups", {"schemas": [GROUP_URN], "displayName": "PDSQQLROFNSC"})
    response = await entra.post(
        "/Groups", **scim_json({"schemas": [GROUP_URN], "displayName": "PDSQQLROFNSC"})
    )
    assert response.status_code == 409
    assert response.json()["scimType"] == "uniqueness"


async def test_unknown_ids_are_404(entra: httpx.AsyncClient):
    missing = "23B51B0E5D7AE9110A49411D"
    for endpoint in ("/Users", "/Groups"):
        responses = [
            await entra.get(f"{endpoint}/{missing}"),
            await entra.delete(f"{endpoint}/{missing}"),
            await entra.patch(
                f"{endpoint}/{missing}",
                **scim_json(patch_body({"op": "Replace", "path": "displayName", "value": "x"})),
            ),
        ]
        for response in responses:
            assert response.status_code == 404
            assert response.json()["schemas"] == [ERROR_SCHEMA]


# -- §1 wire forms of filters ------------------------------------------------------------------


async def test_filter_wire_forms(entra: httpx.AsyncClient, entra_app: Starlette):
    """``+`` for space, ``%22`` or raw quotes, ``%40`` for ``@`` (§1, quirk 15)."""
    uid = await new_user(entra, "garry@kemmerstark.com")
    external_id = (await get(entra, f"/Users/{uid}"))["externalId"]
    path = f"/scim/v2/{TENANT}/Users"
    forms = [
        b"filter=userName+eq+%22garry%40kemmerstark.com%22",  # real Entra
        b'filter=userName+eq+"garry%40kemmerstark.com"',  # validator: raw quotes
        b'filter=userName+eq+"GARRY@KEMMERSTARK.COM"',  # raw quotes and @, other case
        b"filter=userName%20eq%20%22garry%40kemmerstark.com%22",  # RFC 3986 encoding
        b'filter=externalId+eq+"' + external_id.encode() + b'"',  # 2019 legacy log
        b"aadOptscim062020&filter=userName+eq+%22garry%40kemmerstark.com%22",
    ]
    for query in forms:
        status, body = await raw_get(entra_app, path, query, TOKEN)
        assert status == 200, (query, body)
        assert [u["id"] for u in body["Resources"]] == [uid], query
