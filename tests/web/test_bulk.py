"""Bulk (RFC 7644 §3.7): bulkId references, ordering, cycles, failOnErrors and limits."""

from __future__ import annotations

from typing import Any

import httpx
import orjson

from scimkit import GROUP, USER
from scimkit._config import ServiceConfig
from scimkit._memory import MemoryStore
from scimkit._service import ResourceService
from scimkit.web import BearerTokenAuth, create_scim_app
from tests.web.conftest import BASE, TOKENS, group_body, patch_body, raw_request, user_body

BULK = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
BULK_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:BulkResponse"


def bulk(*operations: dict[str, Any], fail_on_errors: int | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"schemas": [BULK], "Operations": list(operations)}
    if fail_on_errors is not None:
        body["failOnErrors"] = fail_on_errors
    return body


async def test_bulk_ids_resolve_in_data_and_path_in_dependency_order(
    client: httpx.AsyncClient,
) -> None:
    """The group POST comes first but refers to a user created later: it must run after."""
    response = await client.post(
        "/Bulk",
        json=bulk(
            {
                "method": "POST",
                "path": "/Groups",
                "bulkId": "g1",
                "data": group_body("Team", members=[{"type": "User", "value": "bulkId:u1"}]),
            },
            {"method": "POST", "path": "/Users", "bulkId": "u1", "data": user_body("u1@x.org")},
            {
                "method": "PATCH",
                "path": "/Users/bulkId:u1",
                "data": patch_body({"op": "replace", "path": "displayName", "value": "U One"}),
            },
            {
                "method": "PATCH",
                "path": "/Groups/bulkId:g1",
                "data": patch_body(
                    {"op": "remove", "path": 'members[value eq "bulkId:u1"]'},
                ),
            },
        ),
    )
    assert response.status_code == 200, response.text
    data = response.json()
    assert data["schemas"] == [BULK_RESPONSE]
    results = data["Operations"]
    assert [r["status"] for r in results] == ["201", "201", "200", "200"]
    group_location, user_location = results[0]["location"], results[1]["location"]
    assert results[0]["bulkId"] == "g1" and results[0]["version"]
    assert user_location.startswith(f"{BASE}/Users/")
    user = (await client.get(user_location)).json()
    assert user["displayName"] == "U One"
    group = (await client.get(group_location)).json()
    assert "members" not in group  # the last PATCH removed the member added at creation


async def test_cycles_fail_with_409_others_proceed(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/Bulk",
        json=bulk(
            {
                "method": "POST",
                "path": "/Groups",
                "bulkId": "a",
                "data": group_body("A", members=[{"value": "bulkId:b"}]),
            },
            {
                "method": "POST",
                "path": "/Groups",
                "bulkId": "b",
                "data": group_body("B", members=[{"value": "bulkId:a"}]),
            },
            {"method": "POST", "path": "/Users", "bulkId": "c", "data": user_body("c@x.org")},
            {
                "method": "POST",
                "path": "/Groups",
                "bulkId": "d",
                "data": group_body("D", members=[{"value": "bulkId:nowhere"}]),
            },
        ),
    )
    results = response.json()["Operations"]
    assert [r["status"] for r in results] == ["409", "409", "201", "409"]
    assert "circular" in results[0]["response"]["detail"]
    assert "not declared" in results[3]["response"]["detail"]
    assert results[0]["response"]["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]


async def test_reference_to_failed_post_is_409(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/Bulk",
        json=bulk(
            {"method": "POST", "path": "/Users", "bulkId": "bad", "data": {"schemas": []}},
            {
                "method": "POST",
                "path": "/Groups",
                "bulkId": "g",
                "data": group_body("G", members=[{"value": "bulkId:bad"}]),
            },
        ),
    )
    results = response.json()["Operations"]
    assert results[0]["status"] == "400"
    assert results[1]["status"] == "409"


async def test_fail_on_errors_stops_processing(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/Bulk",
        json=bulk(
            {"method": "DELETE", "path": "/Users/missing-1"},
            {"method": "DELETE", "path": "/Users/missing-2"},
            {"method": "POST", "path": "/Users", "bulkId": "x", "data": user_body("x@x.org")},
            fail_on_errors=2,
        ),
    )
    results = response.json()["Operations"]
    assert [r["status"] for r in results] == ["404", "404"]
    assert (await client.get("/Users?filter=userName+eq+%22x%40x.org%22")).json()[
        "totalResults"
    ] == 0


async def test_put_delete_and_version_preconditions(
    client: httpx.AsyncClient, user: dict[str, Any]
) -> None:
    path = f"/Users/{user['id']}"
    response = await client.post(
        "/Bulk",
        json=bulk(
            {"method": "PUT", "path": path, "version": 'W/"old"', "data": user_body("a@x.org")},
            {
                "method": "PUT",
                "path": path,
                "version": user["meta"]["version"],
                "data": user_body(user["userName"], nickName="Al"),
            },
            {"method": "DELETE", "path": path},
        ),
    )
    results = response.json()["Operations"]
    assert [r["status"] for r in results] == ["412", "200", "204"]
    assert results[2]["location"] == f"{BASE}{path}"
    assert (await client.get(path)).status_code == 404


async def test_malformed_operations_fail_individually(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/Bulk",
        json=bulk(
            {"method": "GET", "path": "/Users"},
            {"method": "POST", "path": "/Users", "data": user_body("nobulkid@x.org")},
            {"method": "POST", "path": "/Nowhere", "bulkId": "n", "data": {}},
            "not an object",  # type: ignore[arg-type]
            {"method": "PATCH", "path": "/Users"},
        ),
    )
    results = response.json()["Operations"]
    assert [r["status"] for r in results] == ["400", "400", "404", "400", "400"]


async def test_bad_bulk_requests(client: httpx.AsyncClient) -> None:
    no_schema = await client.post("/Bulk", json={"Operations": []})
    assert no_schema.status_code == 400 and no_schema.json()["scimType"] == "invalidSyntax"
    duplicate = await client.post(
        "/Bulk",
        json=bulk(
            {"method": "POST", "path": "/Users", "bulkId": "x", "data": user_body("1@x.org")},
            {"method": "POST", "path": "/Users", "bulkId": "x", "data": user_body("2@x.org")},
        ),
    )
    assert duplicate.status_code == 400
    bad_fail = await client.post("/Bulk", json={**bulk(), "failOnErrors": 0})
    assert bad_fail.status_code == 400


async def test_limits_are_413() -> None:
    service = ResourceService(
        MemoryStore(),
        [USER, GROUP],
        config=ServiceConfig(bulk_max_operations=2, bulk_max_payload_size=400),
    )
    app = create_scim_app(service, authenticate=BearerTokenAuth.from_tokens(TOKENS))
    too_many = orjson.dumps(bulk(*[{"method": "DELETE", "path": f"/Users/{i}"} for i in range(3)]))
    status, _, body = await raw_request(
        app,
        "POST",
        "/scim/v2/acme/Bulk",
        body=too_many,
        headers=[(b"content-type", b"application/scim+json")],
    )
    assert status == 413 and orjson.loads(body)["status"] == "413"
    # Declared too large: refused before reading.
    status, _, _ = await raw_request(
        app,
        "POST",
        "/scim/v2/acme/Bulk",
        headers=[(b"content-length", b"100000")],
        body=b"{}",
    )
    assert status == 413
    # No length declared: counted while streaming.
    status, _, _ = await raw_request(
        app, "POST", "/scim/v2/acme/Bulk", chunks=[b"{" + b" " * 300, b" " * 300 + b"}"]
    )
    assert status == 413


async def test_bulk_disabled_is_501() -> None:
    service = ResourceService(MemoryStore(), [USER, GROUP], config=ServiceConfig(bulk=False))
    app = create_scim_app(service, authenticate=BearerTokenAuth.from_tokens(TOKENS))
    status, _, body = await raw_request(app, "POST", "/scim/v2/acme/Bulk", body=b"{}")
    assert status == 501
    assert orjson.loads(body)["status"] == "501"
