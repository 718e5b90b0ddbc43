"""The MongoDB query shapes of Entra's filters and the store's indexes, printed, not timed.

The mongoeco stand-in is no performance reference, so this shows what MongoStore would ask a
real server for: each filter translated, and every index the store creates.
``python -m benchmarks.micro mongo``.
"""

from __future__ import annotations

import importlib
from typing import Any

from benchmarks._entra import EXTERNAL_ID
from benchmarks._service import resource_types
from scimkit import ENTRA, compile_filter
from scimkit.mongo._query import translate_filter

__all__ = ["run"]


def run() -> dict[str, Any]:
    """``mongo_queries`` (filter text -> query document) and ``mongo_indexes``."""
    users, groups = resource_types()
    shapes: dict[str, Any] = {}
    for resource_type, text in (
        (users, 'userName eq "Test_User_00aa00aa@contoso.example"'),
        (users, f'externalId eq "{EXTERNAL_ID}"'),
        (users, 'emails[type eq "work"].value eq "alice@contoso.example"'),
        (groups, 'displayName eq "Sales Team"'),
        (groups, 'id eq "927fa2c0" and members eq "f648f8d5"'),
    ):
        bound = compile_filter(text, resource_type, ENTRA)
        shapes[f"{resource_type.name}: {text}"] = translate_filter(bound)
    results: dict[str, Any] = {
        "mongo_queries": {
            "note": 'MongoStore prefixes every query with {"t": tenant, "rt": resource type}; '
            "a members condition is first resolved through the membership collection (t_m_g)",
            **shapes,
        }
    }
    try:
        indexes = importlib.import_module("scimkit.mongo._indexes")
    except ImportError as exc:
        results["mongo_indexes"] = f"scimkit.mongo not importable: {exc}"
        return results
    specs = [
        *indexes.resource_indexes((users, groups), {}, {}),
        *indexes.membership_indexes(),
    ]
    results["mongo_indexes"] = {
        spec.name: {
            "keys": ", ".join(f"{name}: {order}" for name, order in spec.keys),
            "unique": spec.unique,
            **({"partialFilterExpression": dict(spec.partial)} if spec.partial else {}),
        }
        for spec in specs
    }
    return results
