"""``reference-app serve`` as a real process: it starts, answers, and stops cleanly on SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import time

import httpx
import pytest

from scimkit.store import version_counter
from tests.reference_app.process import (
    SHUTDOWN_DEADLINE,
    STARTUP_DEADLINE,
    free_port,
    reference_app_command,
)
from tests.reference_app.support import SETTINGS_VARIABLES, patch_body


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


def _wait_until_healthy(process: subprocess.Popen[str], client: httpx.Client) -> None:
    deadline = time.monotonic() + STARTUP_DEADLINE
    while True:
        assert process.poll() is None, "the server exited during startup"
        try:
            health = client.get("/healthz")
            if health.status_code == 200:
                assert health.json() == {"status": "ok"}
                return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, "no healthy /healthz in time"
        time.sleep(0.1)


def _stop(process: subprocess.Popen[str]) -> tuple[str, str]:
    """SIGTERM, then the process's output once it has exited."""
    process.send_signal(signal.SIGTERM)
    try:
        return process.communicate(timeout=SHUTDOWN_DEADLINE)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        raise


def _start(port: int, *arguments: str) -> subprocess.Popen[str]:
    """``reference-app serve`` on ``port``, with none of the machine's SCIMKIT_* variables."""
    environ = {k: v for k, v in os.environ.items() if k not in SETTINGS_VARIABLES}
    command = [
        *reference_app_command(),
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        *arguments,
    ]
    return subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=environ, text=True
    )


def test_serve_answers_and_stops_cleanly_on_sigterm():
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with _start(port, "--tenant", "t:token-of-t-0123456789") as process:
        try:
            with httpx.Client(base_url=base, timeout=2.0) as client:
                _wait_until_healthy(process, client)

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
                    client.get(
                        "/scim/v2/t/Users", headers={"Authorization": "Bearer x"}
                    ).status_code
                    == 401
                )
            raw = _raw_get(
                port,
                '/scim/v2/t/Users?filter=userName+eq+"garry%40kemmerstark.com"',
                "token-of-t-0123456789",
            )
            assert raw.startswith(b"HTTP/1.1 200")
            assert b'"totalResults":1' in raw
        finally:
            stdout, stderr = _stop(process)
    assert process.returncode == 0, stderr
    assert "NOT persisted" in stderr
    assert "token-of-t" not in stdout + stderr  # a --tenant token is never echoed


def test_workers_rebuild_a_tenant_token_with_commas_exactly(mongodb_uri: str, mongo_db_name: str):
    # Workers are spawned afresh and rebuild the settings: a comma in a token must reach them
    # intact, and no tenant may appear that was not given.
    token = "tok,ghost:ghost-token-0123456789"
    port = free_port()
    with _start(
        port,
        "--workers",
        "2",
        "--mongodb-uri",
        mongodb_uri,
        "--mongodb-database",
        mongo_db_name,
        "--tenant",
        f"t:{token}",
    ) as process:
        try:
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5.0) as client:
                _wait_until_healthy(process, client)
                for _ in range(4):  # new connections, so both workers are likely asked
                    assert _status(port, "/scim/v2/t/Users", token) == 200
                    assert _status(port, "/scim/v2/t/Users", "tok") == 401
                    assert _status(port, "/scim/v2/ghost/Users", "ghost-token-0123456789") == 401
        finally:
            _, stderr = _stop(process)
    assert process.returncode == 0, stderr


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
    with _start(port, *arguments) as process:
        try:
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5.0) as client:
                _wait_until_healthy(process, client)
            statuses, members, versions = asyncio.run(_member_patches(port, token, writers))
        finally:
            _, stderr = _stop(process)
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
