"""The tenant admin console and what it needs wired into the app (:func:`build_console`)."""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from reference_app.activity import ActivityRecorder
from reference_app.admin.accounts import (
    AdminDirectory,
    AdminRegistry,
    MemoryAdminRegistry,
    MongoAdminRegistry,
)
from reference_app.admin.console import AdminConsole, AdminMount, create_admin_app
from reference_app.redaction import Redactor
from reference_app.request_log import (
    REQUESTS_COLLECTION,
    MemoryRequestLog,
    MongoRequestLog,
    RequestLog,
)
from reference_app.schemas import RESOURCE_TYPES
from reference_app.settings import Settings
from reference_app.tenants import TenantDirectory
from reference_app.token_use import TokenUseRecorder, tracking_auth
from scimkit import ResourceService
from scimkit.web import Authenticate

if TYPE_CHECKING:
    from pymongo.asynchronous.database import AsyncDatabase
    from starlette.applications import Starlette

    from reference_app.events import EventDelivery

__all__ = ["ConsoleParts", "build_console"]


@dataclass(slots=True)
class ConsoleParts:
    """The console's pieces, for ``create_app`` to wire: a route, a hook, background tasks."""

    admins: AdminDirectory
    memory_admins: MemoryAdminRegistry
    request_log: RequestLog | None
    recorder: ActivityRecorder | None
    token_use: TokenUseRecorder
    authenticate: Authenticate
    mount: AdminMount
    console: AdminConsole
    mongo: tuple[MongoAdminRegistry, MongoRequestLog | None] | None = None

    def attach_events(self, events: EventDelivery) -> None:
        """Show the tenants' event delivery (Events page, a user's events)."""
        self.console.events = events

    def install(self, app: Starlette) -> None:
        """Expose the console's parts on ``app.state`` (the access log feeds the recorder)."""
        app.state.admins = self.admins
        app.state.request_log = self.request_log
        app.state.activity = self.recorder
        app.state.token_use = self.token_use

    async def ensure_indexes(self) -> None:
        if self.mongo is not None:
            await self.mongo[0].ensure_indexes()
            if self.mongo[1] is not None:
                await self.mongo[1].ensure_indexes()

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        async with contextlib.AsyncExitStack() as stack:
            await stack.enter_async_context(self.token_use.running())
            if self.recorder is not None:
                await stack.enter_async_context(self.recorder.running())
            yield


def build_console(
    settings: Settings,
    tenants: TenantDirectory,
    service: ResourceService,
    database: AsyncDatabase[dict[str, Any]] | None,
) -> ConsoleParts:
    memory_admins = MemoryAdminRegistry()
    for seed in settings.admins:
        memory_admins.add(seed.tenant, seed.email, seed.password)
    registries: list[AdminRegistry] = [memory_admins]
    request_log: RequestLog | None = None
    mongo = None
    if database is not None:
        mongo_admins = MongoAdminRegistry(database)
        registries.append(mongo_admins)
        mongo_log = MongoRequestLog(database[REQUESTS_COLLECTION]) if settings.request_log else None
        request_log = mongo_log
        mongo = (mongo_admins, mongo_log)
    elif settings.request_log:
        request_log = MemoryRequestLog()
    admins = AdminDirectory(registries)
    redactor = Redactor(RESOURCE_TYPES)

    async def tenant_exists(name: str) -> bool:
        return await tenants.get(name) is not None

    recorder = (
        ActivityRecorder(request_log, redactor, tenant_exists) if request_log is not None else None
    )
    token_use = TokenUseRecorder(tenants)
    console = AdminConsole(tenants, admins, service, request_log, redactor, settings.public_url)
    secure = settings.certfile is not None or (settings.public_url or "").startswith("https:")
    # Without a configured secret, sessions last as long as the process (one worker).
    secret = settings.session_secret or secrets.token_urlsafe(32)
    admin_app = create_admin_app(console, session_secret=secret, secure=secure)
    return ConsoleParts(
        admins,
        memory_admins,
        request_log,
        recorder,
        token_use,
        tracking_auth(tenants, token_use),
        AdminMount(admin_app),
        console,
        mongo,
    )
