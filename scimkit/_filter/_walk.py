"""One walk over a bound filter, for every store and translator that looks at its conditions."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TypeAlias

from scimkit._filter._bind import (
    BoundAnd,
    BoundCompare,
    BoundFilter,
    BoundNot,
    BoundOr,
    BoundPresent,
    BoundValuePath,
)

__all__ = ["CONNECTIVES", "BoundCondition", "filter_conditions", "filter_terms"]

BoundCondition: TypeAlias = BoundCompare | BoundPresent | BoundValuePath
"""A node that tests an attribute: a comparison, ``pr``, or a value path taken whole."""

CONNECTIVES: tuple[type[BoundAnd | BoundOr | BoundNot], ...] = (BoundAnd, BoundOr, BoundNot)


def filter_terms(
    bound: BoundFilter,
    through: tuple[type[BoundAnd | BoundOr | BoundNot], ...] = CONNECTIVES,
) -> Iterator[BoundFilter]:
    """The nodes under ``bound`` reached through the connectives ``through``, left to right.

    With every connective, the conditions the filter tests (value paths are not entered: their
    conditions apply to one element); with ``(BoundAnd,)``, the terms of a top-level run of
    ``and``, any of which a match must satisfy; with ``(BoundOr,)``, its alternatives.
    """
    stack = [bound]
    while stack:
        node = stack.pop()
        if isinstance(node, BoundAnd | BoundOr) and isinstance(node, through):
            stack += (node.right, node.left)
        elif isinstance(node, BoundNot) and isinstance(node, through):
            stack.append(node.operand)
        else:
            yield node


def filter_conditions(bound: BoundFilter) -> Iterator[BoundCondition]:
    """Every condition of ``bound``, left to right, under any ``and``, ``or`` and ``not``."""
    for node in filter_terms(bound):
        if isinstance(node, BoundCompare | BoundPresent | BoundValuePath):
            yield node
