"""``reference-app healthcheck``: the container probe answers 0 only for a 200 from /healthz."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from reference_app.__main__ import main


@contextmanager
def _server(status: int) -> Iterator[tuple[int, list[str]]]:
    """A loopback HTTP server answering every GET with ``status``; yields its port and paths."""
    paths: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            paths.append(self.path)
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], paths
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def test_healthy_server_exits_0():
    with _server(200) as (port, paths):
        assert main(["healthcheck", "--port", str(port)]) == 0
    assert paths == ["/healthz"]


def test_unhealthy_server_exits_1(capsys: pytest.CaptureFixture[str]):
    with _server(503) as (port, _):
        assert main(["healthcheck", "--port", str(port)]) == 1
    assert "answered 503" in capsys.readouterr().err


def test_no_server_exits_1(capsys: pytest.CaptureFixture[str]):
    with _server(200) as (port, _):
        pass  # the port was just free and is closed again
    assert main(["healthcheck", "--port", str(port)]) == 1
    assert "did not answer" in capsys.readouterr().err


def test_wildcard_bind_is_probed_on_localhost(monkeypatch: pytest.MonkeyPatch):
    """The image binds 0.0.0.0 (SCIMKIT_HOST); the probe asks the loopback address."""
    with _server(200) as (port, paths):
        monkeypatch.setenv("SCIMKIT_HOST", "0.0.0.0")
        monkeypatch.setenv("SCIMKIT_PORT", str(port))
        monkeypatch.setenv("SCIMKIT_PUBLIC_URL", "https://scim.example.com")
        assert main(["healthcheck"]) == 0
    assert paths == ["/healthz"]
