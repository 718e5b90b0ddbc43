"""``reference-app serve --server S`` for each ASGI server, as a real process.

Each server must serve the same app with the same bounds (``reference_app.servers``,
docs/security.md): SCIM requests answer alike; a request head over 64 KiB is refused (over
16 KiB by granian and uvicorn too; hypercorn's h11 limit only bites when the head arrives in
more than one read); an oversized body gets the app's 413, never a 500; a connection that
sends half a head is dropped after the keep-alive timeout; TLS verifies against a test CA;
SIGTERM lets an open request finish and exits 0; ``--workers`` shares one port; the access
log, ``/readyz`` and the metrics port work.

The stalled-body read timeout (60 s) is too long to wait for here: uvicorn's is shown in
``test_uvicorn_protocol.py`` with the timeout shortened, hypercorn's in
``tests/hardening/test_connections.py``; granian has none (docs/security.md).
"""

from __future__ import annotations

import signal
import socket
import time
from pathlib import Path

import httpx
import orjson
import pytest
import trustme

from reference_app.allocator import allocator_environ
from reference_app.servers import KEEP_ALIVE_TIMEOUT, MAX_HEAD_BYTES, SERVERS
from tests.reference_app.process import SHUTDOWN_DEADLINE, free_port, served, trusting_context

TOKEN = "token-of-t-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
SCIM = {**AUTH, "Content-Type": "application/scim+json"}
USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
PATCH_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"

pytestmark = pytest.mark.parametrize("server", SERVERS)


def _user(user_name: str) -> bytes:
    return orjson.dumps({"schemas": [USER_SCHEMA], "userName": user_name, "active": True})


def _exchange(port: int, request: bytes, timeout: float = 10.0) -> bytes:
    """Send raw bytes on a new connection; what came back before the server closed or paused."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        try:
            sock.sendall(request)
            return sock.recv(65536)
        except ConnectionError:
            return b""  # refused by closing: also not a success


def _descendants(pid: int) -> list[int]:
    """The processes below ``pid`` (Linux ``/proc``)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue  # gone meanwhile
            parents[int(entry.name)] = int(stat.rpartition(")")[2].split()[1])
    found, frontier = [], [pid]
    while frontier:
        children = [child for child, parent in parents.items() if parent in frontier]
        found += children
        frontier = children
    return found


def _command_line(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def _environ(pid: int) -> dict[str, str]:
    """The environment ``pid`` was started with."""
    try:
        raw = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return {}
    pairs = (item.decode(errors="replace").partition("=") for item in raw.split(b"\0") if item)
    return {name: value for name, _, value in pairs}


def _status(response: bytes) -> int | None:
    return int(response.split(b" ", 2)[1]) if response.startswith(b"HTTP/1.") else None


def _half_head(port: int) -> tuple[socket.socket, float]:
    """A connection that sent part of its head and then nothing (slowloris)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=KEEP_ALIVE_TIMEOUT * 3)
    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
    return sock, time.monotonic()


def _seconds_until_closed(sock: socket.socket, since: float) -> float | None:
    with sock:
        try:
            while sock.recv(65536):
                pass  # an error answer (408/400) may come before the close
        except TimeoutError:
            return None
        except ConnectionError:
            pass
    return time.monotonic() - since


def test_scim_limits_and_observability(server: str):
    port, metrics_port = free_port(), free_port()
    arguments = ["--server", server, "--tenant", f"t:{TOKEN}", "--metrics-port", str(metrics_port)]
    with served(arguments, port=port) as running:
        slow, since = _half_head(port)
        with httpx.Client(base_url=f"{running.base_url}/scim/v2/t", timeout=10) as client:
            created = client.post("/Users", headers=SCIM, content=_user("ada@example.com"))
            assert created.status_code == 201, created.text
            id = created.json()["id"]
            assert created.headers["Location"].endswith(f"/scim/v2/t/Users/{id}")
            found = client.get(
                "/Users", params={"filter": 'userName eq "ADA@example.com"'}, headers=AUTH
            )
            assert found.status_code == 200
            assert [user["id"] for user in found.json()["Resources"]] == [id]
            patch = {
                "schemas": [PATCH_SCHEMA],
                "Operations": [{"op": "Replace", "path": "active", "value": "False"}],
            }
            patched = client.patch(f"/Users/{id}", headers=SCIM, content=orjson.dumps(patch))
            assert patched.status_code == 200, patched.text
            assert patched.json()["active"] is False
            assert (
                client.get(f"/Users/{id}", headers={"Authorization": "Bearer x"}).status_code == 401
            )

            # The app's body limit (1 MiB) answers 413 under every server.
            big = _user("big@example.com")[:-1] + b',"nickName":"' + b"n" * (2 << 20) + b'"}'
            too_big = client.post("/Users", headers=SCIM, content=big)
            assert too_big.status_code == 413, too_big.text[:200]
            assert too_big.json()["status"] == "413"

        # The request head: refused (431/400 or a closed connection), never served or a 500.
        limits = [70_000] if server == "hypercorn" else [MAX_HEAD_BYTES + 1024, 70_000]
        for size in limits:
            head = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * size + b"\r\n\r\n"
            status = _status(_exchange(port, head))
            assert status is None or status in (400, 431), (size, status)
        assert _status(_exchange(port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")) == 200

        readyz = httpx.get(f"{running.base_url}/readyz", timeout=5)
        assert readyz.json() == {"status": "ready"}
        scraped = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5)
        assert scraped.status_code == 200
        assert 'operation="create"' in scraped.text

        # The half-sent head opened first is dropped after the keep-alive timeout.
        closed = _seconds_until_closed(slow, since)
        assert closed is not None, "a half-sent head held the connection"
        assert KEEP_ALIVE_TIMEOUT * 0.8 < closed < KEEP_ALIVE_TIMEOUT * 2.5, closed
    assert "reference_app.access" in running.stderr  # the app's own access line
    assert "method=PATCH" in running.stderr
    assert TOKEN not in running.stdout + running.stderr


def test_sigterm_lets_an_open_request_finish(server: str):
    port = free_port()
    body = _user("late@example.com")
    head = (
        b"POST /scim/v2/t/Users HTTP/1.1\r\nHost: x\r\n"
        + f"Authorization: Bearer {TOKEN}\r\n".encode()
        + b"Content-Type: application/scim+json\r\n"
        + f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
    )
    with served(["--server", server, "--tenant", f"t:{TOKEN}"], port=port) as running:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(head + body[:10])
            time.sleep(0.5)  # the request is in the app, waiting for the rest of its body
            running.process.send_signal(signal.SIGTERM)
            time.sleep(1.0)  # the server is shutting down now
            sock.sendall(body[10:])
            answer = b""
            while chunk := sock.recv(65536):
                answer += chunk
        assert _status(answer) == 201, answer[:300]
        assert running.process.wait(SHUTDOWN_DEADLINE) == 0
    # Nothing new is accepted once it has stopped.
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()


def test_https(server: str, ca: trustme.CA, cert_files: list[str]):
    port = free_port()
    trusting = trusting_context(ca)
    arguments = ["--server", server, *cert_files, "--tenant", f"t:{TOKEN}"]
    with served(arguments, port=port, scheme="https", verify=trusting) as running:
        with httpx.Client(base_url=running.base_url, verify=trusting, timeout=5) as client:
            created = client.post("/scim/v2/t/Users", headers=SCIM, content=_user("tls@x.org"))
            assert created.status_code == 201
            assert created.headers["Location"].startswith(f"https://localhost:{port}/")
        with httpx.Client(base_url=running.base_url, timeout=5) as untrusting:
            with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
                untrusting.get("/healthz")
        with pytest.raises(httpx.TransportError):
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=5)


def test_workers_share_the_port_and_the_data(server: str, mongodb_uri: str, mongo_db_name: str):
    port = free_port()
    arguments = ["--server", server, "--workers", "2", "--tenant", f"t:{TOKEN}"]
    arguments += ["--mongodb-uri", mongodb_uri, "--mongodb-database", mongo_db_name]
    with served(arguments, port=port) as running:
        for n in range(4):  # new connections, so both workers are likely asked
            with httpx.Client(base_url=f"{running.base_url}/scim/v2/t", timeout=10) as client:
                made = client.post("/Users", headers=SCIM, content=_user(f"w{n}@example.com"))
                assert made.status_code == 201, made.text
        with httpx.Client(base_url=f"{running.base_url}/scim/v2/t", timeout=10) as client:
            listed = client.get("/Users", params={"count": "10"}, headers=AUTH)
            assert listed.json()["totalResults"] == 4
        # Workers started afresh get glibc told to keep freed memory through the environment
        # (docs/deployment.md); granian forks its workers, which inherit the parent's setting.
        parent = _command_line(running.process.pid)
        started = [p for p in _descendants(running.process.pid) if _command_line(p) != parent]
        assert len(started) >= (0 if server == "granian" else 2), started
        for pid in started:
            assert allocator_environ().items() <= _environ(pid).items(), pid
    # Each worker opened the store in its own lifespan (text log lines: date time pid ...).
    opened = [line for line in running.stderr.splitlines() if "Storing data in MongoDB" in line]
    assert len({line.split()[2] for line in opened}) == 2, opened
