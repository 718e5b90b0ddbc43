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
_VERDICTS = 4096
"""Keys whose verdict is remembered; bodies repeat a few dozen keys, but keys are client input."""


class Redactor:
    """Redacts the secret names of ``resource_types`` (and :data:`ALWAYS_SECRET`)."""

    def __init__(self, resource_types: Iterable[ResourceType]) -> None:
        names = set(ALWAYS_SECRET)
        returned: set[str] = set()
        for resource_type in resource_types:
            returned.update(resource_type.schema_ids)
            for ref in resource_type.attributes():
                for attribute in (ref.attribute, *ref.attribute.sub_attributes):
                    if attribute.returned is Returned.NEVER:
                        names.add(attribute.name.casefold())
                    else:
                        returned.add(attribute.name)
        self.names = frozenset(names)
        self._all_ascii = all(name.isascii() for name in self.names)
        # A name that holds another (``access_token``, ``token``) needs no search of its own.
        self._needles = tuple(
            name
            for name in sorted(self.names)
            if not any(other != name and other in name for other in self.names)
        )
        self._verdicts: dict[str, bool] = {}
        # A SCIM response holds only message keys and attributes a schema returns (the service
        # refuses unknown attributes), so it can hold a secret key only if such an attribute
        # has a secret name; the request log then scans responses as it scans requests.
        self.responses_clean = not any(self.is_secret(name) for name in returned)

    def is_secret(self, key: str) -> bool:
        """Whether an attribute name or PATCH path (``urn:…:password``, ``a[x eq y].b``) is."""
        verdict = self._verdicts.get(key)
        if verdict is None:
            plain = _FILTERS.sub("", key)
            verdict = any(part.casefold() in self.names for part in _PARTS.split(plain) if part)
            if len(self._verdicts) >= _VERDICTS:
                self._verdicts.clear()
            self._verdicts[key] = verdict
        return verdict

    def may_hold_secrets(self, raw: bytes) -> bool:
        r"""False only when the JSON text ``raw`` cannot hold a secret name anywhere.

        A key or path that :meth:`is_secret` catches holds one of :attr:`names` as it stands in
        the text, unless spelled with a ``\u`` escape or non-ASCII letters that casefold to
        ASCII ones (``ſ``): such bodies, and any other non-ASCII ones, are always redacted.
        """
        if not self._all_ascii or not raw.isascii():
            return True
        # Lowered as bytes (ASCII only: half the work of lowering text), then searched as
        # text: ``in`` on a str needs no argument parsing (bytes.find does; ``in`` on bytes
        # first tries the needle as a byte value and formats the error).
        text = raw.lower().decode("ascii")
        # ``\u`` looked for only past the first backslash: a one-character search runs as
        # memchr, a two-character one character by character, and most bodies escape nothing.
        if "\\" in text and text.find("\\u", text.index("\\")) != -1:
            return True
        for needle in self._needles:
            if needle in text:
                return True
        return False

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
