"""The reference app with a part on, the same app with it off, and the ceiling app, in one process.

One hypercorn process listens on three ports and hands each request to the app of the port it
came in on (one dict look-up, the same for all three). :mod:`benchmarks.request_log_http` with
``--one-process`` measures them as it measures three servers; what it gains is that the three
apps share one interpreter, heap and memory layout. Three processes differ in where their code
and objects landed, and on a virtual machine that difference alone moved a process's CPU per
request by more than the request log costs: runs of the same code disagreed by ±10-20 % of the
SCIM work. In one process only the apps' own work differs.

``python -m benchmarks.one_process --token T --port P --port-on P1 --port-ceiling P2 --part
request_log`` serves the part off on ``--port``, on at ``--port-on``, the ceiling on
``--port-ceiling``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import logging
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a file: make `benchmarks` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

PART_OPTIONS = {"request_log": "--request-log", "events": "--events"}
from benchmarks.run_ceiling import TENANT  # noqa: E402

ASGIApp = Any


class ByPort:
    """An ASGI app that hands each connection's requests to the app of the port it came in on."""

    def __init__(self, apps: dict[int, ASGIApp]) -> None:
        self.apps = apps

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        await self.apps[scope["server"][1]](scope, receive, send)

    async def _lifespan(self, receive: Any, send: Any) -> None:
        async with contextlib.AsyncExitStack() as stack:
            await receive()  # lifespan.startup
            for app in self.apps.values():
                await stack.enter_async_context(_lifespan_of(app))
            await send({"type": "lifespan.startup.complete"})
            await receive()  # lifespan.shutdown
        await send({"type": "lifespan.shutdown.complete"})


@contextlib.asynccontextmanager
async def _lifespan_of(app: ASGIApp) -> Any:
    """Run ``app``'s own lifespan: started on entry, shut down on exit."""
    to_app: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    from_app: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": {}}
    task = asyncio.create_task(app(scope, to_app.get, from_app.put))
    await to_app.put({"type": "lifespan.startup"})
    answer = await from_app.get()
    if answer["type"] != "lifespan.startup.complete":
        raise RuntimeError(f"an app failed to start: {answer}")
    try:
        yield
    finally:
        await to_app.put({"type": "lifespan.shutdown"})
        await from_app.get()
        await task


def log_full_collections(path: Path) -> None:
    """Append ``start end`` (``time.monotonic()`` seconds) to ``path`` for every full collection.

    A full collection of a heap grown by thousands of POSTs takes up to seconds here and lands
    in whichever slice is running: :mod:`benchmarks.slices` leaves those slices' cycles out. The
    clock is the system's monotonic one, the same in the measuring process.
    """
    started = 0.0

    def record(phase: str, info: dict[str, int]) -> None:
        nonlocal started
        if info["generation"] != 2:
            return
        if phase == "start":
            started = time.monotonic()
        else:
            with path.open("a") as out:
                out.write(f"{started} {time.monotonic()}\n")

    gc.callbacks.append(record)


def build(token: str, part: str, port_off: int, port_on: int, port_ceiling: int) -> ByPort:
    from benchmarks.ceiling_app import build_app
    from reference_app.__main__ import _overrides, build_parser
    from reference_app.app import create_app
    from reference_app.settings import load_settings

    apps: dict[int, ASGIApp] = {port_ceiling: build_app(token)}
    for port, side in ((port_off, "off"), (port_on, "on")):
        command = ["serve", "--tenant", f"{TENANT}:{token}", "--log-level", "warning"]
        args = build_parser().parse_args([*command, PART_OPTIONS[part], side])
        apps[port] = create_app(load_settings(_overrides(args), environ={}))
    return ByPort(apps)


def serve(token: str, part: str, host: str, ports: tuple[int, int, int]) -> int:
    """Serve the three apps with the reference app's own hypercorn settings and allocator."""
    from hypercorn.asyncio import serve as hypercorn_serve

    from reference_app.allocator import tune_allocator
    from reference_app.servers import hypercorn_config, loop_factory
    from reference_app.settings import load_settings

    settings = load_settings({"host": host, "port": ports[0], "log_level": "warning"}, environ={})
    if settings.malloc_tuning:  # before any app is built, as `reference-app serve` does
        tune_allocator()
    app = build(token, part, *ports)
    config = hypercorn_config(settings)
    config.bind = [f"{host}:{port}" for port in app.apps]
    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        runner.run(hypercorn_serve(app, config))  # type: ignore[arg-type]
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.one_process", description=__doc__)
    parser.add_argument("--token", required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True, help="the app with the part off")
    parser.add_argument("--port-on", type=int, required=True, help="the app with the part on")
    parser.add_argument("--port-ceiling", type=int, required=True, help="the ceiling app")
    parser.add_argument("--part", choices=sorted(PART_OPTIONS), default="request_log")
    parser.add_argument("--server", default="hypercorn", choices=["hypercorn"])
    parser.add_argument("--gc-log", type=Path, help="log full collections here")
    args = parser.parse_args(argv)
    if args.gc_log is not None:
        log_full_collections(args.gc_log)
    logging.basicConfig(level=logging.WARNING)
    ports = (args.port, args.port_on, args.port_ceiling)
    return serve(args.token, args.part, args.host, ports)


if __name__ == "__main__":
    sys.exit(main())
