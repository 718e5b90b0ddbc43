"""The reference app: scimkit wired as a multi-tenant, Fortes Change Cloud-compatible service.

Tenant URL: ``{base}/scim/v2/{tenant}``. Resources live in MongoDB when a URI is configured (one
database; tenants kept apart by the store's tenant scope), else in the embedded memory store.
``GET /healthz`` tells a load balancer whether the app is up and its database answers.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from reference_app.schemas import RESOURCE_TYPES
from reference_app.settings import Settings, load_settings
from reference_app.tenants import (
    MemoryTenantRegistry,
    MongoTenantRegistry,
    Policy,
    TenantDirectory,
    TenantRegistry,
)
from scimkit import (
    CursorCodec,
    MemoryStore,
    ResourceService,
    ResourceStore,
    ServiceConfig,
    ServiceUnavailable,
)
from scimkit.web import BearerTokenAuth, WebOptions, create_scim_app

if TYPE_CHECKING:
    from pymongo import AsyncMongoClient
    from pymongo.asynchronous.database import AsyncDatabase

    from scimkit.mongo import MongoStore

__all__ = [
    "APP_FACTORY_PATH",
    "HEALTH_TIMEOUT",
    "TENANTS_COLLECTION",
    "app_from_environment",
    "configure_logging",
    "create_app",
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


def mongo_client(settings: Settings) -> AsyncMongoClient[dict[str, Any]]:
    """An unconnected client for ``settings.mongodb_uri`` (it connects on first use)."""
    from pymongo import AsyncMongoClient

    if settings.mongodb_uri is None:
        raise ValueError("no MongoDB URI configured")
    # tz_aware: scimkit keeps dateTime values as aware UTC datetimes.
    return AsyncMongoClient(settings.mongodb_uri, tz_aware=True, appname="scimkit-reference-app")


@asynccontextmanager
async def mongo_database(settings: Settings) -> AsyncIterator[AsyncDatabase[dict[str, Any]]]:
    """The configured database, with a client closed on exit (for the command line)."""
    client = mongo_client(settings)
    try:
        yield client[settings.mongodb_database]
    finally:
        await client.close()


@dataclass(slots=True)
class _Runtime:
    """What the lifespan opens and ``/healthz`` looks at."""

    store: ResourceStore
    client: AsyncMongoClient[dict[str, Any]] | None
    mongo_store: MongoStore | None
    ready: bool = False


def create_app(settings: Settings) -> Starlette:
    """The ASGI app for ``settings``; its lifespan opens and closes the database.

    ``app.state`` holds ``tenants`` (the :class:`TenantDirectory`), ``service`` and ``store``.
    """
    process_tenants = MemoryTenantRegistry()
    for seed in settings.tenants:
        process_tenants.add(seed.name, seed.token, Policy.STRICT if seed.strict else Policy.ENTRA)
    registries: list[TenantRegistry] = [process_tenants]

    client: AsyncMongoClient[dict[str, Any]] | None = None
    mongo_store: MongoStore | None = None
    store: ResourceStore
    if settings.mongodb_uri is not None:
        from scimkit.mongo import MongoStore

        client = mongo_client(settings)
        database = client[settings.mongodb_database]
        # Indexes are made in the lifespan, before the first request; if the database is down
        # then, the store makes them on first use once it answers again.
        store = mongo_store = MongoStore(database, RESOURCE_TYPES)
        registries.append(MongoTenantRegistry(database[TENANTS_COLLECTION]))
    else:
        store = MemoryStore()
    tenants = TenantDirectory(registries)

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
        store,
        RESOURCE_TYPES,
        config=config,
        tolerance_for=tenants.tolerance,
        cursor_codec=codec,
    )
    runtime = _Runtime(store, client, mongo_store)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            if runtime.client is not None and runtime.mongo_store is not None:
                logger.info("Storing data in MongoDB database %r.", settings.mongodb_database)
                try:
                    await runtime.mongo_store.ensure_indexes()
                except ServiceUnavailable:
                    # Serve anyway: requests answer 503 and /healthz is unhealthy until the
                    # database answers; then the store creates its indexes on first use.
                    logger.error(
                        "MongoDB does not answer; serving 503 until it does (/healthz is 503)."
                    )
            else:
                logger.warning(_MEMORY_WARNING)
            runtime.ready = True
            yield
        finally:
            runtime.ready = False
            if runtime.client is not None:
                await runtime.client.close()

    async def healthz(request: Request) -> JSONResponse:
        healthy = runtime.ready and await _answers(runtime.store)
        return JSONResponse(
            {"status": "ok" if healthy else "unavailable"},
            status_code=200 if healthy else 503,
            headers={"Cache-Control": "no-store"},
        )

    options = WebOptions(
        authenticate=BearerTokenAuth(tenants.digests),
        base_path="/scim/v2/{tenant}",
        public_url=settings.public_url,
    )
    app = create_scim_app(
        service,
        options,
        routes=[Route("/healthz", healthz, methods=["GET"])],
        lifespan=lifespan,
    )
    app.state.tenants = tenants
    app.state.service = service
    app.state.store = store
    return app


def configure_logging(settings: Settings) -> None:
    """One log format for the app, scimkit and hypercorn, on stderr (once per process)."""
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s",
    )


def app_from_environment() -> Starlette:
    """``create_app`` with settings from the environment (each hypercorn worker calls this)."""
    settings = load_settings()
    configure_logging(settings)  # a spawned worker starts with logging unconfigured
    return create_app(settings)


async def _answers(store: ResourceStore) -> bool:
    try:
        return await asyncio.wait_for(store.ping(), HEALTH_TIMEOUT)
    except Exception:  # any failure to answer in time is "unavailable"
        return False
