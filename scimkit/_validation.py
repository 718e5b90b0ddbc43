"""Validation of request resources (RFC 7643 §2, §3, §7; RFC 7644 §3.3, §3.5.1).

:func:`validate_resource` turns a client's JSON object into a canonical resource dict: canonical
attribute names, typed values, unassigned values dropped, readOnly attributes ignored, mutability
and ``required`` enforced, and ``schemas`` rewritten. The per-type work (name lookup tables, one
checker closure per attribute) is compiled once per (resource type, tolerance) and cached.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Container, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from scimkit._errors import (
    InvalidSyntax,
    InvalidValue,
    MissingRequired,
    MutabilityError,
    SCIMError,
)
from scimkit._operation import Operation
from scimkit._resource_type import COMMON_ATTRIBUTES, ResourceType
from scimkit._schema import Attribute, AttributeType, Mutability, Schema
from scimkit._tolerance import STRICT, Tolerance

__all__ = ["leaf_type", "parse_datetime", "validate_patched", "validate_resource"]

_Checker = Callable[[Any, str], Any]
_ABSENT: Any = object()
# What MongoDB (BSON int64) can keep. Every store gets the same bound, so a value one store
# keeps is never refused by another; an integer outside it is a client error, not a 500.
_INT64 = range(-(2**63), 2**63)
# RFC 7643 §10.2: the namespace of core schemas. A URN in it other than the type's own core
# schema names another resource type (User on /Groups, Group on /Users).
_CORE_NAMESPACE = "urn:ietf:params:scim:schemas:core:"


def parse_datetime(text: str) -> datetime:
    """Parse an RFC 3339 / xsd:dateTime string to an aware UTC datetime truncated to ms.

    A value without an offset is taken as UTC (xsd:dateTime allows it; Entra never sends one).
    Raises ``ValueError`` when the text is not a date-time.
    """
    if not isinstance(text, str) or len(text) < 19 or text[10] not in "Tt":
        raise ValueError("not an RFC 3339 date-time")
    value = datetime.fromisoformat(text[:-1] + "+00:00" if text[-1] in "Zz" else text)
    value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return value.replace(microsecond=value.microsecond // 1000 * 1000)


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "Boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _invalid(path: str, expected: str, value: Any) -> InvalidValue:
    shown = repr(value) if isinstance(value, str | int | float) else _type_name(value)
    return InvalidValue(f"Attribute '{path}' must be {expected}; got {shown}.")


def _simple_checker(attribute: Attribute, tolerance: Tolerance) -> _Checker:
    kind = attribute.type
    if kind is AttributeType.STRING or kind is AttributeType.REFERENCE:

        def check_string(value: Any, path: str) -> Any:
            if isinstance(value, str):
                return value
            raise _invalid(path, "a string", value)

        return check_string
    if kind is AttributeType.BOOLEAN:
        lenient = tolerance.string_booleans

        def check_boolean(value: Any, path: str) -> Any:
            if isinstance(value, bool):
                return value
            if lenient and isinstance(value, str):
                folded = value.strip().lower()
                if folded == "true":
                    return True
                if folded == "false":
                    return False
            raise _invalid(path, "a Boolean (true or false)", value)

        return check_boolean
    if kind is AttributeType.INTEGER:

        def check_integer(value: Any, path: str) -> Any:
            if isinstance(value, int) and not isinstance(value, bool):
                if value in _INT64:
                    return value
                # Not echoed: a huge integer's text can exceed Python's conversion limit.
                raise InvalidValue(
                    f"Attribute '{path}' must be an integer between -2^63 and 2^63-1."
                )
            raise _invalid(path, "an integer", value)

        return check_integer
    if kind is AttributeType.DECIMAL:

        def check_decimal(value: Any, path: str) -> Any:
            if isinstance(value, int | float) and not isinstance(value, bool):
                try:
                    number = float(value)
                except OverflowError:  # an integer beyond the largest double
                    raise InvalidValue(f"Attribute '{path}' must be a finite number.") from None
                if number != number or number in (float("inf"), float("-inf")):
                    raise _invalid(path, "a finite number", value)
                return number
            raise _invalid(path, "a number", value)

        return check_decimal
    if kind is AttributeType.DATETIME:

        def check_datetime(value: Any, path: str) -> Any:
            if isinstance(value, datetime):
                # Values already stored are typed; keep them canonical.
                if value.tzinfo is None:
                    value = value.replace(tzinfo=UTC)
                return value.astimezone(UTC).replace(microsecond=value.microsecond // 1000 * 1000)
            try:
                return parse_datetime(value)
            except (ValueError, TypeError):
                raise _invalid(path, "an RFC 3339 date-time string", value) from None

        return check_datetime
    if kind is AttributeType.BINARY:

        def check_binary(value: Any, path: str) -> Any:
            if isinstance(value, str):
                try:
                    base64.b64decode(value, validate=True)
                except (binascii.Error, ValueError):
                    raise _invalid(path, "base64-encoded binary", value) from None
                return value
            raise _invalid(path, "a base64 string", value)

        return check_binary
    raise AssertionError(f"unexpected attribute type {kind}")  # pragma: no cover


@dataclass(frozen=True, slots=True)
class _Field:
    attribute: Attribute
    check: _Checker
    # A value of exactly this type is valid as it is (a single string or Boolean): taken
    # without calling ``check`` or building its path, which most of a body's values are.
    plain: type | None = None


def _plain_type(attribute: Attribute) -> type | None:
    if attribute.multi_valued:
        return None
    kind = attribute.type
    if kind is AttributeType.STRING or kind is AttributeType.REFERENCE:
        return str
    if kind is AttributeType.BOOLEAN:
        return bool
    return None


def leaf_type(attribute: Attribute, sub: Attribute) -> type | None:
    """The type of a value for ``sub`` of ``attribute`` that a PATCH needs no check of.

    A record of the complex core ``attribute`` that differs from a stored (validated) one only
    in ``sub``, set to a value of this type, is what ``check_complex`` returns unchanged: it
    takes such a value as it is, and with no readOnly or required sub-attribute and ``sub`` not
    ``primary`` (one per attribute, counted over the records) nothing else it checks can
    differ. The PATCH engine checks the values it writes with it (``validate_patched``'s
    ``checked``); ``None`` leaves the attribute to the validator.
    """
    if sub is attribute.sub_attribute("primary") or any(
        s.required or s.mutability is Mutability.READ_ONLY for s in attribute.sub_attributes
    ):
        return None
    return _plain_type(sub)


def _complex_checker(
    attribute: Attribute, tolerance: Tolerance, operation: Operation, *, member: bool = False
) -> _Checker:
    subs: dict[str, _Field] = {}
    for sub in attribute.sub_attributes:
        subs[sub.name.lower()] = _Field(sub, _simple_checker(sub, tolerance), _plain_type(sub))
    if member and tolerance.member_display_name and "display" in subs:
        subs.setdefault("displayname", subs["display"])
    required = tuple(sub for sub in attribute.sub_attributes if sub.required)
    # readOnly sub-attributes of writable attributes (e.g. members.display) are ignored in requests.
    drop_read_only = operation.is_request and attribute.mutability is not Mutability.READ_ONLY

    def check_complex(value: Any, path: str) -> Any:
        if not isinstance(value, dict):
            raise _invalid(path, "a JSON object", value)
        result: dict[str, Any] = {}
        for key, item in value.items():
            field = subs.get(key.lower()) if isinstance(key, str) else None
            if field is None:
                raise InvalidValue(
                    f"Unknown attribute '{path}.{key}': '{path}' has no such sub-attribute."
                )
            if item is None:
                continue
            sub = field.attribute
            if drop_read_only and sub.mutability is Mutability.READ_ONLY:
                continue
            if sub.name in result:  # "display" and "displayName" (or two spellings) at once
                raise InvalidValue(f"Attribute '{path}.{sub.name}' is given twice.")
            if type(item) is field.plain:
                result[sub.name] = item
            else:
                result[sub.name] = field.check(item, f"{path}.{sub.name}")
        for sub in required:
            if sub.name not in result:
                raise MissingRequired(f"Attribute '{path}.{sub.name}' is required.")
        return result

    return check_complex


def _attribute_checker(
    attribute: Attribute, tolerance: Tolerance, operation: Operation, *, member: bool = False
) -> _Checker:
    single = (
        _complex_checker(attribute, tolerance, operation, member=member)
        if attribute.is_complex
        else _simple_checker(attribute, tolerance)
    )
    if not attribute.multi_valued:
        if attribute.is_complex:

            def check_single_complex(value: Any, path: str) -> Any:
                result = single(value, path)
                return result if result else _ABSENT

            return check_single_complex
        return single
    has_primary = attribute.is_complex and attribute.sub_attribute("primary") is not None

    def check_multi(value: Any, path: str) -> Any:
        if not isinstance(value, list):
            raise _invalid(path, "an array", value)
        items = []
        primaries = 0
        for index, item in enumerate(value):
            if item is None:
                continue
            checked = single(item, f"{path}[{index}]")
            if attribute.is_complex and not checked:
                continue
            if has_primary and checked.get("primary") is True:
                primaries += 1
            items.append(checked)
        if primaries > 1:
            raise InvalidValue(f"Attribute '{path}' has more than one value with primary true.")
        return items if items else _ABSENT

    return check_multi


@dataclass(frozen=True, slots=True)
class _SchemaPlan:
    schema: Schema
    fields: Mapping[str, _Field]
    required: tuple[Attribute, ...]
    immutable: tuple[Attribute, ...]
    read_only: tuple[Attribute, ...]
    by_name: Mapping[str, _Field]  # by canonical name: the keys a stored resource has


@dataclass(frozen=True, slots=True)
class _Plan:
    resource_type: ResourceType
    core: _SchemaPlan
    extensions: Mapping[str, _SchemaPlan]
    tolerance: Tolerance
    operation: Operation
    by_urn: Mapping[str, _SchemaPlan]  # extensions by canonical URN, in declaration order
    core_urn: str  # lower-cased, as declared URNs are compared
    required_extensions: tuple[str, ...]


def _schema_plan(
    schema: Schema,
    extra: tuple[Attribute, ...],
    tolerance: Tolerance,
    operation: Operation,
    members: Attribute | None = None,
) -> _SchemaPlan:
    fields: dict[str, _Field] = {}
    for attribute in (*extra, *schema.attributes):
        checker = _attribute_checker(attribute, tolerance, operation, member=attribute is members)
        fields[attribute.name.lower()] = _Field(attribute, checker, _plain_type(attribute))
    attributes = [field.attribute for field in fields.values()]
    return _SchemaPlan(
        schema=schema,
        fields=fields,
        required=tuple(
            a for a in attributes if a.required and a.mutability is not Mutability.READ_ONLY
        ),
        immutable=tuple(a for a in attributes if a.mutability is Mutability.IMMUTABLE),
        read_only=tuple(a for a in attributes if a.mutability is Mutability.READ_ONLY),
        by_name={field.attribute.name: field for field in fields.values()},
    )


@lru_cache(maxsize=256)
def _plan(resource_type: ResourceType, tolerance: Tolerance, operation: Operation) -> _Plan:
    extensions = {
        schema.id.lower(): _schema_plan(schema, (), tolerance, operation)
        for schema in resource_type.extension_schemas()
    }
    return _Plan(
        resource_type=resource_type,
        core=_schema_plan(
            resource_type.schema,
            COMMON_ATTRIBUTES,
            tolerance,
            operation,
            resource_type.members_attribute,
        ),
        extensions=extensions,
        tolerance=tolerance,
        operation=operation,
        by_urn={plan.schema.id: plan for plan in extensions.values()},
        core_urn=resource_type.schema.id.lower(),
        required_extensions=tuple(
            extension.schema.id for extension in resource_type.extensions if extension.required
        ),
    )


_last_patch_plan: tuple[ResourceType, Tolerance, _Plan] | None = None


def _patch_plan(resource_type: ResourceType, tolerance: Tolerance) -> _Plan:
    """``_plan(..., Operation.PATCH)``, the last one kept by identity.

    The cache's key hashes the tolerance field by field, which costs more than the rest of
    the lookup; a service's PATCHes mostly repeat one resource type and tolerance.
    """
    global _last_patch_plan
    last = _last_patch_plan
    if last is not None and last[0] is resource_type and last[1] is tolerance:
        return last[2]
    plan = _plan(resource_type, tolerance, Operation.PATCH)
    _last_patch_plan = (resource_type, tolerance, plan)
    return plan


def _check_schemas(data: Mapping[str, Any], plan: _Plan) -> set[str]:
    """Validate ``schemas``; return the lower-cased extension URNs it declares."""
    declared = data.get("schemas")
    core = plan.resource_type.schema.id
    if declared is None:
        if plan.tolerance.unknown_schemas:
            return set()
        raise InvalidValue(f"Attribute 'schemas' is required and must include '{core}'.")
    if not isinstance(declared, list) or not all(isinstance(u, str) for u in declared):
        raise InvalidValue("Attribute 'schemas' must be an array of schema URNs.")
    core_key = plan.core_urn
    lowered = [urn.lower() for urn in declared]
    for urn, key in zip(declared, lowered, strict=True):
        # Under every policy: tolerating unknown URNs (Entra's markers, a missing extension
        # URN) is not accepting a body written for another resource type.
        if key.startswith(_CORE_NAMESPACE) and key != core_key and key not in plan.extensions:
            raise InvalidValue(
                f"Schema '{urn}' is the core schema of another resource type, not of "
                f"{plan.resource_type.name} ('{core}')."
            )
    if core_key not in lowered and not plan.tolerance.unknown_schemas:
        raise InvalidValue(f"Attribute 'schemas' must include '{core}'.")
    extensions = set()
    for urn, key in zip(declared, lowered, strict=True):
        if key == core_key:
            continue
        if key in plan.extensions:
            extensions.add(key)
        elif not plan.tolerance.unknown_schemas:
            raise InvalidValue(
                f"Schema '{urn}' is not a schema of resource type {plan.resource_type.name}."
            )
    return extensions


def _apply_schema(
    source: Mapping[str, Any],
    schema_plan: _SchemaPlan,
    plan: _Plan,
    prefix: str,
    existing: Mapping[str, Any] | None,
    out: dict[str, Any],
) -> None:
    operation = plan.operation
    unchanged = existing if operation is Operation.PATCH else None
    fields = schema_plan.fields
    # readOnly values in requests are ignored (RFC 7644 §3.3, §3.5.1).
    read_only = Mutability.READ_ONLY if operation is not Operation.RESPONSE else None
    for key, value in source.items():
        field = fields.get(key.lower())
        if field is None:
            where = f"schema {schema_plan.schema.id}" if prefix else plan.resource_type.name
            raise InvalidValue(f"Unknown attribute '{prefix}{key}' for {where}.")
        attribute = field.attribute
        if attribute.mutability is read_only:
            continue
        if value is None:
            continue
        if unchanged is not None and unchanged.get(attribute.name, _ABSENT) is value:
            # The PATCH engine copies what it touches, so the very object already stored was
            # validated when it was written; re-checking it is the bulk of a PATCH's cost.
            out[attribute.name] = value
            continue
        if type(value) is field.plain:
            out[attribute.name] = value
            continue
        checked = field.check(value, prefix + attribute.name)
        if checked is not _ABSENT:
            out[attribute.name] = checked
    if existing is not None:
        for attribute in schema_plan.read_only:
            if attribute.name in existing:
                out[attribute.name] = existing[attribute.name]
        for attribute in schema_plan.immutable:
            old = existing.get(attribute.name, _ABSENT)
            if old is _ABSENT:
                continue
            new = out.get(attribute.name, _ABSENT)
            if new is _ABSENT and operation is Operation.REPLACE:
                out[attribute.name] = old
            elif new != old:
                raise MutabilityError(
                    f"Attribute '{prefix}{attribute.name}' is immutable and already has a value."
                )
    for attribute in schema_plan.required:
        if attribute.name not in out:
            raise MissingRequired(f"Attribute '{prefix}{attribute.name}' is required.")


def validate_resource(
    data: Any,
    resource_type: ResourceType,
    operation: Operation,
    *,
    tolerance: Tolerance = STRICT,
    existing: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Validate a request body (or a PATCH candidate) and return the canonical resource.

    ``existing`` is the stored resource for REPLACE and PATCH: its readOnly values are kept and
    its immutable values may not change. Raises a :class:`~scimkit.SCIMError` subclass.
    """
    if not isinstance(data, dict):
        raise InvalidSyntax(f"A {resource_type.name} resource must be a JSON object.")
    plan = _plan(resource_type, tolerance, operation)
    # A PATCH candidate's schemas are the stored ones (the PATCH engine never writes them,
    # and they are rewritten below), and only non-PATCH operations consult the declared set.
    declared = set() if operation is Operation.PATCH else _check_schemas(data, plan)
    out: dict[str, Any] = {}
    core_source: dict[str, Any] = {}
    extension_sources: dict[str, Any] = {}
    for key, value in data.items():
        if not isinstance(key, str):  # pragma: no cover - JSON keys are strings
            raise InvalidSyntax("Attribute names must be strings.")
        if key == "schemas":
            continue
        # The ':' test first: no attribute name holds one, so most keys stop there.
        if key[3:4] == ":" and key[:3].lower() == "urn":
            lowered = key.lower()
            if lowered in plan.extensions:
                extension_sources[lowered] = value
                continue
            if lowered == plan.core_urn:
                if not isinstance(value, dict):
                    raise _invalid(key, "a JSON object", value)
                core_source.update(value)
                continue
            if tolerance.unknown_schemas:
                continue
            raise InvalidValue(f"Unknown attribute or schema '{key}' for {resource_type.name}.")
        core_source[key] = value
    _apply_schema(core_source, plan.core, plan, "", existing, out)
    schemas = [resource_type.schema.id]
    for lowered, extension_plan in plan.extensions.items():
        urn = extension_plan.schema.id
        source = extension_sources.get(lowered)
        old = existing.get(urn) if existing is not None else None
        if source is None and old is None:
            continue
        if source is not None and not isinstance(source, dict):
            raise _invalid(urn, "a JSON object", source)
        if (
            source is not None
            and lowered not in declared
            and operation is not Operation.PATCH  # PATCH adds the URN itself (RFC 7644 §3.5.2)
            and not tolerance.undeclared_extensions
        ):
            raise InvalidValue(f"Extension '{urn}' is used but not listed in 'schemas'.")
        extension_out: dict[str, Any] = {}
        _apply_schema(source or {}, extension_plan, plan, urn + ":", old, extension_out)
        if extension_out:
            out[urn] = extension_out
            schemas.append(urn)
    for urn in plan.required_extensions:
        if urn not in out:
            raise MissingRequired(f"Extension '{urn}' is required.")
    out["schemas"] = schemas
    return out


def validate_patched(
    work: Mapping[str, Any],
    original: Mapping[str, Any],
    resource_type: ResourceType,
    *,
    tolerance: Tolerance = STRICT,
    touched: Iterable[str] | None = None,
    checked: Container[str] = (),
) -> tuple[dict[str, Any], frozenset[str]]:
    """Validate a PATCH candidate against the stored resource it was made from.

    Returns what :func:`validate_resource` returns for it in the PATCH context, and the
    top-level keys whose values differ from ``original``. Only the values the PATCH engine
    replaced (``work[key] is not original[key]``) or removed are checked: the others are the
    stored objects themselves, validated when they were written, and are carried over as they
    are (shared with ``original``). ``touched`` names the keys the engine may have changed
    (a superset; by default every key); ``checked`` the core attributes among them whose values
    the engine changed only in sub-attributes it checked itself (see :func:`leaf_type`), taken
    as they are: the rest of such a value is the stored one. A candidate the engine cannot
    have made (an unknown or non-canonical key) and a faulty one go through
    :func:`validate_resource` whole, which reports the fault the whole walk meets first.
    """
    plan = _patch_plan(resource_type, tolerance)
    if touched is None:
        touched = [*work, *(key for key in original if key not in work)]
    try:
        patched = _patched(work, original, resource_type, plan, touched, checked)
    except SCIMError:
        patched = None
    if patched is None:
        return _validated_whole(work, original, resource_type, tolerance)
    return patched


def _patched(
    work: Mapping[str, Any],
    original: Mapping[str, Any],
    resource_type: ResourceType,
    plan: _Plan,
    touched: Iterable[str],
    checked: Container[str],
) -> tuple[dict[str, Any], frozenset[str]] | None:
    """:func:`validate_patched` of the ``touched`` keys; ``None`` for a key it cannot check."""
    by_name = plan.core.by_name
    out = dict(work)
    changed: set[str] = set()
    extensions: dict[str, Any] = {}
    for key in touched:
        value = work.get(key, _ABSENT)
        old = original.get(key, _ABSENT)
        if value is old or key == "schemas":
            continue  # schemas: the engine never writes them; rebuilt below, as the walk does
        field = by_name.get(key)
        if field is None:
            if key not in plan.by_urn:
                return None
            extensions[key] = None if value is _ABSENT else value
            continue
        attribute = field.attribute
        if attribute.mutability is Mutability.READ_ONLY:
            # Ignored in requests: the stored value stays (RFC 7644 §3.5.2).
            if old is _ABSENT:
                out.pop(key, None)
            else:
                out[key] = old
            continue
        if value is _ABSENT or value is None:
            new = _ABSENT
        else:
            new = value if key in checked else field.check(value, key)
        if new is _ABSENT:
            out.pop(key, None)
            if attribute.required:
                raise MissingRequired(f"Attribute '{key}' is required.")
            if old is _ABSENT:
                continue
        else:
            out[key] = new
            if new == old:
                continue
        if attribute.mutability is Mutability.IMMUTABLE and old is not _ABSENT:
            raise MutabilityError(f"Attribute '{key}' is immutable and already has a value.")
        changed.add(key)
    if extensions:
        _patched_extensions(extensions, original, resource_type, plan, out, changed)
    schemas = [resource_type.schema.id]
    for urn in plan.by_urn:
        if urn in out:
            schemas.append(urn)
    if schemas != original.get("schemas"):
        changed.add("schemas")
        out["schemas"] = schemas
    elif "schemas" not in out:
        out["schemas"] = original["schemas"]
    return out, frozenset(changed)


def _patched_extensions(
    extensions: Mapping[str, Any],
    original: Mapping[str, Any],
    resource_type: ResourceType,
    plan: _Plan,
    out: dict[str, Any],
    changed: set[str],
) -> None:
    """The extension objects a PATCH changed, walked as :func:`validate_resource` walks them."""
    for urn, source in extensions.items():
        if source is not None and not isinstance(source, dict):
            raise _invalid(urn, "a JSON object", source)
        old = original.get(urn)
        extension_out: dict[str, Any] = {}
        _apply_schema(source or {}, plan.by_urn[urn], plan, urn + ":", old, extension_out)
        if extension_out:
            out[urn] = extension_out
        else:
            out.pop(urn, None)
        if extension_out != (old if old is not None else {}):
            changed.add(urn)
    for urn in plan.required_extensions:
        if urn not in out:
            raise MissingRequired(f"Extension '{urn}' is required.")


def _validated_whole(
    work: Mapping[str, Any],
    original: Mapping[str, Any],
    resource_type: ResourceType,
    tolerance: Tolerance,
) -> tuple[dict[str, Any], frozenset[str]]:
    out = validate_resource(
        work, resource_type, Operation.PATCH, tolerance=tolerance, existing=original
    )
    changed = {
        key
        for key in original.keys() | out.keys()
        if out.get(key, _ABSENT) is not original.get(key, _ABSENT)
        and out.get(key, _ABSENT) != original.get(key, _ABSENT)
    }
    return out, frozenset(changed)
