"""``scimkit.testing.ASGIClient``: what the app receives is exactly what the caller gave."""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

import orjson
import pytest

from scimkit.testing import ASGIClient

Message = MutableMapping[str, Any]


async def echo(scope: Message, receive: Any, send: Any) -> None:
    """Answers with the scope's request line and headers, and every body chunk it read."""
    chunks = []
    while True:
        message = await receive()
        chunks.append(message["body"].decode())
        if not message["more_body"]:
            break
    seen = {
        "method": scope["method"],
        "path": scope["path"],
        "raw_path": scope["raw_path"].decode(),
        "query": scope["query_string"].decode("latin-1"),
        "headers": [[k.decode(), v.decode()] for k, v in scope["headers"]],
        "server": list(scope["server"]),
        "chunks": chunks,
    }
    await send({"type": "http.response.start", "status": 299, "headers": [(b"X-Echo", b"1")]})
    await send({"type": "http.response.body", "body": orjson.dumps(seen), "more_body": True})
    await send({"type": "http.response.body", "body": b""})


async def test_sends_query_headers_and_body_as_given() -> None:
    client = ASGIClient(
        echo, "http://scim.test:8080/scim/v2/acme", headers=[(b"authorization", b"Bearer t")]
    )
    response = await client.request(
        "PATCH",
        "/Users/1",
        query=b'filter=userName+eq+"a@b"',
        headers=[(b"content-type", b"application/scim+json")],
        body=b"{}",
    )
    assert response.status == 299
    assert response.headers == {"x-echo": "1"}
    assert response.json() == {
        "method": "PATCH",
        "path": "/scim/v2/acme/Users/1",
        "raw_path": "/scim/v2/acme/Users/1",
        "query": 'filter=userName+eq+"a@b"',
        "headers": [
            ["host", "scim.test:8080"],
            ["authorization", "Bearer t"],
            ["content-type", "application/scim+json"],
        ],
        "server": ["scim.test", 8080],
        "chunks": ["{}"],
    }


async def test_streams_chunks_with_more_body() -> None:
    response = await ASGIClient(echo).request("POST", "/x", chunks=[b"a", b"b", b"c"])
    assert response.json()["chunks"] == ["a", "b", "c"]
    assert ["host", "testserver"] in response.json()["headers"]


async def test_an_app_that_never_answers_is_an_error() -> None:
    async def silent(scope: Message, receive: Any, send: Any) -> None:
        return None

    with pytest.raises(RuntimeError, match="no response to GET /x"):
        await ASGIClient(silent).request("GET", "/x")
