"""When each tenant token was last used, noted at most once a minute and off the request path.

:func:`tracking_auth` wraps :class:`scimkit.web.BearerTokenAuth`: after a token authenticates,
:meth:`TokenUseRecorder.seen` costs a dictionary look-up; a background task writes what is new to
the tenant registry every few seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime

from starlette.requests import Request

from reference_app.tenants import TenantDirectory, TokenKind
from scimkit.web import Authenticate, BearerTokenAuth, Principal

__all__ = ["NOTE_INTERVAL", "TokenUseRecorder", "tracking_auth"]

logger = logging.getLogger(__name__)

NOTE_INTERVAL = 60.0
"""Seconds during which further uses of a token are not noted again."""
_FLUSH_INTERVAL = 5.0


class TokenUseRecorder:
    def __init__(self, tenants: TenantDirectory) -> None:
        self.tenants = tenants
        self._noted: dict[tuple[str, str, TokenKind], float] = {}
        self._pending: dict[tuple[str, str, TokenKind], datetime] = {}

    def seen(self, tenant: str, digest: str, kind: TokenKind = TokenKind.SCIM) -> None:
        key = (tenant, digest, kind)
        now = time.monotonic()
        if now - self._noted.get(key, -NOTE_INTERVAL) < NOTE_INTERVAL:
            return
        self._noted[key] = now
        now_utc = datetime.now(UTC)
        # Milliseconds, as MongoDB keeps them (and as the registries date tokens).
        self._pending[key] = now_utc.replace(microsecond=now_utc.microsecond // 1000 * 1000)

    async def flush(self) -> None:
        """Write the pending uses to the tenants' registries."""
        pending, self._pending = self._pending, {}
        for (tenant, digest, kind), when in pending.items():
            registry = await self.tenants.registry_of(tenant)
            if registry is not None:
                await registry.record_use(tenant, digest, when, kind)

    @contextlib.asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        task = asyncio.create_task(self._loop(), name="token-use-recorder")
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            with contextlib.suppress(Exception):
                await self.flush()

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(_FLUSH_INTERVAL)
            try:
                await self.flush()
            except Exception:  # a database hiccup: the next minute's use is noted again
                logger.warning("Could not record token use", exc_info=True)


def tracking_auth(
    tenants: TenantDirectory,
    recorder: TokenUseRecorder,
    kind: TokenKind = TokenKind.SCIM,
    *,
    principal_name: str | None = None,
) -> Authenticate:
    """Bearer-token authentication by ``kind`` tokens that tells ``recorder`` which was used.

    The principal is named ``token<index>``, or ``principal_name`` whichever token matched
    (the events feed's receiver keeps one checkpoint across token rotations).
    """
    bearer = BearerTokenAuth(functools.partial(tenants.digests, kind=kind))

    async def authenticate(request: Request, tenant: str) -> Principal:
        index, digest = await bearer.matched(request, tenant)
        # The directory's digests are hex text, handed back as given.
        recorder.seen(tenant, digest if isinstance(digest, str) else digest.hex(), kind)
        return Principal(tenant, f"token{index}" if principal_name is None else principal_name)

    return authenticate
