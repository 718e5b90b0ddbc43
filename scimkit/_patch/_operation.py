"""The PatchOp message (RFC 7644 §3.5.2): parse and normalise a request body into operations."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from scimkit._errors import InvalidSyntax
from scimkit._tolerance import STRICT, Tolerance

__all__ = ["PATCH_OP_SCHEMA", "PatchOperation", "parse_patch"]

PATCH_OP_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
_PATCH_OP_LOWER = PATCH_OP_SCHEMA.lower()

OpName = Literal["add", "remove", "replace"]
_OPS: dict[str, OpName] = {"add": "add", "remove": "remove", "replace": "replace"}


@dataclass(frozen=True, slots=True)
class PatchOperation:
    """One PATCH operation: ``op`` in lower case, the raw ``path`` text and the ``value``.

    ``value`` is ``None`` when the operation carried none (``remove`` usually); JSON ``null``
    is the same thing, as RFC 7643 §2.5 makes null and unassigned equivalent.
    """

    op: OpName
    path: str | None = None
    value: Any = None


def _member(message: Mapping[str, Any], name: str) -> tuple[bool, Any]:
    """Look a message attribute up case-insensitively (RFC 7643 §2.1 applies to messages too)."""
    if name in message:
        return True, message[name]
    folded = name.lower()
    for key, value in message.items():
        if isinstance(key, str) and key.lower() == folded:
            return True, value
    return False, None


# A frozen dataclass sets its fields through object.__setattr__, one call each; the slots'
# own setters cost about half as much, which the parser of every operation spends.
_new = object.__new__
_SLOTS: Any = vars(PatchOperation)
_set_op = _SLOTS["op"].__set__
_set_path = _SLOTS["path"].__set__
_set_value = _SLOTS["value"].__set__


def _operation(raw: Any, index: int, tolerance: Tolerance) -> PatchOperation:
    if type(raw) is dict:
        has_path = "path" in raw
        has_value = "value" in raw
        if "op" in raw and len(raw) == 1 + has_path + has_value:
            # The shape every client sends (keys spelled as the RFC does): nothing to look up.
            op = raw["op"]
            path = raw["path"] if has_path else None
            if type(op) is str and (path is None or type(path) is str):
                name = _OPS.get(op.lower() if tolerance.patch_op_any_case else op)
                if name is not None and (has_value or name == "remove"):
                    operation = _new(PatchOperation)
                    _set_op(operation, name)
                    _set_path(operation, path)
                    _set_value(operation, raw["value"] if has_value else None)
                    return operation
    return _checked_operation(raw, index, tolerance)


def _checked_operation(raw: Any, index: int, tolerance: Tolerance) -> PatchOperation:
    where = f"Operations[{index}]"
    if not isinstance(raw, dict):
        raise InvalidSyntax(f"{where} must be a JSON object.")
    present, op = _member(raw, "op")
    if not present or not isinstance(op, str):
        raise InvalidSyntax(f"{where} needs an 'op' string (add, remove or replace).")
    name = _OPS.get(op.lower() if tolerance.patch_op_any_case else op)
    if name is None:
        raise InvalidSyntax(
            f"{where} has unsupported op {op!r}; expected 'add', 'remove' or 'replace'."
        )
    _, path = _member(raw, "path")
    if path is not None and not isinstance(path, str):
        raise InvalidSyntax(f"{where}: 'path' must be a string.")
    has_value, value = _member(raw, "value")
    if name != "remove" and not has_value:
        raise InvalidSyntax(f"{where}: a '{name}' operation needs a 'value'.")
    return PatchOperation(name, path, value)


def parse_patch(body: Any, tolerance: Tolerance = STRICT) -> tuple[PatchOperation, ...]:
    """Check a PatchOp request body and return its operations in order.

    Raises :class:`~scimkit.InvalidSyntax` for a malformed message or an unknown ``op``; the op
    name is matched exactly (``add``) unless ``tolerance.patch_op_any_case`` is on (``Add``).
    """
    if not isinstance(body, dict):
        raise InvalidSyntax("A PATCH request body must be a JSON object.")
    _, schemas = _member(body, "schemas")
    if not isinstance(schemas, list) or (
        PATCH_OP_SCHEMA not in schemas
        and not any(isinstance(urn, str) and urn.lower() == _PATCH_OP_LOWER for urn in schemas)
    ):
        raise InvalidSyntax(f"A PATCH request must list '{PATCH_OP_SCHEMA}' in 'schemas'.")
    _, operations = _member(body, "Operations")
    if not isinstance(operations, list) or not operations:
        raise InvalidSyntax("A PATCH request needs a non-empty 'Operations' array.")
    return tuple([_operation(raw, index, tolerance) for index, raw in enumerate(operations)])
