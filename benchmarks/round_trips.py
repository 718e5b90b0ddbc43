"""Database round trips per SCIM operation, counted with PyMongo's command monitoring.

The reference app runs in process (``scimkit.testing.ASGIClient``, lifespan entered) on the
mongoeco stand-in; a ``CommandListener`` on the app's own client records every command sent
while a request is being answered. A count does not depend on the machine, so the stand-in's
speed does not matter. Index creation and the first-use checks happen in a warm-up before
anything is counted; the driver's heartbeats and handshakes are server monitoring, never
command events, and ``hello`` is dropped besides. Each command is attributed to the
scimkit/reference_app functions on the stack when it was sent.

With ``events`` the app's service records provisioning events (``record_events``; MongoStore
writes them to the outbox in the written document and its drainer task moves them into the
feed), so the same cycle shows what recording costs: nothing on the request path, the drain in
the background column.

With ``stored_tenant`` the tenant is kept in MongoDB, as the console makes them, and read on
every request; ``tenant_cache_seconds`` has the app keep it that long (``--tenant-cache-seconds``).

``python -m benchmarks.round_trips [--mongodb-uri URI] [--events] [--stored-tenant
[--tenant-cache-seconds N]] [--out results/round_trips.json]``
(without a URI it starts the stand-in from ``.venv-mongoeco``, built by scripts/mongoeco-env).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

from pymongo import AsyncMongoClient
from pymongo.monitoring import (
    CommandFailedEvent,
    CommandListener,
    CommandStartedEvent,
    CommandSucceededEvent,
)

from benchmarks import _entra
from reference_app.app import TENANTS_COLLECTION, create_app
from reference_app.settings import Settings, TenantSeed
from reference_app.tenants import MongoTenantRegistry
from scimkit.testing import ASGIClient, ASGIResponse
from scimkit.testing._mongo_server import MongoServer

__all__ = [
    "BEFORE",
    "OPERATIONS",
    "TARGET",
    "Command",
    "Count",
    "RoundTripCounter",
    "count",
    "main",
    "table",
]

TENANT = "bench"
TOKEN = "round-trips-token-0123456789"
BASE_URL = f"http://testserver/scim/v2/{TENANT}"

OPERATIONS = (
    "match GET, no hit",
    "match GET, one hit",
    "POST user",
    "default PATCH",
    "disable PATCH",
    "member add",
    "DELETE user, in a group",
    "DELETE user, in no group",
    "group GET, excludedAttributes=members",
)
BEFORE = {
    "match GET, no hit": 1,
    "match GET, one hit": 3,
    "POST user": 2,
    "default PATCH": 4,
    "disable PATCH": 4,
    "member add": 4,
    "DELETE user, in no group": 2,
}
"""Issue 16's counts, taken from the outside by a wire proxy before this benchmark existed."""
TARGET = {
    "match GET, no hit": "1",
    "match GET, one hit": "1",
    "POST user": "≤ 2",
    "default PATCH": "≤ 2",
    "disable PATCH": "≤ 2",
    "member add": "≤ 2",
    "DELETE user, in a group": "≤ 2",
    "DELETE user, in no group": "≤ 2",
}

# Connection set-up and monitoring, not work a request asks for.
_NOT_ROUND_TRIPS = frozenset({"hello", "ismaster", "isMaster", "saslStart", "saslContinue"})
_OWN_PACKAGES = tuple(
    str(Path(__file__).resolve().parents[1] / package) + "/"
    for package in ("scimkit", "reference_app")
)
_ORIGIN_DEPTH = 3
_SETTLE = 0.05
"""Seconds of no new command, and none unanswered, after which a response's background is over."""
_SETTLE_LIMIT = 10.0
"""Seconds after a response past which its background commands are no longer waited for."""


@dataclass(frozen=True, slots=True)
class Command:
    """One command sent to the database: its name, collection and who sent it."""

    name: str
    collection: str
    origin: tuple[str, ...]
    """The scimkit/reference_app functions on the stack, innermost first (at most three)."""
    on_request_path: bool
    """Sent by the task answering the request (else by a background task, e.g. a log drain)."""

    def describe(self) -> str:
        where = "" if self.on_request_path else " [background]"
        return f"{self.name} {self.collection}{where} ← {' ← '.join(self.origin) or '?'}"


@dataclass(frozen=True, slots=True)
class Count:
    """The commands one operation sent, while answering and in the background after."""

    commands: tuple[Command, ...]

    @property
    def request_path(self) -> int:
        return sum(command.on_request_path for command in self.commands)

    @property
    def background(self) -> int:
        return len(self.commands) - self.request_path


def _own_frames(frame: FrameType | None) -> Iterator[str]:
    while frame is not None:
        filename = frame.f_code.co_filename
        qualname = frame.f_code.co_qualname
        # Wrappers (the store's per-call timeout) say nothing about who asked.
        if filename.startswith(_OWN_PACKAGES) and "<locals>" not in qualname:
            yield qualname
        frame = frame.f_back


@dataclass
class RoundTripCounter(CommandListener):
    """Records the commands started while :attr:`recording` is set."""

    recording: bool = False
    request_task: asyncio.Task[Any] | None = None
    commands: list[Command] = field(default_factory=list)
    unanswered: set[int] = field(default_factory=set)
    """Request ids of recorded commands the server has not answered yet."""
    last_started: float = 0.0
    """``time.monotonic()`` when the last recorded command was sent."""

    def started(self, event: CommandStartedEvent) -> None:
        if not self.recording or event.command_name in _NOT_ROUND_TRIPS:
            return
        self.unanswered.add(event.request_id)
        self.last_started = time.monotonic()
        target = event.command.get(event.command_name)
        collection = target if isinstance(target, str) else event.database_name
        # The async driver publishes the event inside the awaiting task, so the stack still
        # holds the store method that asked.
        origin = tuple(_own_frames(sys._getframe(1)))[:_ORIGIN_DEPTH]
        on_request_path = asyncio.current_task() is self.request_task
        self.commands.append(Command(event.command_name, collection, origin, on_request_path))

    def succeeded(self, event: CommandSucceededEvent) -> None:
        self.unanswered.discard(event.request_id)

    def failed(self, event: CommandFailedEvent) -> None:
        self.unanswered.discard(event.request_id)

    async def settle(self) -> None:
        """Return once background work is over: nothing unanswered and nothing new for a while.

        A fixed pause missed the drainer's commands whenever the machine was slow (a loaded CI
        runner, tracemalloc): its pass had not begun, or not ended, when the pause did.
        """
        deadline = time.monotonic() + _SETTLE_LIMIT
        while time.monotonic() < deadline:
            await asyncio.sleep(_SETTLE)
            if not self.unanswered and time.monotonic() - self.last_started >= _SETTLE:
                return


class _Driver:
    """Sends Entra's requests to the app and records the commands each one cost."""

    def __init__(self, client: ASGIClient, counter: RoundTripCounter) -> None:
        self.client = client
        self.counter = counter
        self.counts: dict[str, Count] = {}

    async def send(
        self,
        method: str,
        path: str,
        *,
        query: str = "",
        body: dict[str, Any] | None = None,
        label: str | None = None,
    ) -> ASGIResponse:
        payload = b"" if body is None else json.dumps(body).encode()
        counter = self.counter
        counter.commands = []
        counter.request_task = asyncio.current_task()
        counter.recording = label is not None
        try:
            response = await self.client.request(method, path, query=query.encode(), body=payload)
            # What the request left to background tasks (the request log's drain) runs now.
            await counter.settle()
        finally:
            counter.recording = False
        if response.status >= 400:
            raise RuntimeError(f"{method} {path}?{query}: {response.status} {response.body!r}")
        if label is not None:
            self.counts[label] = Count(tuple(counter.commands))
        return response

    async def cycle(self, suffix: str, *, counted: bool) -> None:
        """Entra's steps for one user and one group; recorded under their labels if counted."""

        def label(name: str) -> str | None:
            return name if counted else None

        user = _entra.sample_user()
        user.user_name = f"user-{suffix}@contoso.example"
        user.email = user.user_name
        user.external_id = str(uuid.uuid4())
        await self.send(
            "GET",
            "/Users",
            query=_entra.filter_query("userName", f"nobody-{suffix}@contoso.example"),
            label=label("match GET, no hit"),
        )
        created = await self.send(
            "POST", "/Users", body=_entra.user_create_body(user), label=label("POST user")
        )
        user_id = created.json()["id"]
        await self.send(
            "GET",
            "/Users",
            query=_entra.filter_query("userName", user.user_name),
            label=label("match GET, one hit"),
        )
        await self.send(
            "PATCH",
            f"/Users/{user_id}",
            body=_entra.replace_email_and_family(f"new-{user.email}", "Jansen-de Vries"),
            label=label("default PATCH"),
        )
        await self.send(
            "PATCH", f"/Users/{user_id}", body=_entra.disable(), label=label("disable PATCH")
        )
        group = await self.send(
            "POST", "/Groups", body=_entra.group_create_body(f"Sales {suffix}", str(uuid.uuid4()))
        )
        group_id = group.json()["id"]
        await self.send(
            "PATCH",
            f"/Groups/{group_id}",
            body=_entra.members_patch("Add", [user_id]),
            label=label("member add"),
        )
        await self.send(
            "GET",
            f"/Groups/{group_id}",
            query="excludedAttributes=members",
            label=label("group GET, excludedAttributes=members"),
        )
        await self.send("DELETE", f"/Users/{user_id}", label=label("DELETE user, in a group"))
        loner = _entra.sample_user(2)
        loner.user_name = f"loner-{suffix}@contoso.example"
        created = await self.send("POST", "/Users", body=_entra.user_create_body(loner))
        await self.send(
            "DELETE", f"/Users/{created.json()['id']}", label=label("DELETE user, in no group")
        )


async def count(
    mongodb_uri: str,
    database: str,
    *,
    events: bool = False,
    stored_tenant: bool = False,
    tenant_cache_seconds: int = 0,
) -> dict[str, Count]:
    """The commands each of :data:`OPERATIONS` sends, in the reference app on ``database``.

    One warm-up cycle runs first (index creation, first-use checks), then the counted one.
    ``events`` switches event recording on in the app's service. ``stored_tenant`` serves a
    tenant kept in MongoDB (as the console and ``reference-app tenant create`` make them)
    instead of a ``--tenant`` one kept in the process; ``tenant_cache_seconds`` has the app
    keep it (the warm-up reads it, and a cycle takes far less than the 60 s the CLI uses).
    """
    if tenant_cache_seconds and not stored_tenant:
        raise ValueError("the tenant cache keeps stored tenants: it needs stored_tenant")
    counter = RoundTripCounter()
    if stored_tenant:
        creator: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongodb_uri)
        try:
            registry = MongoTenantRegistry(creator[database][TENANTS_COLLECTION])
            await registry.create(TENANT, token=TOKEN)
        finally:
            await creator.close()
    settings = Settings(
        mongodb_uri=mongodb_uri,
        mongodb_database=database,
        tenants=() if stored_tenant else (TenantSeed(TENANT, TOKEN),),
        tenant_cache_seconds=tenant_cache_seconds,
    )
    app = create_app(settings, command_listeners=[counter])
    # The service checked at construction that its store records events (MongoStore does);
    # the flag is read per write.
    app.state.service.record_events = events
    client = ASGIClient(
        app,
        BASE_URL,
        headers=[
            (name.lower().encode(), value.encode()) for name, value in _entra.headers(TOKEN).items()
        ],
    )
    driver = _Driver(client, counter)
    try:
        async with app.router.lifespan_context(app):
            await driver.cycle("warm-up", counted=False)
            await driver.cycle("counted", counted=True)
            if events:
                await app.state.store.close()
    finally:
        cleaner: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongodb_uri)
        try:
            await cleaner.drop_database(database)
        finally:
            await cleaner.close()
    return {name: driver.counts[name] for name in OPERATIONS}


def table(counts: dict[str, Count]) -> str:
    """The Markdown table: each operation's count beside issue 16's and the target."""
    lines = [
        "| operation | round trips on the request path | before (issue 16) | target "
        "| background, after the response | commands (sent by, innermost first) |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for name, result in counts.items():
        sent = "<br>".join(command.describe() for command in result.commands)
        before = BEFORE.get(name)
        lines.append(
            f"| {name} | {result.request_path} | {'—' if before is None else before} "
            f"| {TARGET.get(name, '—')} | {result.background} | {sent} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--mongodb-uri", help="a MongoDB to use instead of the stand-in")
    parser.add_argument("--out", type=Path, help="also write the commands as JSON here")
    parser.add_argument(
        "--events", action="store_true", help="with provisioning events recorded on every write"
    )
    parser.add_argument(
        "--stored-tenant",
        action="store_true",
        help="serve a tenant kept in MongoDB (made in the console) instead of a --tenant one",
    )
    parser.add_argument(
        "--tenant-cache-seconds",
        type=int,
        default=0,
        metavar="N",
        help="with --stored-tenant: the app keeps the tenant N seconds (the serve option)",
    )
    args = parser.parse_args(argv)
    if args.tenant_cache_seconds and not args.stored_tenant:
        parser.error("--tenant-cache-seconds keeps a stored tenant: add --stored-tenant")
    database = f"scimkit_round_trips_{uuid.uuid4().hex[:12]}"
    options = {
        "events": args.events,
        "stored_tenant": args.stored_tenant,
        "tenant_cache_seconds": args.tenant_cache_seconds,
    }
    if args.mongodb_uri:
        counts = asyncio.run(count(args.mongodb_uri, database, **options))
    else:
        with MongoServer() as server:
            counts = asyncio.run(count(server.uri, database, **options))
    print(table(counts))
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        report = {
            name: {
                "request_path": result.request_path,
                "background": result.background,
                "before": BEFORE.get(name),
                "target": TARGET.get(name),
                "commands": [command.describe() for command in result.commands],
            }
            for name, result in counts.items()
        }
        args.out.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
