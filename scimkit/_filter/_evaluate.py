"""In-memory evaluation of bound filters, and the RFC 7644 §3.4.2.3 sort order.

Used by the memory store and by PATCH value filters. The MongoDB translation in
``scimkit.mongo._query`` implements exactly these semantics; the differential tests hold the two
together.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, TypeVar

from scimkit._errors import InvalidValue
from scimkit._filter._ast import CompareOp
from scimkit._filter._bind import (
    BoundAnd,
    BoundCompare,
    BoundFilter,
    BoundNot,
    BoundOr,
    BoundPresent,
    BoundValue,
    fold_case,
    is_folded,
)
from scimkit._resource_type import AttrRef
from scimkit._schema import Attribute, AttributeType, Returned

__all__ = ["has_value", "matches", "sort_ref", "sort_resources", "sort_value"]

_R = TypeVar("_R", bound=Mapping[str, Any])
_TEXT = frozenset({AttributeType.STRING, AttributeType.REFERENCE, AttributeType.BINARY})


def matches(bound: BoundFilter, resource: Mapping[str, Any]) -> bool:
    """Whether ``resource`` (a JSON-shaped dict with canonical keys) satisfies ``bound``.

    A multi-valued attribute matches if any of its values does; ``ne`` is ``not eq`` (true
    when no value equals, including when the attribute is absent).
    """
    return _eval(bound, resource, None)


def _eval(
    node: BoundFilter, resource: Mapping[str, Any], element: Mapping[str, Any] | None
) -> bool:
    if isinstance(node, BoundCompare):
        return _compare(node, _leaf_values(resource, node.ref, element))
    if isinstance(node, BoundPresent):
        return _present(resource, node.ref, element)
    if isinstance(node, BoundAnd):
        return _eval(node.left, resource, element) and _eval(node.right, resource, element)
    if isinstance(node, BoundOr):
        return _eval(node.left, resource, element) or _eval(node.right, resource, element)
    if isinstance(node, BoundNot):
        return not _eval(node.operand, resource, element)
    return any(_eval(node.filter, resource, item) for item in _elements(resource, node.ref))


def _attribute_value(resource: Mapping[str, Any], ref: AttrRef) -> Any:
    container: Any = resource
    if ref.extension:
        container = resource.get(ref.schema)
        if not isinstance(container, Mapping):
            return None
    return container.get(ref.attribute.name)


def _elements(resource: Mapping[str, Any], ref: AttrRef) -> list[Mapping[str, Any]]:
    """The values of the complex attribute ``ref`` (one for a single-valued attribute)."""
    value = _attribute_value(resource, ref)
    items = value if isinstance(value, list) and ref.attribute.multi_valued else [value]
    return [item for item in items if isinstance(item, Mapping)]


def _flatten(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, list):
        return [item for item in value if item is not None]
    return [value]


def _leaf_values(
    resource: Mapping[str, Any], ref: AttrRef, element: Mapping[str, Any] | None
) -> list[Any]:
    sub = ref.sub_attribute
    if sub is None:
        return _flatten(_attribute_value(resource, ref))
    if element is not None:
        return _flatten(element.get(sub.name))
    values: list[Any] = []
    for item in _elements(resource, ref):
        values.extend(_flatten(item.get(sub.name)))
    return values


def _comparable(value: Any, attribute: Attribute) -> Any:
    """``value`` in comparison form, or ``None`` if it does not have the attribute's type."""
    kind = attribute.type
    if kind in _TEXT:
        if not isinstance(value, str):
            return None
        return fold_case(value) if is_folded(attribute) else value
    if kind is AttributeType.BOOLEAN:
        return value if isinstance(value, bool) else None
    if isinstance(value, bool):
        return None
    if kind is AttributeType.INTEGER:
        return value if isinstance(value, int) else None
    if kind is AttributeType.DECIMAL:
        return value if isinstance(value, int | float) else None
    if kind is AttributeType.DATETIME and isinstance(value, datetime):
        # Stored dateTimes are UTC with millisecond precision (BSON dates); compare the same.
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.replace(microsecond=value.microsecond // 1000 * 1000)
    return None


def _test(op: CompareOp, value: Any, operand: BoundValue) -> bool:
    if op is CompareOp.EQ or op is CompareOp.NE:
        return bool(value == operand)
    if op is CompareOp.CO:
        return bool(operand in value)
    if op is CompareOp.SW:
        return bool(value.startswith(operand))
    if op is CompareOp.EW:
        return bool(value.endswith(operand))
    if op is CompareOp.GT:
        return bool(value > operand)
    if op is CompareOp.GE:
        return bool(value >= operand)
    if op is CompareOp.LT:
        return bool(value < operand)
    return bool(value <= operand)


def _compare(node: BoundCompare, values: list[Any]) -> bool:
    target = node.ref.target
    hit = False
    for raw in values:
        value = _comparable(raw, target)
        if value is not None and _test(node.op, value, node.value):
            hit = True
            break
    return not hit if node.op is CompareOp.NE else hit


def _present(resource: Mapping[str, Any], ref: AttrRef, element: Mapping[str, Any] | None) -> bool:
    sub = ref.sub_attribute
    if sub is None:
        return has_value(_attribute_value(resource, ref), ref.attribute)
    if element is not None:
        return has_value(element.get(sub.name), sub)
    return any(has_value(item.get(sub.name), sub) for item in _elements(resource, ref))


def has_value(value: Any, attribute: Attribute) -> bool:
    """RFC 7644 ``pr``: not null, ``""`` or ``[]``; a complex value needs a present sub-value."""
    if isinstance(value, list) and attribute.multi_valued:
        return any(_has_single(item, attribute) for item in value)
    return _has_single(value, attribute)


def _has_single(value: Any, attribute: Attribute) -> bool:
    if value is None:
        return False
    if attribute.is_complex:
        return isinstance(value, Mapping) and any(
            has_value(value.get(sub.name), sub) for sub in attribute.sub_attributes
        )
    if attribute.type in _TEXT:
        return bool(value != "")
    return True


def sort_ref(ref: AttrRef) -> AttrRef:
    """The reference to sort by for ``sortBy=ref``; raises :class:`InvalidValue` if unsortable.

    A complex attribute sorts by its ``value`` sub-attribute (RFC 7644 §3.4.2.3 asks for a
    sub-attribute path; ``emails`` is taken to mean ``emails.value``).
    """
    target = ref.target
    if target.is_complex:
        value_sub = target.sub_attribute("value")
        if value_sub is None:
            raise InvalidValue(
                f"sortBy '{ref.dotted}' is complex: name one of its sub-attributes, e.g. "
                f"'{ref.dotted}.{target.sub_attributes[0].name}'"
            )
        ref = ref.with_sub(value_sub)
    for attribute in (ref.attribute, ref.sub_attribute):
        if attribute is not None and attribute.returned is Returned.NEVER:
            raise InvalidValue(f"sortBy '{ref.dotted}': the attribute is never returned")
    return ref


def sort_value(resource: Mapping[str, Any], ref: AttrRef) -> Any:
    """The value ``resource`` sorts by for ``ref`` (see :func:`sort_ref`), or ``None`` if none.

    Multi-valued attributes sort by the primary value, else the first (RFC 7644 §3.4.2.3);
    caseExact=false strings sort in folded form, in code point order.
    """
    ref = sort_ref(ref)
    sub = ref.sub_attribute
    if sub is None:
        chosen = _attribute_value(resource, ref)
        attribute = ref.attribute
    else:
        items = _elements(resource, ref)
        primary = next((item for item in items if item.get("primary") is True), None)
        element = primary if primary is not None else (items[0] if items else None)
        chosen = element.get(sub.name) if element is not None else None
        attribute = sub
    if isinstance(chosen, list):
        chosen = chosen[0] if chosen else None
    if not _has_single(chosen, attribute):
        return None
    return _comparable(chosen, attribute)


def sort_resources(resources: Iterable[_R], ref: AttrRef, *, descending: bool = False) -> list[_R]:
    """Sort as RFC 7644 §3.4.2.3 says: resources without a value last ascending, first descending.

    The sort is stable, so equal keys keep their input order.
    """
    keyed: list[tuple[Any, _R]] = []
    missing: list[_R] = []
    for resource in resources:
        key = sort_value(resource, ref)
        if key is None:
            missing.append(resource)
        else:
            keyed.append((key, resource))
    first: Callable[[tuple[Any, _R]], Any] = _key_of
    keyed.sort(key=first, reverse=descending)
    ordered: Sequence[_R] = [resource for _, resource in keyed]
    return [*missing, *ordered] if descending else [*ordered, *missing]


def _key_of(item: tuple[Any, Any]) -> Any:
    return item[0]
