"""Names for the JSON shapes that pass between the service, the PATCH engine and the stores.

They are aliases, not classes: a resource stays a plain ``dict`` (fast to copy, to render with
orjson and to store), and the names only say which shape a signature means.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, TypeAlias

__all__ = ["Member", "Position", "Resource", "copy_json"]

Resource: TypeAlias = dict[str, Any]
"""A SCIM resource: canonical attribute names, extension attributes under their URN key,
dateTimes as aware UTC ``datetime`` values (``docs/architecture.md``, "Data model")."""

Member: TypeAlias = dict[str, Any]
"""One group member object: ``value`` (the member's id) and optional ``type``, ``display``,
``$ref``."""

Position: TypeAlias = tuple[Any, str]
"""A keyset position in a query's order: (sort key, id). The sort key is the store's own
comparison value, ``None`` for a resource without the sort attribute."""


# Immutable leaves: shared by a copy, and not even visited by a call (most of a resource).
_ATOMS = frozenset({str, int, float, bool, type(None), datetime})


def copy_json(value: Any) -> Any:
    """A deep copy of JSON-shaped data: dicts and lists copied, immutable leaves shared.

    Cheaper than ``copy.deepcopy`` (no memo): only containers cost a call.
    """
    if isinstance(value, dict):
        return {k: v if type(v) in _ATOMS else copy_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [v if type(v) in _ATOMS else copy_json(v) for v in value]
    return value
