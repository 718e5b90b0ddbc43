"""A local RFC 8935 push receiver (a real HTTP server in a thread) whose answer tests set."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["Receiver", "receiving"]


class Receiver:
    """A push receiver answering every POST with :attr:`status`.

    :attr:`error`, when set, is sent as the body (an RFC 8935 error); the bodies it accepted
    (202) are kept in :attr:`received`.
    """

    def __init__(self) -> None:
        self.status = 500
        self.error: bytes = b""
        self.received: list[bytes] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if receiver.status == 202:
                    receiver.received.append(body)
                self.send_response(receiver.status)
                if receiver.error:
                    self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(receiver.error)))
                self.end_headers()
                self.wfile.write(receiver.error)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/events"


@contextmanager
def receiving() -> Iterator[Receiver]:
    found = Receiver()
    thread = threading.Thread(target=found.server.serve_forever, daemon=True)
    thread.start()
    try:
        yield found
    finally:
        found.server.shutdown()
        found.server.server_close()
        thread.join()
