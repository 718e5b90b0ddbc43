"""The reference app: scimkit wired as a multi-tenant, Fortes Change Cloud-compatible service.

Tenant URL: ``{base}/scim/v2/{tenant}``. Resources live in MongoDB when a URI is configured (one
database; tenants kept apart by the store's tenant scope), else in the embedded memory store.
``GET /healthz`` tells a load balancer whether the app is up and its database answers;
``GET /readyz`` also asks that the store's indexes exist (send traffic only then).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from reference_app.access_log import AccessLog, RequestObserver, log_request
from reference_app.admin import build_console
from reference_app.logs import install_log_handler
from reference_app.schemas import RESOURCE_TYPES
from reference_app.settings import Settings, SettingsError, load_settings
from reference_app.tenant_cache import CachedTenantRegistry
from reference_app.tenants import (
    MemoryTenantRegistry,
    MongoTenantRegistry,
    Policy,
    TenantDirectory,
    TenantRegistry,
)
from scimkit import (
    CursorCodec,
    EventFeed,
    MemoryStore,
    ResourceService,
    ResourceStore,
    ServiceConfig,
    ServiceUnavailable,
)
from scimkit.web import WebOptions, create_scim_app

if TYPE_CHECKING:
    from pymongo import AsyncMongoClient
    from pymongo.asynchronous.database import AsyncDatabase
    from pymongo.monitoring import CommandListener

    from reference_app.events import EventDelivery
    from reference_app.metrics import Metrics, MetricsServer
    from scimkit.mongo import MongoStore

__all__ = [
    "APP_FACTORY_PATH",
    "HEALTH_TIMEOUT",
    "TENANTS_COLLECTION",
    "app_from_environment",
    "configure_logging",
    "create_app",
    "events_feed",
    "mongo_client",
    "mongo_database",
]

logger = logging.getLogger("reference_app")

APP_FACTORY_PATH = "reference_app.app:app_from_environment()"
"""What hypercorn's multi-process runner loads in each worker (it evaluates the call)."""

TENANTS_COLLECTION = "tenants"
HEALTH_TIMEOUT = 2.0
"""Seconds ``/healthz`` waits for the database before answering 503."""

_MEMORY_WARNING = (
    "No MongoDB URI configured: using the embedded memory store. Data is NOT persisted; "
    "everything is lost when the process stops. Set --mongodb-uri / SCIMKIT_MONGODB_URI "
    "to keep it."
)


def mongo_client(
    settings: Settings, *, command_listeners: Sequence[CommandListener] = ()
) -> AsyncMongoClient[dict[str, Any]]:
    """An unconnected client for ``settings.mongodb_uri`` (it connects on first use).

    ``command_listeners`` see every command the client sends (``benchmarks/round_trips.py``
    counts the round trips of each SCIM operation with one).
    """
    from pymongo import AsyncMongoClient

    if settings.mongodb_uri is None:
        raise ValueError("no MongoDB URI configured")
    # tz_aware: scimkit keeps dateTime values as aware UTC datetimes. Server selection gives up
    # after 5 s, not the driver's 30 s (Entra counts a slow answer as a failure), unless the URI
    # says otherwise (a keyword would override the URI); each store call is bounded as a whole
    # by MongoStore's operation_timeout (5 s) besides.
    options: dict[str, Any] = {}
    if "serverselectiontimeoutms" not in settings.mongodb_uri.lower():
        options["serverSelectionTimeoutMS"] = 5000
    if command_listeners:
        options["event_listeners"] = list(command_listeners)
    return AsyncMongoClient(
        settings.mongodb_uri, tz_aware=True, appname="scimkit-reference-app", **options
    )


@asynccontextmanager
async def mongo_database(settings: Settings) -> AsyncIterator[AsyncDatabase[dict[str, Any]]]:
    """The configured database, with a client closed on exit (for the command line)."""
    client = mongo_client(settings)
    try:
        yield client[settings.mongodb_database]
    finally:
        await client.close()


def events_feed(settings: Settings, store: ResourceStore) -> EventFeed | None:
    """The feed events are recorded into, or ``None`` when events are off or not possible.

    A store records events when it offers a feed (``store.feed``); settings that need events
    (events tokens, push receivers) are refused for a store that does not.
    """
    feed: EventFeed | None = getattr(store, "feed", None) if settings.events else None
    if feed is None and settings.events_wanted:
        raise SettingsError(
            "events tokens and push receivers need a store that records events; "
            f"{type(store).__name__} does not (yet), see docs/events.md"
        )
    if settings.events_wanted and settings.uses_mongodb and settings.events_key is None:
        raise SettingsError(
            "events on MongoDB need --events-key PATH (SCIMKIT_EVENTS_KEY): one signing key "
            "file shared by every process, made there when absent"
        )
    return feed


async def mongo_records_events(settings: Settings) -> None:
    """Raise :class:`SettingsError` if the MongoDB store cannot serve ``settings``' events."""
    from scimkit.mongo import MongoStore

    client = mongo_client(settings)
    try:
        events_feed(settings, MongoStore(client[settings.mongodb_database], RESOURCE_TYPES))
    finally:
        await client.close()


@dataclass(slots=True)
class _Runtime:
    """What the lifespan opens and ``/healthz`` looks at."""

    store: ResourceStore
    client: AsyncMongoClient[dict[str, Any]] | None
    mongo_store: MongoStore | None
    metrics: Metrics | None = None
    metrics_server: MetricsServer | None = None
    events: EventDelivery | None = None
    ready: bool = False


def create_app(
    settings: Settings, *, command_listeners: Sequence[CommandListener] = ()
) -> Starlette:
    """The ASGI app for ``settings``; its lifespan opens and closes the database.

    ``command_listeners`` go to the MongoDB client (see :func:`mongo_client`).

    ``app.state`` holds ``tenants`` (the :class:`TenantDirectory`), ``service`` and ``store``.
    """
    process_tenants = MemoryTenantRegistry()
    for seed in settings.tenants:
        process_tenants.add(seed.name, seed.token, Policy.STRICT if seed.strict else Policy.ENTRA)
    registries: list[TenantRegistry] = [process_tenants]

    client: AsyncMongoClient[dict[str, Any]] | None = None
    database: AsyncDatabase[dict[str, Any]] | None = None
    mongo_store: MongoStore | None = None
    store: ResourceStore
    if settings.mongodb_uri is not None:
        from scimkit.mongo import MongoStore

        client = mongo_client(settings, command_listeners=command_listeners)
        database = client[settings.mongodb_database]
        # Indexes are made in the lifespan, before the first request; if the database is down
        # then, the store makes them on first use once it answers again.
        store = mongo_store = MongoStore(database, RESOURCE_TYPES)
        stored: TenantRegistry = MongoTenantRegistry(database[TENANTS_COLLECTION])
        if settings.tenant_cache_seconds:
            stored = CachedTenantRegistry(stored, settings.tenant_cache_seconds)
        registries.append(stored)
    else:
        store = MemoryStore()
    feed = events_feed(settings, store)
    for events_token in settings.events_tokens:
        _require_process_tenant(process_tenants, events_token.tenant, "--events-token")
        process_tenants.add_events_token(events_token.tenant, events_token.token)
    for push in settings.events_push:
        _require_process_tenant(process_tenants, push.tenant, "--events-push")
        process_tenants.set_push(push.tenant, push.url)
    tenants = TenantDirectory(registries)
    observers: list[RequestObserver] = [log_request]
    metrics: Metrics | None = None
    served_store: ResourceStore = store
    if settings.metrics_port is not None:
        from reference_app.metrics import InstrumentedStore, Metrics

        metrics = Metrics(
            endpoints=[resource_type.endpoint for resource_type in RESOURCE_TYPES],
            tenant_labels=settings.metrics_tenant_labels,
        )
        observers.append(metrics.observe)
        served_store = InstrumentedStore(store, metrics)

    # Passwords are stored only as salted scrypt hashes, so a client may change one: generic
    # clients (scim2-tester, Okta's password sync) PUT/PATCH it, and refusing would fail them.
    config = ServiceConfig(change_password=True)
    codec = None
    if settings.cursor_secret is not None:
        # Shared by every worker, so a cursor from one verifies in another.
        codec = CursorCodec(
            secret=settings.cursor_secret.encode("utf-8"),
            ttl=timedelta(seconds=config.cursor_ttl),
        )
    service = ResourceService(
        served_store,
        RESOURCE_TYPES,
        config=config,
        tolerance_for=tenants.tolerance,
        cursor_codec=codec,
        record_events=feed is not None,
    )
    runtime = _Runtime(store, client, mongo_store, metrics)
    console = build_console(settings, tenants, service, database)
    if metrics is not None and console.recorder is not None:
        metrics.watch_request_log(console.recorder)
    extra_routes: list[BaseRoute] = []
    if feed is not None and (not settings.uses_mongodb or settings.events_key is not None):
        from reference_app.events import build_events

        runtime.events = build_events(settings, tenants, feed, console.token_use, metrics)
        console.attach_events(runtime.events)
        extra_routes = runtime.events.routes
    elif feed is not None:
        logger.warning(
            "Events are recorded but not delivered: set --events-key to serve /Events and push."
        )

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            if runtime.client is not None and runtime.mongo_store is not None:
                logger.info("Storing data in MongoDB database %r.", settings.mongodb_database)
                try:
                    await runtime.mongo_store.ensure_indexes()
                    await console.ensure_indexes()
                except ServiceUnavailable:
                    # Serve anyway: requests answer 503 and /healthz is unhealthy until the
                    # database answers; then the store creates its indexes on first use.
                    logger.error(
                        "MongoDB does not answer; serving 503 until it does (/healthz is 503)."
                    )
            else:
                logger.warning(_MEMORY_WARNING)
            if runtime.metrics is not None and settings.metrics_port is not None:
                from reference_app.metrics import MetricsServer

                runtime.metrics_server = MetricsServer(
                    runtime.metrics, settings.host, settings.metrics_port
                )
                app.state.metrics_server = runtime.metrics_server
                logger.info(
                    "Serving metrics at http://%s:%d/metrics.",
                    settings.host,
                    runtime.metrics_server.port,
                )
            runtime.ready = True
            async with contextlib.AsyncExitStack() as stack:
                await stack.enter_async_context(console.running())
                if runtime.events is not None:
                    await stack.enter_async_context(runtime.events.pushes.running())
                yield
        finally:
            runtime.ready = False
            if runtime.metrics_server is not None:
                runtime.metrics_server.close()
            if runtime.mongo_store is not None:
                # Stops the outbox drainer before its client goes: what it has not moved
                # yet stays in the written documents for the next process to drain.
                await runtime.mongo_store.close()
            if runtime.client is not None:
                await runtime.client.close()

    async def healthz(request: Request) -> JSONResponse:
        healthy = runtime.ready and await _answers(runtime.store)
        return JSONResponse(
            {"status": "ok" if healthy else "unavailable"},
            status_code=200 if healthy else 503,
            headers={"Cache-Control": "no-store"},
        )

    async def readyz(request: Request) -> JSONResponse:
        reason = await _unready_reason(runtime)
        return JSONResponse(
            {"status": "ready"} if reason is None else {"status": "unavailable", "reason": reason},
            status_code=200 if reason is None else 503,
            headers={"Cache-Control": "no-store"},
        )

    options = WebOptions(
        authenticate=console.authenticate,
        base_path="/scim/v2/{tenant}",
        public_url=settings.public_url,
    )
    app = create_scim_app(
        service,
        options,
        # Every route after the SCIM routes, none of whose paths they can match: tried first,
        # each cost every SCIM request about 5,000 instructions (python -m
        # benchmarks.instructions), and SCIM requests are nearly all the app answers.
        routes_after_scim=[
            Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
            console.mount,
            *extra_routes,
        ],
        lifespan=lifespan,
    )
    # Outermost of the app's middleware: it sees every request and the final status. It also
    # hands each SCIM request to the request log (the log has no middleware of its own).
    keep = console.recorder.submit if console.recorder is not None else None
    app.add_middleware(AccessLog, observers=observers, tenant_prefix="/scim/v2/", keep=keep)
    app.state.metrics = metrics
    app.state.tenants = tenants
    app.state.service = service
    app.state.store = store
    app.state.events = runtime.events
    console.install(app)
    return app


def _require_process_tenant(registry: MemoryTenantRegistry, name: str, option: str) -> None:
    if not registry.has(name):
        raise SettingsError(
            f"{option} names tenant {name!r}, which is not a process tenant (--tenant, or the "
            "embedded default); for tenants stored in MongoDB use `reference-app tenant "
            "events-token` / `events-push`"
        )


def configure_logging(settings: Settings) -> None:
    """One log format for the app, scimkit and hypercorn, on stderr (once per process)."""
    install_log_handler(settings.log_level, settings.log_format)


def app_from_environment() -> Starlette:
    """``create_app`` with settings from the environment (each hypercorn worker calls this)."""
    settings = load_settings()
    configure_logging(settings)  # a spawned worker starts with logging unconfigured
    return create_app(settings)


async def _unready_reason(runtime: _Runtime) -> str | None:
    """Why the app should get no traffic yet (``None``: ready): starting, database, indexes."""
    if not runtime.ready:
        return "starting"
    if not await _answers(runtime.store):
        return "database"
    if runtime.mongo_store is not None:
        try:
            missing = await asyncio.wait_for(runtime.mongo_store.missing_indexes(), HEALTH_TIMEOUT)
        except Exception:  # any failure to answer in time is "unavailable"
            return "database"
        if missing:
            return "indexes"
    return None


async def _answers(store: ResourceStore) -> bool:
    try:
        return await asyncio.wait_for(store.ping(), HEALTH_TIMEOUT)
    except Exception:  # any failure to answer in time is "unavailable"
        return False
