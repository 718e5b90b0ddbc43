"""Queries end to end: filters in Entra's wire forms, sort, index and cursor paging, .search."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote_plus

import httpx
import orjson
import pytest
from starlette.requests import Request

from scimkit import GROUP, USER, MemoryStore, ResourceService, ServiceConfig
from scimkit.web import BearerTokenAuth, WebOptions, create_scim_app
from scimkit.web._params import query_pairs
from tests.web.conftest import BASE, TOKENS, group_body, raw_request, user_body

LIST = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
SEARCH = "urn:ietf:params:scim:api:messages:2.0:SearchRequest"


@pytest.fixture
async def users(client: httpx.AsyncClient) -> list[dict[str, Any]]:
    created = []
    for name in ["carol", "alice", "erin", "bob", "dave"]:
        response = await client.post(
            "/Users", json=user_body(f"{name}@example.com", displayName=name.title())
        )
        assert response.status_code == 201, response.text
        created.append(response.json())
    return created


async def test_test_connection_probe_gets_empty_list(client: httpx.AsyncClient) -> None:
    """entra-requests.md §2.1: a random GUID match answers 200 with an empty ListResponse."""
    response = await client.get(
        "/Users", params={"filter": 'userName eq "0b0f6c2e-4c1c-4a55-9b0a-7d2b1f0d8e11"'}
    )
    assert response.status_code == 200
    assert response.json() == {
        "schemas": [LIST],
        "totalResults": 0,
        "itemsPerPage": 0,
        "startIndex": 1,
        "Resources": [],
    }
    groups = await client.get(
        "/Groups", params={"excludedAttributes": "members", "filter": 'displayName eq "x"'}
    )
    assert groups.status_code == 200 and groups.json()["totalResults"] == 0


@pytest.mark.parametrize(
    "query_string",
    [
        # entra-requests.md §1: real Entra (+ and %22), legacy raw quotes, validator (%40).
        b"filter=userName+eq+%22ALICE%40example.com%22",
        b'filter=userName+eq+"alice@example.com"',
        b'filter=userName+eq+"alice%40example.com"',
        b"filter=userName%20eq%20%22alice%40example.com%22&aadOptscim062020",
        b"aadOptscim062020&filter=userName+eq+%22alice%40example.com%22&AzureAdScimPatch062020=1",
    ],
)
async def test_entra_wire_forms_find_the_user(
    app: Any, users: list[dict[str, Any]], query_string: bytes
) -> None:
    status, headers, body = await raw_request(
        app, "GET", "/scim/v2/acme/Users", query_string=query_string
    )
    assert status == 200, body
    data = orjson.loads(body)
    assert data["totalResults"] == 1
    assert data["Resources"][0]["userName"] == "alice@example.com"
    assert headers["content-type"] == "application/scim+json; charset=utf-8"


async def test_group_match_query_excludes_members(
    client: httpx.AsyncClient, users: list[dict[str, Any]]
) -> None:
    group = group_body("Sales", members=[{"value": users[0]["id"]}])
    assert (await client.post("/Groups", json=group)).status_code == 201
    response = await client.get(
        "/Groups?excludedAttributes=members&filter=displayName+eq+%22sales%22"
    )
    data = response.json()
    assert data["totalResults"] == 1
    assert "members" not in data["Resources"][0]
    assert data["Resources"][0]["meta"]["location"].endswith(data["Resources"][0]["id"])


async def test_sort_and_index_paging(
    client: httpx.AsyncClient, users: list[dict[str, Any]]
) -> None:
    page = (await client.get("/Users?sortBy=userName&startIndex=2&count=2")).json()
    assert page["totalResults"] == 5
    assert page["startIndex"] == 2
    assert page["itemsPerPage"] == 2
    assert [r["userName"][0] for r in page["Resources"]] == ["b", "c"]
    down = (await client.get("/Users?sortBy=userName&sortOrder=descending&count=1")).json()
    assert down["Resources"][0]["userName"].startswith("erin")


async def test_start_index_below_one_and_negative_count(
    client: httpx.AsyncClient, users: list[dict[str, Any]]
) -> None:
    """RFC 7644 §3.4.2.4: startIndex < 1 is 1; a negative count is 0 (totals only)."""
    first = (await client.get("/Users?startIndex=-4&count=1&sortBy=userName")).json()
    assert first["startIndex"] == 1
    assert first["Resources"][0]["userName"].startswith("alice")
    none = (await client.get("/Users?count=-3")).json()
    assert none["totalResults"] == 5 and none["Resources"] == [] and none["itemsPerPage"] == 0


async def test_count_is_capped_at_max_results(store: MemoryStore) -> None:
    service = ResourceService(
        store, [USER, GROUP], config=ServiceConfig(max_results=2, default_count=2)
    )
    app = create_scim_app(service, WebOptions(authenticate=BearerTokenAuth.from_tokens(TOKENS)))
    for name in "abc":
        await service.create("acme", USER, user_body(name))
    status, _, body = await raw_request(app, "GET", "/scim/v2/acme/Users", query_string=b"count=50")
    assert status == 200
    data = orjson.loads(body)
    assert data["itemsPerPage"] == 2 and data["totalResults"] == 3


async def test_bad_numbers_and_sort_order_are_400(client: httpx.AsyncClient) -> None:
    response = await client.get("/Users?count=ten")
    assert response.status_code == 400 and response.json()["scimType"] == "invalidValue"
    response = await client.get("/Users?sortBy=userName&sortOrder=sideways")
    assert response.status_code == 400
    response = await client.get("/Users?sortBy=noSuchAttribute")
    assert response.status_code == 400


async def test_invalid_filter_is_400_invalid_filter(client: httpx.AsyncClient) -> None:
    response = await client.get('/Users?filter=userName+eq+"unterminated')
    assert response.status_code == 400
    assert response.json()["scimType"] == "invalidFilter"


async def test_attributes_on_list(client: httpx.AsyncClient, users: list[dict[str, Any]]) -> None:
    data = (await client.get("/Users?attributes=userName&count=1")).json()
    assert set(data["Resources"][0]) == {"id", "schemas", "userName"}


async def test_cursor_paging_forward_and_back(
    client: httpx.AsyncClient, users: list[dict[str, Any]]
) -> None:
    """RFC 9865: an empty cursor starts; nextCursor until the last page; previousCursor back."""
    first = (await client.get("/Users?sortBy=userName&count=2&cursor")).json()
    assert "startIndex" not in first
    assert first["totalResults"] == 5
    assert [r["userName"][0] for r in first["Resources"]] == ["a", "b"]
    assert "previousCursor" not in first
    second = (
        await client.get(
            "/Users", params={"sortBy": "userName", "count": 2, "cursor": first["nextCursor"]}
        )
    ).json()
    assert [r["userName"][0] for r in second["Resources"]] == ["c", "d"]
    third = (
        await client.get(
            "/Users", params={"sortBy": "userName", "count": 2, "cursor": second["nextCursor"]}
        )
    ).json()
    assert [r["userName"][0] for r in third["Resources"]] == ["e"]
    assert "nextCursor" not in third
    back = (
        await client.get(
            "/Users", params={"sortBy": "userName", "count": 2, "cursor": third["previousCursor"]}
        )
    ).json()
    assert [r["userName"][0] for r in back["Resources"]] == ["c", "d"]


async def test_cursor_bound_to_query_and_count_checked(
    client: httpx.AsyncClient, users: list[dict[str, Any]]
) -> None:
    first = (await client.get("/Users?count=2&cursor=")).json()
    other = await client.get("/Users", params={"count": 3, "cursor": first["nextCursor"]})
    assert other.status_code == 400 and other.json()["scimType"] == "invalidCursor"
    garbage = await client.get("/Users?cursor=not-a-cursor")
    assert garbage.json()["scimType"] == "invalidCursor"
    zero = await client.get("/Users?cursor=&count=0")
    assert zero.status_code == 400 and zero.json()["scimType"] == "invalidCount"


async def test_search_per_type(client: httpx.AsyncClient, users: list[dict[str, Any]]) -> None:
    """RFC 7644 §3.4.3: POST /.search with a SearchRequest body."""
    response = await client.post(
        "/Users/.search",
        json={
            "schemas": [SEARCH],
            "attributes": ["displayName"],
            "filter": 'userName sw "d"',
            "startIndex": 1,
            "count": 10,
        },
    )
    assert response.status_code == 200, response.text
    data = response.json()
    assert data["totalResults"] == 1
    assert data["Resources"][0]["displayName"] == "Dave"
    assert "userName" not in data["Resources"][0]


async def test_search_needs_search_request_schema(client: httpx.AsyncClient) -> None:
    response = await client.post("/Users/.search", json={"filter": 'userName eq "x"'})
    assert response.status_code == 400 and response.json()["scimType"] == "invalidSyntax"
    wrong = await client.post("/Users/.search", json={"schemas": [SEARCH], "count": "ten"})
    assert wrong.status_code == 400


async def test_root_search_unions_types(
    client: httpx.AsyncClient, users: list[dict[str, Any]]
) -> None:
    await client.post("/Groups", json=group_body("Alpha"))
    everything = (await client.post("/.search", json={"schemas": [SEARCH]})).json()
    assert everything["totalResults"] == 6
    types = [r["meta"]["resourceType"] for r in everything["Resources"]]
    assert types == ["User"] * 5 + ["Group"]
    assert everything["Resources"][-1]["meta"]["location"].split("/")[-2] == "Groups"
    window = (
        await client.post("/.search", json={"schemas": [SEARCH], "startIndex": 5, "count": 2})
    ).json()
    assert window["totalResults"] == 6
    assert [r["meta"]["resourceType"] for r in window["Resources"]] == ["User", "Group"]
    named = (
        await client.post(
            "/.search", json={"schemas": [SEARCH], "filter": 'displayName eq "Alpha"'}
        )
    ).json()
    assert named["totalResults"] == 1 and named["Resources"][0]["meta"]["resourceType"] == "Group"
    users_only = (
        await client.post("/.search", json={"schemas": [SEARCH], "filter": "userName pr"})
    ).json()
    assert users_only["totalResults"] == 5


@pytest.mark.parametrize(
    "query_string",
    [
        b"filter=displayName+eq+%22Ren%C3%A9e+Z%22",
        'filter=displayName eq "Renée Z"'.encode(),
        b"FILTER=displayName%20eq%20%22Ren%C3%A9e%20Z%22&filter=ignored",
    ],
)
async def test_query_values_are_utf8(
    app: Any, client: httpx.AsyncClient, query_string: bytes
) -> None:
    await client.post("/Users", json=user_body("renee", displayName="Renée Z"))
    status, _, body = await raw_request(
        app, "GET", "/scim/v2/acme/Users", query_string=query_string
    )
    assert status == 200, body
    assert orjson.loads(body)["totalResults"] == 1


async def test_empty_filter_means_no_filter(
    client: httpx.AsyncClient, users: list[dict[str, Any]]
) -> None:
    response = await client.get("/Users?filter=&count=0")
    assert response.status_code == 200 and response.json()["totalResults"] == 5


async def test_rendering_a_page_leaves_the_stored_resources_as_they_were(
    client: httpx.AsyncClient, store: MemoryStore
) -> None:
    """GET pages are rendered from the stored values themselves (``query_reply``).

    Adding ``meta.location`` and the groups' ``$ref`` and projecting must change nothing stored.
    """
    alice = await client.post(
        "/Users",
        json=user_body(
            "alice@example.com",
            name={"givenName": "Alice", "familyName": "A"},
            emails=[{"value": "alice@example.com", "type": "work", "primary": True}],
        ),
    )
    alice_id = alice.json()["id"]
    group = await client.post("/Groups", json=group_body("Sales", members=[{"value": alice_id}]))
    group_id = group.json()["id"]
    before_user = await store.get("acme", USER, alice_id)
    before_group = await store.get("acme", GROUP, group_id)
    for query in (
        "/Users?filter=userName+eq+%22ALICE%40example.com%22",
        "/Users?attributes=emails.value,name.givenName",
        "/Users?excludedAttributes=emails.type,name",
        "/Groups",
        "/Groups?attributes=members.value",
    ):
        for _ in range(2):  # a second rendering sees what the first left: nothing
            page = (await client.get(query)).json()
            assert page["totalResults"] == 1, query
            meta = page["Resources"][0].get("meta")
            assert meta is None or meta["location"].startswith(BASE)
    rendered = (await client.get("/Users")).json()["Resources"][0]
    assert rendered["groups"][0]["$ref"] == f"{BASE}/Groups/{group_id}"
    assert await store.get("acme", USER, alice_id) == before_user
    assert await store.get("acme", GROUP, group_id) == before_group
    assert "location" not in before_user["meta"]
    assert "$ref" not in before_user["groups"][0]


@pytest.mark.parametrize(
    "raw",
    [
        "userName+eq+%22ALICE%40example.com%22",
        "a%20b+c",
        "%C3%A9t%C3%A9",  # UTF-8 escapes
        "caf\u00e9%20%E2%82%AC",  # raw non-ASCII next to escapes
        "%E2\u00e9%82%AC",  # a broken sequence around a raw character
        "%F0%9F",  # a truncated one
        "100%",  # a lone percent
        "%zz%2",  # escapes that are none
        "%ff\u20ac%A9",
    ],
)
def test_query_values_decode_as_unquote_plus(raw: str) -> None:
    query = b"filter=" + raw.encode("utf-8")
    request = Request({"type": "http", "query_string": query, "headers": []})
    expected = unquote_plus(raw, encoding="utf-8", errors="replace")
    assert query_pairs(request) == {"filter": expected}
