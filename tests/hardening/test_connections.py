"""Idle and slow connections under hypercorn, with the reference app's server settings.

The server settings come from ``reference_app.servers.hypercorn_config`` (what ``serve``
uses). One test checks the values it sets; the others run hypercorn on a loopback port with
those settings, the timeouts shortened so the tests are quick, and show what each bounds:

- ``keep_alive_timeout``: a connection that sends nothing, or only part of its headers;
- ``read_timeout``: a connection that sent its headers and stalls in the body (or between
  requests); without it such a connection is held for as long as the client likes;
- ``h11_max_incomplete_size``: the size of a request line plus headers.

docs/security.md lists the values and why.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any, cast

import pytest

from reference_app.servers import hypercorn_config as _hypercorn_config
from reference_app.settings import Settings
from scimkit import MemoryStore
from scimkit.testing._mongo_server import free_port
from tests.hardening.support import TOKEN_A, count, make_app

KEEP_ALIVE = 0.5
READ = 1.0


async def _serve(config: Any) -> AsyncIterator[tuple[str, int]]:
    from hypercorn.asyncio import serve
    from hypercorn.typing import ASGIFramework

    stop = asyncio.Event()
    # Starlette's ASGI signature is looser than hypercorn's typed one; they agree at runtime.
    app = cast(ASGIFramework, make_app(MemoryStore()))
    task = asyncio.create_task(serve(app, config, shutdown_trigger=stop.wait))
    host, port = config.bind[0].rsplit(":", 1)
    deadline = time.monotonic() + 10
    while True:
        try:
            _, writer = await asyncio.open_connection(host, int(port))
            await _close(writer)
            break
        except OSError:
            assert time.monotonic() < deadline, "hypercorn did not start"
            await asyncio.sleep(0.05)
    try:
        yield host, int(port)
    finally:
        stop.set()
        await asyncio.wait_for(task, 10)


def _config(read_timeout: float | None) -> Any:
    """The reference app's settings, with the timeouts shortened so the tests are quick."""
    config = _hypercorn_config(Settings(port=free_port()))
    config.keep_alive_timeout = KEEP_ALIVE
    config.read_timeout = read_timeout
    config.graceful_timeout = 1.0
    config.errorlog = None
    return config


@pytest.fixture
async def bounded() -> AsyncIterator[tuple[str, int]]:
    """Hypercorn with both timeouts set (shortened)."""
    async for address in _serve(_config(READ)):
        yield address


@pytest.fixture
async def unbounded() -> AsyncIterator[tuple[str, int]]:
    """Hypercorn with hypercorn's default read_timeout (none), keep-alive shortened."""
    async for address in _serve(_config(None)):
        yield address


async def _closed_after(address: tuple[str, int], payload: bytes, limit: float) -> float | None:
    """Send ``payload`` and wait: seconds until the server closed, or None if still open."""
    reader, writer = await asyncio.open_connection(*address)
    started = time.monotonic()
    try:
        if payload:
            writer.write(payload)
            await writer.drain()
        try:
            while await asyncio.wait_for(reader.read(65536), limit):
                pass  # a response (e.g. 408/400) may come before the close
        except TimeoutError:
            return None
        return time.monotonic() - started
    finally:
        await _close(writer)


async def _close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    with contextlib.suppress(ConnectionError):
        await writer.wait_closed()


HEADERS = (
    b"POST /scim/v2/acme/Users HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
    + TOKEN_A.encode()
    + b"\r\nContent-Type: application/scim+json\r\nContent-Length: 100\r\n\r\n"
)


async def test_idle_and_half_sent_headers_are_dropped_after_keep_alive(bounded):
    count("connection probes", 2)
    for payload in (b"", b"GET /scim/v2/acme/Users HTTP/1.1\r\nHost: x\r\n"):
        closed = await _closed_after(bounded, payload, limit=KEEP_ALIVE * 6)
        assert closed is not None, payload
        assert closed < KEEP_ALIVE * 4, closed


async def test_a_stalled_body_is_dropped_after_read_timeout(bounded):
    count("connection probes")
    closed = await _closed_after(bounded, HEADERS + b'{"schemas":', limit=READ * 4)
    assert closed is not None and READ * 0.8 < closed < READ * 3, closed


async def test_without_read_timeout_a_stalled_body_holds_the_connection(unbounded):
    """Why ``read_timeout`` must be set: keep-alive stops counting once a request started."""
    count("connection probes")
    assert await _closed_after(unbounded, HEADERS + b'{"schemas":', limit=KEEP_ALIVE * 6) is None


async def test_oversized_headers_are_refused(bounded):
    count("connection probes")
    big = b"GET /scim/v2/acme/Users HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 70_000 + b"\r\n\r\n"
    reader, writer = await asyncio.open_connection(*bounded)
    try:
        writer.write(big)
        await writer.drain()
        response = await asyncio.wait_for(reader.read(65536), 5)
    except ConnectionError:
        response = b""
    finally:
        await _close(writer)
    assert not response.startswith(b"HTTP/1.1 2"), response[:80]


def test_reference_app_bounds_idle_and_slow_connections():
    """The values docs/security.md recommends, set explicitly (not hypercorn's defaults)."""
    config = _hypercorn_config(Settings())
    assert config.read_timeout == 60
    assert config.keep_alive_timeout == 5
    assert config.h11_max_incomplete_size == 16 * 1024
    assert config.graceful_timeout == 10
    assert config.ssl_handshake_timeout == 10
