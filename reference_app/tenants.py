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


class MemoryTenantRegistry:
    """Tenants kept in the process (lost on exit)."""

    def __init__(self) -> None:
        self._tenants: dict[str, Tenant] = {}

    def add(self, name: str, token: str, policy: Policy = Policy.ENTRA) -> None:
        """Add a tenant with a known token (synchronously, while the app is being built)."""
        validate_tenant_name(name)
        if name in self._tenants:
            raise TenantExists(name)
        self._tenants[name] = Tenant(name, (hash_token(token),), _now(), policy)

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
        self._tenants[name] = replace(tenant, digests=digests)
        return token

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
            "created": _now(),
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
            result = await self._collection.update_one(
                {"_id": name, "digests": list(tenant.digests)},
                {"$set": {"digests": [hash_token(token), tenant.digests[0]]}},
            )
            if result.matched_count == 1:
                return token
        raise RuntimeError(f"could not rotate the token of tenant {name!r}: too much contention")

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
    return Tenant(
        name=document["_id"],
        digests=tuple(document["digests"]),
        created=created,
        policy=Policy(document.get("policy", Policy.ENTRA.value)),
    )


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

    async def list(self) -> list[Tenant]:
        """Every tenant, each name once (the first registry that has it wins)."""
        found: dict[str, Tenant] = {}
        for registry in self.registries:
            for tenant in await registry.list():
                found.setdefault(tenant.name, tenant)
        return [found[name] for name in sorted(found)]
