"""MongoDB queries for bound filters and sorts, on the document layout of ``_codec``.

Pure functions, no driver import. caseExact=false string comparisons query the folded mirror
``f``; everything else queries ``a``. Field paths are built from schema names only, and every
client value is a plain BSON value or an escaped regular expression: a filter cannot inject
an operator.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeAlias

from scimkit._errors import InternalError, InvalidCursor
from scimkit._filter import (
    BoundAnd,
    BoundCompare,
    BoundCondition,
    BoundFilter,
    BoundNot,
    BoundOr,
    BoundPresent,
    BoundValue,
    BoundValuePath,
    CompareOp,
    filter_conditions,
    filter_terms,
)
from scimkit._resource_type import AttrRef
from scimkit._schema import Attribute, AttributeType
from scimkit.mongo._codec import encode_key, field_path, has_folded_mirror, sort_field

__all__ = [
    "Rewrite",
    "translate_after",
    "translate_filter",
    "translate_order",
    "translate_sort",
]

Rewrite: TypeAlias = Callable[[BoundCondition], dict[str, Any] | None]
"""Called on each top-level leaf and value path first; a dict it returns replaces the
translation (e.g. to answer ``members`` conditions from a membership collection)."""


# A keyset position holds a plain scalar or nothing: anything else is a forged cursor.
_KEY_TYPES = (str, int, float, bool, datetime)
_TEXT = frozenset({AttributeType.STRING, AttributeType.REFERENCE, AttributeType.BINARY})
# "(?![\s\S])" is the absolute end of the string in both PCRE and Python: "$" also matches
# before a final newline, and PCRE's "\z" does not exist in Python's re (mongoeco).
_END = r"(?![\s\S])"
_OPS = {
    CompareOp.NE: "$ne",
    CompareOp.GT: "$gt",
    CompareOp.GE: "$gte",
    CompareOp.LT: "$lt",
    CompareOp.LE: "$lte",
}
_NEGATED = {"$gt": "$lte", "$gte": "$lt", "$lt": "$gte", "$lte": "$gt"}


# -- sort -------------------------------------------------------------------------------------


def translate_sort(ref: AttrRef, descending: bool) -> list[tuple[str, int]]:
    """The sort specification for ``sortBy=ref`` on the ``s`` part of a document.

    Sorts on the presence flag first, so resources without a value come last ascending and
    first descending (RFC 7644 §3.4.2.3). Add a unique tie-breaker (``_id``) for stable pages.
    """
    field = sort_field(ref)
    if descending:
        return [(field + ".p", 1), (field + ".k", -1)]
    return [(field + ".p", -1), (field + ".k", 1)]


def translate_order(sort_by: AttrRef | None, descending: bool) -> list[tuple[str, int]]:
    """The total order of a query: the sort (missing values per RFC 7644), then the id."""
    direction = -1 if descending else 1
    spec = translate_sort(sort_by, descending) if sort_by is not None else []
    return [*spec, ("a.id", direction)]


def translate_after(
    sort_by: AttrRef | None, position: tuple[Any, str], descending: bool
) -> dict[str, Any]:
    """The documents strictly after ``position`` in the order of :func:`translate_order`.

    In ascending order a document's key is (has no value, value, id): present values first.
    """
    value, id = position
    if not isinstance(id, str) or (value is not None and not isinstance(value, _KEY_TYPES)):
        raise InvalidCursor()
    beyond = "$lt" if descending else "$gt"
    if sort_by is None:
        return {"a.id": {beyond: id}}
    field = sort_field(sort_by)
    present, key = f"{field}.p", f"{field}.k"
    missing = {present: {"$ne": 1}}
    if value is None:
        if descending:
            return {"$or": [{present: 1}, {**missing, "a.id": {"$lt": id}}]}
        return {**missing, "a.id": {"$gt": id}}
    after_value = [
        {present: 1, key: {beyond: value}},
        {present: 1, key: value, "a.id": {beyond: id}},
    ]
    return {"$or": after_value if descending else [*after_value, missing]}


# -- filters ----------------------------------------------------------------------------------


def translate_filter(bound: BoundFilter, *, rewrite: Rewrite | None = None) -> dict[str, Any]:
    """The MongoDB query for ``bound`` on documents of ``_codec.document_fields``.

    Selects exactly the resources :func:`scimkit._filter.matches` accepts.
    ``rewrite`` is called on each top-level leaf and value path (not inside value paths);
    a dict it returns is used instead of the translation of that node.
    """
    return _Translator(rewrite).query(bound)


class _Translator:
    def __init__(self, rewrite: Rewrite | None) -> None:
        self.rewrite = rewrite

    def query(self, node: BoundFilter) -> dict[str, Any]:
        if self.rewrite is not None and isinstance(
            node, BoundCompare | BoundPresent | BoundValuePath
        ):
            replaced = self.rewrite(node)
            if replaced is not None:
                return replaced
        return self.plain(node)

    def plain(self, node: BoundFilter) -> dict[str, Any]:
        if isinstance(node, BoundAnd):
            return {"$and": [self.query(n) for n in filter_terms(node, (BoundAnd,))]}
        if isinstance(node, BoundOr):
            return {"$or": [self.query(n) for n in filter_terms(node, (BoundOr,))]}
        if isinstance(node, BoundNot):
            # $nor, not $not: {$not: <regex>} fails on mongoeco, and $not takes no queries.
            return {"$nor": [self.query(node.operand)]}
        if isinstance(node, BoundCompare):
            return {field_path(node.ref, node.folded): _condition(node.op, node.value)}
        if isinstance(node, BoundPresent):
            return _present_query(node.ref)
        return self.value_path(node)

    def value_path(self, node: BoundValuePath) -> dict[str, Any]:
        ref = node.ref
        attribute = ref.attribute
        whole = AttrRef(ref.schema, attribute, None, ref.extension)
        if not attribute.multi_valued:
            # One value: conditions on its sub-attributes, plus "it exists", need no
            # $elemMatch (which only applies to arrays).
            inner = _Translator(None).plain(node.filter)
            return {"$and": [{field_path(whole, False): {"$type": "object"}}, inner]}
        array = field_path(whole, has_folded_mirror(attribute))
        if not _scalar_subs(node.filter):
            # General form: valid MongoDB, but mongoeco cannot run $and/$or/$nor inside
            # $elemMatch. Only multi-valued sub-attributes (none in User or Group) get here.
            return {array: {"$elemMatch": _relative(node.filter)}}
        # Portable form: "some element satisfies A or B" is "some element satisfies A, or
        # some element satisfies B", so expand the filter into its disjunctive normal form
        # and give each conjunction its own $elemMatch of plain field conditions.
        alternatives = []
        for conjunction in _dnf(node.filter, negated=False):
            merged = _merge(conjunction)
            if merged is not None:
                alternatives.append({array: {"$elemMatch": merged}})
        if not alternatives:
            return {"a": {"$in": []}}  # matches no document, and stays under "a."
        return alternatives[0] if len(alternatives) == 1 else {"$or": alternatives}


def _regex_escape(text: str) -> str:
    # re.escape covers every PCRE metacharacter; PCRE rejects a raw NUL in a pattern.
    return re.escape(text).replace("\x00", r"\x00")


def _condition(op: CompareOp, value: BoundValue) -> Any:
    if op is CompareOp.EQ:
        return value
    if op in _OPS:
        return {_OPS[op]: value}
    assert isinstance(value, str)
    return {"$regex": _Regex(op, value, False).render()}


def _leaf_present(attribute: Attribute) -> dict[str, Any]:
    return {"$nin": [None, ""]} if attribute.type in _TEXT else {"$ne": None}


def _present_at(path: str, attribute: Attribute) -> dict[str, Any]:
    """Query: the field at ``path`` holds a value of ``attribute`` that is present (``pr``)."""
    if attribute.is_complex:
        if attribute.multi_valued:
            # One $elemMatch per sub-attribute: mongoeco cannot run $or inside $elemMatch.
            alternatives = [
                {path: {"$elemMatch": _present_at(encode_key(sub.name), sub)}}
                for sub in attribute.sub_attributes
            ]
        else:
            alternatives = [
                _present_at(f"{path}.{encode_key(sub.name)}", sub)
                for sub in attribute.sub_attributes
            ]
        return alternatives[0] if len(alternatives) == 1 else {"$or": alternatives}
    if attribute.multi_valued:
        return {path: {"$elemMatch": _leaf_present(attribute)}}
    return {path: _leaf_present(attribute)}


def _present_query(ref: AttrRef) -> dict[str, Any]:
    attribute, sub = ref.attribute, ref.sub_attribute
    whole = field_path(AttrRef(ref.schema, attribute, None, ref.extension), False)
    if sub is None:
        return _present_at(whole, attribute)
    if attribute.multi_valued:
        return {whole: {"$elemMatch": _present_at(encode_key(sub.name), sub)}}
    return _present_at(f"{whole}.{encode_key(sub.name)}", sub)


# -- value filters ----------------------------------------------------------------------------


def _scalar_subs(node: BoundFilter) -> bool:
    """Whether every condition of a value filter tests a single-valued sub-attribute."""
    return all(
        isinstance(condition, BoundCompare | BoundPresent)
        and condition.ref.sub_attribute is not None
        and not condition.ref.sub_attribute.multi_valued
        for condition in filter_conditions(node)
    )


def _sub_key(ref: AttrRef) -> str:
    if ref.sub_attribute is None:  # bind always sets it inside a value filter
        raise InternalError("value filter condition without a sub-attribute")
    return encode_key(ref.sub_attribute.name)


def _relative(node: BoundFilter) -> dict[str, Any]:
    """``node`` as a query on one array element (the general $elemMatch form)."""
    if isinstance(node, BoundAnd):
        return {"$and": [_relative(n) for n in filter_terms(node, (BoundAnd,))]}
    if isinstance(node, BoundOr):
        return {"$or": [_relative(n) for n in filter_terms(node, (BoundOr,))]}
    if isinstance(node, BoundNot):
        return {"$nor": [_relative(node.operand)]}
    if isinstance(node, BoundCompare):
        return {_sub_key(node.ref): _condition(node.op, node.value)}
    if isinstance(node, BoundPresent):
        sub = node.ref.sub_attribute
        assert sub is not None
        return _present_at(_sub_key(node.ref), sub)
    raise InternalError("value filters cannot be nested")


@dataclass(frozen=True, slots=True)
class _Regex:
    """A substring test, kept structured so several on one field can merge into one pattern."""

    op: CompareOp
    text: str
    negated: bool

    def body(self) -> str:
        escaped = _regex_escape(self.text)
        if self.op is CompareOp.SW:
            return escaped
        if self.op is CompareOp.CO:
            return r"[\s\S]*?" + escaped
        return r"[\s\S]*" + escaped + _END

    def render(self) -> str:
        if self.negated:
            return f"^(?!{self.body()})"
        escaped = _regex_escape(self.text)
        if self.op is CompareOp.SW:
            return "^" + escaped  # an anchored literal prefix: MongoDB bounds it on an index
        if self.op is CompareOp.CO:
            return escaped
        return escaped + _END


# A literal of the normal form: one operator applied to one field of the element.
_Literal: TypeAlias = tuple[str, str, Any]
_Conjunction: TypeAlias = list[_Literal]


def _dnf(node: BoundFilter, negated: bool) -> list[_Conjunction]:
    """The disjunctive normal form of ``node`` (or of ``not node``) over element fields."""
    if isinstance(node, BoundNot):
        return _dnf(node.operand, not negated)
    if isinstance(node, BoundAnd | BoundOr):
        left, right = _dnf(node.left, negated), _dnf(node.right, negated)
        if isinstance(node, BoundAnd) != negated:  # and, or a negated or (De Morgan)
            return [a + b for a in left for b in right]
        return left + right
    if isinstance(node, BoundPresent):
        sub = node.ref.sub_attribute
        assert sub is not None
        key = _sub_key(node.ref)
        text = sub.type in _TEXT
        if negated:
            return [[(key, "$in", (None, ""))]] if text else [[(key, "$eq", None)]]
        return [[(key, "$nin", (None, ""))]] if text else [[(key, "$ne", None)]]
    if not isinstance(node, BoundCompare):
        raise InternalError("value filters cannot be nested")
    key, op, value = _sub_key(node.ref), node.op, node.value
    if op is CompareOp.EQ:
        return [[(key, "$ne" if negated else "$eq", value)]]
    if op is CompareOp.NE:
        return [[(key, "$eq" if negated else "$ne", value)]]
    if op in _OPS:
        operator = _OPS[op]
        if negated:
            # not (x > v): x is absent, or x <= v.
            return [[(key, "$eq", None)], [(key, _NEGATED[operator], value)]]
        return [[(key, operator, value)]]
    assert isinstance(value, str)
    if negated:
        return [[(key, "$eq", None)], [(key, "$regex", _Regex(op, value, True))]]
    return [[(key, "$regex", _Regex(op, value, False))]]


def _same(a: Any, b: Any) -> bool:
    return type(a) is type(b) and bool(a == b)


def _merge(conjunction: _Conjunction) -> dict[str, Any] | None:
    """One $elemMatch document for a conjunction; ``None`` if it plainly cannot hold.

    Conditions on one field share an operator document (all apply to the same scalar).
    Repeated operators combine: equalities must agree, ``$ne``s become ``$nin``, bounds keep
    the tightest, regular expressions join as lookaheads.
    """
    fields: dict[str, dict[str, Any]] = {}
    for key, operator, value in conjunction:
        ops = fields.setdefault(key, {})
        if operator == "$eq":
            if "$eq" in ops and not _same(ops["$eq"], value):
                return None
            ops["$eq"] = value
        elif operator == "$ne":
            ops.setdefault("$nin", []).append(value)
        elif operator == "$nin":
            ops.setdefault("$nin", []).extend(value)
        elif operator == "$in":
            if "$in" in ops:
                value = tuple(v for v in ops["$in"] if any(_same(v, w) for w in value))
                if not value:
                    return None
            ops["$in"] = value
        elif operator == "$regex":
            ops.setdefault("$regex", []).append(value)
        elif operator in ops:
            tighter = (
                value > ops[operator] if operator in ("$gt", "$gte") else value < ops[operator]
            )
            if tighter:
                ops[operator] = value
        else:
            ops[operator] = value
    return {key: _render_ops(ops) for key, ops in fields.items()}


def _render_ops(ops: dict[str, Any]) -> Any:
    rendered: dict[str, Any] = {}
    for operator, value in ops.items():
        if operator == "$nin":
            unique: list[Any] = []
            for item in value:
                if not any(_same(item, seen) for seen in unique):
                    unique.append(item)
            if len(unique) == 1:
                rendered["$ne"] = unique[0]
            else:
                rendered["$nin"] = unique
        elif operator == "$in":
            rendered["$in"] = list(value)
        elif operator == "$regex":
            regexes: list[_Regex] = value
            if len(regexes) == 1:
                rendered["$regex"] = regexes[0].render()
            else:
                rendered["$regex"] = "^" + "".join(
                    ("(?!" if r.negated else "(?=") + r.body() + ")" for r in regexes
                )
        else:
            rendered[operator] = value
    if list(rendered) == ["$eq"]:
        return rendered["$eq"]  # {field: value}, the plain equality form
    return rendered
