"""HTTP details: SCIM errors for routing failures, media types, bodies, limits, 500s."""

from __future__ import annotations

import logging
from typing import Any

import httpx
import orjson
import pytest

from scimkit import GROUP, USER, MemoryStore, ResourceService, ServiceConfig
from scimkit.web import (
    REQUEST_BODY_KEY,
    BearerTokenAuth,
    SCIMResponse,
    WebOptions,
    create_scim_app,
)
from tests.web.conftest import BASE, TOKENS, acme_client, raw_request, user_body

ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"


async def test_unknown_route_is_scim_404(client: httpx.AsyncClient) -> None:
    for url in ["/Printers", "http://scim.test/elsewhere"]:
        response = await client.get(url)
        assert response.status_code == 404
        assert response.headers["content-type"] == "application/scim+json; charset=utf-8"
        assert response.json()["schemas"] == [ERROR]


async def test_a_doubled_slash_after_the_tenant_url_is_the_same_route(
    client: httpx.AsyncClient,
) -> None:
    """A Tenant URL pasted with a trailing slash makes ``.../tenant//Users``."""
    created = await client.post("Users", json=user_body("slash@example.com"))
    assert created.status_code == 201
    listed = await client.get(f'{BASE}//Users?filter=userName eq "slash@example.com"')
    assert listed.status_code == 200
    assert listed.json()["totalResults"] == 1
    one = await client.get(f"{BASE}//Users//{created.json()['id']}")
    assert one.status_code == 200
    trailing = await client.get(f"{BASE}/Users/")
    assert trailing.status_code == 200 and trailing.json()["totalResults"] == 1


async def test_wrong_method_is_scim_405(client: httpx.AsyncClient) -> None:
    response = await client.delete("/Users")
    assert response.status_code == 405
    assert response.json() == {
        "schemas": [ERROR],
        "status": "405",
        "detail": "The HTTP method is not supported on this endpoint.",
    }
    assert "GET" in response.headers["allow"]


@pytest.mark.parametrize(
    "content_type",
    [
        "application/scim+json",
        "application/scim+json; charset=utf-8",
        "application/json",
        "Application/JSON;charset=UTF-8",
        None,
    ],
)
async def test_json_media_types_are_accepted(app: Any, content_type: str | None) -> None:
    headers = [] if content_type is None else [(b"content-type", content_type.encode())]
    status, _, body = await raw_request(
        app, "POST", "/scim/v2/acme/Users", headers=headers, body=orjson.dumps(user_body())
    )
    assert status == 201, body


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/xml", "application/json; charset=latin-1"]
)
async def test_other_media_types_are_415(app: Any, content_type: str) -> None:
    status, _, body = await raw_request(
        app,
        "POST",
        "/scim/v2/acme/Users",
        headers=[(b"content-type", content_type.encode())],
        body=orjson.dumps(user_body()),
    )
    assert status == 415
    assert orjson.loads(body)["status"] == "415"


@pytest.mark.parametrize("body", [b"{not json", b"", b"[1, 2]", b'"text"'])
async def test_malformed_or_misshapen_bodies_are_invalid_syntax(app: Any, body: bytes) -> None:
    status, _, content = await raw_request(
        app,
        "POST",
        "/scim/v2/acme/Users",
        headers=[(b"content-type", b"application/scim+json")],
        body=body,
    )
    assert status == 400
    assert orjson.loads(content)["scimType"] == "invalidSyntax"


async def test_patch_body_must_be_an_object(
    client: httpx.AsyncClient, user: dict[str, Any]
) -> None:
    response = await client.patch(f"/Users/{user['id']}", content=b"[]")
    assert response.status_code == 400
    assert response.json()["scimType"] == "invalidSyntax"


async def test_body_size_limit_is_413_before_reading() -> None:
    service = ResourceService(MemoryStore(), [USER, GROUP], config=ServiceConfig(max_body_size=64))
    app = create_scim_app(service, WebOptions(authenticate=BearerTokenAuth.from_tokens(TOKENS)))
    status, _, body = await raw_request(
        app, "POST", "/scim/v2/acme/Users", headers=[(b"content-length", b"65")], body=b"{}"
    )
    assert status == 413
    status, _, body = await raw_request(
        app, "POST", "/scim/v2/acme/Users", chunks=[b"{" + b" " * 40, b" " * 40 + b"}"]
    )
    assert status == 413
    assert orjson.loads(body)["status"] == "413"


async def test_the_body_read_is_left_in_the_scope_for_middleware() -> None:
    service = ResourceService(MemoryStore(), [USER, GROUP], config=ServiceConfig(max_body_size=99))
    scim = create_scim_app(service, WebOptions(authenticate=BearerTokenAuth.from_tokens(TOKENS)))
    seen: list[Any] = []

    async def logging_middleware(scope: Any, receive: Any, send: Any) -> None:
        await scim(scope, receive, send)
        seen.append(scope.get(REQUEST_BODY_KEY))

    body = orjson.dumps(user_body("s@example.com"))
    status, _, _ = await raw_request(
        logging_middleware, "POST", "/scim/v2/acme/Users", chunks=[body[:9], body[9:]]
    )
    assert status == 201 and seen == [body]  # whole, the chunks joined
    status, _, _ = await raw_request(logging_middleware, "POST", "/scim/v2/acme/Users", body=b"{")
    assert status == 400 and seen[-1] == b"{"  # read, then refused: still there
    too_long = [b"{" + b" " * 60, b" " * 60 + b"}"]
    users = "/scim/v2/acme/Users"
    status, _, _ = await raw_request(logging_middleware, "POST", users, chunks=too_long)
    status_get, _, _ = await raw_request(logging_middleware, "GET", users)
    assert (status, status_get) == (413, 200) and seen[-2:] == [None, None]


async def test_unexpected_failure_is_logged_500_without_internals(
    app_factory: Any, service: ResourceService, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("database password is hunter2")

    service.store.query = broken  # type: ignore[method-assign]
    service.store.query_shared = broken  # type: ignore[attr-defined]  # what GET reads
    app = app_factory()
    with caplog.at_level(logging.ERROR, logger="scimkit.web"):
        status, _, body = await raw_request(app, "GET", "/scim/v2/acme/Users")
    assert status == 500
    data = orjson.loads(body)
    assert data["status"] == "500" and "hunter2" not in body.decode()
    assert "hunter2" in caplog.text


def test_scim_response_renders_datetimes_with_z() -> None:
    from datetime import UTC, datetime

    response = SCIMResponse(
        {"at": datetime(2024, 1, 2, 3, 4, 5, 6000, tzinfo=UTC)}, 201, {"X": "1"}
    )
    assert response.body == b'{"at":"2024-01-02T03:04:05.006000Z"}'
    assert response.headers["content-type"] == "application/scim+json; charset=utf-8"
    assert response.headers["x"] == "1"
    assert response.status_code == 201
    empty = SCIMResponse(None, 204)
    assert empty.body == b"" and "content-type" not in empty.headers


async def test_single_tenant_base_path(service: ResourceService) -> None:
    options = WebOptions(
        authenticate=BearerTokenAuth.from_tokens({"default": ["tok"]}),
        base_path="/scim",
        public_url="https://idp.example.com",
    )
    app = create_scim_app(service, options)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://internal/scim",
        headers={"Authorization": "Bearer tok"},
    ) as client:
        response = await client.post("/Users", json=user_body())
        assert response.status_code == 201
        assert response.headers["location"].startswith("https://idp.example.com/scim/Users/")


async def test_scim_routes_compose_into_another_app(service: ResourceService) -> None:
    from starlette.applications import Starlette

    from scimkit.web import scim_routes

    routes = scim_routes(service, WebOptions(authenticate=BearerTokenAuth.from_tokens(TOKENS)))
    app = Starlette(routes=routes)
    async with acme_client(app) as client:
        response = await client.get("/Users")
    assert response.status_code == 200
    assert response.json()["totalResults"] == 0


async def test_routes_after_scim_are_tried_after_the_scim_routes(
    service: ResourceService,
) -> None:
    from starlette.requests import Request
    from starlette.responses import PlainTextResponse
    from starlette.routing import Route

    async def extra(request: Request) -> PlainTextResponse:
        return PlainTextResponse("extra")

    # A path a SCIM route serves: the SCIM route answers. Any other: the later route.
    late = [Route("/scim/v2/{tenant}/Users", extra), Route("/scim/v2/{tenant}/Extra", extra)]
    options = WebOptions(authenticate=BearerTokenAuth.from_tokens(TOKENS))
    app = create_scim_app(service, options, routes_after_scim=late)
    assert app.router.routes[-2:] == late
    async with acme_client(app) as client:
        listed = await client.get("/Users")
        extra_answer = await client.get("/Extra")
    assert listed.json()["totalResults"] == 0
    assert extra_answer.text == "extra"
