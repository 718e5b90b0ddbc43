"""Provisioning events wired into the app: signing key, ``/Events`` poll, per-tenant push.

The store records the events with each write (``ResourceService(record_events=True)``) when
it offers a feed (``store.feed``, see ``docs/events.md``). This module delivers them:

- ``POST {Tenant URL}/Events`` (RFC 8936), authenticated by the tenant's *events* tokens only;
  every events token of a tenant polls as the one receiver ``poll``, so a rotation keeps the
  receiver's checkpoint;
- ``GET /.well-known/jwks.json``: the public key the SETs verify with;
- one :class:`~scimkit.events.PushDelivery` (RFC 8935) per tenant with a push receiver URL,
  started with the app and stopped cleanly on shutdown. Push URLs are read from the tenants
  again every :data:`RECONCILE_INTERVAL` seconds (a ``tenant events-push`` in another process)
  and at once when the console changes one.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from starlette.routing import BaseRoute

from reference_app.settings import Settings, SettingsError
from reference_app.tenants import TenantDirectory, TokenKind
from reference_app.token_use import TokenUseRecorder, tracking_auth
from scimkit import Checkpoint, Event, EventFeed
from scimkit.events import EventPoller, EventSigner, PushDelivery
from scimkit.web import event_routes, jwks_route

if TYPE_CHECKING:
    from reference_app.metrics import Metrics
    from scimkit import SubscriptionStatus

__all__ = [
    "POLL_RECEIVER",
    "RECONCILE_INTERVAL",
    "EventDelivery",
    "PushReceivers",
    "build_events",
    "poll_backlog",
    "signer_for",
]

logger = logging.getLogger(__name__)

POLL_RECEIVER = "poll"
"""The checkpoint name of a tenant's poll receiver (whichever events token it polls with)."""
RECONCILE_INTERVAL = 30.0
LONG_POLL = 25.0
"""Seconds a poll with ``returnImmediately: false`` waits for a first event (its
acknowledgements are applied before the wait, so a server stop cutting the wait loses none)."""


def signer_for(settings: Settings) -> EventSigner:
    """The deployment's signing key: ``--events-key`` (made there when absent), else a new one.

    A key made for the process only is fine for the embedded store (its events end with the
    process too); a MongoDB deployment must keep one key for all its processes.
    """
    if settings.events_key is None:
        return EventSigner.generate()
    try:
        return EventSigner.from_file(settings.events_key)
    except (OSError, ValueError) as exc:
        raise SettingsError(f"the events signing key {settings.events_key!r}: {exc}") from None


def poll_backlog(stats_last: int, checkpoint: Checkpoint) -> int:
    """Feed positions past a checkpoint that are not settled (what a receiver has to read)."""
    return max(0, stats_last - checkpoint.position - len(checkpoint.settled))


class PushReceivers:
    """One :class:`PushDelivery` per tenant that has a push receiver URL."""

    def __init__(
        self,
        feed: EventFeed,
        signer: EventSigner,
        tenants: TenantDirectory,
        issuer: Callable[[str], str],
        metrics: Metrics | None = None,
        *,
        backoff: float = 0.5,
    ) -> None:
        self.feed = feed
        self.signer = signer
        self.tenants = tenants
        self.issuer = issuer
        self.metrics = metrics
        self.backoff = backoff
        self._deliveries: dict[str, PushDelivery] = {}
        self._started = False

    def delivery(self, tenant: str) -> PushDelivery | None:
        return self._deliveries.get(tenant)

    async def status(self, tenant: str) -> SubscriptionStatus | None:
        delivery = self._deliveries.get(tenant)
        return None if delivery is None else await delivery.status()

    async def sync(self, tenant: str | None = None) -> None:
        """Start, restart or stop deliveries to match the tenants' push URLs (or one's)."""
        if not self._started:
            return
        if tenant is None:
            wanted = {t.name: t.events_push for t in await self.tenants.list() if t.events_push}
            names = set(wanted) | set(self._deliveries)
        else:
            found = await self.tenants.get(tenant)
            wanted = {tenant: found.events_push} if found and found.events_push else {}
            names = {tenant}
        for name in sorted(names):
            await self._apply(name, wanted.get(name))

    async def _apply(self, tenant: str, url: str | None) -> None:
        current = self._deliveries.get(tenant)
        if current is not None and current.url == url:
            return
        if current is not None:
            del self._deliveries[tenant]
            await current.stop()
        if url is None:
            return
        delivery = PushDelivery(
            self.feed, self.signer, tenant, url, issuer=self.issuer(tenant), backoff=self.backoff
        )
        if self.metrics is not None:
            self.metrics.watch_push(delivery.subscription)
        self._deliveries[tenant] = delivery
        # In a fresh context: started from a console request, the task would otherwise carry
        # that request's id into every log line it writes.
        contextvars.Context().run(delivery.start)
        logger.info("Pushing the events of tenant %r to %s.", tenant, url)

    async def stop(self) -> None:
        self._started = False
        deliveries, self._deliveries = self._deliveries, {}
        for delivery in deliveries.values():
            await delivery.stop()

    @contextlib.asynccontextmanager
    async def running(self, interval: float = RECONCILE_INTERVAL) -> AsyncIterator[None]:
        self._started = True
        task = asyncio.create_task(self._loop(interval), name="push-receivers")
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            await self.stop()

    async def _loop(self, interval: float) -> None:
        while True:
            try:
                await self.sync()
                if self.metrics is not None:
                    await self.metrics.update_backlogs(self)
            except Exception:  # the database is down: the next round tries again
                logger.warning("Could not read the tenants' push receivers", exc_info=True)
            await asyncio.sleep(interval)


@dataclass(slots=True)
class EventDelivery:
    """What ``create_app`` wires: the feed, signer, poller, push receivers and the routes."""

    feed: EventFeed
    signer: EventSigner
    poller: EventPoller
    pushes: PushReceivers
    tenants: TenantDirectory
    routes: list[BaseRoute]

    async def poll_backlog(self, tenant: str) -> int:
        stats = await self.feed.stats(tenant)
        return poll_backlog(stats.last, await self.feed.checkpoint(tenant, POLL_RECEIVER))

    async def recent(
        self, tenant: str, uri: str, *, scan: int = 1000, limit: int = 20
    ) -> list[Event]:
        """The newest events (at most ``limit``) about ``uri`` among the last ``scan``."""
        stats = await self.feed.stats(tenant)
        events = await self.feed.read(tenant, after=max(0, stats.last - scan), limit=scan)
        return [event for event in reversed(events) if event.uri == uri][:limit]


def build_events(
    settings: Settings,
    tenants: TenantDirectory,
    feed: EventFeed,
    token_use: TokenUseRecorder,
    metrics: Metrics | None = None,
) -> EventDelivery:
    """The event delivery of an app whose store records events into ``feed``."""
    signer = signer_for(settings)

    def issuer(tenant: str) -> str:
        return settings.tenant_url(tenant)

    poller = EventPoller(
        feed,
        signer,
        issuer=issuer,
        audience=lambda tenant, receiver: f"{settings.tenant_url(tenant)}/Events",
        long_poll=LONG_POLL,
    )
    authenticate = tracking_auth(tenants, token_use, TokenKind.EVENTS, principal_name=POLL_RECEIVER)
    routes: list[BaseRoute] = [
        *event_routes(poller, authenticate=authenticate, base_path="/scim/v2/{tenant}"),
        jwks_route(signer),
    ]
    pushes = PushReceivers(feed, signer, tenants, issuer, metrics)
    return EventDelivery(feed, signer, poller, pushes, tenants, routes)
