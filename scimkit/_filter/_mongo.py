"""MongoDB translation of bound filters and sorts: pure functions, no driver import.

Document layout (the store writes it with :func:`document_fields`)::

    {"a": <the resource, keys encoded>,            # original values; dateTimes as BSON dates
     "f": <folded mirror, keys encoded>,           # see folded_mirror()
     "s": {<encoded dotted path>: {"p": 1, "k": <sort key>}, ...}}   # see sort_document()

caseExact=false string comparisons query ``f`` (so ``userName eq`` is an exact match on an
indexable field and ``sw`` an anchored prefix regex on it); everything else queries ``a``.
Field paths are built from schema names only, and every client value is a plain BSON value
or an escaped regular expression: a filter cannot inject an operator.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, TypeAlias

from scimkit._errors import InternalError
from scimkit._filter._ast import CompareOp
from scimkit._filter._bind import (
    SCHEMAS_ATTRIBUTE,
    BoundAnd,
    BoundCompare,
    BoundFilter,
    BoundNot,
    BoundOr,
    BoundPresent,
    BoundValue,
    BoundValuePath,
    fold_case,
    is_folded,
)
from scimkit._filter._evaluate import sort_ref, sort_value
from scimkit._resource_type import AttrRef, ResourceType
from scimkit._schema import Attribute, AttributeType, Returned

__all__ = [
    "Rewrite",
    "decode_document",
    "decode_key",
    "document_fields",
    "encode_document",
    "encode_key",
    "field_path",
    "folded_mirror",
    "has_folded_mirror",
    "sort_document",
    "sort_field",
    "translate_filter",
    "translate_sort",
]

Rewrite: TypeAlias = Callable[[BoundCompare | BoundPresent | BoundValuePath], dict[str, Any] | None]
"""Called on each top-level leaf and value path first; a dict it returns replaces the
translation (e.g. to answer ``members`` conditions from a membership collection)."""


_TEXT = frozenset({AttributeType.STRING, AttributeType.REFERENCE, AttributeType.BINARY})
_KEY_ESCAPES = {"%": "%25", ".": "%2E", "\x00": "%00"}
_KEY_ENCODE = re.compile(r"[%.\x00]")
_KEY_DECODE = re.compile(r"%(25|2E|24|00)")
_KEY_UNESCAPES = {"25": "%", "2E": ".", "24": "$", "00": "\x00"}
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


# -- keys and documents ---------------------------------------------------------------------


def encode_key(name: str) -> str:
    """Make a key safe for MongoDB, reversibly: ``%``→``%25``, ``.``→``%2E``, leading ``$``→``%24``.

    Extension URNs contain dots (``...:enterprise:2.0:User``) and ``$ref`` starts with ``$``.
    """
    encoded = _KEY_ENCODE.sub(lambda m: _KEY_ESCAPES[m.group()], name)
    return "%24" + encoded[1:] if encoded.startswith("$") else encoded


def decode_key(name: str) -> str:
    """Invert :func:`encode_key`."""
    return _KEY_DECODE.sub(lambda m: _KEY_UNESCAPES[m.group(1)], name)


def encode_document(obj: Any) -> Any:
    """Encode every key of nested dicts and lists; drop ``None`` values.

    RFC 7643 §2.5 makes null equivalent to unassigned, and without nulls every stored value
    has its attribute's type, so range queries need no type guard (mongoeco has no type
    bracketing: it orders null below every value).
    """
    if isinstance(obj, Mapping):
        return {encode_key(k): encode_document(v) for k, v in obj.items() if v is not None}
    if isinstance(obj, list):
        return [encode_document(v) for v in obj if v is not None]
    return obj


def decode_document(obj: Any) -> Any:
    """Invert :func:`encode_document` (nulls stay dropped)."""
    if isinstance(obj, Mapping):
        return {decode_key(k): decode_document(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [decode_document(v) for v in obj]
    return obj


def field_path(ref: AttrRef, folded: bool) -> str:
    """The dotted document path of ``ref``'s value under ``f`` (folded) or ``a``."""
    return ("f." if folded else "a.") + ".".join(encode_key(key) for key in ref.keys)


def sort_field(ref: AttrRef) -> str:
    """The ``s`` entry of ``ref`` (after :func:`sort_ref`): ``s.<encoded dotted path>``."""
    return "s." + encode_key(sort_ref(ref).dotted)


def has_folded_mirror(attribute: Attribute) -> bool:
    """Whether a top-level attribute is copied into ``f``: it has a caseExact=false string leaf.

    Attributes that are never returned (``password``) are not copied.
    """
    if attribute.returned is Returned.NEVER:
        return False
    if attribute.is_complex:
        return any(is_folded(sub) for sub in attribute.sub_attributes)
    return is_folded(attribute)


def _top_level(resource_type: ResourceType) -> Iterator[AttrRef]:
    yield AttrRef(resource_type.schema.id, SCHEMAS_ATTRIBUTE)
    yield from resource_type.attributes()


def folded_mirror(resource: Mapping[str, Any], resource_type: ResourceType) -> dict[str, Any]:
    """The ``f`` part of a document (keys not yet encoded).

    For every top-level attribute with a caseExact=false string leaf, a copy of its whole
    value with those leaves folded (:func:`fold_case`) and every other leaf as is, so one
    ``$elemMatch`` can mix folded and exact conditions on the same element.
    """
    mirror: dict[str, Any] = {}
    for ref in _top_level(resource_type):
        attribute = ref.attribute
        if not has_folded_mirror(attribute):
            continue
        container: Any = resource.get(ref.schema) if ref.extension else resource
        if not isinstance(container, Mapping):
            continue
        value = container.get(attribute.name)
        if value is None:
            continue
        target = mirror.setdefault(ref.schema, {}) if ref.extension else mirror
        target[attribute.name] = _fold_value(value, attribute)
    return mirror


def _fold_value(value: Any, attribute: Attribute) -> Any:
    if isinstance(value, list):
        return [_fold_value(item, attribute) for item in value]
    if attribute.is_complex:
        if not isinstance(value, Mapping):
            return value
        folded: dict[str, Any] = {}
        for key, item in value.items():
            sub = attribute.sub_attribute(key)
            folded[key] = _fold_value(item, sub) if sub is not None else item
        return folded
    if isinstance(value, str) and is_folded(attribute):
        return fold_case(value)
    return value


def sort_document(resource: Mapping[str, Any], resource_type: ResourceType) -> dict[str, Any]:
    """The ``s`` part of a document: ``{encoded dotted path: {"p": 1, "k": key}}``.

    One entry per sortable path that has a value (see :func:`sort_value`). ``p`` exists so
    :func:`translate_sort` can put resources without a value last when ascending and first
    when descending (RFC 7644 §3.4.2.3); MongoDB alone would put them first ascending.
    """
    entries: dict[str, Any] = {}
    for top in _top_level(resource_type):
        if top.attribute.returned is Returned.NEVER:
            continue
        subs = top.attribute.sub_attributes if top.attribute.is_complex else (None,)
        for sub in subs:
            if sub is not None and sub.returned is Returned.NEVER:
                continue
            ref = top.with_sub(sub)
            key = sort_value(resource, ref)
            if key is not None:
                entries[encode_key(ref.dotted)] = {"p": 1, "k": key}
    return entries


def document_fields(resource: Mapping[str, Any], resource_type: ResourceType) -> dict[str, Any]:
    """``{"a": ..., "f": ..., "s": ...}`` for ``resource``, ready to store (add ``_id`` etc.)."""
    return {
        "a": encode_document(resource),
        "f": encode_document(folded_mirror(resource, resource_type)),
        "s": sort_document(resource, resource_type),
    }


# -- sort -------------------------------------------------------------------------------------


def translate_sort(ref: AttrRef, descending: bool) -> list[tuple[str, int]]:
    """The sort specification for ``sortBy=ref`` on documents of :func:`document_fields`.

    Sorts on the presence flag first, so resources without a value come last ascending and
    first descending (RFC 7644 §3.4.2.3). Add a unique tie-breaker (``_id``) for stable pages.
    """
    field = sort_field(ref)
    if descending:
        return [(field + ".p", 1), (field + ".k", -1)]
    return [(field + ".p", -1), (field + ".k", 1)]


# -- filters ----------------------------------------------------------------------------------


def translate_filter(bound: BoundFilter, *, rewrite: Rewrite | None = None) -> dict[str, Any]:
    """The MongoDB query for ``bound`` on documents of :func:`document_fields`.

    Selects exactly the resources :func:`~scimkit._filter._evaluate.matches` accepts.
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
            return {"$and": [self.query(n) for n in _chain(node, BoundAnd)]}
        if isinstance(node, BoundOr):
            return {"$or": [self.query(n) for n in _chain(node, BoundOr)]}
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


def _chain(node: BoundAnd | BoundOr, kind: type[BoundAnd] | type[BoundOr]) -> list[BoundFilter]:
    """Operands of a run of the same operator, left to right, flattened into one list."""
    operands: list[BoundFilter] = []
    stack: list[BoundFilter] = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, kind):
            stack.append(current.right)
            stack.append(current.left)
        else:
            operands.append(current)
    return operands


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
    if isinstance(node, BoundCompare | BoundPresent):
        return node.ref.sub_attribute is not None and not node.ref.sub_attribute.multi_valued
    if isinstance(node, BoundNot):
        return _scalar_subs(node.operand)
    if isinstance(node, BoundAnd | BoundOr):
        return _scalar_subs(node.left) and _scalar_subs(node.right)
    return False


def _sub_key(ref: AttrRef) -> str:
    if ref.sub_attribute is None:  # bind always sets it inside a value filter
        raise InternalError("value filter condition without a sub-attribute")
    return encode_key(ref.sub_attribute.name)


def _relative(node: BoundFilter) -> dict[str, Any]:
    """``node`` as a query on one array element (the general $elemMatch form)."""
    if isinstance(node, BoundAnd):
        return {"$and": [_relative(n) for n in _chain(node, BoundAnd)]}
    if isinstance(node, BoundOr):
        return {"$or": [_relative(n) for n in _chain(node, BoundOr)]}
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
