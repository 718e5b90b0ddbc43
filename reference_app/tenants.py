"""Tenants: a name, up to two bearer tokens kept as SHA-256 digests, and an input policy.

Each tenant has a primary and (after a rotation) a secondary token; either authenticates, so
a token can be rotated without downtime: ``rotate`` makes a new primary and keeps the old
primary as secondary until the next rotation. Tokens are never stored in clear.

Two registries implement :class:`TenantRegistry`: :class:`MemoryTenantRegistry` (tenants given
on the command line) and :class:`MongoTenantRegistry` (the ``tenants`` collection).
:class:`TenantDirectory` looks a tenant up in several registries, in order.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

from reference_app.settings import validate_tenant_name
from scimkit import ENTRA, STRICT, ServiceUnavailable, Tolerance
from scimkit.web import hash_token

if TYPE_CHECKING:
    from pymongo.asynchronous.collection import AsyncCollection

__all__ = [
    "DEFAULT_TENANT",
    "MemoryTenantRegistry",
    "MongoTenantRegistry",
    "Policy",
    "Tenant",
    "TenantDirectory",
    "TenantExists",
    "TenantRegistry",
    "UnknownTenant",
    "new_token",
]

logger = logging.getLogger(__name__)

DEFAULT_TENANT = "default"
# Random digests: no token hashes to them (a 2**-256 chance).
_DECOY_DIGESTS = (secrets.token_hex(32), secrets.token_hex(32))
# A compare-and-set rotation that keeps losing to concurrent rotations gives up after this.
_MAX_ROTATION_ATTEMPTS = 5


def new_token() -> str:
    """A fresh random bearer token (256 bits, URL-safe)."""
    return secrets.token_urlsafe(32)


def _now() -> datetime:
    # Milliseconds only: what MongoDB keeps, so both registries report the same value.
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


class Policy(StrEnum):
    """A tenant's input policy. Responses are RFC-shaped under either."""

    ENTRA = "entra"
    """Accept Microsoft Entra's non-RFC request shapes (the default)."""
    STRICT = "strict"
    """Accept only what RFC 7643/7644 allow."""

    @property
    def tolerance(self) -> Tolerance:
        return ENTRA if self is Policy.ENTRA else STRICT


class TenantExists(Exception):
    """A tenant with this name already exists."""


class UnknownTenant(LookupError):
    """No tenant has this name."""


@dataclass(frozen=True, slots=True)
class Tenant:
    """A tenant as stored: ``digests`` are hex SHA-256 digests, the primary first."""

    name: str
    digests: tuple[str, ...] = field(repr=False)
    created: datetime
    policy: Policy = Policy.ENTRA
    token_created: tuple[datetime, ...] = ()
    """When each token of ``digests`` was made, in the same order."""
    token_used: tuple[datetime | None, ...] = ()
    """When each token last authenticated a request (to the minute), in the same order."""


class TenantRegistry(Protocol):
    """Where tenants are kept. Methods that make a token return it; nothing else does."""

    async def get(self, name: str) -> Tenant | None:
        """The tenant called ``name``, or ``None``."""
        ...

    async def list(self) -> list[Tenant]:
        """Every tenant, by name."""
        ...

    async def create(
        self, name: str, *, token: str | None = None, policy: Policy = Policy.ENTRA
    ) -> str:
        """Create a tenant with ``token`` (a fresh one if ``None``) and return the token.

        Raises :class:`TenantExists` if the name is taken.
        """
        ...

    async def rotate(self, name: str) -> str:
        """Make a new primary token, keep the old primary as secondary; return the new token.

        The previous secondary stops working. Raises :class:`UnknownTenant`.
        """
        ...

    async def set_policy(self, name: str, policy: Policy) -> None:
        """Change a tenant's input policy. Raises :class:`UnknownTenant`."""
        ...

    async def revoke_secondary(self, name: str) -> bool:
        """Make the secondary token stop working; false if there was none."""
        ...

    async def record_use(self, name: str, digest: str, when: datetime) -> None:
        """Note that the token with ``digest`` authenticated a request at ``when``."""
        ...


class MemoryTenantRegistry:
    """Tenants kept in the process (lost on exit)."""

    def __init__(self) -> None:
        self._tenants: dict[str, Tenant] = {}

    def add(self, name: str, token: str, policy: Policy = Policy.ENTRA) -> None:
        """Add a tenant with a known token (synchronously, while the app is being built)."""
        validate_tenant_name(name)
        if name in self._tenants:
            raise TenantExists(name)
        now = _now()
        self._tenants[name] = Tenant(name, (hash_token(token),), now, policy, (now,), (None,))

    async def get(self, name: str) -> Tenant | None:
        return self._tenants.get(name)

    async def list(self) -> list[Tenant]:
        return [self._tenants[name] for name in sorted(self._tenants)]

    async def create(
        self, name: str, *, token: str | None = None, policy: Policy = Policy.ENTRA
    ) -> str:
        token = new_token() if token is None else token
        self.add(name, token, policy)
        return token

    async def rotate(self, name: str) -> str:
        tenant = self._require(name)
        token = new_token()
        digests = (hash_token(token), tenant.digests[0])
        old = _token_dates(tenant)
        self._tenants[name] = replace(
            tenant,
            digests=digests,
            token_created=(_now(), old.token_created[0]),
            token_used=(None, old.token_used[0]),
        )
        return token

    async def revoke_secondary(self, name: str) -> bool:
        tenant = _token_dates(self._require(name))
        if len(tenant.digests) < 2:
            return False
        self._tenants[name] = replace(
            tenant,
            digests=tenant.digests[:1],
            token_created=tenant.token_created[:1],
            token_used=tenant.token_used[:1],
        )
        return True

    async def record_use(self, name: str, digest: str, when: datetime) -> None:
        tenant = self._tenants.get(name)
        if tenant is None or digest not in tenant.digests:
            return
        tenant = _token_dates(tenant)
        used = list(tenant.token_used)
        used[tenant.digests.index(digest)] = when
        self._tenants[name] = replace(tenant, token_used=tuple(used))

    async def set_policy(self, name: str, policy: Policy) -> None:
        self._tenants[name] = replace(self._require(name), policy=policy)

    def _require(self, name: str) -> Tenant:
        tenant = self._tenants.get(name)
        if tenant is None:
            raise UnknownTenant(name)
        return tenant


class MongoTenantRegistry:
    """Tenants in a MongoDB collection (by default ``tenants`` of the app's database).

    A document is ``{_id: name, digests: [primary, secondary?], created, policy}``.
    """

    def __init__(self, collection: AsyncCollection[dict[str, Any]]) -> None:
        self._collection = collection

    @property
    def collection(self) -> AsyncCollection[dict[str, Any]]:
        return self._collection

    async def get(self, name: str) -> Tenant | None:
        from pymongo.errors import PyMongoError

        try:
            document = await self._collection.find_one({"_id": name})
        except PyMongoError as exc:
            # Every request authenticates through here: an unreachable database must answer
            # 503 (Entra retries), not a 500 or a misleading 401.
            raise ServiceUnavailable() from exc
        return None if document is None else _from_document(document)

    async def list(self) -> list[Tenant]:
        cursor = self._collection.find({}).sort("_id", 1)
        return [_from_document(document) async for document in cursor]

    async def create(
        self, name: str, *, token: str | None = None, policy: Policy = Policy.ENTRA
    ) -> str:
        from pymongo.errors import DuplicateKeyError

        validate_tenant_name(name)
        token = new_token() if token is None else token
        document = {
            "_id": name,
            "digests": [hash_token(token)],
            "created": (now := _now()),
            "token_created": [now],
            "policy": policy.value,
        }
        try:
            await self._collection.insert_one(document)
        except DuplicateKeyError:
            raise TenantExists(name) from None
        return token

    async def rotate(self, name: str) -> str:
        token = new_token()
        for _ in range(_MAX_ROTATION_ATTEMPTS):
            tenant = await self.get(name)
            if tenant is None:
                raise UnknownTenant(name)
            # Compare-and-set on the digests read, so two concurrent rotations cannot both
            # demote the same primary (one of them retries against the new state).
            dates = _token_dates(tenant)
            result = await self._collection.update_one(
                {"_id": name, "digests": list(tenant.digests)},
                {
                    "$set": {
                        "digests": [hash_token(token), tenant.digests[0]],
                        "token_created": [_now(), dates.token_created[0]],
                        "last_used": _last_used_map(dates, 0),
                    }
                },
            )
            if result.matched_count == 1:
                return token
        raise RuntimeError(f"could not rotate the token of tenant {name!r}: too much contention")

    async def revoke_secondary(self, name: str) -> bool:
        tenant = await self.get(name)
        if tenant is None:
            raise UnknownTenant(name)
        if len(tenant.digests) < 2:
            return False
        dates = _token_dates(tenant)
        # Compare-and-set: a rotation in between made a different secondary, which stays.
        result = await self._collection.update_one(
            {"_id": name, "digests": list(tenant.digests)},
            {
                "$set": {
                    "digests": [tenant.digests[0]],
                    "token_created": [dates.token_created[0]],
                    "last_used": _last_used_map(dates, 0),
                }
            },
        )
        return result.matched_count == 1

    async def record_use(self, name: str, digest: str, when: datetime) -> None:
        # Only while the token is still the tenant's; $max keeps the latest of racing writers.
        await self._collection.update_one(
            {"_id": name, "digests": digest}, {"$max": {f"last_used.{digest}": when}}
        )

    async def set_policy(self, name: str, policy: Policy) -> None:
        result = await self._collection.update_one(
            {"_id": name}, {"$set": {"policy": policy.value}}
        )
        if result.matched_count == 0:
            raise UnknownTenant(name)


def _from_document(document: dict[str, Any]) -> Tenant:
    created = document["created"]
    if created.tzinfo is None:  # a client opened without tz_aware=True
        created = created.replace(tzinfo=UTC)
    digests = tuple(document["digests"])
    # Tenants stored before token dates were kept: their tokens date from the tenant.
    token_created = [_aware(d) for d in document.get("token_created", ())]
    token_created += [created] * (len(digests) - len(token_created))
    used = document.get("last_used") or {}
    return Tenant(
        name=document["_id"],
        digests=digests,
        created=created,
        policy=Policy(document.get("policy", Policy.ENTRA.value)),
        token_created=tuple(token_created[: len(digests)]),
        token_used=tuple(_aware(used[d]) if d in used else None for d in digests),
    )


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _token_dates(tenant: Tenant) -> Tenant:
    """``tenant`` with one created and one last-used date per token."""
    count = len(tenant.digests)
    created = (*tenant.token_created, *[tenant.created] * count)[:count]
    used = (*tenant.token_used, *[None] * count)[:count]
    return replace(tenant, token_created=created, token_used=used)


def _last_used_map(tenant: Tenant, index: int) -> dict[str, datetime]:
    """A stored ``last_used`` map that keeps only the date of ``tenant.digests[index]``."""
    when = tenant.token_used[index]
    return {} if when is None else {tenant.digests[index]: when}


class TenantDirectory:
    """Looks tenants up in several registries, the first one that knows a name wins.

    It feeds :class:`scimkit.web.BearerTokenAuth` (``digests``) and the service's per-tenant
    input policy (``tolerance``). The policy is read synchronously by the service, so it is
    remembered from the lookup that authenticated the request, which always comes first.
    """

    def __init__(self, registries: Sequence[TenantRegistry]) -> None:
        if not registries:
            raise ValueError("a tenant directory needs at least one registry")
        self.registries = tuple(registries)
        self._policies: dict[str, Policy] = {}

    async def get(self, name: str) -> Tenant | None:
        for registry in self.registries:
            tenant = await registry.get(name)
            if tenant is not None:
                self._policies[name] = tenant.policy
                return tenant
        self._policies.pop(name, None)
        return None

    async def digests(self, name: str) -> tuple[str, ...]:
        """The token digests of ``name``; for an unknown tenant, digests no token matches."""
        tenant = await self.get(name)
        # Decoys cost the same comparisons as a real tenant's two tokens, so response times
        # do not tell whether a tenant exists.
        return _DECOY_DIGESTS if tenant is None else tenant.digests

    def tolerance(self, name: str) -> Tolerance:
        """The input policy of an authenticated tenant (Entra until it has been looked up)."""
        return self._policies.get(name, Policy.ENTRA).tolerance

    async def registry_of(self, name: str) -> TenantRegistry | None:
        """The registry that holds ``name`` (the first one that knows it), or ``None``."""
        for registry in self.registries:
            if await registry.get(name) is not None:
                return registry
        return None

    async def list(self) -> list[Tenant]:
        """Every tenant, each name once (the first registry that has it wins)."""
        found: dict[str, Tenant] = {}
        for registry in self.registries:
            for tenant in await registry.list():
                found.setdefault(tenant.name, tenant)
        return [found[name] for name in sorted(found)]
