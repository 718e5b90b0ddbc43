"""``reference-app serve`` as a real process: it starts, answers, and stops cleanly on SIGTERM."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time

import httpx

from tests.reference_app.process import (
    SHUTDOWN_DEADLINE,
    STARTUP_DEADLINE,
    free_port,
    reference_app_command,
)
from tests.reference_app.support import SETTINGS_VARIABLES


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
    environ = {k: v for k, v in os.environ.items() if k not in SETTINGS_VARIABLES}
    command = [
        *reference_app_command(),
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--tenant",
        "t:token-of-t-0123456789",
    ]
    base = f"http://127.0.0.1:{port}"
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=environ, text=True
    ) as process:
        try:
            deadline = time.monotonic() + STARTUP_DEADLINE
            with httpx.Client(base_url=base, timeout=2.0) as client:
                while True:
                    assert process.poll() is None, "the server exited during startup"
                    try:
                        health = client.get("/healthz")
                        if health.status_code == 200:
                            break
                    except httpx.TransportError:
                        pass
                    assert time.monotonic() < deadline, "no healthy /healthz in time"
                    time.sleep(0.1)
                assert health.json() == {"status": "ok"}

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
            process.send_signal(signal.SIGTERM)
            try:
                stdout, stderr = process.communicate(timeout=SHUTDOWN_DEADLINE)
            except subprocess.TimeoutExpired:
                process.kill()
                process.communicate()
                raise
    assert process.returncode == 0, stderr
    assert "NOT persisted" in stderr
    assert "token-of-t" not in stdout + stderr  # a --tenant token is never echoed
