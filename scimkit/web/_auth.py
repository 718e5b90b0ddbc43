"""Authentication and authorization hooks, and a constant-time bearer-token helper.

The application decides who may call: it passes an ``authenticate`` hook (and optionally an
``authorize`` hook) to :func:`~scimkit.web.create_scim_app`. :class:`BearerTokenAuth` is a ready
``authenticate`` hook for per-tenant bearer tokens kept only as SHA-256 digests.
"""

from __future__ import annotations

import hashlib
import hmac
import inspect
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from starlette.requests import Request

from scimkit._errors import Unauthorized
from scimkit._resource_type import ResourceType

__all__ = [
    "Action",
    "Authenticate",
    "Authorize",
    "BearerTokenAuth",
    "CurrentUser",
    "Principal",
    "check_token",
    "hash_token",
    "token_matches",
]


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller of one tenant.

    ``name`` labels the credential (for logs; never the secret itself). Applications may
    subclass it to carry more (scopes, a client id).
    """

    tenant: str
    name: str = ""


class Action(StrEnum):
    """What a request does, as passed to the ``authorize`` hook."""

    READ = "read"
    QUERY = "query"
    CREATE = "create"
    REPLACE = "replace"
    PATCH = "patch"
    DELETE = "delete"
    BULK = "bulk"
    """The Bulk request itself; each of its operations is authorized with its own action."""
    DISCOVER = "discover"
    """``/ServiceProviderConfig``, ``/ResourceTypes`` and ``/Schemas``."""


Authenticate = Callable[[Request, str], Awaitable[Principal | None]]
"""``authenticate(request, tenant)``: the caller, or ``None`` (or raise ``Unauthorized``) → 401."""

Authorize = Callable[[Principal, Action, ResourceType | None], Awaitable[bool]]
"""``authorize(principal, action, resource_type)``: false → 403. ``resource_type`` is ``None``
for requests not about one type (root search, Bulk, discovery)."""

CurrentUser = Callable[[Principal], Awaitable[str | None]]
"""``current_user(principal)``: the id of the caller's User resource for ``/Me``, or ``None``."""


def _presentable(token: str) -> bool:
    return bool(token) and token.isascii() and token.isprintable() and " " not in token


def check_token(token: str) -> str:
    """``token`` if a client can present it in an ``Authorization`` header, else ``ValueError``.

    A header is ASCII on the wire and loses its edge spaces, so a token with other characters
    could be configured yet never authenticate. Tokens are one or more visible ASCII
    characters (``!`` to ``~``), commas and other punctuation included.
    """
    if not _presentable(token):
        # The message never repeats the token: it is a secret.
        raise ValueError(
            "a bearer token must be visible ASCII characters only (no spaces, no accented "
            "or other non-ASCII letters), or clients could never present it"
        )
    return token


def hash_token(token: str) -> str:
    """The hex SHA-256 digest of a token: what to store instead of the token.

    Raises ``ValueError`` for a token no client could present (see :func:`check_token`).
    """
    return hashlib.sha256(check_token(token).encode("ascii")).hexdigest()


def token_matches(token: str, digests: Iterable[bytes | str]) -> int | None:
    """The index of the digest ``token`` hashes to, or ``None``; constant time per digest.

    Every digest is compared (no early exit) with :func:`hmac.compare_digest`, so the time
    taken reveals neither which digest matched nor how much of one did. A token that
    :func:`check_token` refuses matches nothing, as no configured token can equal it.
    """
    # Hashed anyway (as ASCII with replacements), so such a token costs the same comparisons.
    presented = hashlib.sha256(token.encode("ascii", "replace")).digest()
    if not _presentable(token):
        presented = b""
    found: int | None = None
    for index, digest in enumerate(digests):
        if hmac.compare_digest(presented, _digest_bytes(digest)) and found is None:
            found = index
    return found


def _digest_bytes(digest: bytes | str) -> bytes:
    if isinstance(digest, str):
        try:
            return bytes.fromhex(digest)
        except ValueError:
            return b""  # never equal to a 32-byte digest
    return digest


TokenDigests = (
    Mapping[str, Iterable[bytes | str]]
    | Callable[[str], Awaitable[Iterable[bytes | str]] | Iterable[bytes | str]]
)

_CHALLENGE = {"WWW-Authenticate": "Bearer"}
_INVALID = {"WWW-Authenticate": 'Bearer error="invalid_token"'}


class BearerTokenAuth:
    """An ``authenticate`` hook for ``Authorization: Bearer <token>``, per tenant.

    ``digests`` maps a tenant to the SHA-256 digests (hex or raw) of its valid tokens, e.g. a
    primary and a secondary during rotation; it may also be a function (sync or async) of the
    tenant, for digests kept in a database. An unknown tenant and a wrong token fail alike:
    401 with the same generic detail. The principal's ``name`` is ``token<index>``.
    """

    def __init__(self, digests: TokenDigests) -> None:
        if isinstance(digests, Mapping):
            fixed = {
                tenant: tuple(_digest_bytes(d) for d in values)
                for tenant, values in digests.items()
            }
            self._fixed: dict[str, tuple[bytes, ...]] | None = fixed
            self._lookup = None
        else:
            self._fixed = None
            self._lookup = digests

    @classmethod
    def from_tokens(cls, tokens: Mapping[str, Iterable[str]]) -> BearerTokenAuth:
        """A hook from clear-text tokens per tenant (hashed at once; for tests and demos)."""
        return cls({tenant: [hash_token(t) for t in values] for tenant, values in tokens.items()})

    async def __call__(self, request: Request, tenant: str) -> Principal:
        index, _ = await self.matched(request, tenant)
        return Principal(tenant, f"token{index}")

    async def matched(self, request: Request, tenant: str) -> tuple[int, bytes | str]:
        """The index and the digest (as given) of the tenant's token the request presents.

        What :meth:`__call__` checks, for a hook that wraps this one and needs to know which
        token authenticated (to note its use): no principal is made, none parsed back.
        Raises ``Unauthorized`` as :meth:`__call__` does.
        """
        header = None
        for key, value in request.scope["headers"]:
            if key == b"authorization":
                # Tokens are ASCII (check_token): other bytes cannot be part of a valid one,
                # and token_matches refuses the replacement character they decode to.
                header = value.decode("ascii", "replace")
                break
        if header is None:
            raise Unauthorized(headers=_CHALLENGE)
        scheme, _, token = header.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise Unauthorized(headers=_CHALLENGE)
        digests = await self._digests(tenant)
        index = token_matches(token, digests)
        if index is None:
            raise Unauthorized(headers=_INVALID)
        return index, digests[index]

    async def _digests(self, tenant: str) -> Sequence[bytes | str]:
        if self._fixed is not None:
            return self._fixed.get(tenant, ())
        assert self._lookup is not None
        found = self._lookup(tenant)
        if inspect.isawaitable(found):
            found = await found
        # Indexed once a token matches (which digest it was); a lookup may give any iterable.
        return found if isinstance(found, Sequence) else tuple(found)
