"""A tenant registry that remembers what it looked up for a few seconds (off by default).

Every SCIM request authenticates against its tenant, and a tenant kept in MongoDB is read
for it: one ``find`` by ``_id`` before the request's own commands, a round trip on every
operation (``benchmarks/README.md``, "Database round trips"). :class:`CachedTenantRegistry`
answers :meth:`~CachedTenantRegistry.get` from memory for ``ttl`` seconds instead.

The price is written in ``docs/deployment.md`` ("Tenant cache"): a change made through
another process (a rotation, a revoked secondary, a new input policy) reaches this one only
when its entry expires, so a revoked token keeps working here for up to ``ttl`` seconds.
A change made through this registry is seen here at once: the entry is forgotten, and a
look-up that was already under way when the change was made is not kept. Names that are
not tenants are never kept, so a new tenant works everywhere at once; an unknown name then
costs a round trip where a known one costs none, which tells a tenant's existence by timing
(the decoy digests hide it only when every look-up reads the database).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TypeVar

from reference_app.tenants import Policy, Tenant, TenantRegistry, TokenKind

__all__ = ["CachedTenantRegistry"]

T = TypeVar("T")


class CachedTenantRegistry:
    """``registry`` with its :meth:`get` answers kept for ``ttl`` seconds (at most ``size``).

    Every other method is the registry's own; those that change a tenant forget it here.
    """

    def __init__(
        self,
        registry: TenantRegistry,
        ttl: float,
        *,
        size: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if ttl <= 0:
            raise ValueError("a tenant cache needs a positive time to live")
        if size < 1:
            raise ValueError("a tenant cache needs room for at least one tenant")
        self.registry = registry
        self.ttl = ttl
        self.size = size
        self._clock = clock
        self._kept: dict[str, tuple[float, Tenant]] = {}  # name: (expiry, tenant)
        # Bumped by every change made here: a look-up that began before one is not kept, as
        # it may have read the tenant before the change.
        self._changes = 0

    async def get(self, name: str) -> Tenant | None:
        kept = self._kept.get(name)
        now = self._clock()
        if kept is not None:
            if now < kept[0]:
                return kept[1]
            del self._kept[name]
        changes = self._changes
        tenant = await self.registry.get(name)
        if tenant is not None and changes == self._changes:
            if len(self._kept) >= self.size:
                # The oldest entry goes (dicts keep insertion order); a full cache never grows.
                del self._kept[next(iter(self._kept))]
            self._kept[name] = (now + self.ttl, tenant)
        return tenant

    def forget(self, name: str) -> None:
        """Drop what is kept of ``name``, and any look-up of it now under way."""
        self._changes += 1
        self._kept.pop(name, None)

    async def list(self) -> list[Tenant]:
        return await self.registry.list()

    async def create(
        self, name: str, *, token: str | None = None, policy: Policy = Policy.ENTRA
    ) -> str:
        return await self._forgetting(name, self.registry.create(name, token=token, policy=policy))

    async def rotate(self, name: str, kind: TokenKind = TokenKind.SCIM) -> str:
        return await self._forgetting(name, self.registry.rotate(name, kind))

    async def set_policy(self, name: str, policy: Policy) -> None:
        await self._forgetting(name, self.registry.set_policy(name, policy))

    async def revoke_secondary(self, name: str, kind: TokenKind = TokenKind.SCIM) -> bool:
        return await self._forgetting(name, self.registry.revoke_secondary(name, kind))

    async def record_use(
        self, name: str, digest: str, when: datetime, kind: TokenKind = TokenKind.SCIM
    ) -> None:
        # Not a change that authentication depends on: what is kept stays (the console's
        # "last used" dates may lag by up to ``ttl``, as they lag by the recorder's interval).
        await self.registry.record_use(name, digest, when, kind)

    async def set_events_push(self, name: str, url: str | None) -> None:
        await self._forgetting(name, self.registry.set_events_push(name, url))

    async def _forgetting(self, name: str, change: Awaitable[T]) -> T:
        """Make ``change`` to ``name``, then forget it (failed or not: it may have been made)."""
        try:
            return await change
        finally:
            self.forget(name)
