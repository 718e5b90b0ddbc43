"""Tenant isolation: tenant A's credentials get nothing of tenant B, on every endpoint.

Two ways in are tried, on both stores: A's token against B's Tenant URL (401 everywhere, the
same 401 a wrong token gets, discovery included), and A's token at A's own URL naming B's
resource ids (404, the same 404 an id that never existed gets). B's resources, members and
versions are compared before and after; no response says anything of B (its ids, names or
tenant name) beyond what the request itself carried.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from reference_app.settings import Settings, TenantSeed
from scimkit.store import ResourceStore
from tests.hardening.support import (
    BULK_SCHEMA,
    SEARCH_SCHEMA,
    TENANT_A,
    TENANT_B,
    TOKEN_A,
    USER_URN,
    check_response,
    client_for,
    count,
    group_body,
    make_app,
    patch_body,
    snapshot,
    user_body,
)
from tests.reference_app.support import running

B_USER_NAME = "secret.person@globex.example"
B_GROUP_NAME = "Globex Board"


@pytest.fixture
def me() -> dict[str, str]:
    return {}


@pytest.fixture
def app(store: ResourceStore, me: dict[str, str]) -> Starlette:
    return make_app(store, me=me)


@pytest.fixture
async def tenant_b(
    client_b: httpx.AsyncClient, client_a: httpx.AsyncClient, me: dict[str, str]
) -> AsyncIterator[dict[str, Any]]:
    """B's user (its /Me) and group, and one user of A (A's own /Me)."""
    user = (await client_b.post("/Users", json=user_body(B_USER_NAME, displayName="Secret"))).json()
    group = (await client_b.post("/Groups", json=group_body(B_GROUP_NAME, [user["id"]]))).json()
    mine = (await client_a.post("/Users", json=user_body("me@acme.example"))).json()
    me.update({TENANT_B: user["id"], TENANT_A: mine["id"]})
    yield {"user": user["id"], "group": group["id"]}


def requests_for(user: str, group: str) -> list[tuple[str, str, Any]]:
    """(method, path, JSON body) for every endpoint, naming ``user`` and ``group``."""
    patch = patch_body({"op": "replace", "path": "displayName", "value": "Taken over"})
    add_member = patch_body({"op": "add", "path": "members", "value": [{"value": user}]})
    bulk = {
        "schemas": [BULK_SCHEMA],
        "Operations": [
            {"method": "PATCH", "path": f"/Users/{user}", "data": patch},
            {"method": "PUT", "path": f"/Groups/{group}", "data": group_body("Mine")},
            {"method": "DELETE", "path": f"/Users/{user}"},
            {"method": "DELETE", "path": f"/Groups/{group}"},
        ],
    }
    search = {"schemas": [SEARCH_SCHEMA], "filter": f'userName eq "{B_USER_NAME}"'}
    return [
        ("GET", "/Users", None),
        ("GET", f"/Users?filter=userName%20eq%20%22{B_USER_NAME}%22", None),
        ("GET", f"/Groups?filter=members%20eq%20%22{user}%22", None),
        ("GET", f"/Users/{user}", None),
        ("GET", f"/Groups/{group}", None),
        ("POST", "/Users", user_body("intruder@acme.example")),
        ("POST", "/Groups", group_body("Intruders", [user])),
        ("PUT", f"/Users/{user}", user_body(B_USER_NAME, displayName="Taken over")),
        ("PUT", f"/Groups/{group}", group_body(B_GROUP_NAME)),
        ("PATCH", f"/Users/{user}", patch),
        ("PATCH", f"/Groups/{group}", add_member),
        ("DELETE", f"/Groups/{group}", None),
        ("DELETE", f"/Users/{user}", None),
        ("POST", "/Users/.search", search),
        ("POST", "/Groups/.search", {"schemas": [SEARCH_SCHEMA]}),
        ("POST", "/.search", search),
        ("POST", "/Bulk", bulk),
        ("GET", "/Me", None),
        ("PUT", "/Me", user_body("me@acme.example", displayName="Taken over")),
        ("PATCH", "/Me", patch),
        ("DELETE", "/Me", None),
        ("GET", "/ServiceProviderConfig", None),
        ("GET", "/ResourceTypes", None),
        ("GET", "/ResourceTypes/User", None),
        ("GET", "/Schemas", None),
        ("GET", f"/Schemas/{USER_URN}", None),
    ]


async def send(client: httpx.AsyncClient, method: str, path: str, body: Any) -> httpx.Response:
    response = await client.request(method, path, json=body)
    check_response(response, "isolation")
    count("isolation requests")
    return response


def reveals_nothing(response: httpx.Response, secrets: list[str]) -> None:
    text = response.text + " ".join(f"{k}: {v}" for k, v in response.headers.items())
    for secret in secrets:
        assert secret not in text, f"{secret!r} revealed by {response.request.url}: {text}"


async def test_a_token_against_b_url_is_401_everywhere(
    app: Starlette, store: ResourceStore, tenant_b: dict[str, Any]
):
    before = await snapshot(store, TENANT_B)
    secrets = [tenant_b["user"], tenant_b["group"], B_USER_NAME, B_GROUP_NAME, "Secret"]
    async with (
        client_for(app, TENANT_B, TOKEN_A) as wrong_tenant,
        client_for(app, TENANT_B, "not-a-token-of-anyone") as wrong_token,
        client_for(app, TENANT_B, None) as no_token,
        client_for(app, "nobody", TOKEN_A) as no_tenant,
    ):
        for method, path, body in requests_for(tenant_b["user"], tenant_b["group"]):
            response = await send(wrong_tenant, method, path, body)
            assert response.status_code == 401, (method, path, response.text)
            reveals_nothing(response, [*secrets, TENANT_A])
            # Indistinguishable from a wrong token, and from a tenant that does not exist.
            for other in (wrong_token, no_token, no_tenant):
                again = await send(other, method, path, body)
                assert again.status_code == 401
                assert again.json() == response.json(), (method, path)
    assert await snapshot(store, TENANT_B) == before


async def test_b_ids_at_a_url_are_404_like_ids_that_never_existed(
    client_a: httpx.AsyncClient, store: ResourceStore, tenant_b: dict[str, Any]
):
    before_b = await snapshot(store, TENANT_B)
    secrets = [B_USER_NAME, B_GROUP_NAME, TENANT_B]
    probes = requests_for(tenant_b["user"], tenant_b["group"])
    ghosts = requests_for("0" * 32, "1" * 32)
    for (method, path, body), (_, ghost_path, ghost_body) in zip(probes, ghosts, strict=True):
        if method == "POST" and path in ("/Users", "/Groups"):
            continue  # creating in A is A's right; covered below
        if path.startswith("/Me") and method != "GET":
            continue  # A's own /Me: A's own user, not B's
        response = await send(client_a, method, path, body)
        reveals_nothing(response, secrets)
        ghost = await send(client_a, method, ghost_path, ghost_body)
        assert response.status_code == ghost.status_code, (method, path, response.text)
        if response.status_code >= 400 or path == "/Bulk":
            seen = response.text.replace(tenant_b["user"], "U").replace(tenant_b["group"], "G")
            unseen = ghost.text.replace("0" * 32, "U").replace("1" * 32, "G")
            assert seen == unseen, (method, path)
        elif method == "GET" and response.json().get("schemas", [""])[0].endswith("ListResponse"):
            listed = response.json()
            assert all(
                r["id"] not in (tenant_b["user"], tenant_b["group"]) for r in listed["Resources"]
            )
    assert await snapshot(store, TENANT_B) == before_b


async def test_a_group_naming_b_user_changes_nothing_of_b(
    client_a: httpx.AsyncClient,
    client_b: httpx.AsyncClient,
    store: ResourceStore,
    tenant_b: dict[str, Any],
):
    """A may store any member id in its own group; B's user never sees A's group."""
    before_b = await snapshot(store, TENANT_B)
    response = await send(client_a, "POST", "/Groups", group_body("Borrowed", [tenant_b["user"]]))
    assert response.status_code in (201, 400), response.text
    assert await snapshot(store, TENANT_B) == before_b
    groups = (await client_b.get(f"/Users/{tenant_b['user']}")).json().get("groups", [])
    assert [g["value"] for g in groups] == [tenant_b["group"]]


# -- the reference app: tenant names in the URL, tokens from its registry ------------------------

TOKEN_ACME = "token-of-acme-0123456789abcdef"
TOKEN_BETA = "token-of-beta-0123456789abcdef"


async def test_reference_app_keeps_tenants_apart():
    settings = Settings(tenants=(TenantSeed("acme", TOKEN_ACME), TenantSeed("beta", TOKEN_BETA)))
    async with (
        running(settings) as app,
        client_for(app, "beta", TOKEN_BETA) as beta,
        client_for(app, "beta", TOKEN_ACME) as intruder,
        client_for(app, "beta", "wrong") as wrong,
    ):
        user = (await beta.post("/Users", json=user_body(B_USER_NAME))).json()["id"]
        group = (await beta.post("/Groups", json=group_body(B_GROUP_NAME, [user]))).json()["id"]
        store = app.state.store
        before = await snapshot(store, "beta")
        for method, path, body in requests_for(user, group):
            response = await send(intruder, method, path, body)
            assert response.status_code == 401, (method, path, response.text)
            reveals_nothing(response, [user, group, B_USER_NAME, B_GROUP_NAME, "acme"])
            assert (await send(wrong, method, path, body)).json() == response.json()
        assert await snapshot(store, "beta") == before
