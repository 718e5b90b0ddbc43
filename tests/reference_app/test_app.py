"""Every endpoint of the reference app, end to end over HTTP, on the embedded memory store."""

from __future__ import annotations

import logging
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from reference_app.app import create_app
from reference_app.schemas import FCC_USER_URN
from reference_app.settings import TenantSeed
from reference_app.tenants import MemoryTenantRegistry
from tests.reference_app.support import (
    ERROR_SCHEMA,
    LIST_SCHEMA,
    TOKEN_A,
    TOKEN_B,
    patch_body,
    running,
    scim_client,
    scim_json,
    two_tenants,
)

USER_URN = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE_URN = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
GROUP_URN = "urn:ietf:params:scim:schemas:core:2.0:Group"
BULK_REQUEST = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
SEARCH_REQUEST = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"


def user(user_name: str, **extra: Any) -> dict[str, Any]:
    return {"schemas": [USER_URN], "userName": user_name, **extra}


async def create(client: httpx.AsyncClient, endpoint: str, body: dict[str, Any]) -> dict[str, Any]:
    response = await client.post(endpoint, **scim_json(body))
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


# -- health -----------------------------------------------------------------------------------


async def test_healthz_answers_ok_when_started(root: httpx.AsyncClient):
    response = await root.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response.headers["cache-control"] == "no-store"


async def test_healthz_is_unavailable_before_startup_and_after_shutdown():
    app = create_app(two_tenants())
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        assert (await client.get("/healthz")).status_code == 503
        async with app.router.lifespan_context(app):
            assert (await client.get("/healthz")).status_code == 200
        response = await client.get("/healthz")
        assert response.status_code == 503
        assert response.json() == {"status": "unavailable"}


async def test_memory_store_warns_that_nothing_is_persisted(caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.WARNING, logger="reference_app")
    async with running(two_tenants()):
        pass
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert any("NOT persisted" in r.getMessage() for r in warnings)


# -- discovery --------------------------------------------------------------------------------


async def test_service_provider_config(acme: httpx.AsyncClient):
    response = await acme.get("/ServiceProviderConfig")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/scim+json")
    body = response.json()
    assert body["patch"] == {"supported": True}
    assert body["filter"]["supported"] is True
    assert body["authenticationSchemes"][0]["type"] == "oauthbearertoken"
    assert body["changePassword"] == {"supported": True}


async def test_a_password_change_is_accepted_and_never_returned(acme: httpx.AsyncClient):
    created = await create(acme, "/Users", user("pw@example.com", password="first-Secret1"))
    assert "password" not in created
    patch = patch_body({"op": "replace", "path": "password", "value": "second-Secret2"})
    response = await acme.patch(f"/Users/{created['id']}", **scim_json(patch))
    assert response.status_code == 200, response.text
    assert "password" not in response.json()
    assert response.json()["meta"]["version"] != created["meta"]["version"]


async def test_resource_types(acme: httpx.AsyncClient):
    response = await acme.get("/ResourceTypes")
    assert response.status_code == 200
    by_name = {rt["name"]: rt for rt in response.json()["Resources"]}
    assert set(by_name) == {"User", "Group"}
    assert [e["schema"] for e in by_name["User"]["schemaExtensions"]] == [
        ENTERPRISE_URN,
        FCC_USER_URN,
    ]
    one = await acme.get("/ResourceTypes/Group")
    assert one.status_code == 200 and one.json()["endpoint"] == "/Groups"


async def test_schemas_show_the_fcc_extension_and_unique_group_names(acme: httpx.AsyncClient):
    response = await acme.get("/Schemas")
    assert response.status_code == 200
    ids = {schema["id"] for schema in response.json()["Resources"]}
    assert ids == {USER_URN, ENTERPRISE_URN, FCC_USER_URN, GROUP_URN}
    fcc = await acme.get(f"/Schemas/{FCC_USER_URN}")
    assert fcc.status_code == 200
    assert {a["name"]: a["type"] for a in fcc.json()["attributes"]} == {
        "administrator": "boolean",
        "loginDisabled": "boolean",
    }
    group = (await acme.get(f"/Schemas/{GROUP_URN}")).json()
    display_name = next(a for a in group["attributes"] if a["name"] == "displayName")
    assert display_name["uniqueness"] == "server"


# -- Users ------------------------------------------------------------------------------------


async def test_user_create_read_replace_patch_delete(acme: httpx.AsyncClient):
    body = user(
        "ada@example.com",
        name={"givenName": "Ada", "familyName": "Lovelace"},
        emails=[{"type": "work", "value": "ada@example.com", "primary": True}],
        **{
            ENTERPRISE_URN: {"employeeNumber": "42"},
            FCC_USER_URN: {"administrator": True, "loginDisabled": False},
        },
    )
    body["schemas"] += [ENTERPRISE_URN, FCC_USER_URN]
    response = await acme.post("/Users", **scim_json(body))
    assert response.status_code == 201
    created = response.json()
    uid = created["id"]
    assert response.headers["location"] == f"http://testserver/scim/v2/acme/Users/{uid}"
    assert response.headers["etag"] == created["meta"]["version"]
    assert created["meta"]["location"] == response.headers["location"]
    assert created[FCC_USER_URN] == {"administrator": True, "loginDisabled": False}

    got = await acme.get(f"/Users/{uid}")
    assert got.status_code == 200 and got.json()["userName"] == "ada@example.com"

    replaced = await acme.put(
        f"/Users/{uid}",
        **scim_json(
            user("ada@example.com", displayName="Ada", **{FCC_USER_URN: {"administrator": False}})
        ),
    )
    assert replaced.status_code == 200
    assert replaced.json()["displayName"] == "Ada"
    assert replaced.json()[FCC_USER_URN] == {"administrator": False}
    assert "name" not in replaced.json()  # PUT replaces the whole resource

    patched = await acme.patch(
        f"/Users/{uid}",
        **scim_json(patch_body({"op": "replace", "path": "displayName", "value": "Countess"})),
    )
    assert patched.status_code in (200, 204)
    assert (await acme.get(f"/Users/{uid}")).json()["displayName"] == "Countess"

    assert (await acme.delete(f"/Users/{uid}")).status_code == 204
    missing = await acme.get(f"/Users/{uid}")
    assert missing.status_code == 404
    assert missing.json()["schemas"] == [ERROR_SCHEMA]


async def test_user_list_filter_sort_and_paging(acme: httpx.AsyncClient):
    for name in ("carol", "alice", "bob"):
        await create(acme, "/Users", user(name))
    everyone = await acme.get("/Users", params={"sortBy": "userName"})
    assert everyone.status_code == 200
    body = everyone.json()
    assert body["schemas"] == [LIST_SCHEMA] and body["totalResults"] == 3
    assert [u["userName"] for u in body["Resources"]] == ["alice", "bob", "carol"]
    page = (
        await acme.get("/Users", params={"sortBy": "userName", "startIndex": 2, "count": 1})
    ).json()
    assert page["startIndex"] == 2 and page["itemsPerPage"] == 1
    assert [u["userName"] for u in page["Resources"]] == ["bob"]
    found = (await acme.get("/Users", params={"filter": 'userName eq "BOB"'})).json()
    assert [u["userName"] for u in found["Resources"]] == ["bob"]
    only_ids = (await acme.get("/Users", params={"attributes": "id", "count": 1})).json()
    assert set(only_ids["Resources"][0]) <= {"id", "schemas"}


async def test_user_search_with_post(acme: httpx.AsyncClient):
    await create(acme, "/Users", user("alice"))
    await create(acme, "/Users", user("bob"))
    body = {"schemas": [SEARCH_REQUEST], "filter": 'userName sw "a"', "attributes": ["userName"]}
    response = await acme.post("/Users/.search", **scim_json(body))
    assert response.status_code == 200
    assert [u["userName"] for u in response.json()["Resources"]] == ["alice"]


async def test_if_match_and_if_none_match(acme: httpx.AsyncClient):
    created = await create(acme, "/Users", user("alice"))
    uid, version = created["id"], created["meta"]["version"]
    not_modified = await acme.get(f"/Users/{uid}", headers={"If-None-Match": version})
    assert not_modified.status_code == 304
    stale = await acme.patch(
        f"/Users/{uid}",
        headers={"If-Match": 'W/"not-the-version"', "Content-Type": "application/scim+json"},
        content=b'{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],'
        b'"Operations":[{"op":"replace","path":"displayName","value":"x"}]}',
    )
    assert stale.status_code == 412


# -- Groups -----------------------------------------------------------------------------------


async def test_group_membership_and_derived_user_groups(acme: httpx.AsyncClient):
    alice = await create(acme, "/Users", user("alice"))
    bob = await create(acme, "/Users", user("bob"))
    group = await create(
        acme,
        "/Groups",
        {"schemas": [GROUP_URN], "displayName": "Admins", "members": [{"value": alice["id"]}]},
    )
    gid = group["id"]
    add = patch_body({"op": "add", "path": "members", "value": [{"value": bob["id"]}]})
    assert (await acme.patch(f"/Groups/{gid}", **scim_json(add))).status_code in (200, 204)
    members = (await acme.get(f"/Groups/{gid}")).json()["members"]
    assert sorted(m["value"] for m in members) == sorted([alice["id"], bob["id"]])
    without = (await acme.get(f"/Groups/{gid}", params={"excludedAttributes": "members"})).json()
    assert "members" not in without
    groups = (await acme.get(f"/Users/{alice['id']}")).json()["groups"]
    assert [g["value"] for g in groups] == [gid]
    by_member = await acme.get("/Groups", params={"filter": f'members eq "{bob["id"]}"'})
    assert [g["id"] for g in by_member.json()["Resources"]] == [gid]
    renamed = await acme.put(
        f"/Groups/{gid}", **scim_json({"schemas": [GROUP_URN], "displayName": "Owners"})
    )
    assert renamed.status_code == 200 and "members" not in renamed.json()
    assert (await acme.delete(f"/Groups/{gid}")).status_code == 204
    assert "groups" not in (await acme.get(f"/Users/{alice['id']}")).json()


async def test_group_display_name_is_unique_per_tenant(
    acme: httpx.AsyncClient, beta: httpx.AsyncClient
):
    await create(acme, "/Groups", {"schemas": [GROUP_URN], "displayName": "Sales"})
    duplicate = await acme.post(
        "/Groups", **scim_json({"schemas": [GROUP_URN], "displayName": "sales"})
    )
    assert duplicate.status_code == 409
    assert duplicate.json()["scimType"] == "uniqueness"
    # Another tenant may use the same name.
    await create(beta, "/Groups", {"schemas": [GROUP_URN], "displayName": "Sales"})


# -- root endpoints ---------------------------------------------------------------------------


async def test_root_search_spans_users_and_groups(acme: httpx.AsyncClient):
    await create(acme, "/Users", user("alice", displayName="Team"))
    await create(acme, "/Groups", {"schemas": [GROUP_URN], "displayName": "Team"})
    body = {"schemas": [SEARCH_REQUEST], "filter": 'displayName eq "team"'}
    response = await acme.post("/.search", **scim_json(body))
    assert response.status_code == 200
    types = sorted(r["meta"]["resourceType"] for r in response.json()["Resources"])
    assert types == ["Group", "User"]


async def test_bulk_creates_a_user_and_a_group_that_references_it(acme: httpx.AsyncClient):
    body = {
        "schemas": [BULK_REQUEST],
        "Operations": [
            {"method": "POST", "path": "/Users", "bulkId": "u1", "data": user("bulky")},
            {
                "method": "POST",
                "path": "/Groups",
                "bulkId": "g1",
                "data": {
                    "schemas": [GROUP_URN],
                    "displayName": "Bulk group",
                    "members": [{"value": "bulkId:u1"}],
                },
            },
        ],
    }
    response = await acme.post("/Bulk", **scim_json(body))
    assert response.status_code == 200
    statuses = [op["status"] for op in response.json()["Operations"]]
    assert statuses == ["201", "201"]
    group = (await acme.get("/Groups", params={"filter": 'displayName eq "Bulk group"'})).json()
    member = group["Resources"][0]["members"][0]["value"]
    assert (await acme.get(f"/Users/{member}")).json()["userName"] == "bulky"


async def test_me_is_not_implemented(acme: httpx.AsyncClient):
    response = await acme.get("/Me")
    assert response.status_code == 501
    assert response.json()["schemas"] == [ERROR_SCHEMA]


async def test_unknown_routes_and_methods_answer_scim_errors(acme: httpx.AsyncClient):
    unknown = await acme.get("/Devices")
    assert unknown.status_code == 404 and unknown.json()["schemas"] == [ERROR_SCHEMA]
    wrong = await acme.delete("/Users")
    assert wrong.status_code == 405 and wrong.json()["schemas"] == [ERROR_SCHEMA]


# -- authentication, tenant isolation, rotation, policies --------------------------------------


async def _unauthorized_body(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    body: dict[str, Any] = response.json()
    return body


async def test_other_tenants_token_reveals_nothing(app: Starlette):
    async with (
        scim_client(app, "acme", TOKEN_A) as acme,
        scim_client(app, "beta", TOKEN_A) as wrong_tenant,
        scim_client(app, "beta", "not-a-token") as bad_token,
        scim_client(app, "nobody", TOKEN_A) as unknown_tenant,
    ):
        created = await create(acme, "/Users", user("alice"))
        bodies = [
            await _unauthorized_body(await wrong_tenant.get("/Users")),
            await _unauthorized_body(await bad_token.get("/Users")),
            await _unauthorized_body(await unknown_tenant.get("/Users")),
            await _unauthorized_body(await wrong_tenant.get(f"/Users/{created['id']}")),
        ]
        assert all(body == bodies[0] for body in bodies)
        assert bodies[0]["schemas"] == [ERROR_SCHEMA]
        # The same (generic) answer for a wrong token and for a missing tenant.
        assert "beta" not in str(bodies[0]) and "nobody" not in str(bodies[0])


async def test_requests_without_a_bearer_token_are_refused(app: Starlette):
    async with scim_client(app, "acme", None) as anonymous:
        assert (await anonymous.get("/Users")).status_code == 401
        basic = await anonymous.get("/Users", headers={"Authorization": "Basic YTpi"})
        assert basic.status_code == 401


async def test_tenant_data_is_isolated(acme: httpx.AsyncClient, beta: httpx.AsyncClient):
    created = await create(acme, "/Users", user("alice"))
    assert (await beta.get("/Users")).json()["totalResults"] == 0
    assert (await beta.get(f"/Users/{created['id']}")).status_code == 404
    assert (await beta.delete(f"/Users/{created['id']}")).status_code == 404
    # The same userName is free in another tenant.
    await create(beta, "/Users", user("alice"))
    assert (await acme.get("/Users")).json()["totalResults"] == 1


async def test_token_rotation_without_downtime(app: Starlette):
    registry = app.state.tenants.registries[0]
    assert isinstance(registry, MemoryTenantRegistry)
    second = await registry.rotate("acme")
    async with scim_client(app, "acme", TOKEN_A) as old, scim_client(app, "acme", second) as new:
        # Both the new primary and the previous one (now secondary) work.
        assert (await old.get("/Users")).status_code == 200
        assert (await new.get("/Users")).status_code == 200
        third = await registry.rotate("acme")
        # The original token has dropped off; the last two work.
        assert (await old.get("/Users")).status_code == 401
        assert (await new.get("/Users")).status_code == 200
    async with scim_client(app, "acme", third) as newest:
        assert (await newest.get("/Users")).status_code == 200


async def test_entra_tolerance_is_per_tenant():
    settings = two_tenants(
        tenants=(TenantSeed("acme", TOKEN_A), TenantSeed("beta", TOKEN_B, strict=True))
    )
    entra_shaped = user("alice", active="True")
    async with running(settings) as app:
        async with scim_client(app, "acme", TOKEN_A) as acme:
            created = await acme.post("/Users", **scim_json(entra_shaped))
            assert created.status_code == 201 and created.json()["active"] is True
        async with scim_client(app, "beta", TOKEN_B) as beta:
            refused = await beta.post("/Users", **scim_json(entra_shaped))
            assert refused.status_code == 400
            assert refused.json()["scimType"] == "invalidValue"
            accepted = await beta.post("/Users", **scim_json(user("alice", active=True)))
            assert accepted.status_code == 201


async def test_public_url_sets_locations():
    async with running(two_tenants(public_url="https://scim.example.com")) as app:
        async with scim_client(app, "acme", TOKEN_A) as acme:
            response = await acme.post("/Users", **scim_json(user("alice")))
            assert response.headers["location"].startswith(
                "https://scim.example.com/scim/v2/acme/Users/"
            )


async def test_a_user_post_naming_the_group_schema_is_400_on_an_entra_tenant(
    acme: httpx.AsyncClient,
):
    response = await acme.post(
        "/Users",
        **scim_json(
            {"schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"], "userName": "wrong"}
        ),
    )
    assert response.status_code == 400
    assert response.json()["scimType"] == "invalidValue"
    listed = await acme.get("/Users", params={"filter": 'userName eq "wrong"'})
    assert listed.json()["totalResults"] == 0
