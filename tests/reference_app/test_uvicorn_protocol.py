"""The bounds ``reference_app._uvicorn_protocol`` adds to uvicorn's httptools protocol.

uvicorn runs in this process with the reference app's options (``uvicorn_options``) and the
timeouts shortened, so the test is quick: a body that stalls is dropped after the read
timeout (uvicorn alone would hold it forever), one that keeps trickling in is served, and a
connection that never sends a byte is dropped after the keep-alive timeout (uvicorn alone
arms that timer only after a first response).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

import pytest

import reference_app._uvicorn_protocol as protocol
from reference_app.app import create_app
from reference_app.servers import uvicorn_options
from reference_app.settings import Settings, TenantSeed
from tests.reference_app.process import free_port

TOKEN = "token-of-t-0123456789"
READ = 1.0
KEEP_ALIVE = 0.5
BODY = b'{"schemas":["urn:ietf:params:scim:schemas:core:2.0:User"],"userName":"slow@example.com"}'
HEAD = (
    b"POST /scim/v2/t/Users HTTP/1.1\r\nHost: x\r\n"
    + f"Authorization: Bearer {TOKEN}\r\n".encode()
    + b"Content-Type: application/scim+json\r\n"
    + f"Content-Length: {len(BODY)}\r\nConnection: close\r\n\r\n".encode()
)


@pytest.fixture
async def port(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[int]:
    import uvicorn

    monkeypatch.setattr(protocol, "READ_TIMEOUT", READ)
    monkeypatch.setattr(protocol, "KEEP_ALIVE_TIMEOUT", KEEP_ALIVE)
    settings = Settings(port=free_port(), tenants=(TenantSeed("t", TOKEN),), log_level="warning")
    options = {**uvicorn_options(settings), "loop": "none"}  # this test's loop
    server = uvicorn.Server(uvicorn.Config(create_app(settings), **options))
    task = asyncio.create_task(server.serve())
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline and not task.done(), "uvicorn did not start"
        await asyncio.sleep(0.05)
    try:
        yield settings.port
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)


async def _closed_after(port: int, chunks: list[bytes], pause: float, limit: float) -> float | None:
    """Send ``chunks`` ``pause`` s apart; seconds until the server closed (None: still open)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    started = time.monotonic()
    try:
        for chunk in chunks:
            writer.write(chunk)
            await writer.drain()
            await asyncio.sleep(pause)
        try:
            while await asyncio.wait_for(reader.read(65536), limit):
                pass
        except TimeoutError:
            return None
        return time.monotonic() - started
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


async def test_a_stalled_body_is_dropped_after_the_read_timeout(port: int):
    closed = await _closed_after(port, [HEAD + BODY[:10]], pause=0, limit=READ * 4)
    assert closed is not None and READ * 0.8 < closed < READ * 3, closed


async def test_a_body_that_keeps_coming_is_served(port: int):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(HEAD)
    for start in range(0, len(BODY), 20):  # 5 pieces over 1.5 READ: each gap under READ
        writer.write(BODY[start : start + 20])
        await writer.drain()
        await asyncio.sleep(READ * 0.3)
    answer = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    assert answer.startswith(b"HTTP/1.1 201"), answer[:200]


async def test_a_silent_connection_is_dropped_after_keep_alive(port: int):
    closed = await _closed_after(port, [], pause=0, limit=KEEP_ALIVE * 6)
    assert closed is not None and closed < KEEP_ALIVE * 4, closed
