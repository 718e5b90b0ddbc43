"""uvicorn's httptools protocol, bounded the way hypercorn bounds its connections.

uvicorn with httptools is fast, but leaves three gaps that hypercorn's settings close
(docs/security.md): it takes request heads of any size (``h11_max_incomplete_event_size``
exists only for its slower h11 protocol), it arms its keep-alive timer only after a response
(a new connection that sends nothing, or sends its headers a byte at a time, is held forever),
and it has no read timeout (a client that stalls in a request body holds the connection and an
app task forever). This subclass adds the three, with the values of ``reference_app.servers``.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from reference_app.servers import KEEP_ALIVE_TIMEOUT, MAX_HEAD_BYTES, READ_TIMEOUT

__all__ = ["BoundedHttpToolsProtocol"]

_TOO_LARGE = (
    b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
    b"content-type: text/plain; charset=utf-8\r\n"
    b"content-length: 31\r\nconnection: close\r\n\r\n"
    b"Request header fields too large"
)


class _HeadTooLarge(Exception):
    """Raised from a parser callback; httptools turns it into a parser error."""


class BoundedHttpToolsProtocol(HttpToolsProtocol):
    """Adds a head size limit, a head deadline and a body read timeout."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_bytes = 0
        self._head_too_large = False
        self._head_timer: asyncio.TimerHandle | None = None
        self._read_timer: asyncio.TimerHandle | None = None

    # A head must be complete KEEP_ALIVE_TIMEOUT seconds after the connection went idle (opened,
    # or its last response sent); the timer keeps running while the head trickles in.

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)  # type: ignore[arg-type]
        self._arm_head_timer()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        # uvicorn armed its keep-alive timer: the connection is idle, waiting for a head.
        if self.timeout_keep_alive_task is not None:
            self._arm_head_timer()

    def on_headers_complete(self) -> None:
        self._cancel(self._head_timer)
        self._head_timer = None
        super().on_headers_complete()

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel(self._head_timer)
        self._cancel(self._read_timer)
        super().connection_lost(exc)

    def _arm_head_timer(self) -> None:
        self._cancel(self._head_timer)
        self._head_timer = self.loop.call_later(KEEP_ALIVE_TIMEOUT, self._close)

    # The head's size: request line plus header lines, counted as the parser hands them over.

    def on_message_begin(self) -> None:
        self._head_bytes = 0
        super().on_message_begin()

    def on_url(self, url: bytes) -> None:
        self._count(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count(len(name) + len(value) + 4)  # ": " and CRLF
        super().on_header(name, value)

    def _count(self, size: int) -> None:
        self._head_bytes += size
        if self._head_bytes > MAX_HEAD_BYTES:
            self._head_too_large = True
            raise _HeadTooLarge

    def send_400_response(self, msg: str) -> None:
        if not self._head_too_large:
            super().send_400_response(msg)
            return
        self.transport.write(_TOO_LARGE)
        self.transport.close()

    # A request body must keep arriving: at most READ_TIMEOUT seconds between its bytes.

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        cycle = self.cycle
        if cycle is not None and cycle.more_body and not self.transport.is_closing():
            self._cancel(self._read_timer)
            self._read_timer = self.loop.call_later(READ_TIMEOUT, self._read_timed_out)
        elif self._read_timer is not None:
            self._read_timer.cancel()
            self._read_timer = None

    def _read_timed_out(self) -> None:
        self._read_timer = None
        cycle = self.cycle
        if cycle is None or not cycle.more_body:
            return
        if self.flow.read_paused:
            # Not the client's stall: the app has not consumed what it was sent yet.
            self._read_timer = self.loop.call_later(READ_TIMEOUT, self._read_timed_out)
            return
        self._close()

    def _close(self) -> None:
        if not self.transport.is_closing():
            self.transport.close()

    @staticmethod
    def _cancel(timer: asyncio.TimerHandle | None) -> None:
        if timer is not None:
            timer.cancel()
