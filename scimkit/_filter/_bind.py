"""Binding: check a parsed filter against a resource type and attach schema facts to it.

A bound filter names attributes by :class:`AttrRef` (never by client text), carries literals
converted to the attribute's type (dateTimes parsed, caseExact=false strings folded once), and
holds only conditions that can be true of some resource. Evaluators and query translators
work on bound filters only.
"""

from __future__ import annotations

import functools
import json
import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import TypeAlias

from scimkit._errors import InvalidFilter
from scimkit._filter._ast import (
    And,
    AttrPath,
    Compare,
    CompareOp,
    CompareValue,
    Filter,
    Junction,
    Negation,
    Not,
    Or,
    Present,
    Unquoted,
    ValuePath,
)
from scimkit._filter._parser import (
    FILTER_CACHE_SIZE,
    MAX_FILTER_LENGTH,
    is_json_word,
    parse_filter,
)
from scimkit._resource_type import AttrRef, ResourceType
from scimkit._schema import Attribute, AttributeType, Mutability, Returned
from scimkit._tolerance import STRICT, Tolerance

__all__ = [
    "BoundAnd",
    "BoundCompare",
    "BoundFilter",
    "BoundNot",
    "BoundOr",
    "BoundPresent",
    "BoundValue",
    "BoundValuePath",
    "MAX_VALUE_FILTER_ALTERNATIVES",
    "SCHEMAS_ATTRIBUTE",
    "bind_filter",
    "clear_bind_cache",
    "compile_filter",
    "fold_case",
    "is_folded",
]

BoundValue: TypeAlias = str | bool | int | float | datetime
"""A literal converted to its attribute's type."""

MAX_VALUE_FILTER_ALTERNATIVES = 64
"""Most alternatives (terms of the disjunctive normal form) a value filter ``attr[...]`` may
expand to. Stores that cannot run ``or``/``not`` inside one array element (see
``docs/filters.md``) expand it; the limit is checked here so every store accepts the same
filters."""

SCHEMAS_ATTRIBUTE = Attribute(
    "schemas",
    AttributeType.REFERENCE,
    multi_valued=True,
    mutability=Mutability.READ_ONLY,
    returned=Returned.ALWAYS,
    reference_types=("uri",),
    description="URNs of the schemas the resource uses (RFC 7643 §3).",
)
"""``schemas``, filterable as in RFC 7644 §3.4.2.2 (``schemas eq "urn:..."``). Schema URNs
compare case-insensitively, as :meth:`ResourceType.schema_for` does."""

_ORDERING = frozenset({CompareOp.GT, CompareOp.GE, CompareOp.LT, CompareOp.LE})
_SUBSTRING = frozenset({CompareOp.CO, CompareOp.SW, CompareOp.EW})
_STRINGS = frozenset({AttributeType.STRING, AttributeType.REFERENCE})
_TEXT = frozenset({*_STRINGS, AttributeType.BINARY})
_UNORDERED = frozenset({AttributeType.BOOLEAN, AttributeType.BINARY, AttributeType.COMPLEX})
_INT64 = range(-(2**63), 2**63)
_DATETIME = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?"
    r"(?:([Zz])|([+-])(\d{2}):(\d{2}))?"
)


def fold_case(text: str) -> str:
    """The caseExact=false comparison form of a string: NFC(casefold(NFD(text))).

    Two strings fold alike exactly when they are a canonical caseless match (Unicode §3.13
    D145, ``NFD(casefold(NFD(x)))``): NFD first because casefolding is defined on decomposed
    text (U+0345), and a normal form after it because folding can denormalise (U+0390 folds
    to three code points, its upper case to two). NFC rather than D145's NFD as the result:
    the same equality, the form stored folded mirrors already had, and substring filters
    that cannot match half of a composed character.
    """
    if text.isascii():
        return text.lower()  # same result, several times faster
    return unicodedata.normalize("NFC", unicodedata.normalize("NFD", text).casefold())


def is_folded(attribute: Attribute) -> bool:
    """Whether values of this simple attribute compare case-insensitively (folded)."""
    return attribute.type in _STRINGS and not attribute.case_exact


@dataclass(frozen=True, slots=True)
class BoundCompare:
    """``ref op value``; ``value`` has the attribute's type and is folded if :attr:`folded`."""

    ref: AttrRef
    op: CompareOp
    value: BoundValue

    @property
    def folded(self) -> bool:
        """Whether both sides compare in folded form (caseExact=false string or reference)."""
        return is_folded(self.ref.target)

    def __str__(self) -> str:
        return f"{self.ref.dotted} {self.op.value} {self.value!r}"


@dataclass(frozen=True, slots=True)
class BoundPresent:
    """``ref pr``: the attribute has a value (not null, not ``""``, not empty)."""

    ref: AttrRef

    def __str__(self) -> str:
        return f"{self.ref.dotted} pr"


class BoundAnd(Junction["BoundFilter"]):
    """Both operands hold."""

    __slots__ = ()
    word = "and"


class BoundOr(Junction["BoundFilter"]):
    """Either operand holds."""

    __slots__ = ()
    word = "or"


class BoundNot(Negation["BoundFilter"]):
    """The operand does not hold."""

    __slots__ = ()


@dataclass(frozen=True, slots=True)
class BoundValuePath:
    """``ref[filter]``: one value of the complex attribute ``ref`` satisfies ``filter``.

    The references inside ``filter`` have ``ref``'s attribute with a sub-attribute set; they
    are evaluated against one value (element) at a time.
    """

    ref: AttrRef
    filter: BoundFilter

    def __str__(self) -> str:
        return f"{self.ref.dotted}[{self.filter}]"


BoundFilter: TypeAlias = (
    BoundCompare | BoundPresent | BoundAnd | BoundOr | BoundNot | BoundValuePath
)
"""Any bound filter node."""


def bind_filter(
    node: Filter, resource_type: ResourceType, tolerance: Tolerance = STRICT
) -> BoundFilter:
    """Bind a parsed filter to ``resource_type``; raises :class:`InvalidFilter` if it cannot hold.

    Rejected: attributes the resource type does not define (rather than matching nothing, so
    a typo is a 400), ordering operators on Boolean, binary and complex attributes, substring
    operators on non-strings, and literals of the wrong JSON type.
    """
    return _Binder(resource_type, tolerance).bind(node, None)


# Entra's match queries are all `attr eq "literal"` with a new literal each time, so a cache
# keyed by the whole text never hits for them. This shape
# binds from a per-path template instead; anything else (escapes, control characters, lone
# surrogates, which the parser refuses) takes the general path.
_SIMPLE_EQ = re.compile(
    r' *([A-Za-z][\w.:$-]*) +[eE][qQ] +(?:"([^"\\\x00-\x1f\ud800-\udfff]*)"'
    # or, as a tolerance, a word without quotes (see _parser._WORD)
    r'|([^ ()\[\]"\'\x00-\x1f\ud800-\udfff][^ ()\[\]"\x00-\x1f\ud800-\udfff]*)) *\Z'
)
_TEMPLATE_TYPES = (AttributeType.STRING, AttributeType.REFERENCE)


def compile_filter(
    text: str, resource_type: ResourceType, tolerance: Tolerance = STRICT
) -> BoundFilter:
    """Parse and bind, cached by ``(text, resource_type, tolerance)``."""
    if len(text) <= MAX_FILTER_LENGTH:
        match = _SIMPLE_EQ.match(text)
        value = None if match is None else match.group(2)
        if match is not None and value is None and tolerance.unquoted_filter_values:
            # An unquoted word: only one that is no JSON literal reads as the string it is
            # for every string attribute (null would not, 1e999 is refused).
            value = None if is_json_word(match.group(3)) else match.group(3)
        if match is not None and value is not None:
            template = _eq_template(match.group(1), resource_type, tolerance)
            if template is not None:
                if is_folded(template.ref.target):
                    value = fold_case(value)
                return BoundCompare(template.ref, CompareOp.EQ, value)
    return _compile(text, resource_type, tolerance)


@functools.lru_cache(maxsize=FILTER_CACHE_SIZE)
def _eq_template(
    path: str, resource_type: ResourceType, tolerance: Tolerance
) -> BoundCompare | None:
    """The binding of ``path eq "..."`` for string-typed paths, or ``None`` to take the long way."""
    try:
        bound = bind_filter(parse_filter(f'{path} eq ""'), resource_type, tolerance)
    except InvalidFilter:
        return None
    if isinstance(bound, BoundCompare) and bound.ref.target.type in _TEMPLATE_TYPES:
        return bound
    return None


@functools.lru_cache(maxsize=FILTER_CACHE_SIZE)
def _compile(text: str, resource_type: ResourceType, tolerance: Tolerance) -> BoundFilter:
    return bind_filter(parse_filter(text), resource_type, tolerance)


def clear_bind_cache() -> None:
    """Forget compiled filters (benchmarks and tests)."""
    _compile.cache_clear()
    _eq_template.cache_clear()


class _Binder:
    def __init__(self, resource_type: ResourceType, tolerance: Tolerance) -> None:
        self.resource_type = resource_type
        self.tolerance = tolerance

    def bind(self, node: Filter, parent: AttrRef | None) -> BoundFilter:
        if isinstance(node, Compare):
            return self.compare(node, self.resolve(node.path, parent))
        if isinstance(node, Present):
            return BoundPresent(self.resolve(node.path, parent))
        if isinstance(node, And):
            return BoundAnd(self.bind(node.left, parent), self.bind(node.right, parent))
        if isinstance(node, Or):
            return BoundOr(self.bind(node.left, parent), self.bind(node.right, parent))
        if isinstance(node, Not):
            return BoundNot(self.bind(node.operand, parent))
        return self.value_path(node, parent)

    def value_path(self, node: ValuePath, parent: AttrRef | None) -> BoundFilter:
        if parent is not None:  # the parser already refuses this; a hand-built tree may not
            raise InvalidFilter("value filters cannot be nested", position=_pos(node.path))
        ref = self.resolve(node.path, None)
        if ref.sub_attribute is not None or not ref.attribute.is_complex:
            raise InvalidFilter(
                f"'{node.path}' is not a complex attribute, so it cannot take a value filter "
                f"'[...]'",
                position=_pos(node.path),
            )
        inner = self.bind(node.filter, ref)
        alternatives, _ = _alternatives(inner)
        if alternatives > MAX_VALUE_FILTER_ALTERNATIVES:
            raise InvalidFilter(
                f"the value filter of '{node.path}' is too complex (it expands to "
                f"{alternatives} alternatives; at most {MAX_VALUE_FILTER_ALTERNATIVES})",
                position=_pos(node.path),
            )
        return BoundValuePath(ref, inner)

    def resolve(self, path: AttrPath, parent: AttrRef | None) -> AttrRef:
        if parent is not None:
            ref = self.resolve_relative(path, parent)
        else:
            found = self.resource_type.resolve(
                path.urn,
                path.attribute,
                path.sub_attribute,
                extensions=self.tolerance.unqualified_extension_paths,
            )
            ref = found if found is not None else self.resolve_special(path)
        for attribute in (ref.attribute, ref.sub_attribute):
            if attribute is not None and (
                attribute.returned is Returned.NEVER
                or attribute.mutability is Mutability.WRITE_ONLY
            ):
                # Filtering on a value that is never returned would let clients probe it.
                raise InvalidFilter(
                    f"'{path}' cannot be used in a filter: it is never returned",
                    position=_pos(path),
                )
        return ref

    def resolve_relative(self, path: AttrPath, parent: AttrRef) -> AttrRef:
        sub = parent.attribute.sub_attribute(path.attribute)
        if path.urn is not None or path.sub_attribute is not None or sub is None:
            raise InvalidFilter(
                f"'{path}' is not a sub-attribute of '{parent.dotted}' (inside '[...]' name "
                f"sub-attributes only, e.g. {parent.attribute.sub_attributes[0].name})",
                position=_pos(path),
            )
        return parent.with_sub(sub)

    def resolve_special(self, path: AttrPath) -> AttrRef:
        core = self.resource_type.schema
        if (
            path.attribute.lower() == "schemas"
            and path.sub_attribute is None
            and (path.urn is None or path.urn.lower() == core.id.lower())
        ):
            return AttrRef(core.id, SCHEMAS_ATTRIBUTE)
        raise InvalidFilter(self.unknown(path), position=_pos(path))

    def unknown(self, path: AttrPath) -> str:
        resource_type = self.resource_type
        if path.urn is not None and resource_type.schema_for(path.urn) is None:
            return f"unknown schema '{path.urn}' for {resource_type.name} resources"
        if path.sub_attribute is not None:
            top = resource_type.resolve(path.urn, path.attribute)
            if top is not None:
                if not top.attribute.is_complex:
                    return f"'{top.dotted}' has no sub-attributes (in '{path}')"
                return f"'{top.dotted}' has no sub-attribute '{path.sub_attribute}'"
        return f"unknown attribute '{path}' for {resource_type.name} resources"

    def compare(self, node: Compare, ref: AttrRef) -> BoundFilter:
        path, op, literal = node.path, node.op, node.value
        if literal is None:
            if op not in (CompareOp.EQ, CompareOp.NE):
                raise InvalidFilter(
                    f"null can only be compared with eq or ne, not {op.value}",
                    position=_pos(path),
                )
            # "eq null" asks for an unassigned attribute (RFC 7643 §2.5): exactly "not pr",
            # on the attribute as named (a complex one included).
            present = BoundPresent(ref)
            return BoundNot(present) if op is CompareOp.EQ else present
        target = ref.target
        if target.is_complex:
            # RFC 7644 §3.4.2.2 lets "emails co x" and "members eq id" test the value
            # sub-attribute; complex attributes without one need an explicit sub-attribute.
            value_sub = target.sub_attribute("value")
            if value_sub is None:
                example = target.sub_attributes[0].name
                raise InvalidFilter(
                    f"'{path}' is complex: compare one of its sub-attributes, e.g. "
                    f"'{path}.{example}'",
                    position=_pos(path),
                )
            ref = ref.with_sub(value_sub)
            target = value_sub
        kind = target.type
        if op in _ORDERING and kind in _UNORDERED:
            raise InvalidFilter(
                f"'{op.value}' cannot compare '{path}', a {kind.value} attribute "
                f"(RFC 7644 §3.4.2.2)",
                position=_pos(path),
            )
        if op in _SUBSTRING and kind not in _STRINGS:
            raise InvalidFilter(
                f"'{op.value}' needs a string attribute; '{path}' is {kind.value}",
                position=_pos(path),
            )
        value = self.convert(path, target, literal, node.written)
        if isinstance(value, str) and is_folded(target):
            value = fold_case(value)
        if isinstance(value, _Instant):
            return _compare_instant(ref, op, value)
        return BoundCompare(ref, op, value)

    def convert(
        self, path: AttrPath, target: Attribute, literal: CompareValue, written: str | None
    ) -> BoundValue | _Instant:
        kind = target.type
        if written is not None and self.tolerance.unquoted_filter_values:
            # Unquoted, the value is a string unless it is valid JSON for the attribute's type
            # (null is valid for any type, and was handled before).
            if kind in _TEXT:
                return written
            literal = str(literal) if isinstance(literal, Unquoted) else literal
        elif isinstance(literal, Unquoted):
            raise InvalidFilter(
                f"the value {literal} compared with '{path}' is not valid JSON: strings must "
                f"be in double quotes ({json.dumps(str(literal), ensure_ascii=False)})",
                position=_pos(path),
            )
        if kind is AttributeType.BOOLEAN:
            if isinstance(literal, bool):
                return literal
            if (
                self.tolerance.string_booleans
                and isinstance(literal, str)
                and literal.lower() in ("true", "false")
            ):
                return literal.lower() == "true"
        elif kind is AttributeType.INTEGER:
            if isinstance(literal, int) and not isinstance(literal, bool):
                if literal not in _INT64:
                    raise InvalidFilter(
                        f"{literal} is out of range for '{path}'", position=_pos(path)
                    )
                return literal
        elif kind is AttributeType.DECIMAL:
            if isinstance(literal, int | float) and not isinstance(literal, bool):
                return float(literal)
        elif kind is AttributeType.DATETIME:
            if isinstance(literal, str):
                return _parse_datetime(literal, path)
        elif isinstance(literal, str):
            return literal
        raise InvalidFilter(
            f"'{path}' is a {kind.value} attribute; {_literal_text(literal)} is not "
            f"{_expected(kind)}",
            position=_pos(path),
        )


def _alternatives(node: BoundFilter) -> tuple[int, int]:
    """Terms of the disjunctive normal form of ``node`` and of ``not node``.

    Mirrors the expansion in ``scimkit.mongo._query``: a negated ordering or substring test
    splits in two (the value is absent, or present and on the other side).
    """
    if isinstance(node, BoundCompare):
        return 1, 2 if node.op in _ORDERING or node.op in _SUBSTRING else 1
    if isinstance(node, BoundPresent | BoundValuePath):
        return 1, 1
    if isinstance(node, BoundNot):
        positive, negative = _alternatives(node.operand)
        return negative, positive
    left, right = _alternatives(node.left), _alternatives(node.right)
    if isinstance(node, BoundAnd):
        return left[0] * right[0], left[1] + right[1]
    return left[0] + right[0], left[1] * right[1]


@dataclass(frozen=True, slots=True)
class _Instant:
    """A dateTime literal as the whole milliseconds around it (the same one if it is whole)."""

    floor: datetime
    ceiling: datetime


def _compare_instant(ref: AttrRef, op: CompareOp, instant: _Instant) -> BoundFilter:
    """``ref op t`` at the literal's own precision, over stored millisecond values ``v``.

    A literal between two milliseconds (``floor < t < ceiling``) equals no stored value, so
    ``eq`` holds for no resource and ``ne`` (``not eq``) for every one; ``v < t`` is
    ``v < ceiling``, ``v >= t`` is ``v >= ceiling``, ``v > t`` is ``v > floor`` and ``v <= t``
    is ``v <= floor``. The constants are written with ``pr``, so every evaluator and
    translator runs them unchanged.
    """
    floor, ceiling = instant.floor, instant.ceiling
    if floor == ceiling:
        return BoundCompare(ref, op, floor)
    present = BoundPresent(ref)
    if op is CompareOp.EQ:
        return BoundAnd(present, BoundNot(present))
    if op is CompareOp.NE:
        return BoundOr(present, BoundNot(present))
    if op is CompareOp.LT or op is CompareOp.GE:
        return BoundCompare(ref, op, ceiling)
    return BoundCompare(ref, op, floor)


def _parse_datetime(text: str, path: AttrPath) -> _Instant:
    match = _DATETIME.fullmatch(text)
    try:
        if match is None:
            raise ValueError(text)
        year, month, day, hour, minute, second, fraction, zulu, sign, tzh, tzm = match.groups()
        offset = UTC
        if sign is not None:
            delta = timedelta(hours=int(tzh), minutes=int(tzm))
            offset = timezone(-delta if sign == "-" else delta)
        # Stored values have millisecond precision (BSON dates); the digits below it decide
        # how each operator rounds (see _compare_instant).
        fraction = fraction or ""
        millis = int(fraction[:3].ljust(3, "0"))
        value = datetime(
            int(year),
            int(month),
            int(day),
            int(hour),
            int(minute),
            int(second),
            millis * 1000,
            tzinfo=offset,
        )
        floor = value.astimezone(UTC)
        below = fraction[3:].strip("0") != ""  # digits below the millisecond
        return _Instant(floor, floor + timedelta(milliseconds=1) if below else floor)
    except (ValueError, OverflowError):
        raise InvalidFilter(
            f"'{path}' is a dateTime attribute; \"{text}\" is not an RFC 3339 date-time "
            f'such as "2011-05-13T04:42:34Z"',
            position=_pos(path),
        ) from None


def _expected(kind: AttributeType) -> str:
    if kind is AttributeType.BOOLEAN:
        return "true or false"
    if kind is AttributeType.INTEGER:
        return "an integer"
    if kind is AttributeType.DECIMAL:
        return "a number"
    return "a string in double quotes"


def _literal_text(literal: CompareValue) -> str:
    if isinstance(literal, Unquoted):
        return str(literal)
    if isinstance(literal, bool):
        return "true" if literal else "false"
    if isinstance(literal, str):
        return f'"{literal}"'
    return str(literal)


def _pos(path: AttrPath) -> int | None:
    return path.position if path.position >= 0 else None
