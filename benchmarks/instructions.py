"""Instructions per request, counted by valgrind's callgrind: the machine's load cannot move it.

The reference app (or the ceiling app) runs in process (``scimkit.testing.ASGIClient``,
lifespan entered, 100 seeded users) and answers ``--requests`` of one kind of Entra's
requests after 50 of warm-up, with the start-up heap frozen (``gc.freeze``) in between.
The same program runs twice under callgrind, with two request counts; the difference of the
two totals divided by the difference of the counts is the cost of one request, with start-up
and seeding cancelled out. SCIM work = app − ceiling.

``python -m benchmarks.instructions patch post get`` (needs ``valgrind``; ~1.5 min per figure)
prints instructions per request of the app, the ceiling and their difference for each kind.
``--without events`` (or ``request_log``, repeatable) also counts the app with that part
switched off (``serve --events off``) and prints what the part adds, as a share of the SCIM
work without it. ``--child KIND --app APP --requests N`` is the program callgrind runs.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import re
import subprocess
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from benchmarks import _entra
from benchmarks._entra import filter_query, sample_user, user_create_body
from benchmarks.bench_asgi import TOKEN, _client, _send
from benchmarks.run_ceiling import ROOT

__all__ = ["APPS", "KINDS", "PARTS", "build", "count", "main"]

KINDS = ("get", "post", "patch")
PARTS = ("events", "request_log")
"""Parts of the reference app that ``--without`` switches off, by their settings' names."""
APPS = ("app", "ceiling", *(f"app-without-{part}" for part in PARTS))
_SEEDED = 100
_WARM_UP = 50
_COUNTS = (100, 300)
_COLLECTED = re.compile(rb"Collected : (\d+)")


def build(app_kind: str) -> Any:
    """The ASGI app ``app_kind`` names (one of :data:`APPS`)."""
    if app_kind == "ceiling":
        from benchmarks.ceiling_app import build_app

        return build_app(TOKEN)
    from reference_app.app import create_app
    from reference_app.settings import load_settings

    overrides: dict[str, Any] = {"tenants": [f"bench:{TOKEN}"]}
    if app_kind != "app":
        overrides[app_kind.removeprefix("app-without-")] = "off"
    return create_app(load_settings(overrides, environ={}))


async def _serve(app_kind: str, kind: str, requests: int, *, freeze: bool = False) -> None:
    app = build(app_kind)
    client = _client(app)
    async with app.router.lifespan_context(app):
        ids = []
        for index in range(_SEEDED):
            created = await _send(client, "POST", "/Users", user_create_body(sample_user(index)))
            ids.append(created.json()["id"])

        async def get(n: int) -> None:
            name = f"USER{n % _SEEDED:06d}@contoso.example"  # a new text each time (case)
            query = filter_query("userName", name if n % 2 else name.lower()).encode()
            assert (await client.request("GET", "/Users", query=query)).status == 200

        async def post(n: int) -> None:
            user = sample_user(10_000_000 + n)
            user.user_name = f"post{n}@post.example"
            assert (await _send(client, "POST", "/Users", user_create_body(user))).status == 201

        async def patch(n: int) -> None:
            body = _entra.replace_email_and_family(f"m{n}@contoso.example", f"F{n}")
            assert (await _send(client, "PATCH", f"/Users/{ids[n % _SEEDED]}", body)).status == 200

        send: dict[str, Callable[[int], Awaitable[None]]] = {
            "get": get,
            "post": post,
            "patch": patch,
        }
        for n in range(_WARM_UP):
            await send[kind](n)
        # The start-up heap (app, seeded users, warm-up) leaves the collector's reach, as a
        # server that freezes after start-up would: otherwise one full collection over it fell
        # into the longer count and not the shorter one whenever a change moved the moment
        # it runs, and added ~85k instructions to a POST that had not changed.
        if freeze:  # only in the counted child: a frozen heap is never collected again
            gc.collect()
            gc.freeze()
        for n in range(_WARM_UP, _WARM_UP + requests):
            await send[kind](n)


def _collected(app_kind: str, kind: str, requests: int) -> int:
    command = [
        "valgrind",
        "--tool=callgrind",
        "--callgrind-out-file=/dev/null",
        sys.executable,
        "-m",
        "benchmarks.instructions",
        "--child",
        kind,
        "--app",
        app_kind,
        "--requests",
        str(requests),
    ]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, check=True)
    found = _COLLECTED.search(done.stderr)
    if found is None:
        raise RuntimeError(done.stderr.decode(errors="replace")[-2000:])
    return int(found.group(1))


def count(app_kind: str, kind: str) -> int:
    """Instructions one request of ``kind`` costs ``app_kind`` (one of :data:`APPS`)."""
    low, high = (_collected(app_kind, kind, n) for n in _COUNTS)
    return (high - low) // (_COUNTS[1] - _COUNTS[0])


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("kinds", nargs="*", help=f"any of {', '.join(KINDS)} (default: all)")
    parser.add_argument("--child", choices=KINDS, help=argparse.SUPPRESS)
    parser.add_argument(
        "--without",
        action="append",
        choices=PARTS,
        default=[],
        help="also count the app with this part off and print what it adds (repeatable)",
    )
    parser.add_argument("--app", choices=APPS, default="app", help=argparse.SUPPRESS)
    parser.add_argument("--requests", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child is not None:
        logging.disable(logging.CRITICAL)  # the counted program logs nothing
        asyncio.run(_serve(args.app, args.child, args.requests, freeze=True))
        return 0
    unknown = set(args.kinds) - set(KINDS)
    if unknown:
        parser.error(f"unknown kinds: {', '.join(sorted(unknown))}")
    for kind in args.kinds or KINDS:
        app, ceiling = count("app", kind), count("ceiling", kind)
        print(f"{kind:5s} app {app:9d}  ceiling {ceiling:9d}  SCIM work {app - ceiling:9d}")
        for part in args.without:
            without = count(f"app-without-{part}", kind)
            added, work = app - without, without - ceiling
            print(
                f"{kind:5s} app without {part} {without:9d}  {part} adds {added:9d}"
                f"  ({100 * added / work:.1f} % of the SCIM work without it, {work})"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
