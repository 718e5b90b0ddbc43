"""The reference app and the ceiling app in process, without an HTTP server.

Both are called as ASGI apps (``scimkit.testing.ASGIClient``) on Entra's GET (a new filter
text each time), POST and PATCH against 1000 seeded users; the difference is the SCIM work per
request with hypercorn left out. ``python -m benchmarks.micro asgi``.
"""

from __future__ import annotations

import random
from typing import Any

import orjson

from benchmarks import _entra
from benchmarks._entra import filter_query, random_case, sample_user, user_create_body
from benchmarks._report import run_async
from benchmarks._timing import time_async, us
from scimkit.testing import ASGIClient

__all__ = ["run"]

TOKEN = "bench-token"
BASE_URL = "http://127.0.0.1:8000/scim/v2/bench"


def run(seeded: int, samples: int) -> dict[str, Any]:
    return run_async(_asgi(seeded, samples))


def _client(app: Any) -> ASGIClient:
    """Entra's headers on every request, as a server would hand them to the app."""
    headers = [(k.lower().encode(), v.encode()) for k, v in _entra.headers(TOKEN).items()]
    return ASGIClient(app, BASE_URL, headers=headers)


def filter_queries(seeded: int, samples: int) -> list[bytes]:
    """Entra's ``userName eq`` lookups of seeded users, each text new (random case)."""
    rng = random.Random(3)
    return [
        filter_query(
            "userName", random_case(f"user{rng.randrange(seeded):06d}@contoso.example", rng)
        ).encode()
        for _ in range(samples)
    ]


async def _send(client: ASGIClient, method: str, path: str, body: dict[str, Any]) -> Any:
    raw = orjson.dumps(body)
    length = [(b"content-length", str(len(raw)).encode())]
    return await client.request(method, path, headers=length, body=raw)


async def _asgi(seeded: int, samples: int) -> dict[str, Any]:
    from benchmarks.ceiling_app import build_app
    from reference_app.app import create_app
    from reference_app.settings import load_settings

    settings = load_settings({"tenants": [f"bench:{TOKEN}"]}, environ={})
    apps = {"app": _client(create_app(settings)), "ceiling": _client(build_app(TOKEN))}
    ids = []
    for index in range(seeded):
        response = await _send(apps["app"], "POST", "/Users", user_create_body(sample_user(index)))
        assert response.status == 201, response.body
        ids.append(response.json()["id"])
    queries = filter_queries(seeded, samples)
    rows: dict[str, Any] = {}
    for name, client in apps.items():
        position = 0
        counter = 0

        async def get(client: ASGIClient = client) -> Any:
            nonlocal position
            position = (position + 1) % samples
            response = await client.request("GET", "/Users", query=queries[position])
            assert response.status == 200

        async def post(client: ASGIClient = client, name: str = name) -> Any:
            nonlocal counter
            counter += 1
            user = sample_user(10_000_000 + counter)
            user.user_name = f"{name}{counter}@post.example"
            response = await _send(client, "POST", "/Users", user_create_body(user))
            assert response.status == 201

        async def patch(client: ASGIClient = client) -> Any:
            nonlocal counter
            counter += 1
            body = _entra.replace_email_and_family(f"m{counter}@contoso.example", f"F{counter}")
            response = await _send(client, "PATCH", f"/Users/{ids[counter % len(ids)]}", body)
            assert response.status == 200

        rows[name] = {
            "GET filter (new text each)_us": us(await time_async(get, number=samples)),
            "POST_us": us(await time_async(post, number=samples)),
            "PATCH_us": us(await time_async(patch, number=samples)),
        }
    rows["scim_work_us"] = {
        key: round(rows["app"][key] - rows["ceiling"][key], 2) for key in rows["app"]
    }
    return rows
