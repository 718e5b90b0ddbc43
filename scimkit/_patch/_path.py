"""PATCH targets: a ``path`` (or a path-less value key) resolved against a resource type, cached.

Entra sends the same few paths on every PATCH, so a resolved :class:`Target` (attribute
references, the bound value filter, the element a filter would create) is computed once per
(path text, resource type, tolerance).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from scimkit._errors import InvalidPath, InvalidValue
from scimkit._filter import (
    And,
    AttrPath,
    BoundAnd,
    BoundCompare,
    BoundFilter,
    BoundValuePath,
    Compare,
    CompareOp,
    Filter,
    Or,
    ValuePath,
    bind_filter,
    fold_case,
    is_folded,
    matches,
    parse_path,
)
from scimkit._resource_type import AttrRef, ResourceType
from scimkit._schema import Attribute, AttributeType, Schema
from scimkit._tolerance import Tolerance
from scimkit._validation import leaf_type

__all__ = ["Target", "record_matches", "resolve_key", "resolve_target", "schema_target"]

_CACHE_SIZE = 2048


@dataclass(frozen=True, slots=True, eq=False)
class Target:
    """A resolved PATCH path.

    ``ref`` is the attribute (with ``sub_attribute`` for ``name.givenName``). For a value path
    ``attr[filter]`` or ``attr[filter].sub``: ``value_filter`` is the bound filter,
    ``filter_sub`` the trailing sub-attribute, ``template`` the element the filter pins down
    when it is a conjunction of ``eq`` on sub-attributes that names a canonical type (used to
    create a missing element, see :func:`_template`),
    and ``member_ids`` the ids when the filter is ``value eq "id"`` (or an ``or`` of those).
    ``equals`` is the filter as (sub-attribute name, bound text, folded) tests when it is a
    conjunction of ``eq`` on string sub-attributes (``emails[type eq "work"]``), which
    :func:`record_matches` checks without the evaluator. ``leaf`` is the type a value written
    to the trailing sub-attribute (``name.givenName``, ``emails[...].value``) may have for the
    engine to take it as checked (:func:`~scimkit._validation.leaf_type`), else ``None``.
    """

    text: str
    ref: AttrRef
    value_filter: BoundValuePath | None = None
    filter_sub: Attribute | None = None
    template: Mapping[str, Any] | None = None
    member_ids: tuple[str, ...] | None = None
    equals: tuple[tuple[str, str, bool], ...] | None = None
    leaf: type | None = None


def schema_target(text: str, resource_type: ResourceType) -> Schema | None:
    """The schema a path names as a whole (``urn:...:enterprise:2.0:User``), else ``None``.

    RFC 7644 §3.5.2 lets a path start with a schema URI; one that is only the URI targets the
    schema's attributes together, as a complex attribute. The path grammar cannot tell such a
    URN from ``urn:...:2.0`` + attribute ``User``, so it is recognised before parsing.
    """
    return resource_type.schema_for(text) if text[:4].lower() == "urn:" else None


@lru_cache(maxsize=_CACHE_SIZE)
def resolve_target(text: str, resource_type: ResourceType, tolerance: Tolerance) -> Target:
    """Resolve a PATCH ``path``; raises ``InvalidPath`` (or ``InvalidFilter`` for the filter).

    Cached as it is (no wrapper: every operation with a path calls it).
    """
    parsed = parse_path(text)
    path = parsed.path
    ref = resource_type.resolve(
        path.urn,
        path.attribute,
        path.sub_attribute,
        extensions=tolerance.unqualified_extension_paths,
    )
    if ref is None:
        raise InvalidPath(f"Path '{text}' names no attribute of {resource_type.name}.")
    if parsed.filter is None:
        sub = ref.sub_attribute
        return Target(text, ref, leaf=None if sub is None else _leaf(ref, sub, resource_type))
    attribute = ref.attribute
    if ref.sub_attribute is not None or not (attribute.multi_valued and attribute.is_complex):
        raise InvalidPath(
            f"Path '{text}': a value filter '[...]' needs a multi-valued complex attribute."
        )
    filter_sub: Attribute | None = None
    if parsed.sub_attribute is not None:
        filter_sub = attribute.sub_attribute(parsed.sub_attribute)
        if filter_sub is None:
            raise InvalidPath(
                f"Path '{text}': '{attribute.name}' has no sub-attribute '{parsed.sub_attribute}'."
            )
    urn = ref.schema if ref.extension else None
    bound = bind_filter(
        ValuePath(AttrPath(urn, attribute.name), parsed.filter), resource_type, tolerance
    )
    assert isinstance(bound, BoundValuePath)
    return Target(
        text,
        ref,
        bound,
        filter_sub,
        _template(parsed.filter, attribute),
        _member_ids(parsed.filter, attribute),
        _equals(bound.filter),
        None if filter_sub is None else _leaf(ref, filter_sub, resource_type),
    )


def _leaf(ref: AttrRef, sub: Attribute, resource_type: ResourceType) -> type | None:
    """:attr:`Target.leaf` for ``sub``: core attributes other than group ``members`` only.

    (The validator walks extension objects on their own, and the engine writes members
    through their own checks.)
    """
    if ref.extension or ref.attribute is resource_type.members_attribute:
        return None
    return leaf_type(ref.attribute, sub)


def record_matches(target: Target, record: Mapping[str, Any]) -> bool:
    """Whether one element of the target's multi-valued attribute satisfies its filter."""
    assert target.value_filter is not None
    if target.equals is not None:
        for name, value, folded in target.equals:
            raw = record.get(name)
            if type(raw) is not str:
                if isinstance(raw, list):
                    break  # a multi-valued sub-attribute: the evaluator's any-of rule
                return False  # absent, null or not text: never equal (as in the evaluator)
            if folded:
                # fold_case's own ASCII shortcut, without the call for the usual value.
                raw = raw.lower() if raw.isascii() else fold_case(raw)
            if raw != value:
                return False
        else:
            return True
    ref = target.ref
    # The evaluator works on resources: present the element as the attribute's only value.
    wrapped: dict[str, Any] = {ref.attribute.name: [record]}
    if ref.extension:
        wrapped = {ref.schema: wrapped}
    return matches(target.value_filter, wrapped)


_TEXT_TYPES = frozenset({AttributeType.STRING, AttributeType.REFERENCE})


def _equals(node: BoundFilter) -> tuple[tuple[str, str, bool], ...] | None:
    """A bound conjunction of ``eq`` on text sub-attributes as (name, text, folded) tests.

    The bound text is already folded where the sub-attribute is caseExact=false, as the
    evaluator compares; any other filter shape gives ``None`` (the evaluator decides).
    """
    tests: list[tuple[str, str, bool]] = []
    for current in _operands(node, BoundAnd):
        if not isinstance(current, BoundCompare) or current.op is not CompareOp.EQ:
            return None
        sub = current.ref.sub_attribute
        if sub is None or sub.type not in _TEXT_TYPES or not isinstance(current.value, str):
            return None
        tests.append((sub.name, current.value, is_folded(sub)))
    return tuple(tests)


def _template(node: Filter, attribute: Attribute) -> Mapping[str, Any] | None:
    """Sub-attribute values of a filter made only of ``eq`` joined by ``and``, else ``None``.

    Entra creates a missing element only for the types it maps (``emails[type eq "work"]``),
    so the filter must pin a sub-attribute that declares canonical values to one of them, and
    every such sub-attribute it names to one of its own; any other filter gets RFC 7644
    §3.5.2.3's ``noTarget``. The literal is kept as written (not case-folded): it becomes the
    new element's value.
    """
    found: dict[str, Any] = {}
    typed: dict[str, Attribute] = {}  # the named sub-attributes that declare canonical values
    # Right to left: the order the keys of a created element have always come in.
    for current in reversed(_operands(node, And)):
        if not isinstance(current, Compare) or current.op is not CompareOp.EQ:
            return None
        sub = attribute.sub_attribute(current.path.attribute)
        if sub is None or current.value is None or current.path.sub_attribute is not None:
            return None
        value = current.value
        if current.written is not None and sub.type in _TEXT_TYPES:
            # Entra tolerance: an unquoted word (`type eq work`, `type eq 5`) is the text itself.
            value = current.written
        if found.get(sub.name, value) != value:
            return None  # type eq "a" and type eq "b": nothing can match or be created
        found[sub.name] = value
        if sub.canonical_values:
            typed[sub.name] = sub
    if not typed or not all(_is_canonical(sub, found[name]) for name, sub in typed.items()):
        return None
    return found


def _is_canonical(sub: Attribute, value: Any) -> bool:
    if not isinstance(value, str):
        return False
    if sub.case_exact:
        return value in sub.canonical_values
    return value.casefold() in {known.casefold() for known in sub.canonical_values}


def _member_ids(node: Filter, attribute: Attribute) -> tuple[str, ...] | None:
    """The ids of ``value eq "id"`` (or of an ``or`` of those) on a case-exact ``value``."""
    value_sub = attribute.sub_attribute("value")
    if (
        value_sub is None
        or not value_sub.case_exact
        or value_sub.type not in (AttributeType.STRING, AttributeType.REFERENCE)
    ):
        return None
    ids: list[str] = []
    for current in _operands(node, Or):
        if (
            not isinstance(current, Compare)
            or current.op is not CompareOp.EQ
            or not isinstance(current.value, str)
            or current.path.sub_attribute is not None
            or attribute.sub_attribute(current.path.attribute) is not value_sub
        ):
            return None
        ids.append(current.value)
    return tuple(ids)


def _operands(node: Any, junction: type[Any]) -> list[Any]:
    """The operands, in order, of the run of ``junction`` (and, or; parsed or bound) ``node`` is."""
    operands: list[Any] = []
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, junction):
            stack += (current.right, current.left)
        else:
            operands.append(current)
    return operands


def resolve_key(key: str, within: str | None, resource_type: ResourceType, dotted: bool) -> AttrRef:
    """Resolve a key of a path-less value object (``within`` an extension object or not).

    Strict RFC 7644 §3.5.2.1 keys are attribute names; with ``dotted`` (Entra) a key may also
    be ``name.givenName`` or ``urn:...:User:attr``. Unknown keys are ``InvalidValue``: the
    value, not a path, is at fault.
    """
    ref = _resolve_key(key, within, resource_type, dotted)
    if ref is None:
        hint = ""
        if not dotted and ("." in key or ":" in key):
            hint = " (dotted and URN-qualified keys need the patch_dotted_keys tolerance)"
        raise InvalidValue(f"Unknown attribute '{key}' in the PATCH value{hint}.")
    return ref


@lru_cache(maxsize=_CACHE_SIZE)
def _resolve_key(
    key: str, within: str | None, resource_type: ResourceType, dotted: bool
) -> AttrRef | None:
    if within is not None:
        if dotted and "." in key:
            name, _, sub = key.partition(".")
            return resource_type.resolve(within, name, sub) if sub and "." not in sub else None
        return resource_type.resolve(within, key)
    if dotted:
        return resource_type.resolve_path(key)
    if "." in key or ":" in key:
        return None
    return resource_type.resolve(None, key)
