"""The filter syntax tree (RFC 7644 §3.4.2.2): frozen, hashable, independent of any parser library.

Nodes are plain values: two parses of the same text compare equal, so callers can cache and
compare them. :func:`str` renders a node back to canonical filter text.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from enum import StrEnum
from typing import ClassVar, Generic, TypeAlias, TypeVar

__all__ = [
    "And",
    "AttrPath",
    "Compare",
    "CompareOp",
    "CompareValue",
    "Filter",
    "Junction",
    "Negation",
    "Not",
    "Or",
    "PatchPath",
    "Present",
    "Unquoted",
    "ValuePath",
]


_Node = TypeVar("_Node")


class Unquoted(str):
    """A comparison value written without quotes that is no JSON literal (``jyoung``).

    Microsoft's SCIM reference implementation sends such values (``jyoung``, ``007``,
    ``2015-10-10T14:38:21Z``). Not RFC 7644: binding refuses it unless
    ``Tolerance.unquoted_filter_values`` is on, and then reads it against the attribute's
    type. A ``str`` subclass, so code that takes the value as a string (a PATCH filter's
    template) sees the text; equality of nodes tells it apart from the quoted string.
    """

    __slots__ = ()

    def __repr__(self) -> str:
        return f"Unquoted({str.__repr__(self)})"


CompareValue: TypeAlias = str | bool | int | float | None
"""A comparison value as written: JSON string, ``true``/``false``, number or ``null`` (or an
:class:`Unquoted` word)."""


class CompareOp(StrEnum):
    """Comparison operators (RFC 7644 §3.4.2.2, Table 3), ``pr`` aside."""

    EQ = "eq"
    NE = "ne"
    CO = "co"
    SW = "sw"
    EW = "ew"
    GT = "gt"
    GE = "ge"
    LT = "lt"
    LE = "le"


@dataclass(frozen=True, slots=True)
class AttrPath:
    """``[urn:]attribute[.subAttribute]`` as written (names are resolved later, at bind time).

    ``position`` is the offset of the path in the filter text, for error messages; it takes no
    part in equality.
    """

    urn: str | None
    attribute: str
    sub_attribute: str | None = None
    position: int = field(default=-1, compare=False, repr=False)

    def __str__(self) -> str:
        text = self.attribute if self.urn is None else f"{self.urn}:{self.attribute}"
        return text if self.sub_attribute is None else f"{text}.{self.sub_attribute}"


@dataclass(frozen=True, slots=True, eq=False)
class Compare:
    """``path op value``."""

    path: AttrPath
    op: CompareOp
    value: CompareValue
    written: str | None = field(default=None, repr=False)
    """The value's text when it was written without quotes (``5``, ``TRUE``, ``jyoung``), so
    a tolerant binding can read ``externalId eq 5`` as the string ``"5"``. Like
    :attr:`AttrPath.position`, it takes no part in equality."""

    # Equality includes the literal's type: in Python ``1 == True == 1.0``, but the filters
    # ``x eq 1``, ``x eq true`` and ``x eq 1.0`` are different.
    def _key(self) -> tuple[object, ...]:
        return (self.path, self.op, type(self.value), self.value)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Compare):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash(self._key())

    def __str__(self) -> str:
        return f"{self.path} {self.op.value} {_render_literal(self.value)}"


@dataclass(frozen=True, slots=True)
class Present:
    """``path pr``."""

    path: AttrPath

    def __str__(self) -> str:
        return f"{self.path} pr"


@dataclass(frozen=True, slots=True)
class Junction(Generic[_Node]):
    """Two operands joined by :attr:`word`: an ``and`` or ``or`` of a parsed or a bound filter.

    Renders fully parenthesised, as bound filters do; the parsed :class:`And` and :class:`Or`
    render with only the parentheses precedence needs, so their text parses back to them.
    """

    left: _Node
    right: _Node
    word: ClassVar[str]

    def __str__(self) -> str:
        return f"({self.left} {self.word} {self.right})"


@dataclass(frozen=True, slots=True)
class Negation(Generic[_Node]):
    """``not (operand)`` of a parsed or a bound filter."""

    operand: _Node

    def __str__(self) -> str:
        return f"not ({self.operand})"


class And(Junction["Filter"]):
    """``left and right``."""

    __slots__ = ()
    word = "and"

    def __str__(self) -> str:
        return f"{_group(self.left, Or)} and {_group(self.right, Or)}"


class Or(Junction["Filter"]):
    """``left or right``."""

    __slots__ = ()
    word = "or"

    def __str__(self) -> str:
        return f"{self.left} or {self.right}"


class Not(Negation["Filter"]):
    """``not (operand)``."""

    __slots__ = ()


@dataclass(frozen=True, slots=True)
class ValuePath:
    """``path[filter]``: ``filter`` holds for one value of the multi-valued (or complex) ``path``.

    Paths inside ``filter`` are relative to that value: they name sub-attributes.
    """

    path: AttrPath
    filter: Filter

    def __str__(self) -> str:
        return f"{self.path}[{self.filter}]"


Filter: TypeAlias = Compare | Present | And | Or | Not | ValuePath
"""Any filter node."""


@dataclass(frozen=True, slots=True)
class PatchPath:
    """A PATCH ``path`` (RFC 7644 §3.5.2): ``attrPath`` or ``valuePath[filter]`` ``[.subAttr]``."""

    path: AttrPath
    filter: Filter | None = None
    sub_attribute: str | None = None

    def __str__(self) -> str:
        text = str(self.path)
        if self.filter is not None:
            text += f"[{self.filter}]"
        if self.sub_attribute is not None:
            text += f".{self.sub_attribute}"
        return text


def _render_literal(value: CompareValue) -> str:
    if isinstance(value, Unquoted):
        return str(value)
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    return repr(value)


def _group(node: Filter, weaker: type) -> str:
    # Parenthesise an operand only where precedence requires it.
    return f"({node})" if isinstance(node, weaker) else str(node)
