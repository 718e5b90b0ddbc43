"""HTTP clients for the load generators: a lean raw-asyncio HTTP/1.1 client and an httpx one.

Both keep connections alive and share one small interface, :class:`Client`. The raw client
costs a fraction of httpx's CPU per request (it parses only the status line, ``Content-Length``,
``Transfer-Encoding: chunked`` and ``Connection: close``), which matters on a 2-core machine
where the load generator competes with the server. It speaks plain HTTP and HTTPS (via
``ssl``), HTTP/1.1 only.
"""

from __future__ import annotations

import asyncio
import ipaddress
import ssl
from collections.abc import Mapping
from typing import Protocol
from urllib.parse import urlsplit

__all__ = ["Client", "HttpxClient", "RawClient", "check_loopback", "make_client"]

_RETRYABLE = (asyncio.IncompleteReadError, ConnectionResetError, BrokenPipeError)


class Client(Protocol):
    """What the load generators need: one request at a time per call, pooled connections."""

    name: str

    async def request(
        self, method: str, target: str, body: bytes | None = None
    ) -> tuple[int, bytes]:
        """Send ``method target`` (``target`` relative to the base URL); return (status, body)."""
        ...

    async def aclose(self) -> None:
        """Close every connection."""
        ...


def check_loopback(url: str) -> None:
    """Raise ``ValueError`` unless ``url``'s host is a loopback address or ``localhost``."""
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return
    try:
        if ipaddress.ip_address(host).is_loopback:
            return
    except ValueError:
        pass
    raise ValueError(
        f"refusing to load {host!r}: only loopback targets (127.0.0.0/8, ::1, localhost) "
        "unless --allow-remote is given"
    )


class _Connection:
    """One keep-alive HTTP/1.1 connection."""

    __slots__ = ("_host", "_port", "_ssl", "_reader", "_writer", "used")

    def __init__(self, host: str, port: int, ssl_context: ssl.SSLContext | None) -> None:
        self._host = host
        self._port = port
        self._ssl = ssl_context
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self.used = False

    async def _open(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        reader, writer = await asyncio.open_connection(
            self._host, self._port, ssl=self._ssl, limit=1 << 22
        )
        self._reader, self._writer = reader, writer
        self.used = False
        return reader, writer

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
        self._reader = self._writer = None

    async def exchange(self, data: bytes, head_only: bool) -> tuple[int, bytes]:
        for attempt in (0, 1):
            reader, writer = (
                (self._reader, self._writer)
                if self._reader is not None and self._writer is not None
                else await self._open()
            )
            reused = self.used
            try:
                writer.write(data)
                head = await reader.readuntil(b"\r\n\r\n")
            except _RETRYABLE:
                # A kept-alive connection the server closed while idle: reconnect once.
                self.close()
                if reused and attempt == 0:
                    continue
                raise
            self.used = True
            return await self._finish(reader, head, head_only)
        raise AssertionError("unreachable")  # pragma: no cover

    async def _finish(
        self, reader: asyncio.StreamReader, head: bytes, head_only: bool
    ) -> tuple[int, bytes]:
        status = int(head[9:12])
        lowered = head.lower()
        close = b"\r\nconnection: close" in lowered
        body = b""
        if head_only or status == 204 or status == 304 or status < 200:
            pass
        else:
            at = lowered.find(b"\r\ncontent-length:")
            if at >= 0:
                end = lowered.find(b"\r\n", at + 17)
                length = int(lowered[at + 17 : end])
                body = await reader.readexactly(length) if length else b""
            elif b"\r\ntransfer-encoding: chunked" in lowered:
                parts = []
                while True:
                    size_line = await reader.readuntil(b"\r\n")
                    size = int(size_line.split(b";", 1)[0], 16)
                    if size == 0:
                        await reader.readuntil(b"\r\n")  # no trailers expected
                        break
                    parts.append(await reader.readexactly(size + 2))
                body = b"".join(part[:-2] for part in parts)
            else:
                body = await reader.read()
                close = True
        if close:
            self.close()
        return status, body


class RawClient:
    """A pool of raw keep-alive connections; at most ``size`` requests in flight."""

    name = "raw-asyncio"

    def __init__(
        self,
        base_url: str,
        headers: Mapping[str, str],
        size: int,
        *,
        timeout: float = 60.0,
    ) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https"):
            raise ValueError(f"unsupported URL scheme {parts.scheme!r}")
        host = parts.hostname or "127.0.0.1"
        port = parts.port or (443 if parts.scheme == "https" else 80)
        context = ssl.create_default_context() if parts.scheme == "https" else None
        self._base_path = parts.path.rstrip("/")
        host_header = parts.netloc.rsplit("@", 1)[-1]
        extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        self._fixed = f"Host: {host_header}\r\n{extra}".encode("latin-1")
        self._timeout = timeout
        self._idle: asyncio.LifoQueue[_Connection] = asyncio.LifoQueue()
        self._all = [_Connection(host, port, context) for _ in range(size)]
        for connection in self._all:
            self._idle.put_nowait(connection)

    async def request(
        self, method: str, target: str, body: bytes | None = None
    ) -> tuple[int, bytes]:
        line = f"{method} {self._base_path}{target} HTTP/1.1\r\n".encode("latin-1")
        if body is None:
            data = line + self._fixed + b"\r\n"
        else:
            data = b"%b%bContent-Length: %d\r\n\r\n%b" % (line, self._fixed, len(body), body)
        connection = await self._idle.get()
        try:
            async with asyncio.timeout(self._timeout):
                return await connection.exchange(data, method == "HEAD")
        except BaseException:
            connection.close()
            raise
        finally:
            self._idle.put_nowait(connection)

    async def aclose(self) -> None:
        for connection in self._all:
            connection.close()


class HttpxClient:
    """The same interface over ``httpx.AsyncClient`` (HTTP/1.1, keep-alive)."""

    name = "httpx"

    def __init__(
        self,
        base_url: str,
        headers: Mapping[str, str],
        size: int,
        *,
        timeout: float = 60.0,
    ) -> None:
        import httpx

        self._base = base_url.rstrip("/")
        self._client = httpx.AsyncClient(
            headers=dict(headers),
            limits=httpx.Limits(max_connections=size, max_keepalive_connections=size),
            timeout=timeout,
            verify=True,
        )

    async def request(
        self, method: str, target: str, body: bytes | None = None
    ) -> tuple[int, bytes]:
        response = await self._client.request(method, self._base + target, content=body)
        return response.status_code, response.content

    async def aclose(self) -> None:
        await self._client.aclose()


def make_client(
    kind: str,
    base_url: str,
    headers: Mapping[str, str],
    size: int,
    *,
    timeout: float = 60.0,
) -> Client:
    """``kind`` is ``raw`` or ``httpx``."""
    if kind == "raw":
        return RawClient(base_url, headers, size, timeout=timeout)
    if kind == "httpx":
        return HttpxClient(base_url, headers, size, timeout=timeout)
    raise ValueError(f"unknown client {kind!r}")
