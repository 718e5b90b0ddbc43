"""A throwaway MongoDB-compatible server for tests: mongoeco's wire server in a subprocess.

No real ``mongod`` can be installed everywhere the tests run, so the stand-in is mongoeco's
wire-protocol server (``mongoeco[wire]``, Python >= 3.13), which lives in its own virtualenv
``.venv-mongoeco`` (built by ``scripts/mongoeco-env``) and is started by the launcher
``scripts/mongoeco_server.py``. Real drivers (pymongo, motor) talk BSON to it over loopback TCP.

This module is stdlib-only and imports no MongoDB driver. Typical use::

    with MongoServer() as server:
        client = AsyncMongoClient(server.uri)
        ...
        server.stop()  # fault injection: the server goes away mid-run...
        server.start()  # ...and comes back on the same port (empty unless sqlite_path is set)
"""

from __future__ import annotations

import os
import signal
import socket
import struct
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import IO

__all__ = [
    "MongoServer",
    "MongoServerError",
    "default_launcher",
    "default_mongoeco_python",
    "mongodb_uri_from_env",
]

_REPO_ROOT = Path(__file__).resolve().parents[2]

# Environment variables. Library code never reads the environment; this module is test
# support, where picking the server from the environment is the point.
ENV_TEST_MONGODB_URI = "SCIMKIT_TEST_MONGODB_URI"
ENV_MONGOECO_PYTHON = "SCIMKIT_MONGOECO_PYTHON"

_OP_MSG = 2013
_OUTPUT_TAIL = 4000


class MongoServerError(RuntimeError):
    """The server could not be started, or did not come up in time."""


def mongodb_uri_from_env() -> str | None:
    """Return ``$SCIMKIT_TEST_MONGODB_URI`` when set (and non-empty), else ``None``.

    Reading the environment is acceptable here only because this is test support: it lets a
    developer or CI point the tests at a real MongoDB instead of the mongoeco stand-in.
    """
    uri = os.environ.get(ENV_TEST_MONGODB_URI, "").strip()
    return uri or None


def default_mongoeco_python() -> Path:
    """The Python 3.13 interpreter that has mongoeco installed.

    ``$SCIMKIT_MONGOECO_PYTHON`` when set (test support reads the environment on purpose),
    else ``<repo>/.venv-mongoeco/bin/python``.
    """
    configured = os.environ.get(ENV_MONGOECO_PYTHON, "").strip()
    if configured:
        return Path(configured)
    return _REPO_ROOT / ".venv-mongoeco" / "bin" / "python"


def default_launcher() -> Path:
    """The launcher script, ``<repo>/scripts/mongoeco_server.py``."""
    return _REPO_ROOT / "scripts" / "mongoeco_server.py"


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port on ``host`` that is free right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


def _bson_hello() -> bytes:
    """The BSON document ``{"hello": 1, "$db": "admin"}``, encoded by hand."""
    elements = (
        b"\x10hello\x00"
        + struct.pack("<i", 1)
        + b"\x02$db\x00"
        + struct.pack("<i", 6)
        + b"admin\x00"
    )
    return struct.pack("<i", 4 + len(elements) + 1) + elements + b"\x00"


def _recv_exactly(sock: socket.socket, size: int) -> bytes:
    chunks: list[bytes] = []
    remaining = size
    while remaining:
        chunk = sock.recv(remaining)
        if not chunk:
            raise ConnectionError("connection closed during the handshake")
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def ping(host: str, port: int, *, timeout: float = 1.0) -> bool:
    """Whether a MongoDB wire server answers ``hello`` with ``ok: 1`` on ``host:port``.

    A minimal OP_MSG exchange over a plain socket, so no driver is needed.
    """
    request_id = 1
    body = struct.pack("<I", 0) + b"\x00" + _bson_hello()  # flagBits, section kind 0, document
    message = struct.pack("<iiii", 16 + len(body), request_id, 0, _OP_MSG) + body
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(message)
            length, _, response_to, op_code = struct.unpack("<iiii", _recv_exactly(sock, 16))
            if op_code != _OP_MSG or response_to != request_id or not 16 < length < 1 << 25:
                return False
            reply = _recv_exactly(sock, length - 16)
    except OSError:
        return False
    return b"\x01ok\x00" + struct.pack("<d", 1.0) in reply


class MongoServer:
    """mongoeco's wire server in a subprocess, on a fixed loopback port across restarts.

    ``python`` is the interpreter that has ``mongoeco[wire]`` (default:
    :func:`default_mongoeco_python`). The port is chosen once (a free one unless given), so
    ``stop()`` then ``start()`` brings the server back at the same :attr:`uri`. The default
    engine keeps data in memory, so a restart starts empty; pass ``sqlite_path`` to keep the
    data across restarts. Use as a context manager, or call :meth:`start` and :meth:`stop`.
    """

    def __init__(
        self,
        *,
        python: str | os.PathLike[str] | None = None,
        host: str = "127.0.0.1",
        port: int | None = None,
        sqlite_path: str | os.PathLike[str] | None = None,
        startup_timeout: float = 30.0,
        launcher: str | os.PathLike[str] | None = None,
    ) -> None:
        self.python = Path(python) if python is not None else default_mongoeco_python()
        self.launcher = Path(launcher) if launcher is not None else default_launcher()
        self.host = host
        self.port = port if port is not None else free_port(host)
        self.sqlite_path = Path(sqlite_path) if sqlite_path is not None else None
        self.startup_timeout = startup_timeout
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def uri(self) -> str:
        """The connection string (single server, no replica-set discovery)."""
        return f"mongodb://{self.host}:{self.port}/?directConnection=true"

    @property
    def running(self) -> bool:
        """Whether the server process is alive."""
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int | None:
        """The server process id while it has one."""
        return self._process.pid if self._process is not None else None

    def command(self) -> list[str]:
        """The command line that starts the server."""
        argv = [str(self.python), str(self.launcher), "--host", self.host, "--port", str(self.port)]
        if self.sqlite_path is not None:
            argv += ["--sqlite", str(self.sqlite_path)]
        return [*argv, "--exit-on-stdin-eof"]

    def start(self) -> None:
        """Start the server and wait until it answers ``hello``; a no-op when running."""
        if self.running:
            return
        self._reap()
        if not self.python.exists():
            raise MongoServerError(
                f"mongoeco's Python not found at {self.python}: run scripts/mongoeco-env "
                f"(or set {ENV_MONGOECO_PYTHON})"
            )
        if not self.launcher.exists():
            raise MongoServerError(f"mongoeco launcher not found at {self.launcher}")
        log = tempfile.TemporaryFile(prefix="mongoeco-")
        try:
            # stdin is a pipe we hold: if this process dies, the server sees EOF and exits.
            self._process = subprocess.Popen(
                self.command(), stdin=subprocess.PIPE, stdout=log, stderr=subprocess.STDOUT
            )
        except BaseException:
            log.close()
            raise
        self._log = log
        started = time.monotonic()
        deadline = started + self.startup_timeout
        while True:
            if self._process.poll() is not None:
                status = self._process.returncode
                output = self._output()
                self._reap()
                raise MongoServerError(
                    f"mongoeco server exited with status {status} during startup "
                    f"({' '.join(self.command())}); its output:\n{output}"
                )
            if ping(self.host, self.port, timeout=1.0):
                return
            if time.monotonic() > deadline:
                output = self._output()
                self.stop(kill=True)
                raise MongoServerError(
                    f"mongoeco server did not answer on {self.host}:{self.port} within "
                    f"{self.startup_timeout:g}s; its output:\n{output}"
                )
            time.sleep(0.05)

    def stop(self, *, kill: bool = False, timeout: float = 10.0) -> None:
        """Stop the server; a no-op when it is not running.

        By default the server shuts down cleanly (SIGTERM); ``kill=True`` sends SIGKILL, as
        in a crash. Either way this waits for the process and releases its pipes and log.
        """
        process = self._process
        if process is not None and process.poll() is None:
            if kill:
                process.kill()
            else:
                process.terminate()
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self._reap()

    @contextmanager
    def stalled(self) -> Iterator[None]:
        """Freeze the server (SIGSTOP) for the block, then let it run on (SIGCONT).

        Connections stay open and nothing answers, as with a server stuck on a slow query or
        a network that silently drops packets.
        """
        pid = self.pid
        if pid is None or not self.running:
            raise MongoServerError("the server is not running")
        os.kill(pid, signal.SIGSTOP)
        try:
            yield
        finally:
            os.kill(pid, signal.SIGCONT)

    def restart(self) -> None:
        """Stop (cleanly) and start again on the same port."""
        self.stop()
        self.start()

    def output(self) -> str:
        """What the running server printed so far (stdout and stderr), for diagnostics."""
        return self._output(tail=None)

    def _output(self, tail: int | None = _OUTPUT_TAIL) -> str:
        if self._log is None:
            return ""
        self._log.flush()
        self._log.seek(0)
        data = self._log.read()
        self._log.seek(0, os.SEEK_END)
        if tail is not None and len(data) > tail:
            data = b"..." + data[-tail:]
        return data.decode("utf-8", errors="replace")

    def _reap(self) -> None:
        """Forget a finished process, closing its stdin pipe and the log file."""
        process, self._process = self._process, None
        if process is not None:
            if process.stdin is not None:
                process.stdin.close()
            process.wait()
        log, self._log = self._log, None
        if log is not None:
            log.close()

    def __enter__(self) -> MongoServer:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"MongoServer({self.uri!r}, {state}, python={str(self.python)!r})"
