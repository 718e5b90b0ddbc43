"""A small SCIM app for the events benchmarks: scimkit's own app on a MemoryStore, events on or off.

``create_scim_app`` with one Entra-tolerant tenant (the reference app's resource types), a
bearer token, ``/healthz``, and, with ``--events on``, ``ResourceService(record_events=True)``
plus the RFC 8936 poll endpoint and the JWKS. Served exactly as ``benchmarks/ceiling_app.py``
is (the reference app's server settings), so the two differ only in the app.
``python -m benchmarks.events_app --events on --port 8002 --token T [--server hypercorn]``.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

if __package__ in (None, ""):  # run as a file: make `benchmarks` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._service import TENANT, resource_types
from scimkit import ENTRA, EventType, MemoryFeed, MemoryStore, ResourceService, parse_patch
from scimkit.web import BearerTokenAuth, WebOptions, create_scim_app

__all__ = ["EVENTS_TOKEN", "build_app", "main"]

TOKEN_VARIABLE = "SCIMKIT_EVENTS_APP_TOKEN"
EVENTS_VARIABLE = "SCIMKIT_EVENTS_APP_EVENTS"
FEED_VARIABLE = "SCIMKIT_EVENTS_APP_FEED_MAX_EVENTS"
PREFILL_VARIABLE = "SCIMKIT_EVENTS_APP_FEED_PREFILL"
FACTORY_PATH = "benchmarks.events_app:app_from_environment"
EVENTS_TOKEN = "bench-events"
"""The events token of the poll endpoint (the benchmarks' receiver)."""


async def _healthz(request: Request) -> Response:
    return Response(b'{"status":"ok"}', 200, media_type="application/json")


def build_app(
    token: str, *, events: bool, feed_max_events: int = 100_000, feed_prefill: int = 0
) -> Starlette:
    """The app: SCIM for tenant ``bench`` with ``token``; events recorded and served if asked.

    ``feed_max_events`` is the feed's retention (``MemoryFeed(max_events=...)``);
    ``feed_prefill`` events are put in the tenant's feed first, so a short run measures writes
    against a feed as full as a long-running server's.
    """
    store = MemoryStore(feed=MemoryFeed(max_events=feed_max_events))
    if events and feed_prefill > 0:
        _prefill(store.feed, feed_prefill)
    service = ResourceService(store, resource_types(), tolerance=ENTRA, record_events=events)
    routes: list[BaseRoute] = [Route("/healthz", _healthz, methods=["GET"])]
    late: list[BaseRoute] = []  # tried after the SCIM routes, as the reference app does
    if events:
        from scimkit.events import EventPoller, EventSigner
        from scimkit.web import event_routes, jwks_route

        signer = EventSigner.generate()
        poller = EventPoller(
            service.store.feed,  # type: ignore[attr-defined]
            signer,
            issuer=lambda tenant: f"http://127.0.0.1/scim/v2/{tenant}",
        )
        events_auth = BearerTokenAuth.from_tokens({TENANT: [EVENTS_TOKEN]})
        late += [*event_routes(poller, authenticate=events_auth), jwks_route(signer)]
    options = WebOptions(authenticate=BearerTokenAuth.from_tokens({TENANT: [token]}))
    app = create_scim_app(service, options, routes=routes, routes_after_scim=late)
    app.state.service = service  # for benchmarks that fill the store without HTTP
    return app


def _prefill(feed: MemoryFeed, count: int) -> None:
    """``count`` events as the store records them: Entra's default PATCH of one User.

    Recorded through ``MemoryFeed.record`` (what the store calls), so the kept events have the
    form and size of the run's own; ``append`` would keep given jtis in an index instead.
    """
    from datetime import UTC, datetime

    from benchmarks import _entra
    from scimkit._event import WriteRecord

    user_type = next(rt for rt in resource_types() if rt.name == "User")
    before: dict[str, Any] = {
        "schemas": [user_type.schema.id],
        "id": "0" * 32,
        "userName": "prefill@contoso.example",
        "name": {"givenName": "Pre", "familyName": "Fill", "formatted": "Pre Fill"},
        "emails": [{"type": "work", "value": "prefill@contoso.example", "primary": True}],
        "meta": {"resourceType": "User", "version": 'W/"1"'},
    }
    after = {
        **before,
        "name": {**before["name"], "familyName": "Filled"},
        "emails": [{**before["emails"][0], "value": "filled@contoso.example"}],
        "meta": {"resourceType": "User", "version": 'W/"2"'},
    }
    body = _entra.replace_email_and_family("filled@contoso.example", "Filled")
    operations = parse_patch(body, ENTRA)
    now = datetime.now(UTC)
    for _ in range(count):
        write = WriteRecord(EventType.PATCH, now, operations=operations)
        keys = frozenset({"emails", "name"})
        drafts = write.drafts(user_type, "0" * 32, before=before, after=after, keys=keys)
        feed.record(TENANT, write, user_type, drafts[:1])


def app_from_environment() -> Starlette:
    """The app in a server's worker process (token and switch come from the parent)."""
    return build_app(
        os.environ[TOKEN_VARIABLE],
        events=os.environ[EVENTS_VARIABLE] == "on",
        feed_max_events=int(os.environ[FEED_VARIABLE]),
        feed_prefill=int(os.environ.get(PREFILL_VARIABLE, "0")),
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.events_app",
        description="scimkit's SCIM app on a MemoryStore with provisioning events on or off.",
    )
    parser.add_argument("--events", choices=("on", "off"), required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8002)
    parser.add_argument("--token", default="bench", help="the SCIM bearer token")
    parser.add_argument("--server", default="hypercorn", help="hypercorn, granian or uvicorn")
    parser.add_argument(
        "--feed-max-events", type=int, default=100_000, help="the feed's retention (events)"
    )
    parser.add_argument(
        "--feed-prefill", type=int, default=0, help="events put in the feed at start-up"
    )
    args = parser.parse_args(argv)
    from reference_app.servers import serve as serve_on
    from reference_app.settings import load_settings

    settings = load_settings(
        {"host": args.host, "port": args.port, "log_level": "warning", "server": args.server},
        environ={},
    )
    logging.basicConfig(level=logging.WARNING)
    os.environ[TOKEN_VARIABLE] = args.token
    os.environ[EVENTS_VARIABLE] = args.events
    os.environ[FEED_VARIABLE] = str(args.feed_max_events)
    os.environ[PREFILL_VARIABLE] = str(args.feed_prefill)
    on, size, prefill = args.events == "on", args.feed_max_events, args.feed_prefill
    return serve_on(
        settings,
        lambda: build_app(args.token, events=on, feed_max_events=size, feed_prefill=prefill),
        FACTORY_PATH,
    )


if __name__ == "__main__":
    sys.exit(main())
