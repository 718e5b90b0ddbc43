"""Bulk over HTTP (RFC 7644 §3.7): the BulkResponse as sent, request errors and limits.

The processing itself (ordering, cycles, failOnErrors) is tested in ``tests/test_bulk.py``.
"""

from __future__ import annotations

from typing import Any

import httpx
import orjson

from scimkit import GROUP, USER, MemoryStore, ResourceService, ServiceConfig
from scimkit.web import BearerTokenAuth, WebOptions, create_scim_app
from tests.test_bulk import bulk, dependent_request
from tests.web.conftest import BASE, TOKENS, group_body, raw_request, user_body

BULK_RESPONSE = "urn:ietf:params:scim:api:messages:2.0:BulkResponse"


async def test_bulk_ids_resolve_in_data_and_path_in_dependency_order(
    client: httpx.AsyncClient,
) -> None:
    """The group POST comes first but refers to a user created later: it must run after."""
    response = await client.post("/Bulk", json=dependent_request())
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


async def test_failed_operations_carry_a_scim_error_body(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/Bulk",
        json=bulk(
            {
                "method": "POST",
                "path": "/Groups",
                "bulkId": "d",
                "data": group_body("D", members=[{"value": "bulkId:nowhere"}]),
            },
            "not an object",
        ),
    )
    assert response.status_code == 200
    results = response.json()["Operations"]
    assert [r["status"] for r in results] == ["409", "400"]
    assert results[0]["response"]["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]
    assert "not declared" in results[0]["response"]["detail"]
    assert "location" not in results[0]  # RFC 7644 §3.7.3: none for a failed POST
    assert "method" not in results[1] and "bulkId" not in results[1]


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


async def test_a_failed_operation_other_than_post_has_its_location(
    client: httpx.AsyncClient,
) -> None:
    """RFC 7644 §3.7.3: ``location`` is required except for a failed POST."""
    response = await client.post("/Bulk", json=bulk({"method": "PATCH", "path": "/Users/abc"}))
    (result,) = response.json()["Operations"]
    assert result["status"] == "400"
    assert result["location"] == f"{BASE}/Users/abc"


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
    app = create_scim_app(service, WebOptions(authenticate=BearerTokenAuth.from_tokens(TOKENS)))
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
    app = create_scim_app(service, WebOptions(authenticate=BearerTokenAuth.from_tokens(TOKENS)))
    status, _, body = await raw_request(app, "POST", "/scim/v2/acme/Bulk", body=b"{}")
    assert status == 501
    assert orjson.loads(body)["status"] == "501"
