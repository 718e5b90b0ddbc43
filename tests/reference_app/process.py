"""``reference-app serve`` as a real process, for tests that need a real listening socket."""

from __future__ import annotations

import os
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import trustme

from tests.reference_app.support import SETTINGS_VARIABLES

__all__ = [
    "SHUTDOWN_DEADLINE",
    "STARTUP_DEADLINE",
    "Served",
    "free_port",
    "reference_app_command",
    "served",
    "trusting_context",
]

STARTUP_DEADLINE = 30.0
SHUTDOWN_DEADLINE = 15.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def reference_app_command() -> list[str]:
    script = Path(sys.executable).with_name("reference-app")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "reference_app"]  # not installed as a console script


@dataclass
class Served:
    """A started server; ``stdout``/``stderr`` are filled in once it has stopped."""

    process: subprocess.Popen[str]
    base_url: str
    stdout: str = ""
    stderr: str = field(default="", repr=False)


@contextmanager
def served(
    arguments: list[str],
    *,
    port: int,
    scheme: str = "http",
    verify: ssl.SSLContext | bool = True,
    environ: dict[str, str] | None = None,
) -> Iterator[Served]:
    """Run ``reference-app serve ARGUMENTS --port PORT``; yield once /healthz answers 200.

    On exit the server gets SIGTERM and must stop with status 0. ``verify`` is the TLS
    verification the readiness poll uses (an ``ssl.SSLContext`` for a test CA).
    """
    env = {k: v for k, v in os.environ.items() if k not in SETTINGS_VARIABLES}
    env.update(environ or {})
    command = [*reference_app_command(), "serve", "--host", "127.0.0.1", "--port", str(port)]
    base_url = f"{scheme}://localhost:{port}" if scheme == "https" else f"http://127.0.0.1:{port}"
    with subprocess.Popen(
        [*command, *arguments],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
    ) as process:
        result = Served(process, base_url)
        try:
            _wait_healthy(process, base_url, verify)
            yield result
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                result.stdout, result.stderr = process.communicate(timeout=SHUTDOWN_DEADLINE)
            except subprocess.TimeoutExpired:
                process.kill()
                process.communicate()
                raise
    assert process.returncode == 0, result.stderr


def _wait_healthy(
    process: subprocess.Popen[str], base_url: str, verify: ssl.SSLContext | bool
) -> None:
    deadline = time.monotonic() + STARTUP_DEADLINE
    with httpx.Client(base_url=base_url, timeout=2.0, verify=verify) as client:
        while True:
            if process.poll() is not None:
                _, stderr = process.communicate()
                raise AssertionError(f"the server exited during startup:\n{stderr}")
            try:
                if client.get("/healthz").status_code == 200:
                    return
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "no healthy /healthz in time"
            time.sleep(0.1)


def trusting_context(ca: trustme.CA) -> ssl.SSLContext:
    """A client TLS context that trusts the test CA (and nothing else)."""
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return context
