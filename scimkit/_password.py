"""Passwords (RFC 7643 §4.1.1 ``password``): stored only as salted scrypt hashes.

A ``password`` value a client sends is never kept as given: the service replaces it with
:func:`hash_password`'s string, a PHC-style ``$scrypt$ln=<log2 N>,r=<r>,p=<p>$<salt>$<hash>``
(unpadded base64) that carries its parameters, so :func:`verify_password` can check a
candidate later and the cost can be raised without invalidating stored hashes.

:func:`seal_password` is the service's rule for writes: a new value is hashed; a PUT or
PATCH that sets, replaces or removes it is refused with ``mutability`` unless
:class:`~scimkit.ServiceConfig` advertises ``changePassword`` (a POST may set the first one).
The same password sent again, and a PUT that leaves the attribute out (it can never be read
back), keep the stored hash.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import os
import re
from collections.abc import Mapping
from dataclasses import replace
from functools import lru_cache
from typing import Any

from scimkit._errors import MutabilityError
from scimkit._patch_result import PatchResult
from scimkit._resource_type import ResourceType
from scimkit._schema import AttributeType

__all__ = ["hash_password", "seal_password", "seal_patch", "verify_password"]

# OWASP's scrypt minimum (N=2^14, r=8, p=5): about 16 MiB and a fifth of a second per hash.
_LOG2_N = 14
_R = 8
_P = 5
_SALT_BYTES = 16
_HASH_BYTES = 32
# Parameters read back from a stored string are bounded, so a tampered value cannot ask for
# gigabytes or minutes.
_MAX_LOG2_N = 20
_MAX_RP = 64
_PHC = re.compile(
    r"\$scrypt\$ln=(\d{1,2}),r=(\d{1,3}),p=(\d{1,3})\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)"
)
_ABSENT: Any = object()
_NAME = "password"


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)


def _scrypt(password: str, salt: bytes, log2_n: int, r: int, p: int, length: int) -> bytes:
    n = 1 << log2_n
    return hashlib.scrypt(
        password.encode("utf-8"),
        salt=salt,
        n=n,
        r=r,
        p=p,
        # scrypt needs 128 * N * r bytes, more than OpenSSL's default limit allows.
        maxmem=256 * n * r + (1 << 20),
        dklen=length,
    )


def hash_password(password: str) -> str:
    """A salted scrypt hash of ``password`` in PHC string form (never the password itself)."""
    salt = os.urandom(_SALT_BYTES)
    digest = _scrypt(password, salt, _LOG2_N, _R, _P, _HASH_BYTES)
    return f"$scrypt$ln={_LOG2_N},r={_R},p={_P}${_b64(salt)}${_b64(digest)}"


def verify_password(password: str, stored: str) -> bool:
    """Whether ``password`` is the one ``stored`` (a :func:`hash_password` string) was made from.

    Compares in constant time. A ``stored`` value that is not such a string verifies nothing.
    """
    found = _PHC.fullmatch(stored) if isinstance(stored, str) else None
    if found is None or not isinstance(password, str):
        return False
    log2_n, r, p = (int(found.group(i)) for i in (1, 2, 3))
    if not (1 <= log2_n <= _MAX_LOG2_N and 1 <= r <= _MAX_RP and 1 <= p <= _MAX_RP):
        return False
    try:
        salt, expected = _unb64(found.group(4)), _unb64(found.group(5))
    except (binascii.Error, ValueError):
        return False
    if not expected:
        return False
    digest = _scrypt(password, salt, log2_n, r, p, len(expected))
    return hmac.compare_digest(digest, expected)


@lru_cache(maxsize=64)
def _password_name(resource_type: ResourceType) -> str | None:
    attribute = resource_type.schema.attribute(_NAME)
    if attribute is None or attribute.type is not AttributeType.STRING:
        return None
    return attribute.name


async def seal_password(
    resource: dict[str, Any],
    resource_type: ResourceType,
    *,
    existing: Mapping[str, Any] | None = None,
    replacing: bool = False,
    change_allowed: bool = False,
) -> bool:
    """Put a hash in ``resource`` where a clear ``password`` is; return whether it changed.

    ``existing`` is the stored resource for PUT and PATCH (``None`` on create);
    ``replacing`` says the write is a PUT, which keeps a stored password it does not name.
    Hashing runs in a thread: it takes a noticeable fraction of a second.
    """
    name = _password_name(resource_type)
    if name is None:
        return False
    new = resource.get(name, _ABSENT)
    old = _ABSENT if existing is None else existing.get(name, _ABSENT)
    if new is _ABSENT:
        if old is _ABSENT:
            return False
        if replacing:
            resource[name] = old
            return False
        _refuse_change(change_allowed)
        return True
    if new is old or new == old:
        return False  # the stored hash itself, untouched by the PATCH engine
    if old is not _ABSENT and await asyncio.to_thread(verify_password, new, old):
        resource[name] = old  # the same password again: not a change
        return False
    if existing is not None:  # only a create sets a password without changePassword
        _refuse_change(change_allowed)
    resource[name] = await asyncio.to_thread(hash_password, new)
    return True


async def seal_patch(
    result: PatchResult,
    resource_type: ResourceType,
    current: Mapping[str, Any],
    *,
    change_allowed: bool = False,
) -> PatchResult:
    """:func:`seal_password` for a PATCH result against the ``current`` resource.

    The same password sent again is no change: if it was the only one, the result says so and
    the store keeps the version.
    """
    if not result.changed:
        return result
    changed_keys = result.changed_attributes
    if changed_keys and _password_name(resource_type) not in changed_keys:
        return result  # the PATCH left the stored hash as it was (most PATCHes)
    if await seal_password(
        result.resource, resource_type, existing=current, change_allowed=change_allowed
    ):
        return result
    changed = result.changed_attributes - {_NAME}
    if changed == result.changed_attributes:
        return result
    return replace(
        result, changed=bool(changed) or bool(result.member_delta), changed_attributes=changed
    )


def _refuse_change(allowed: bool) -> None:
    if not allowed:
        raise MutabilityError(
            "Attribute 'password' cannot be changed: this service provider does not support "
            "changePassword (see /ServiceProviderConfig)."
        )
