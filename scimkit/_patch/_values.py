"""Shaping PATCH values before they are written: canonical keys, legacy arrays, member values.

Type checks and coercion are left to the validator, which runs on the finished candidate; the
engine only needs values in a shape it can merge and compare.
"""

from __future__ import annotations

from typing import Any

from scimkit._errors import InvalidValue
from scimkit._schema import Attribute, AttributeType, Mutability
from scimkit._tolerance import Tolerance

__all__ = [
    "complex_value",
    "is_true",
    "items_value",
    "member_value",
    "simple_value",
]


def is_true(value: Any, tolerance: Tolerance) -> bool:
    """Whether a ``primary`` value means true (``"True"`` too when string Booleans are on)."""
    if value is True:
        return True
    return tolerance.string_booleans and isinstance(value, str) and value.strip().lower() == "true"


def _legacy_inner(value: list[Any], tolerance: Tolerance) -> tuple[bool, Any]:
    """Unwrap Entra's pre-2019 ``[{"$ref": null, "value": X}]`` form of a single value."""
    if not tolerance.patch_value_arrays:
        return False, None
    if not value:
        return True, None  # an empty array is unassigned (RFC 7643 §2.5)
    if len(value) == 1 and isinstance(value[0], dict):
        return True, value[0]
    return False, None


def simple_value(attribute: Attribute, value: Any, tolerance: Tolerance, where: str) -> Any:
    """The value for a single-valued, non-complex attribute or sub-attribute."""
    if isinstance(value, list):
        unwrapped, inner = _legacy_inner(value, tolerance)
        if not unwrapped:
            raise InvalidValue(f"Attribute '{where}' is single-valued; got an array.")
        if isinstance(inner, dict):
            for key, item in inner.items():
                if isinstance(key, str) and key.lower() == "value":
                    return item
            raise InvalidValue(f"Attribute '{where}': the value array has no 'value'.")
        return inner
    if isinstance(value, dict):
        raise InvalidValue(f"Attribute '{where}' is not complex; got a JSON object.")
    return value


def complex_value(
    attribute: Attribute,
    value: Any,
    tolerance: Tolerance,
    where: str,
    *,
    keep_nulls: bool,
) -> dict[str, Any] | None:
    """A complex value with canonical sub-attribute names, or ``None`` for "unassign".

    With ``keep_nulls`` a ``null`` sub-attribute stays in the result (a merge then unassigns
    it); otherwise it is dropped, as for a new multi-valued record (Entra's ``"$ref": null``).
    readOnly sub-attributes are ignored, as in any request body (RFC 7644 §3.3).
    """
    if isinstance(value, list) and not attribute.multi_valued:
        unwrapped, inner = _legacy_inner(value, tolerance)
        if not unwrapped:
            raise InvalidValue(f"Attribute '{where}' is single-valued; got an array.")
        value = inner
    if value is None:
        return None
    if isinstance(value, str) and not attribute.multi_valued and tolerance.patch_value_arrays:
        # Entra's validator sends the manager as a bare id, and "" to clear it.
        if attribute.sub_attribute("value") is not None:
            return {"value": value} if value else None
    if not isinstance(value, dict):
        raise InvalidValue(f"Attribute '{where}' is complex; its value must be a JSON object.")
    result: dict[str, Any] = {}
    for key, item in value.items():
        sub = attribute.sub_attribute(key) if isinstance(key, str) else None
        if sub is None:
            raise InvalidValue(f"Attribute '{where}' has no sub-attribute '{key}'.")
        if isinstance(item, dict | list):
            raise InvalidValue(f"Sub-attribute '{where}.{sub.name}' must be a single value.")
        if sub.mutability is Mutability.READ_ONLY:
            continue
        if item is None and not keep_nulls:
            continue
        result[sub.name] = item
    return result


def items_value(attribute: Attribute, value: Any, tolerance: Tolerance, where: str) -> list[Any]:
    """The values for a multi-valued attribute; a lone value counts as a one-item array."""
    raw = value if isinstance(value, list) else [value]
    items: list[Any] = []
    for item in raw:
        if item is None:
            continue
        if attribute.is_complex:
            record = complex_value(attribute, item, tolerance, where, keep_nulls=False)
            if record:
                items.append(record)
        elif isinstance(item, dict | list):
            raise InvalidValue(
                f"Attribute '{where}' holds single values; got {type(item).__name__}."
            )
        else:
            items.append(item)
    return items


def member_value(attribute: Attribute, value: Any, tolerance: Tolerance) -> dict[str, Any]:
    """A canonical group member: ``value`` (the id) required, ``$ref: null`` dropped.

    Members may be written without ever reaching the validator (the store applies a delta),
    so their types are checked here.
    """
    where = attribute.name
    if tolerance.member_display_name and isinstance(value, dict):
        value = _display_for_display_name(value, where)
    record = complex_value(attribute, value, tolerance, where, keep_nulls=False)
    if not record:
        raise InvalidValue(f"A '{where}' value must be an object with a 'value' (the id).")
    ident = record.get("value")
    if not isinstance(ident, str) or not ident:
        raise InvalidValue(f"A '{where}' value needs a non-empty string 'value' (the id).")
    for name, item in record.items():
        sub = attribute.sub_attribute(name)
        textual = sub is not None and sub.type in (AttributeType.STRING, AttributeType.REFERENCE)
        if textual and not isinstance(item, str):
            raise InvalidValue(f"Sub-attribute '{where}.{name}' must be a string.")
    return record


def _display_for_display_name(value: dict[str, Any], where: str) -> dict[str, Any]:
    """A member value with ``displayName`` (any case) renamed ``display``; both is ambiguous."""
    keys = [key for key in value if isinstance(key, str) and key.lower() == "displayname"]
    if not keys:
        return value
    if any(isinstance(key, str) and key.lower() == "display" for key in value):
        raise InvalidValue(f"A '{where}' value has both 'display' and 'displayName'.")
    return {("display" if key in keys else key): item for key, item in value.items()}
