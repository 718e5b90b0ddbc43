"""Console admin accounts (per tenant) and one-time sign-in links.

An account is a (tenant, email) pair with a salted password hash; one email may administer
several tenants. A sign-in link carries a random token of which only the SHA-256 digest is
kept; it signs in to one tenant once, before it expires.

:class:`MemoryAdminRegistry` keeps accounts in the process (``serve --admin``, the embedded
store); :class:`MongoAdminRegistry` keeps them in the ``admins`` and ``admin_links``
collections (``reference-app tenant admin``). :class:`AdminDirectory` asks both.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from reference_app.admin.passwords import hash_password, verify_password
from scimkit import ServiceUnavailable
from scimkit.web import hash_token

if TYPE_CHECKING:
    from pymongo.asynchronous.database import AsyncDatabase

__all__ = [
    "ADMINS_COLLECTION",
    "LINKS_COLLECTION",
    "LINK_TTL",
    "AdminAccount",
    "AdminDirectory",
    "AdminRegistry",
    "MemoryAdminRegistry",
    "MongoAdminRegistry",
    "normalize_email",
]

ADMINS_COLLECTION = "admins"
LINKS_COLLECTION = "admin_links"
LINK_TTL = timedelta(hours=24)
"""How long a one-time sign-in link works."""

# Verified when the email is unknown, so a wrong email costs as long as a wrong password.
_DECOY_HASH = hash_password(secrets.token_urlsafe(16))


def normalize_email(email: str) -> str:
    """Emails compare case-insensitively and without surrounding blanks."""
    return email.strip().casefold()


def _now() -> datetime:
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


@dataclass(frozen=True, slots=True)
class AdminAccount:
    tenant: str
    email: str
    password_hash: str = field(repr=False)
    created: datetime


class AdminRegistry(Protocol):
    """Where admin accounts and sign-in links are kept."""

    async def find(self, email: str) -> list[AdminAccount]:
        """The accounts with this (normalized) email, one per tenant."""
        ...

    async def set_password(self, tenant: str, email: str, password: str) -> bool:
        """Create the account or replace its password; true if it was created."""
        ...

    async def issue_link(self, tenant: str) -> str:
        """A new one-time sign-in token for ``tenant``, valid for :data:`LINK_TTL`."""
        ...

    async def redeem_link(self, token: str) -> str | None:
        """The tenant of an unused, unexpired link (now used up), or ``None``."""
        ...


class MemoryAdminRegistry:
    """Accounts and links kept in the process (lost on exit)."""

    def __init__(self) -> None:
        self._accounts: dict[tuple[str, str], AdminAccount] = {}
        self._links: dict[str, tuple[str, datetime]] = {}

    def add(self, tenant: str, email: str, password: str) -> None:
        """Add or replace an account synchronously (while the app is being built)."""
        email = normalize_email(email)
        self._accounts[(tenant, email)] = AdminAccount(
            tenant, email, hash_password(password), _now()
        )

    def add_link(self, tenant: str) -> str:
        token = secrets.token_urlsafe(32)
        self._links[hash_token(token)] = (tenant, _now() + LINK_TTL)
        return token

    async def find(self, email: str) -> list[AdminAccount]:
        email = normalize_email(email)
        return [a for (_, e), a in sorted(self._accounts.items()) if e == email]

    async def set_password(self, tenant: str, email: str, password: str) -> bool:
        created = (tenant, normalize_email(email)) not in self._accounts
        hashed = await asyncio.to_thread(hash_password, password)
        email = normalize_email(email)
        self._accounts[(tenant, email)] = AdminAccount(tenant, email, hashed, _now())
        return created

    async def issue_link(self, tenant: str) -> str:
        return self.add_link(tenant)

    async def redeem_link(self, token: str) -> str | None:
        found = self._links.pop(hash_token(token), None)
        if found is None or found[1] <= _now():
            return None
        return found[0]


class MongoAdminRegistry:
    """Accounts and links in MongoDB.

    ``admins`` holds ``{tenant, email, password_hash, created}``; ``admin_links`` holds
    ``{_id: token digest, tenant, expires}``, removed by a TTL index once expired.
    """

    def __init__(self, database: AsyncDatabase[dict[str, Any]]) -> None:
        self._admins = database[ADMINS_COLLECTION]
        self._links = database[LINKS_COLLECTION]

    async def ensure_indexes(self) -> None:
        await self._admins.create_index([("tenant", 1), ("email", 1)], unique=True)
        await self._admins.create_index([("email", 1)])
        await self._links.create_index([("expires", 1)], expireAfterSeconds=0)

    async def find(self, email: str) -> list[AdminAccount]:
        from pymongo.errors import PyMongoError

        try:
            cursor = self._admins.find({"email": normalize_email(email)}).sort("tenant", 1)
            documents = [document async for document in cursor]
        except PyMongoError as exc:
            raise ServiceUnavailable() from exc
        return [
            AdminAccount(d["tenant"], d["email"], d["password_hash"], _aware(d["created"]))
            for d in documents
        ]

    async def set_password(self, tenant: str, email: str, password: str) -> bool:
        hashed = await asyncio.to_thread(hash_password, password)
        result = await self._admins.update_one(
            {"tenant": tenant, "email": normalize_email(email)},
            {"$set": {"password_hash": hashed}, "$setOnInsert": {"created": _now()}},
            upsert=True,
        )
        return result.upserted_id is not None

    async def issue_link(self, tenant: str) -> str:
        token = secrets.token_urlsafe(32)
        await self._links.insert_one(
            {"_id": hash_token(token), "tenant": tenant, "expires": _now() + LINK_TTL}
        )
        return token

    async def redeem_link(self, token: str) -> str | None:
        # Deleting is the redemption: of two racing requests only one gets the document.
        document = await self._links.find_one_and_delete({"_id": hash_token(token)})
        if document is None or _aware(document["expires"]) <= _now():
            return None
        return str(document["tenant"])


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


class AdminDirectory:
    """Signs admins in against several registries (process accounts first)."""

    def __init__(self, registries: Sequence[AdminRegistry]) -> None:
        if not registries:
            raise ValueError("an admin directory needs at least one registry")
        self.registries = tuple(registries)

    async def sign_in(self, email: str, password: str) -> list[str]:
        """The tenants whose admin account ``email`` has this password (empty: refused)."""
        accounts: dict[str, AdminAccount] = {}
        for registry in self.registries:
            for account in await registry.find(email):
                accounts.setdefault(account.tenant, account)
        hashes = [a.password_hash for a in accounts.values()] or [_DECOY_HASH]
        # scrypt takes tens of milliseconds: off the event loop, so other requests go on.
        results = await asyncio.to_thread(
            lambda: [verify_password(password, stored) for stored in hashes]
        )
        if not accounts:
            return []
        return sorted(t for t, ok in zip(accounts, results, strict=True) if ok)

    async def issue_link(self, tenant: str) -> str:
        return await self.registries[-1].issue_link(tenant)

    async def redeem_link(self, token: str) -> str | None:
        for registry in self.registries:
            tenant = await registry.redeem_link(token)
            if tenant is not None:
                return tenant
        return None
