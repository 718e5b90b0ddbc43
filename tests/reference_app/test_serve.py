"""``reference-app serve`` as a real process: it starts, answers, and stops cleanly on SIGTERM."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.reference_app.support import SETTINGS_VARIABLES

STARTUP_DEADLINE = 30.0
SHUTDOWN_DEADLINE = 15.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _command() -> list[str]:
    script = Path(sys.executable).with_name("reference-app")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "reference_app"]  # not installed as a console script


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
    command = [*_command(), "serve", "--host", "127.0.0.1", "--port", str(port), *arguments]
    return subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=environ, text=True
    )


def test_serve_answers_and_stops_cleanly_on_sigterm():
    port = _free_port()
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
    port = _free_port()
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
