"""Request limits: body size, filter length and nesting, page size, Bulk, on both stores.

Every limit answers a SCIM Error, and a request refused for a limit writes nothing.
The limits themselves are documented in docs/security.md.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from scimkit import ServiceConfig
from scimkit._filter import MAX_FILTER_DEPTH, MAX_FILTER_LENGTH
from scimkit.store import ResourceStore
from tests.hardening.support import (
    BULK_SCHEMA,
    SEARCH_SCHEMA,
    TENANT_A,
    TOKEN_A,
    check_error,
    check_response,
    group_body,
    make_app,
    patch_body,
    snapshot,
    user_body,
)

# Small limits, so each is reached with small requests; the body limit leaves room for a
# filter just over MAX_FILTER_LENGTH in a SearchRequest.
LIMITS = ServiceConfig(
    max_body_size=6000,
    max_results=5,
    default_count=3,
    bulk_max_operations=3,
    bulk_max_payload_size=12_000,
)


@pytest.fixture
def app(store: ResourceStore) -> Starlette:
    return make_app(store, config=LIMITS)


@pytest.fixture
async def seeded(client_a: httpx.AsyncClient) -> AsyncIterator[dict[str, Any]]:
    """Eight users and a group of two in tenant A."""
    users = []
    for n in range(8):
        response = await client_a.post("/Users", json=user_body(f"limit{n}@example.com"))
        assert response.status_code == 201, response.text
        users.append(response.json()["id"])
    response = await client_a.post("/Groups", json=group_body("Limited", users[:2]))
    assert response.status_code == 201, response.text
    yield {"users": users, "group": response.json()["id"]}


def refused(response: httpx.Response, status: int, scim_type: str | None = None) -> None:
    check_response(response, "limit")
    assert response.status_code == status, response.text
    body = check_error(response)
    if scim_type is not None:
        assert body.get("scimType") == scim_type, body


# -- body size --------------------------------------------------------------------------------


async def test_bodies_over_the_limit_are_413_and_write_nothing(
    client_a: httpx.AsyncClient, store: ResourceStore, seeded: dict[str, Any]
):
    before = await snapshot(store, TENANT_A)
    big = "x" * LIMITS.max_body_size
    user = seeded["users"][0]
    attempts = [
        ("POST", "/Users", user_body("big@example.com", displayName=big)),
        ("PUT", f"/Users/{user}", user_body("limit0@example.com", displayName=big)),
        ("PATCH", f"/Users/{user}", patch_body({"op": "replace", "path": "title", "value": big})),
        ("POST", "/Users/.search", {"schemas": [SEARCH_SCHEMA], "filter": f'title eq "{big}"'}),
        ("POST", "/.search", {"schemas": [SEARCH_SCHEMA], "filter": f'title eq "{big}"'}),
    ]
    for method, path, document in attempts:
        refused(await client_a.request(method, path, json=document), 413)
    assert await snapshot(store, TENANT_A) == before


async def test_a_streamed_body_without_length_is_cut_off_at_the_limit(
    client_a: httpx.AsyncClient, store: ResourceStore
):
    """A chunked body has no Content-Length to check first: it is counted as it arrives."""
    chunk = json.dumps(user_body("stream@example.com", displayName="x" * 3000)).encode()

    async def chunks() -> AsyncIterator[bytes]:
        yield chunk[:-1]  # the JSON is only complete with the last byte...
        yield b" " * LIMITS.max_body_size  # ...which comes after the limit
        yield chunk[-1:]

    response = await client_a.post("/Users", content=chunks())
    assert "content-length" not in response.request.headers
    refused(response, 413)
    assert await snapshot(store, TENANT_A) == [[], []]


async def test_a_body_at_the_limit_is_accepted(client_a: httpx.AsyncClient):
    document = user_body("edge@example.com", displayName="")
    padding = LIMITS.max_body_size - len(json.dumps(document).encode())
    document["displayName"] = "y" * padding
    content = json.dumps(document).encode()
    assert len(content) == LIMITS.max_body_size
    response = await client_a.post("/Users", content=content)
    assert response.status_code == 201, response.text


# -- filters ----------------------------------------------------------------------------------


def _long_filter(length: int) -> str:
    head = 'userName eq "'
    return head + "a" * (length - len(head) - 1) + '"'


def _nested_filter(depth: int) -> str:
    return "(" * depth + 'userName eq "a"' + ")" * depth


async def test_filter_length_and_nesting_limits(
    client_a: httpx.AsyncClient, seeded: dict[str, Any]
):
    assert len(_long_filter(MAX_FILTER_LENGTH)) == MAX_FILTER_LENGTH
    ok = await client_a.get("/Users", params={"filter": _long_filter(MAX_FILTER_LENGTH)})
    assert ok.status_code == 200, ok.text
    ok = await client_a.get("/Users", params={"filter": _nested_filter(MAX_FILTER_DEPTH - 1)})
    assert ok.status_code == 200, ok.text
    for text in (_long_filter(MAX_FILTER_LENGTH + 1), _nested_filter(MAX_FILTER_DEPTH + 1)):
        refused(await client_a.get("/Users", params={"filter": text}), 400, "invalidFilter")
        refused(await client_a.get("/Groups", params={"filter": text}), 400, "invalidFilter")
        search = {"schemas": [SEARCH_SCHEMA], "filter": text}
        refused(await client_a.post("/Users/.search", json=search), 400, "invalidFilter")
        refused(await client_a.post("/.search", json=search), 400, "invalidFilter")
    # Deep "not", long "or" chains and value filters count too.
    for text in (
        "not (" * (MAX_FILTER_DEPTH + 1) + "id pr" + ")" * (MAX_FILTER_DEPTH + 1),
        " or ".join(['userName eq "a"'] * 1000),
        "emails[" + _nested_filter(MAX_FILTER_DEPTH + 1).replace("userName", "value") + "]",
    ):
        refused(await client_a.get("/Users", params={"filter": text}), 400, "invalidFilter")


async def test_patch_paths_with_oversized_filters_are_refused(
    client_a: httpx.AsyncClient, store: ResourceStore, seeded: dict[str, Any]
):
    before = await snapshot(store, TENANT_A)
    inner = _nested_filter(MAX_FILTER_DEPTH + 1).replace("userName", "value")
    operation = {"op": "remove", "path": f"members[{inner}]"}
    response = await client_a.patch(f"/Groups/{seeded['group']}", json=patch_body(operation))
    check_response(response, "limit")
    assert response.status_code == 400
    assert check_error(response)["scimType"] in ("invalidFilter", "invalidPath")
    assert await snapshot(store, TENANT_A) == before


# -- page size --------------------------------------------------------------------------------


async def test_count_is_capped_at_the_advertised_maximum(
    client_a: httpx.AsyncClient, seeded: dict[str, Any]
):
    config = (await client_a.get("/ServiceProviderConfig")).json()
    maximum = config["filter"]["maxResults"]
    assert maximum == config["pagination"]["maxPageSize"] == LIMITS.max_results
    for count in (maximum + 1, 1000, 2**31, 2**63, 10**30):
        page = (await client_a.get("/Users", params={"count": str(count)})).json()
        assert page["itemsPerPage"] == len(page["Resources"]) == maximum, page
        assert page["totalResults"] == 8
        if count >= 2**64:
            continue  # JSON numbers that large parse as floats: 400 invalidValue
        search = {"schemas": [SEARCH_SCHEMA], "count": count}
        for path in ("/Users/.search", "/.search"):
            page = (await client_a.post(path, json=search)).json()
            assert page["itemsPerPage"] == len(page["Resources"]) == maximum, page
    default = (await client_a.get("/Users")).json()
    assert default["itemsPerPage"] == LIMITS.default_count
    cursor = (await client_a.get("/Users", params={"cursor": "", "count": "1000"})).json()
    assert cursor["itemsPerPage"] == len(cursor["Resources"]) == maximum
    # The root query counts every type but returns at most a page.
    root = (await client_a.post("/.search", json={"schemas": [SEARCH_SCHEMA]})).json()
    assert root["totalResults"] == 9 and root["itemsPerPage"] == LIMITS.default_count


async def test_huge_start_index_is_an_empty_page(
    client_a: httpx.AsyncClient, seeded: dict[str, Any]
):
    for start in (10, 2**31, 2**63, 2**64 - 1, 10**30):
        response = await client_a.get("/Users", params={"startIndex": str(start)})
        check_response(response, "limit")
        page = response.json()
        assert page["totalResults"] == 8 and page["Resources"] == [], page
        if start >= 2**64:
            continue
        search = {"schemas": [SEARCH_SCHEMA], "startIndex": start}
        response = await client_a.post("/.search", json=search)
        check_response(response, "limit")
        assert response.json()["Resources"] == []


# -- Bulk -------------------------------------------------------------------------------------


def _bulk(*operations: dict[str, Any]) -> dict[str, Any]:
    return {"schemas": [BULK_SCHEMA], "Operations": list(operations)}


def _post(n: int, **extra: Any) -> dict[str, Any]:
    return {
        "method": "POST",
        "path": "/Users",
        "bulkId": f"b{n}",
        "data": user_body(f"bulk{n}@example.com", **extra),
    }


async def test_bulk_limits_are_advertised_and_413(
    client_a: httpx.AsyncClient, store: ResourceStore, seeded: dict[str, Any]
):
    config = (await client_a.get("/ServiceProviderConfig")).json()["bulk"]
    assert config == {
        "supported": True,
        "maxOperations": LIMITS.bulk_max_operations,
        "maxPayloadSize": LIMITS.bulk_max_payload_size,
    }
    before = await snapshot(store, TENANT_A)
    too_many = _bulk(*(_post(n) for n in range(LIMITS.bulk_max_operations + 1)))
    refused(await client_a.post("/Bulk", json=too_many), 413)
    # The Bulk payload limit is its own, larger than the body limit of single requests.
    heavy = _bulk(_post(0, displayName="z" * LIMITS.bulk_max_payload_size))
    refused(await client_a.post("/Bulk", json=heavy), 413)
    assert await snapshot(store, TENANT_A) == before
    within = _bulk(*(_post(n, displayName="w" * 1900) for n in range(3)))
    assert LIMITS.max_body_size < len(json.dumps(within)) < LIMITS.bulk_max_payload_size
    response = await client_a.post("/Bulk", json=within)
    assert response.status_code == 200, response.text
    assert [op["status"] for op in response.json()["Operations"]] == ["201"] * 3


async def test_bulk_operation_bodies_obey_no_single_request_limit_bypass(
    client_a: httpx.AsyncClient, store: ResourceStore
):
    """A Bulk request refused for size writes nothing, even when its first operations are fine."""
    document = _bulk(_post(0), _post(1), _post(2, displayName="q" * LIMITS.bulk_max_payload_size))
    refused(await client_a.post("/Bulk", json=document), 413)
    assert await snapshot(store, TENANT_A) == [[], []]


def test_default_limits_match_the_documentation():
    """docs/security.md quotes these numbers; change both together."""
    config = ServiceConfig()
    assert (config.max_body_size, config.bulk_max_payload_size) == (1_048_576, 1_048_576)
    assert (config.max_results, config.default_count, config.bulk_max_operations) == (
        1000,
        100,
        100,
    )
    assert (MAX_FILTER_LENGTH, MAX_FILTER_DEPTH) == (4096, 32)


async def test_a_token_for_another_client_is_not_needed(client_a: httpx.AsyncClient):
    """Sanity: the limits suites run as tenant A."""
    assert client_a.headers["authorization"] == f"Bearer {TOKEN_A}"
    assert str(client_a.base_url).endswith(f"/{TENANT_A}/")


# -- nesting ----------------------------------------------------------------------------------


def _deep(depth: int) -> str:
    return '{"value":' * depth + '"x"' + "}" * depth


@pytest.mark.parametrize("depth", [100, 1000, 1023, 1025])
async def test_deeply_nested_bodies_are_400_not_500(
    client_a: httpx.AsyncClient, store: ResourceStore, seeded: dict[str, Any], depth: int
):
    """JSON may nest 1024 levels (orjson's limit): nothing after it may recurse that deep."""
    before = await snapshot(store, TENANT_A)
    deep = _deep(depth)
    user, group = seeded["users"][0], seeded["group"]
    patch_op = '{"op":"add","path":"title","value":' + deep + "}"
    patch = '{"schemas":["urn:ietf:params:scim:api:messages:2.0:PatchOp"],"Operations":['
    patch += patch_op + "]}"
    bulk = (
        '{"schemas":["' + BULK_SCHEMA + '"],"Operations":[{"method":"POST","path":"/Users",'
        '"bulkId":"d","data":{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],'
        '"userName":"deep@example.com","title":' + deep + "}}]}"
    )
    attempts = [
        ("POST", "/Users", '{"userName":"deep@example.com","name":' + deep + "}"),
        ("PUT", f"/Users/{user}", '{"userName":"limit0@example.com","title":' + deep + "}"),
        ("PATCH", f"/Users/{user}", patch),
        ("PATCH", f"/Groups/{group}", patch.replace('"title"', '"members"')),
        ("POST", "/Users/.search", '{"schemas":["' + SEARCH_SCHEMA + '"],"filter":' + deep + "}"),
        ("POST", "/Bulk", bulk),
    ]
    for method, path, content in attempts:
        response = await client_a.request(method, path, content=content.encode())
        check_response(response, "limit")
        if path == "/Bulk" and response.status_code == 200:
            (result,) = response.json()["Operations"]
            assert result["status"] == "400", result
        else:
            assert response.status_code in (400, 413), (path, response.text)
    assert await snapshot(store, TENANT_A) == before
