"""SCIM request messages (RFC 7644 §3.1): the JSON envelope a request message shares."""

from __future__ import annotations

from typing import Any

from scimkit._errors import InvalidSyntax

__all__ = ["message_fields"]


def message_fields(body: Any, schema: str, name: str) -> dict[str, Any]:
    """The members of the request message ``name`` (``SearchRequest``), keyed in lower case.

    Raises :class:`InvalidSyntax` unless ``body`` is a JSON object whose ``schemas`` lists
    ``schema``. Member names match case-insensitively (RFC 7643 §2.1).
    """
    if not isinstance(body, dict):
        raise InvalidSyntax(f"A {name} must be a JSON object.")
    fields = {key.lower(): value for key, value in body.items()}
    schemas = fields.get("schemas")
    if not isinstance(schemas, list) or schema not in schemas:
        raise InvalidSyntax(f"A {name} must list '{schema}' in 'schemas'.")
    return fields
