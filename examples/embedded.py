"""Way (a): scimkit runs inside the application; an in-process subscriber keeps the table in step.

The SCIM service records every write's events in its store's feed
(``ResourceService(record_events=True)``). A :class:`scimkit.Subscription` hands them to
:meth:`EmbeddedSync.handle` one at a time, in order, outside any SCIM request, and retries a
handler that fails. Delivery is at least once; the handler makes it effectively once by
storing the feed position in the application's database *in the same transaction* as the row
change, and skipping any event at or below it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from examples.accounts import Account, Accounts, account_of, user_after
from scimkit import (
    Checkpoint,
    Event,
    EventFeed,
    EventForm,
    EventType,
    NotFound,
    QueryParams,
    ResourceService,
    ResourceType,
    Subscription,
)

__all__ = ["EmbeddedSync", "scim_accounts"]


class EmbeddedSync:
    """Keeps ``accounts`` equal to the Users of one tenant of ``service``.

    ``form`` is how the handler looks at each event: ``full`` (the data in the event) or
    ``notice`` (only which attributes changed, so the handler reads the User).
    """

    def __init__(
        self,
        service: ResourceService,
        tenant: str,
        users: ResourceType,
        accounts: Accounts,
        *,
        receiver: str = "accounts",
        form: EventForm = EventForm.FULL,
        feed: EventFeed | None = None,
    ) -> None:
        self.service = service
        self.tenant = tenant
        self.users = users
        self.accounts = accounts
        self.receiver = receiver
        self.form = form
        self.feed = feed if feed is not None else service.store.feed  # type: ignore[attr-defined]
        self.subscription = Subscription(
            self.feed, tenant, receiver, self.handle, backoff=0.05, max_backoff=2.0
        )

    async def start(self) -> None:
        """Resume from the position the application's database holds, then run in the background.

        The feed keeps a checkpoint for the subscriber too, but the database is the one that
        commits with the changes: if the two differ (the process stopped between the commit
        and the feed's save), the database wins.
        """
        position = self.accounts.position(self.receiver)
        stored = await self.feed.checkpoint(self.tenant, self.receiver)
        if stored.position < position:
            await self.feed.save_checkpoint(
                self.tenant, self.receiver, Checkpoint(position), expected=stored.revision
            )
        self.subscription.start()

    async def stop(self) -> None:
        await self.subscription.stop()

    async def caught_up(self, timeout: float = 10.0) -> None:
        """Wait until every event recorded so far is applied (for tests and shutdowns)."""
        async with asyncio.timeout(timeout):
            while self.accounts.position(self.receiver) < (await self.feed.stats(self.tenant)).last:
                await asyncio.sleep(0.005)

    async def handle(self, event: Event) -> None:
        """Apply one event; called again for the same event after a failure or a restart."""
        if event.position <= self.accounts.position(self.receiver):
            return  # applied before the restart: at-least-once delivery, effectively once
        is_user = event.resource_type == self.users.name
        user: Mapping[str, Any] | None = None
        if is_user and event.type is not EventType.DELETE:
            before = self.accounts.resource(event.id)
            user = user_after(event.type.value, event.payload(self.form), before, self.users)
            if user is None:
                user = await self._read(event.id)
        with self.accounts.transaction():
            if is_user and event.type is EventType.DELETE:
                self.accounts.remove(event.id)
            elif user is not None:
                self.accounts.apply(user)
            self.accounts.set_position(self.receiver, event.position)

    async def _read(self, id: str) -> Mapping[str, Any] | None:
        """The User as it is now; ``None`` if deleted since (its delete event follows)."""
        try:
            return await self.service.get(self.tenant, self.users, id)
        except NotFound:
            return None


async def scim_accounts(
    service: ResourceService, tenant: str, users: ResourceType, *, page: int = 1000
) -> dict[str, Account]:
    """What the table should hold: every User of the tenant as a row (a full reconciliation).

    An application runs this when it has missed events (its position fell behind the feed's
    retention); the tests compare the table with it.
    """
    rows: dict[str, Account] = {}
    start = 1
    while True:
        result = await service.query(tenant, users, QueryParams(start_index=start, count=page))
        rows.update((user["id"], account_of(user)) for user in result.resources)
        start += len(result.resources)
        if not result.resources or start > result.total_results:
            return rows
