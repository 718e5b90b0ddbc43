"""Password hashing for console admins: salted scrypt (``hashlib.scrypt``), never the password.

A stored hash reads ``scrypt$<log2 n>$<r>$<p>$<salt>$<key>`` (salt and key base64), so the cost
can be raised later while old hashes still verify.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

__all__ = ["hash_password", "verify_password"]

# n = 2**15, r = 8: 32 MiB and tens of milliseconds per hash, the cost OWASP suggests for scrypt.
_LOG2_N = 15
_R = 8
_P = 1
_KEY_BYTES = 32
_SALT_BYTES = 16
_MAX_MEMORY = 64 * 1024 * 1024


def _derive(password: str, salt: bytes, log2_n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        password.encode("utf-8"),
        salt=salt,
        n=2**log2_n,
        r=r,
        p=p,
        maxmem=_MAX_MEMORY,
        dklen=_KEY_BYTES,
    )


def hash_password(password: str) -> str:
    """A new salted hash of ``password`` to store."""
    salt = secrets.token_bytes(_SALT_BYTES)
    key = _derive(password, salt, _LOG2_N, _R, _P)
    return "$".join(
        ["scrypt", str(_LOG2_N), str(_R), str(_P), _b64(salt), _b64(key)],
    )


def verify_password(password: str, stored: str) -> bool:
    """Whether ``password`` hashes to ``stored`` (constant-time comparison of the keys)."""
    try:
        scheme, log2_n, r, p, salt, key = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(key)
        derived = _derive(password, base64.b64decode(salt), int(log2_n), int(r), int(p))
    except ValueError:
        return False
    return hmac.compare_digest(derived, expected)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
