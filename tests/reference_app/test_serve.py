"""``reference-app serve`` as a real process: it starts, answers, and stops cleanly on SIGTERM."""

from __future__ import annotations

import asyncio
import socket

import httpx
import pytest

from scimkit.store import version_counter
from tests.reference_app.process import (
    free_port,
    served,
)
from tests.reference_app.support import patch_body


def _raw_get(port: int, target: str, token: str) -> bytes:
    """An HTTP/1.1 request sent byte for byte (raw quotes in the query, as the validator sends)."""
    request = (
        f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Authorization: Bearer {token}\r\nConnection: close\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(request)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_serve_answers_and_stops_cleanly_on_sigterm():
    port = free_port()
    with served(["--tenant", "t:token-of-t-0123456789"], port=port) as server:
        with httpx.Client(base_url=server.base_url, timeout=2.0) as client:
            assert client.get("/healthz").json() == {"status": "ok"}

            auth = {"Authorization": "Bearer token-of-t-0123456789"}
            probe = client.get(
                "/scim/v2/t/Users?filter=userName+eq+%220b0f6c2e-4c1c-4a55%22", headers=auth
            )
            assert probe.status_code == 200
            assert probe.json()["totalResults"] == 0
            created = client.post(
                "/scim/v2/t/Users",
                headers={**auth, "Content-Type": "application/scim+json"},
                content=b'{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],'
                b'"userName":"garry@kemmerstark.com","active":"True"}',
            )
            assert created.status_code == 201
            assert (
                client.get("/scim/v2/t/Users", headers={"Authorization": "Bearer x"}).status_code
                == 401
            )
        raw = _raw_get(
            port,
            '/scim/v2/t/Users?filter=userName+eq+"garry%40kemmerstark.com"',
            "token-of-t-0123456789",
        )
        assert raw.startswith(b"HTTP/1.1 200")
        assert b'"totalResults":1' in raw
    # served() has checked the exit status 0 after SIGTERM.
    assert "NOT persisted" in server.stderr
    assert "token-of-t" not in server.stdout + server.stderr  # a --tenant token is never echoed


def test_workers_rebuild_a_tenant_token_with_commas_exactly(mongodb_uri: str, mongo_db_name: str):
    # Workers are spawned afresh and rebuild the settings: a comma in a token must reach them
    # intact, and no tenant may appear that was not given.
    token = "tok,ghost:ghost-token-0123456789"
    port = free_port()
    arguments = ["--workers", "2", "--mongodb-uri", mongodb_uri]
    arguments += ["--mongodb-database", mongo_db_name, "--tenant", f"t:{token}"]
    with served(arguments, port=port):
        for _ in range(4):  # new connections, so both workers are likely asked
            assert _status(port, "/scim/v2/t/Users", token) == 200
            assert _status(port, "/scim/v2/t/Users", "tok") == 401
            assert _status(port, "/scim/v2/ghost/Users", "ghost-token-0123456789") == 401


def _status(port: int, target: str, token: str) -> int:
    answer = _raw_get(port, target, token)
    return int(answer.split(b" ", 2)[1])


@pytest.mark.mongo
@pytest.mark.parametrize("writers", [30, pytest.param(100, marks=pytest.mark.slow)])
def test_concurrent_member_patches_through_two_workers_all_succeed(
    mongodb_uri: str, mongo_db_name: str, writers: int
):
    """Issue 12 §4: member PATCHes on one group from two processes neither fail nor get lost."""
    token = "workers-token-0123456789abcdef"
    port = free_port()
    arguments = ["--workers", "2", "--mongodb-uri", mongodb_uri]
    arguments += ["--mongodb-database", mongo_db_name, "--tenant", f"t:{token}"]
    with served(arguments, port=port):
        statuses, members, versions = asyncio.run(_member_patches(port, token, writers))
    assert statuses == [204] * writers, statuses
    assert members == writers
    assert versions[1] == versions[0] + writers


async def _member_patches(
    port: int, token: str, writers: int
) -> tuple[list[int], int, tuple[int, int]]:
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/scim+json"}
    # One connection per writer: uvicorn's workers share the listening socket.
    limits = httpx.Limits(max_connections=writers)
    base = f"http://127.0.0.1:{port}/scim/v2/t"
    async with httpx.AsyncClient(
        base_url=base, headers=headers, timeout=60.0, limits=limits
    ) as client:
        users = []
        for n in range(writers):
            body = {"schemas": [_USER_URN], "userName": f"w{n}@example.com"}
            users.append((await client.post("/Users", json=body)).json()["id"])
        group = (
            await client.post("/Groups", json={"schemas": [_GROUP_URN], "displayName": "G"})
        ).json()
        path = f"/Groups/{group['id']}"
        responses = await asyncio.gather(
            *(
                client.patch(
                    path, json=patch_body({"op": "add", "path": "members", "value": [{"value": u}]})
                )
                for u in users
            )
        )
        final = (await client.get(path)).json()
    before = version_counter(group["meta"]["version"]) or 0
    after = version_counter(final["meta"]["version"]) or 0
    return [r.status_code for r in responses], len(final.get("members", [])), (before, after)


_USER_URN = "urn:ietf:params:scim:schemas:core:2.0:User"
_GROUP_URN = "urn:ietf:params:scim:schemas:core:2.0:Group"
