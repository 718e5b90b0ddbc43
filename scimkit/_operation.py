"""The operation context that decides mutability and ``returned`` handling (RFC 7644 §3.2)."""

from __future__ import annotations

from enum import Enum

__all__ = ["Operation"]


class Operation(Enum):
    """What a resource body is being processed for.

    Request contexts (``CREATE``, ``REPLACE``, ``PATCH``) decide which attributes a client may
    set; response contexts (``RESPONSE``) decide which attributes are returned.
    """

    CREATE = "create"
    REPLACE = "replace"
    PATCH = "patch"
    RESPONSE = "response"

    @property
    def is_request(self) -> bool:
        return self is not Operation.RESPONSE
