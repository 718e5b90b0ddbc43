"""Run mongoeco's MongoDB wire-protocol server as a standalone process.

mongoeco (``mongoeco[wire]``, needs Python >= 3.13) ships the server as a library class
(``mongoeco.wire.AsyncMongoEcoProxyServer``) with no command-line entry point, so this file is
the launcher. Run it with the interpreter of ``.venv-mongoeco`` (built by
``scripts/mongoeco-env``)::

    .venv-mongoeco/bin/python scripts/mongoeco_server.py --host 127.0.0.1 --port 27017

Once listening it prints one line ``mongoeco listening on mongodb://HOST:PORT/...`` to stdout.
SIGTERM or SIGINT closes the server cleanly (exit status 0). With ``--sqlite PATH`` the data
lives in a SQLite file and survives a restart on the same path; the default engine is in memory.
With ``--exit-on-stdin-eof`` it also stops when its standard input closes, so a parent that
holds the write end of a pipe never leaves an orphan server behind, even when killed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import sys
import threading


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=27017, help="port to bind (0: any free port)")
    parser.add_argument(
        "--sqlite",
        metavar="PATH",
        default=None,
        help="keep the data in this SQLite file instead of memory (survives restarts)",
    )
    parser.add_argument(
        "--dialect", default=None, help="MongoDB dialect mongoeco emulates (its default: 7.0)"
    )
    parser.add_argument(
        "--exit-on-stdin-eof",
        action="store_true",
        help="also stop when standard input reaches end of file (parent went away)",
    )
    return parser.parse_args(argv)


def _stop_on_stdin_eof(loop: asyncio.AbstractEventLoop, stop: asyncio.Event) -> None:
    fd = sys.stdin.fileno()

    def on_readable() -> None:
        if not os.read(fd, 65536):
            loop.remove_reader(fd)
            stop.set()

    try:
        loop.add_reader(fd, on_readable)
    except (OSError, ValueError):  # not pollable (e.g. a regular file): fall back to a thread

        def wait_for_eof() -> None:
            while os.read(fd, 65536):
                pass
            with contextlib.suppress(RuntimeError):  # the loop may already be closed
                loop.call_soon_threadsafe(stop.set)

        threading.Thread(target=wait_for_eof, name="stdin-eof", daemon=True).start()


async def _serve(args: argparse.Namespace) -> None:
    from mongoeco.engines.memory import MemoryEngine
    from mongoeco.engines.sqlite import SQLiteEngine
    from mongoeco.wire import AsyncMongoEcoProxyServer

    engine = MemoryEngine() if args.sqlite is None else SQLiteEngine(args.sqlite)
    options = {} if args.dialect is None else {"mongodb_dialect": args.dialect}
    server = AsyncMongoEcoProxyServer(engine=engine, host=args.host, port=args.port, **options)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    if args.exit_on_stdin_eof:
        _stop_on_stdin_eof(loop, stop)
    try:
        address = await server.start()
        print(f"mongoeco listening on {address.uri}", flush=True)
        await stop.wait()
    finally:
        await server.close()


def main(argv: list[str] | None = None) -> int:
    """Serve until SIGTERM/SIGINT."""
    if sys.version_info < (3, 13):
        print(
            "mongoeco_server.py: needs Python >= 3.13 (use .venv-mongoeco/bin/python)",
            file=sys.stderr,
        )
        return 2
    asyncio.run(_serve(_parse_args(argv)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
