"""Tenants: a name, up to two bearer tokens kept as SHA-256 digests, and an input policy.

Each tenant has a primary and (after a rotation) a secondary token; either authenticates, so
a token can be rotated without downtime: ``rotate`` makes a new primary and keeps the old
primary as secondary until the next rotation. Tokens are never stored in clear.

Tokens come in two kinds (:class:`TokenKind`): SCIM tokens (Entra's Secret Token) and events
tokens (an event receiver polling ``/Events``). Each kind has its own primary and secondary and
authenticates only its own endpoints. A tenant may also have a push receiver URL (RFC 8935).

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
    "TokenKind",
    "TokenSet",
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


class TokenKind(StrEnum):
    """Which endpoints a token opens: the SCIM API, or the events feed (``/Events``)."""

    SCIM = "scim"
    EVENTS = "events"

    @property
    def prefix(self) -> str:
        """The prefix of this kind's fields (in :class:`Tenant` and in stored documents)."""
        return "" if self is TokenKind.SCIM else "events_"


@dataclass(frozen=True, slots=True)
class TokenSet:
    """One kind of a tenant's tokens: digests (the primary first), when made, when last used."""

    digests: tuple[str, ...] = field(default=(), repr=False)
    created: tuple[datetime, ...] = ()
    used: tuple[datetime | None, ...] = ()

    def rotated(self, digest: str, now: datetime) -> TokenSet:
        """A new primary ``digest``; the old primary becomes the secondary."""
        return TokenSet(
            (digest, *self.digests[:1]), (now, *self.created[:1]), (None, *self.used[:1])
        )

    def primary_only(self) -> TokenSet:
        return TokenSet(self.digests[:1], self.created[:1], self.used[:1])


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
    events_digests: tuple[str, ...] = field(default=(), repr=False)
    """The events tokens' digests (``/Events`` only), the primary first."""
    events_token_created: tuple[datetime, ...] = ()
    events_token_used: tuple[datetime | None, ...] = ()
    events_push: str | None = None
    """The push receiver URL (RFC 8935), if any."""

    def tokens(self, kind: TokenKind = TokenKind.SCIM) -> TokenSet:
        """The tokens of ``kind``, with one created and one last-used date per token."""
        digests: tuple[str, ...] = getattr(self, f"{kind.prefix}digests")
        created: tuple[datetime, ...] = getattr(self, f"{kind.prefix}token_created")
        used: tuple[datetime | None, ...] = getattr(self, f"{kind.prefix}token_used")
        count = len(digests)
        return TokenSet(
            digests,
            (*created, *[self.created] * count)[:count],
            (*used, *[None] * count)[:count],
        )

    def with_tokens(self, kind: TokenKind, tokens: TokenSet) -> Tenant:
        if kind is TokenKind.SCIM:
            return replace(
                self, digests=tokens.digests, token_created=tokens.created, token_used=tokens.used
            )
        return replace(
            self,
            events_digests=tokens.digests,
            events_token_created=tokens.created,
            events_token_used=tokens.used,
        )


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

    async def rotate(self, name: str, kind: TokenKind = TokenKind.SCIM) -> str:
        """Make a new primary token, keep the old primary as secondary; return the new token.

        The previous secondary stops working. Raises :class:`UnknownTenant`.
        """
        ...

    async def set_policy(self, name: str, policy: Policy) -> None:
        """Change a tenant's input policy. Raises :class:`UnknownTenant`."""
        ...

    async def revoke_secondary(self, name: str, kind: TokenKind = TokenKind.SCIM) -> bool:
        """Make the secondary token stop working; false if there was none."""
        ...

    async def record_use(
        self, name: str, digest: str, when: datetime, kind: TokenKind = TokenKind.SCIM
    ) -> None:
        """Note that the token with ``digest`` authenticated a request at ``when``."""
        ...

    async def set_events_push(self, name: str, url: str | None) -> None:
        """Set (or with ``None`` clear) the push receiver URL. Raises :class:`UnknownTenant`."""
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

    def has(self, name: str) -> bool:
        return name in self._tenants

    def set_push(self, name: str, url: str) -> None:
        """Give a tenant of this registry a push receiver URL (while the app is being built)."""
        self._tenants[name] = replace(self._require(name), events_push=url)

    def add_events_token(self, name: str, token: str) -> None:
        """Give a tenant of this registry an events token (while the app is being built)."""
        tenant = self._require(name)
        self._tenants[name] = tenant.with_tokens(
            TokenKind.EVENTS, TokenSet().rotated(hash_token(token), _now())
        )

    async def rotate(self, name: str, kind: TokenKind = TokenKind.SCIM) -> str:
        tenant = self._require(name)
        token = new_token()
        self._tenants[name] = tenant.with_tokens(
            kind, tenant.tokens(kind).rotated(hash_token(token), _now())
        )
        return token

    async def revoke_secondary(self, name: str, kind: TokenKind = TokenKind.SCIM) -> bool:
        tenant = self._require(name)
        tokens = tenant.tokens(kind)
        if len(tokens.digests) < 2:
            return False
        self._tenants[name] = tenant.with_tokens(kind, tokens.primary_only())
        return True

    async def record_use(
        self, name: str, digest: str, when: datetime, kind: TokenKind = TokenKind.SCIM
    ) -> None:
        tenant = self._tenants.get(name)
        if tenant is None:
            return
        tokens = tenant.tokens(kind)
        if digest not in tokens.digests:
            return
        used = list(tokens.used)
        used[tokens.digests.index(digest)] = when
        self._tenants[name] = tenant.with_tokens(kind, replace(tokens, used=tuple(used)))

    async def set_events_push(self, name: str, url: str | None) -> None:
        self._tenants[name] = replace(self._require(name), events_push=url)

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

    async def rotate(self, name: str, kind: TokenKind = TokenKind.SCIM) -> str:
        token = new_token()
        for _ in range(_MAX_ROTATION_ATTEMPTS):
            tenant = await self.get(name)
            if tenant is None:
                raise UnknownTenant(name)
            # Compare-and-set on the digests read, so two concurrent rotations cannot both
            # demote the same primary (one of them retries against the new state).
            tokens = tenant.tokens(kind)
            if await self._store_tokens(
                name, kind, tokens, tokens.rotated(hash_token(token), _now())
            ):
                return token
        raise RuntimeError(f"could not rotate the token of tenant {name!r}: too much contention")

    async def revoke_secondary(self, name: str, kind: TokenKind = TokenKind.SCIM) -> bool:
        tenant = await self.get(name)
        if tenant is None:
            raise UnknownTenant(name)
        tokens = tenant.tokens(kind)
        if len(tokens.digests) < 2:
            return False
        # Compare-and-set: a rotation in between made a different secondary, which stays.
        return await self._store_tokens(name, kind, tokens, tokens.primary_only())

    async def _store_tokens(
        self, name: str, kind: TokenKind, read: TokenSet, tokens: TokenSet
    ) -> bool:
        """Store ``tokens`` of ``kind`` if the stored digests are still those ``read``."""
        prefix = kind.prefix
        last_used = {d: when for d, when in zip(tokens.digests, tokens.used, strict=True) if when}
        # A tenant that never had tokens of this kind has no such field (or an empty one).
        stored: Any = list(read.digests) if read.digests else {"$in": [None, []]}
        result = await self._collection.update_one(
            {"_id": name, f"{prefix}digests": stored},
            {
                "$set": {
                    f"{prefix}digests": list(tokens.digests),
                    f"{prefix}token_created": list(tokens.created),
                    f"{prefix}last_used": last_used,
                }
            },
        )
        return result.matched_count == 1

    async def record_use(
        self, name: str, digest: str, when: datetime, kind: TokenKind = TokenKind.SCIM
    ) -> None:
        # Only while the token is still the tenant's; $max keeps the latest of racing writers.
        prefix = kind.prefix
        await self._collection.update_one(
            {"_id": name, f"{prefix}digests": digest},
            {"$max": {f"{prefix}last_used.{digest}": when}},
        )

    async def set_events_push(self, name: str, url: str | None) -> None:
        change = {"$set": {"events_push": url}} if url else {"$unset": {"events_push": ""}}
        result = await self._collection.update_one({"_id": name}, change)
        if result.matched_count == 0:
            raise UnknownTenant(name)

    async def set_policy(self, name: str, policy: Policy) -> None:
        result = await self._collection.update_one(
            {"_id": name}, {"$set": {"policy": policy.value}}
        )
        if result.matched_count == 0:
            raise UnknownTenant(name)


def _from_document(document: dict[str, Any]) -> Tenant:
    created = _aware(document["created"])  # naive from a client opened without tz_aware=True
    tenant = Tenant(
        name=document["_id"],
        digests=(),
        created=created,
        policy=Policy(document.get("policy", Policy.ENTRA.value)),
        events_push=document.get("events_push"),
    )
    for kind in TokenKind:
        digests = tuple(document.get(f"{kind.prefix}digests", ()))
        # Tenants stored before token dates were kept: their tokens date from the tenant.
        made = [_aware(d) for d in document.get(f"{kind.prefix}token_created", ())]
        made += [created] * (len(digests) - len(made))
        used = document.get(f"{kind.prefix}last_used") or {}
        tokens = TokenSet(
            digests,
            tuple(made[: len(digests)]),
            tuple(_aware(used[d]) if d in used else None for d in digests),
        )
        tenant = tenant.with_tokens(kind, tokens)
    return tenant


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


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

    async def digests(self, name: str, kind: TokenKind = TokenKind.SCIM) -> tuple[str, ...]:
        """The ``kind`` token digests of ``name``; for an unknown tenant, digests no token matches.

        A tenant without tokens of ``kind`` (no events token yet) matches no token either.
        """
        tenant = await self.get(name)
        # Decoys cost the same comparisons as a real tenant's two tokens, so response times
        # do not tell whether a tenant exists.
        if tenant is None:
            return _DECOY_DIGESTS
        # The digests alone: every request authenticates here, and ``tokens`` builds the
        # dates' tuples too.
        digests = tenant.digests if kind is TokenKind.SCIM else tenant.events_digests
        return digests or _DECOY_DIGESTS

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
