"""SCIM filters: parse, bind to a resource type, evaluate in memory; backend-neutral.

``parse_filter`` → :class:`Filter` (syntax only) → ``bind_filter`` → :class:`BoundFilter`
(checked against a resource type) → ``matches`` (in memory). ``compile_filter`` does the first
two steps with a cache. ``filter_terms`` walks a bound filter for stores and translators (the
MongoDB translation lives in ``scimkit.mongo``).
"""

from __future__ import annotations

from scimkit._filter._ast import (
    And,
    AttrPath,
    Compare,
    CompareOp,
    CompareValue,
    Filter,
    Not,
    Or,
    PatchPath,
    Present,
    Unquoted,
    ValuePath,
)
from scimkit._filter._bind import (
    MAX_VALUE_FILTER_ALTERNATIVES,
    SCHEMAS_ATTRIBUTE,
    BoundAnd,
    BoundCompare,
    BoundFilter,
    BoundNot,
    BoundOr,
    BoundPresent,
    BoundValue,
    BoundValuePath,
    bind_filter,
    clear_bind_cache,
    compile_filter,
    fold_case,
    is_folded,
)
from scimkit._filter._evaluate import (
    has_value,
    matches,
    sort_ref,
    sort_resources,
    sort_value,
)
from scimkit._filter._parser import (
    MAX_FILTER_DEPTH,
    MAX_FILTER_LENGTH,
    clear_parse_cache,
    parse_filter,
    parse_path,
)
from scimkit._filter._walk import CONNECTIVES, BoundCondition, filter_conditions, filter_terms

__all__ = [
    "And",
    "AttrPath",
    "BoundAnd",
    "BoundCompare",
    "BoundCondition",
    "BoundFilter",
    "BoundNot",
    "BoundOr",
    "BoundPresent",
    "BoundValue",
    "BoundValuePath",
    "CONNECTIVES",
    "Compare",
    "CompareOp",
    "CompareValue",
    "Filter",
    "MAX_FILTER_DEPTH",
    "MAX_FILTER_LENGTH",
    "MAX_VALUE_FILTER_ALTERNATIVES",
    "Not",
    "Or",
    "PatchPath",
    "Present",
    "SCHEMAS_ATTRIBUTE",
    "Unquoted",
    "ValuePath",
    "bind_filter",
    "clear_filter_caches",
    "compile_filter",
    "filter_conditions",
    "filter_terms",
    "fold_case",
    "has_value",
    "is_folded",
    "matches",
    "parse_filter",
    "parse_path",
    "sort_ref",
    "sort_resources",
    "sort_value",
]


def clear_filter_caches() -> None:
    """Forget every cached parse and bind (benchmarks and tests)."""
    clear_parse_cache()
    clear_bind_cache()
