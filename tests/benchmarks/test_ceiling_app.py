"""The ceiling app answers Entra's requests as the reference app does, with no SCIM work.

SCIM work is measured as the app's cost minus the ceiling's, so whatever the ceiling leaves out
of an answer (a header, an extension's attributes) would be counted as SCIM work. These tests
hold the ceiling to the reference app's answers: the same status, the same headers (but the
access log's ``X-Request-Id``), the same JSON keys and value types.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest

from benchmarks import _entra
from benchmarks._entra import filter_query, sample_user, user_create_body
from benchmarks.bench_asgi import BASE_URL, TOKEN
from benchmarks.instructions import build
from scimkit.testing import ASGIClient

_NOT_MIRRORED = {"x-request-id"}


def _shape(value: Any) -> Any:
    """Keys, nesting and value types; a list by its first item (lists here hold one kind)."""
    if isinstance(value, dict):
        return {key: _shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_shape(value[0])] if value else []
    return type(value).__name__


def _headers(answer: Any) -> set[str]:
    return set(answer.headers) - _NOT_MIRRORED


@pytest.fixture
async def clients() -> AsyncIterator[dict[str, ASGIClient]]:
    headers = [(k.lower().encode(), v.encode()) for k, v in _entra.headers(TOKEN).items()]
    made: dict[str, ASGIClient] = {}
    apps = {kind: build(kind) for kind in ("app", "ceiling")}
    app = apps["app"]
    async with app.router.lifespan_context(app):
        for kind, each in apps.items():
            made[kind] = ASGIClient(each, BASE_URL, headers=headers)
        yield made


async def _answers(client: ASGIClient) -> dict[str, Any]:
    def body(value: Any) -> tuple[list[tuple[bytes, bytes]], bytes]:
        raw = orjson.dumps(value)
        return [(b"content-length", str(len(raw)).encode())], raw

    user = sample_user(7)
    length, raw = body(user_create_body(user))
    created = await client.request("POST", "/Users", headers=length, body=raw)
    id = orjson.loads(created.body)["id"]
    query = filter_query("userName", user.user_name.upper()).encode()
    length, raw = body(_entra.replace_email_and_family("new@contoso.example", "New"))
    return {
        "POST": created,
        "GET filter": await client.request("GET", "/Users", query=query),
        "GET id": await client.request("GET", f"/Users/{id}"),
        "PATCH": await client.request("PATCH", f"/Users/{id}", headers=length, body=raw),
        "DELETE": await client.request("DELETE", f"/Users/{id}"),
    }


async def test_the_ceiling_sends_what_the_app_sends(clients: dict[str, ASGIClient]) -> None:
    app, ceiling = await _answers(clients["app"]), await _answers(clients["ceiling"])
    for request, expected in app.items():
        got = ceiling[request]
        assert got.status == expected.status, request
        assert _headers(got) == _headers(expected), request
        if not expected.body:
            assert not got.body, request
            continue
        want, have = orjson.loads(expected.body), orjson.loads(got.body)
        if request == "POST":
            # The ceiling echoes the posted body; the app leaves out the empty `roles`.
            have = {key: value for key, value in have.items() if value != []}
        assert _shape(have) == _shape(want), request
