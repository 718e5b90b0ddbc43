"""An in-process client for ASGI apps: the exact bytes given go in, the exact bytes sent come out.

httpx's ``ASGITransport`` re-encodes the query string (Entra's raw quotes and ``@`` never reach
the app as sent) and costs about a millisecond of CPU per request. This client hands the app
the query string, headers and body chunks byte for byte and costs a few microseconds, so the
same client serves the tests that replay raw wire forms and the benchmarks that time an app
without a server around it. It speaks ASGI itself (stdlib only): any ASGI app will do.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterable, MutableMapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

__all__ = ["ASGIApp", "ASGIClient", "ASGIResponse"]

_Message = MutableMapping[str, Any]
ASGIApp = Callable[
    [_Message, Callable[[], Awaitable[_Message]], Callable[[_Message], Awaitable[None]]],
    Awaitable[None],
]


@dataclass(frozen=True, slots=True)
class ASGIResponse:
    """What the app sent: the status, the raw header pairs and the body chunks joined."""

    status: int
    raw_headers: Sequence[tuple[bytes, bytes]]
    body: bytes

    @property
    def headers(self) -> dict[str, str]:
        """The headers by lower-cased name (decoded on demand: timed loops never pay for it)."""
        return {
            name.decode("latin-1").lower(): value.decode("latin-1")
            for name, value in self.raw_headers
        }

    def json(self) -> Any:
        return json.loads(self.body)


class ASGIClient:
    """Calls ``app`` as an HTTP/1.1 server would, one request per call, no lifespan.

    ``base_url`` gives the ``Host`` header, the scope's ``server`` and a path prefix for every
    request; ``headers`` are sent with every request, before the request's own.
    """

    def __init__(
        self,
        app: ASGIApp,
        base_url: str = "http://testserver",
        *,
        headers: Iterable[tuple[bytes, bytes]] = (),
    ) -> None:
        parts = urlsplit(base_url)
        scheme = parts.scheme or "http"
        host = parts.hostname or "testserver"
        port = parts.port or (443 if scheme == "https" else 80)
        self.app = app
        self._scheme = scheme
        self._server = (host, port)
        self._prefix = parts.path.rstrip("/")
        self._headers = [(b"host", (parts.netloc or host).encode("latin-1")), *headers]

    async def request(
        self,
        method: str,
        path: str,
        *,
        query: bytes = b"",
        headers: Iterable[tuple[bytes, bytes]] = (),
        body: bytes = b"",
        chunks: Sequence[bytes] | None = None,
    ) -> ASGIResponse:
        """Send ``method`` to the prefix + ``path`` with ``query`` as the raw query string.

        The body goes in one ``http.request`` message, or in ``chunks`` (``more_body`` set on
        all but the last). Nothing is added: no ``Content-Length`` unless ``headers`` has one.
        """
        full_path = self._prefix + path
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method,
            "scheme": self._scheme,
            "path": full_path,
            "raw_path": full_path.encode(),
            "query_string": query,
            "root_path": "",
            "headers": [*self._headers, *headers],
            "server": self._server,
            "client": ("127.0.0.1", 50000),
            "state": {},
        }
        pieces = [body] if chunks is None else list(chunks)
        given = 0
        status = 0
        raw_headers: list[tuple[bytes, bytes]] = []
        parts: list[bytes] = []

        async def receive() -> _Message:
            nonlocal given
            if given < len(pieces):
                given += 1
                more = given < len(pieces)
                return {"type": "http.request", "body": pieces[given - 1], "more_body": more}
            return {"type": "http.disconnect"}

        async def send(message: _Message) -> None:
            nonlocal status, raw_headers
            if message["type"] == "http.response.start":
                status = message["status"]
                raw_headers = message.get("headers", [])
            elif message["type"] == "http.response.body":
                parts.append(message.get("body", b""))

        await self.app(scope, receive, send)
        if not status:
            raise RuntimeError(f"the app sent no response to {method} {full_path}")
        return ASGIResponse(status, raw_headers, b"".join(parts))
