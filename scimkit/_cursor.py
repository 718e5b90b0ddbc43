"""RFC 9865 cursors: opaque, tamper-proof, bound to one query, expiring. Pure stdlib.

A cursor carries a keyset position (the sort value and id of a page's first or last resource,
``Page.keys``), the direction to walk from it, and an expiry time. It is signed with
HMAC-SHA256 over the payload *and* a digest of the query it belongs to (:class:`CursorScope`:
tenant, resource type, filter text, sort and count), so a cursor replayed against another
query, another tenant or with edited bytes fails verification. The payload is readable
(base64url JSON), not secret: it holds only values the same client has already been sent.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from scimkit._errors import ExpiredCursor, InvalidCursor

__all__ = ["Cursor", "CursorCodec", "CursorScope"]

_VERSION = 1
# Far above any real token (a few hundred bytes); bounds the work spent on hostile input.
_MAX_TOKEN_LENGTH = 4096
_MIN_SECRET_LENGTH = 16


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class CursorScope:
    """The query a cursor is bound to; a cursor is valid only for an equal scope.

    ``filter`` is the client's filter text as received (``None`` without a filter) and
    ``sort_by`` the canonical attribute path (``AttrRef.dotted``) or ``None``.
    """

    tenant: str
    resource_type: str
    filter: str | None = None
    sort_by: str | None = None
    descending: bool = False
    count: int | None = None

    def digest(self) -> bytes:
        """A SHA-256 digest of the scope, unambiguous whatever characters the fields hold."""
        fields = [
            self.tenant,
            self.resource_type,
            self.filter,
            self.sort_by,
            self.descending,
            self.count,
        ]
        return hashlib.sha256(json.dumps(fields, separators=(",", ":")).encode()).digest()


@dataclass(frozen=True, slots=True)
class Cursor:
    """A decoded cursor: the keyset position and the direction to walk from it.

    Pass ``position`` as ``StoreQuery.after`` and ``backward`` as ``StoreQuery.backward``.
    """

    position: tuple[Any, str]
    backward: bool = False


@dataclass(frozen=True, slots=True)
class CursorCodec:
    """Makes and checks cursor tokens for ``nextCursor`` / ``previousCursor`` (RFC 9865).

    ``secret`` signs new tokens; tokens signed with one of ``previous_secrets`` are still
    accepted, so a secret can be rotated without breaking cursors in flight. ``ttl`` is how
    long a token stays valid (advertise it as ``cursorTimeout``); ``clock`` returns the
    current time as an aware datetime.
    """

    secret: bytes = field(repr=False)
    ttl: timedelta
    clock: Callable[[], datetime] = field(default=_utc_now, repr=False)
    previous_secrets: Sequence[bytes] = field(default=(), repr=False)

    def __post_init__(self) -> None:
        for secret in (self.secret, *self.previous_secrets):
            if len(secret) < _MIN_SECRET_LENGTH:
                raise ValueError(f"a cursor secret needs at least {_MIN_SECRET_LENGTH} bytes")
        if self.ttl <= timedelta(0):
            raise ValueError("the cursor ttl must be positive")
        object.__setattr__(self, "previous_secrets", tuple(self.previous_secrets))

    def encode(
        self, scope: CursorScope, position: tuple[Any, str], *, backward: bool = False
    ) -> str:
        """A token for the page after (or, ``backward``, before) ``position`` in ``scope``."""
        value, id = position
        expires = self.clock() + self.ttl
        payload = {
            "v": _VERSION,
            "k": [_encode_value(value), id],
            "b": backward,
            "e": int(expires.timestamp()),
        }
        body = _b64encode(json.dumps(payload, separators=(",", ":")).encode())
        return f"{body}.{_b64encode(_sign(self.secret, scope, body))}"

    def decode(self, token: str, scope: CursorScope) -> Cursor:
        """Check a token against ``scope`` and return its position.

        Raises :class:`InvalidCursor` when the token is malformed, altered, signed with an
        unknown secret or issued for another query, and :class:`ExpiredCursor` when it is
        genuine but too old.
        """
        if not token or len(token) > _MAX_TOKEN_LENGTH:
            raise InvalidCursor()
        body, dot, signature = token.partition(".")
        if not dot:
            raise InvalidCursor()
        try:
            mac = _b64decode(signature)
        except ValueError:
            raise InvalidCursor() from None
        # The signature is checked before the payload is parsed: nothing of an unsigned
        # payload is ever interpreted.
        if not any(
            hmac.compare_digest(mac, _sign(secret, scope, body))
            for secret in (self.secret, *self.previous_secrets)
        ):
            raise InvalidCursor()
        try:
            payload = json.loads(_b64decode(body))
            if payload["v"] != _VERSION:
                raise ValueError("unknown cursor version")
            raw_value, id = payload["k"]
            backward = payload["b"]
            expires = payload["e"]
            if not isinstance(id, str) or not isinstance(backward, bool):
                raise ValueError("malformed position")
            if not isinstance(expires, int) or isinstance(expires, bool):
                raise ValueError("malformed expiry")
            value = _decode_value(raw_value)
        except (ValueError, KeyError, TypeError) as exc:
            # A correctly signed but unreadable payload means a codec change: still invalid.
            raise InvalidCursor() from exc
        if self.clock().timestamp() >= expires:
            raise ExpiredCursor()
        return Cursor((value, id), backward)


def _sign(secret: bytes, scope: CursorScope, body: str) -> bytes:
    return hmac.new(secret, scope.digest() + b"." + body.encode(), hashlib.sha256).digest()


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    try:
        raw = text.encode("ascii")
        return base64.urlsafe_b64decode(raw + b"=" * (-len(raw) % 4))
    except (UnicodeEncodeError, binascii.Error) as exc:
        raise ValueError("not base64url") from exc


def _encode_value(value: Any) -> Any:
    """A sort value as JSON; datetimes are tagged so they come back as datetimes."""
    if isinstance(value, datetime):
        return {"d": value.astimezone(UTC).isoformat()}
    if value is None or isinstance(value, bool | int | float | str):
        return value
    raise TypeError(f"cannot put a {type(value).__name__} in a cursor")


def _decode_value(raw: Any) -> Any:
    if isinstance(raw, dict):
        if raw.keys() != {"d"} or not isinstance(raw["d"], str):
            raise ValueError("malformed sort value")
        moment = datetime.fromisoformat(raw["d"])
        if moment.tzinfo is None:
            raise ValueError("naive datetime in a cursor")
        return moment
    if raw is None or isinstance(raw, bool | int | float | str):
        return raw
    raise ValueError("malformed sort value")
