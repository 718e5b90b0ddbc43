"""Redaction of secrets in logged SCIM bodies: what the Activity page may show an admin.

Passwords, tokens and every attribute a schema declares ``returned: never`` are replaced by
:data:`REDACTED`, wherever they appear: as a key (plain, dotted or URN-qualified, as Entra
sends them in a path-less PATCH) or as the target of a PATCH operation's ``path``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from scimkit import ResourceType, Returned

__all__ = ["ALWAYS_SECRET", "REDACTED", "Redactor"]

REDACTED = "[redacted]"
ALWAYS_SECRET = frozenset(
    {
        "password",
        "token",
        "secret",
        "secrettoken",
        "authorization",
        "access_token",
        "refresh_token",
        "client_secret",
        "apikey",
        "api_key",
    }
)
"""Names redacted whatever the schemas say (credentials some clients add)."""

_FILTERS = re.compile(r"\[[^\]]*\]")
_PARTS = re.compile(r"[.:]")


class Redactor:
    """Redacts the secret names of ``resource_types`` (and :data:`ALWAYS_SECRET`)."""

    def __init__(self, resource_types: Iterable[ResourceType]) -> None:
        names = set(ALWAYS_SECRET)
        for resource_type in resource_types:
            for ref in resource_type.attributes():
                if ref.attribute.returned is Returned.NEVER:
                    names.add(ref.attribute.name.casefold())
                for sub in ref.attribute.sub_attributes:
                    if sub.returned is Returned.NEVER:
                        names.add(sub.name.casefold())
        self.names = frozenset(names)

    def is_secret(self, key: str) -> bool:
        """Whether an attribute name or PATCH path (``urn:…:password``, ``a[x eq y].b``) is."""
        plain = _FILTERS.sub("", key)
        return any(part.casefold() in self.names for part in _PARTS.split(plain) if part)

    def redact(self, value: Any) -> Any:
        """A copy of a JSON value with secret values replaced."""
        if isinstance(value, dict):
            path = value.get("path")
            secret_target = isinstance(path, str) and "op" in value and self.is_secret(path)
            out: dict[str, Any] = {}
            for key, item in value.items():
                if self.is_secret(key) or (secret_target and key == "value"):
                    out[key] = REDACTED
                else:
                    out[key] = self.redact(item)
            return out
        if isinstance(value, list):
            return [self.redact(item) for item in value]
        return value
