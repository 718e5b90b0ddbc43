"""The ASGI servers ``reference-app serve --server`` runs an app under, with one set of bounds.

hypercorn is the default (pure Python, installed with ``scimkit[server]``); granian (a Rust HTTP
stack, ``scimkit[granian]``) and uvicorn with httptools and uvloop (``scimkit[uvicorn]``) spend
far less CPU per request (``benchmarks/README.md``). Each launcher gives its server the same
bounds, as far as the server can enforce them (docs/security.md lists what each one does):

- the request line and headers: at most :data:`MAX_HEAD_BYTES`;
- a connection with no request in progress, or still sending its headers: dropped after
  :data:`KEEP_ALIVE_TIMEOUT` seconds;
- a client that stalls in the middle of a request body: dropped after :data:`READ_TIMEOUT`
  seconds without a byte (granian has no such timeout);
- SIGTERM or SIGINT: stop accepting, let open requests finish for up to
  :data:`GRACEFUL_TIMEOUT` seconds, run the app's lifespan shutdown, exit 0;
- TLS when ``certfile``/``keyfile`` are set, and ``workers`` processes sharing one port.

A launcher takes the app two ways: ``build`` makes it in this process (one worker under
hypercorn or uvicorn), ``factory`` is the ``module:function`` import path that each worker
process calls instead (granian always runs its app in worker processes). Worker processes
get the settings through the environment (``reference_app.settings.worker_environ``), which
the caller prepares before :func:`serve`.
"""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import os
import signal
from collections.abc import Callable
from typing import Any, cast

from reference_app.allocator import allocator_environ, tune_allocator
from reference_app.settings import SERVERS, Settings

__all__ = [
    "EXTRAS",
    "GRACEFUL_TIMEOUT",
    "KEEP_ALIVE_TIMEOUT",
    "MAX_HEAD_BYTES",
    "READ_TIMEOUT",
    "SERVERS",
    "SSL_HANDSHAKE_TIMEOUT",
    "AppBuilder",
    "granian_server",
    "hypercorn_config",
    "loop_factory",
    "missing_server",
    "serve",
    "spawns_workers",
    "uvicorn_options",
]

KEEP_ALIVE_TIMEOUT = 5
"""Seconds a connection may sit idle or spend sending its request line and headers."""
READ_TIMEOUT = 60
"""Seconds to wait for the next bytes of a request body (generous for any real client)."""
MAX_HEAD_BYTES = 16 * 1024
"""The request line plus headers; a 4096-character filter of ASCII fits with room to spare."""
GRACEFUL_TIMEOUT = 10
"""Seconds SIGTERM waits for in-flight requests (a write that spans documents finishes)."""
SSL_HANDSHAKE_TIMEOUT = 10
"""Seconds a TLS handshake may take (hypercorn only; see docs/security.md for the others)."""

EXTRAS = {"hypercorn": "server", "granian": "granian", "uvicorn": "uvicorn"}
"""The ``scimkit[...]`` extra that installs each server."""

_MODULES = {"hypercorn": "hypercorn", "granian": "granian", "uvicorn": "uvicorn"}

AppBuilder = Callable[[], Any]
"""Builds the ASGI app in this process."""


def missing_server(server: str) -> str | None:
    """Why ``server`` cannot run here (not installed), or ``None`` if it can."""
    if importlib.util.find_spec(_MODULES[server]) is None:
        extra = EXTRAS[server]
        return f"--server {server} needs the {server} package: pip install 'scimkit[{extra}]'"
    return None


def spawns_workers(settings: Settings) -> bool:
    """Whether the app runs in worker processes (which read their settings from the env)."""
    return settings.workers > 1 or settings.server == "granian"


def serve(settings: Settings, build: AppBuilder, factory: str) -> int:
    """Serve the app on ``settings.server`` until SIGTERM/SIGINT; the exit status.

    With ``settings.malloc_tuning`` glibc's allocator keeps freed memory, in this process and
    in the worker processes it starts (``reference_app.allocator``).
    """
    if settings.malloc_tuning:
        tune_allocator()
        os.environ.update(allocator_environ())
    if settings.server == "granian":
        granian_server(settings, factory).serve()
        return 0
    if settings.server == "uvicorn":
        return _serve_uvicorn(settings, build, factory)
    return _serve_hypercorn(settings, build, factory)


def loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """The uvloop event loop when it is installed (faster under every server), else None."""
    try:
        import uvloop
    except ImportError:
        return None
    factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
    return factory


# -- hypercorn --------------------------------------------------------------------------------


def hypercorn_config(settings: Settings) -> Any:
    """The hypercorn ``Config`` for ``settings``, with the bounds of this module."""
    from hypercorn.config import Config

    config = Config()
    config.bind = [_host_port(settings)]
    config.certfile = settings.certfile
    config.keyfile = settings.keyfile
    config.loglevel = settings.log_level.upper()
    # hypercorn logs through these loggers, so its lines share the app's handler and format.
    config.errorlog = logging.getLogger("hypercorn.error")
    # The app writes its own access line (reference_app.access_log), with request ids.
    config.accesslog = None
    # keep-alive drops idle connections and half-sent headers; read_timeout drops a client
    # that stalls in its body, which hypercorn's default (None) waits for forever.
    config.keep_alive_timeout = KEEP_ALIVE_TIMEOUT
    config.read_timeout = READ_TIMEOUT
    config.h11_max_incomplete_size = MAX_HEAD_BYTES
    config.graceful_timeout = GRACEFUL_TIMEOUT
    config.ssl_handshake_timeout = SSL_HANDSHAKE_TIMEOUT
    return config


def _serve_hypercorn(settings: Settings, build: AppBuilder, factory: str) -> int:
    config = hypercorn_config(settings)
    if settings.workers > 1:
        from hypercorn.run import run

        # hypercorn's runner evaluates the path as an expression: the call makes the app.
        config.application_path = f"{factory}()"
        config.workers = settings.workers
        config.worker_class = "uvloop" if loop_factory() is not None else "asyncio"
        return int(run(config))
    from hypercorn.asyncio import serve as hypercorn_serve

    # hypercorn's serve() installs SIGINT/SIGTERM handlers that shut down gracefully: open
    # requests finish, then the app's lifespan closes the store.
    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        runner.run(hypercorn_serve(build(), config))
    return 0


# -- granian ----------------------------------------------------------------------------------


def granian_server(settings: Settings, factory: str) -> Any:
    """The granian multi-process server for ``settings``, calling ``factory`` in each worker."""
    from granian import Granian
    from granian.constants import HTTPModes, Interfaces, Loops, SSLProtocols
    from granian.http import HTTP1Settings
    from granian.log import LogLevels

    certificate: dict[str, Any] = {}
    if settings.certfile is not None and settings.keyfile is not None:
        from pathlib import Path

        certificate = {
            "ssl_cert": Path(settings.certfile),
            "ssl_key": Path(settings.keyfile),
            # What hypercorn (Python's default context) accepts; Entra speaks both.
            "ssl_protocol_min": SSLProtocols.tls12,
        }
    return Granian(
        factory,
        factory=True,
        address=settings.host,
        port=settings.port,
        interface=Interfaces.ASGI,  # with the lifespan: it opens and closes the store
        workers=settings.workers,
        loop=Loops.auto,  # uvloop when installed
        http=HTTPModes.http1,
        websockets=False,
        http1_settings=HTTP1Settings(
            # hyper's read buffer bounds the request head: a larger head is refused with
            # 431 (the body is streamed, not buffered). hyper's minimum is 8 KiB.
            max_buffer_size=MAX_HEAD_BYTES,
            # From the moment the connection waits for a request head until the head is
            # complete: bounds idle keep-alive connections and slowloris heads alike.
            header_read_timeout=KEEP_ALIVE_TIMEOUT * 1000,
        ),
        # SIGTERM: the main process stops each worker, which finishes its open requests;
        # a worker still busy after this long is killed.
        workers_kill_timeout=GRACEFUL_TIMEOUT,
        log_level=LogLevels(settings.log_level),
        # granian's records go to the root logger (the app's handler and format).
        log_dictconfig={
            "version": 1,
            "disable_existing_loggers": False,
            "formatters": {},
            "handlers": {},
            "loggers": {"_granian": {"handlers": [], "propagate": True}},
        },
        log_access=False,  # the app writes its own access line
        **certificate,
    )


# -- uvicorn ----------------------------------------------------------------------------------


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """The uvicorn ``Config`` options for ``settings``: httptools made bounded, uvloop."""
    return {
        "host": settings.host,
        "port": settings.port,
        "workers": settings.workers,
        "http": bounded_httptools_protocol(),
        "loop": "uvloop" if loop_factory() is not None else "asyncio",
        "lifespan": "on",
        "ws": "none",
        "interface": "asgi3",
        "ssl_certfile": settings.certfile,
        "ssl_keyfile": settings.keyfile,
        "log_config": None,  # logs propagate to the root logger (the app's handler and format)
        "log_level": settings.log_level,
        "access_log": False,  # the app writes its own access line
        "server_header": False,
        "proxy_headers": False,  # like hypercorn: --public-url names the external address
        "timeout_keep_alive": KEEP_ALIVE_TIMEOUT,
        "timeout_graceful_shutdown": GRACEFUL_TIMEOUT,
    }


def _serve_uvicorn(settings: Settings, build: AppBuilder, factory: str) -> int:
    import uvicorn

    if settings.workers > 1:
        # uvicorn's supervisor spawns the workers; each imports and calls the factory.
        uvicorn.run(factory, factory=True, **uvicorn_options(settings))
        return 0
    server = uvicorn.Server(uvicorn.Config(build(), **uvicorn_options(settings)))
    # uvicorn re-raises the stop signal once it has shut down gracefully, to the handler that
    # was installed before it: a no-op one makes a requested stop exit 0, as under hypercorn.
    for stop in (signal.SIGTERM, signal.SIGINT):
        signal.signal(stop, _ignore_signal)
    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        runner.run(server.serve())
    return 0


def _ignore_signal(number: int, frame: object) -> None:
    return None


def bounded_httptools_protocol() -> type[asyncio.Protocol]:
    """The uvicorn httptools protocol with the head limit and timeouts hypercorn enforces.

    Built on first use because uvicorn is an optional dependency.
    """
    from reference_app._uvicorn_protocol import BoundedHttpToolsProtocol

    return cast(type[asyncio.Protocol], BoundedHttpToolsProtocol)


def _host_port(settings: Settings) -> str:
    host = f"[{settings.host}]" if ":" in settings.host else settings.host
    return f"{host}:{settings.port}"
