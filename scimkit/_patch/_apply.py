"""``apply_patch``: apply to a working copy, validate the candidate, describe what changed.

Pure and atomic: operations apply to a working copy, the candidate is validated against the
resource type (PATCH context) and compared with the original; any failure raises a
:class:`~scimkit.SCIMError` and the input is never modified.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import fields
from functools import lru_cache
from typing import Any

from scimkit._errors import SCIMError
from scimkit._patch._members import diff_members
from scimkit._patch._operation import PatchOperation
from scimkit._patch._path import resolve_target
from scimkit._patch._working_copy import WorkingCopy, required_removal
from scimkit._patch_result import MemberDelta, PatchResult
from scimkit._resource_type import AttrRef, ResourceType
from scimkit._schema import Mutability
from scimkit._tolerance import STRICT, Tolerance
from scimkit._types import copy_json
from scimkit._validation import validate_patched

__all__ = ["apply_patch", "apply_patch_shared", "needs_members"]

_ABSENT: Any = object()
_NO_DELTA = MemberDelta()  # frozen: one serves every result without member changes

# A frozen dataclass sets its fields through object.__setattr__, one call each; the slots' own
# setters cost about half as much, spent on every PATCH (as parse_patch does for operations).
_new = object.__new__
_SLOTS: Any = vars(PatchResult)
_set_resource = _SLOTS["resource"].__set__
_set_changed = _SLOTS["changed"].__set__
_set_member_delta = _SLOTS["member_delta"].__set__
_set_changed_attributes = _SLOTS["changed_attributes"].__set__
assert [f.name for f in fields(PatchResult)] == [
    "resource",
    "changed",
    "member_delta",
    "changed_attributes",
], "every field of PatchResult is set above"


def _assigned(value: Any) -> bool:
    return value is not None and value != [] and value != {}


@lru_cache(maxsize=64)
def _required(resource_type: ResourceType) -> tuple[tuple[AttrRef, ...], frozenset[str]]:
    """The required writable attributes, and the top-level keys that hold them."""
    refs = tuple(
        ref
        for ref in resource_type.attributes()
        if ref.attribute.required and ref.attribute.mutability is not Mutability.READ_ONLY
    )
    return refs, frozenset(ref.schema if ref.extension else ref.attribute.name for ref in refs)


def _check_required_kept(
    before: Mapping[str, Any],
    after: Mapping[str, Any],
    resource_type: ResourceType,
    touched: Collection[str],
) -> None:
    """A required attribute that a PATCH unassigns (e.g. replace with null) is "mutability".

    Only the top-level keys the PATCH ``touched`` can have lost one.
    """
    refs, keys = _required(resource_type)
    if keys.isdisjoint(touched):
        return  # most PATCHes touch no required attribute
    for ref in refs:
        if (ref.schema if ref.extension else ref.attribute.name) not in touched:
            continue
        if _assigned(_lookup(before, ref)) and not _assigned(_lookup(after, ref)):
            raise required_removal(ref.dotted)


def _lookup(resource: Mapping[str, Any], ref: AttrRef) -> Any:
    if ref.extension:
        holder = resource.get(ref.schema)
        return holder.get(ref.attribute.name) if isinstance(holder, dict) else None
    return resource.get(ref.attribute.name)


def _unshare(result: dict[str, Any], original: Mapping[str, Any]) -> None:
    """Copy the values the validator carried over from ``original`` by reference.

    What a PATCH did not touch (readOnly values such as ``meta``, every attribute the working
    copy never copied, readOnly values one level down in an extension object, the records of a
    list it only wrote sub-attributes of) is the input's own object in the result; copied, the
    result shares nothing with the input.
    """
    for key, new in result.items():
        old = original.get(key, _ABSENT)
        if new is old:
            if isinstance(old, dict | list):
                result[key] = copy_json(old)
        elif isinstance(new, dict) and isinstance(old, dict):
            for inner, item in new.items():
                if isinstance(item, dict | list) and item is old.get(inner):
                    new[inner] = copy_json(item)
        elif isinstance(new, list) and isinstance(old, list):
            # Records a PATCH left in a list it wrote sub-attributes of (validate_patched's
            # ``checked``) are the input's own.
            kept = {id(item) for item in old if isinstance(item, dict)}
            if kept:
                new[:] = [copy_json(item) if id(item) in kept else item for item in new]


def apply_patch(
    resource: Mapping[str, Any],
    operations: Sequence[PatchOperation],
    resource_type: ResourceType,
    *,
    tolerance: Tolerance = STRICT,
    members_loaded: bool = True,
) -> PatchResult:
    """Apply parsed PATCH operations (see :func:`parse_patch`) to a stored resource.

    Pure and atomic: the input is never modified and any failure raises a
    :class:`~scimkit.SCIMError`. With ``members_loaded`` false the resource carries no
    ``members`` and member changes come back only as ``PatchResult.member_delta``; call
    :func:`needs_members` first to know whether that is possible.
    """
    result = apply_patch_shared(resource, operations, resource_type, tolerance, members_loaded)
    _unshare(result.resource, resource)
    return result


def apply_patch_shared(
    resource: Mapping[str, Any],
    operations: Sequence[PatchOperation],
    resource_type: ResourceType,
    tolerance: Tolerance,
    members_loaded: bool,
) -> PatchResult:
    """:func:`apply_patch` whose result shares the values it left unchanged with ``resource``.

    For a caller that reads the stored resource without a copy (``get_shared``, see
    ``docs/storage.md``) and hands the result to the store, which copies what it keeps: the
    result's changed attributes are its own, the others are the store's and must not be
    mutated. Spares copying what a PATCH did not touch (most of a resource) twice.
    """
    member_attr = resource_type.members_attribute
    original: Mapping[str, Any] = resource
    if not members_loaded and member_attr is not None and member_attr.name in resource:
        original = {k: v for k, v in resource.items() if k != member_attr.name}
    working = WorkingCopy(original, resource_type, tolerance, members_loaded)
    for index, operation in enumerate(operations):
        try:
            working.apply(operation)
        except SCIMError as exc:
            exc.detail = f"Operations[{index}]: {exc.detail}"
            exc.args = (exc.detail,)
            raise
    _check_required_kept(original, working.work, resource_type, working.owned)
    result, changed_attributes = validate_patched(
        working.work,
        original,
        resource_type,
        tolerance=tolerance,
        touched=working.owned,
        checked=working.owned - working.unchecked,
    )
    if working.members is not None:
        delta = working.members.delta()
        changed = bool(changed_attributes) or bool(delta)
    else:
        delta = (
            diff_members(original, result, member_attr)
            if member_attr is not None and member_attr.name in changed_attributes
            else _NO_DELTA
        )
        changed = bool(changed_attributes)
    patched = _new(PatchResult)
    _set_resource(patched, result)
    _set_changed(patched, changed)
    _set_member_delta(patched, delta)
    _set_changed_attributes(patched, changed_attributes)
    return patched


def needs_members(
    operations: Iterable[PatchOperation],
    resource_type: ResourceType,
    *,
    tolerance: Tolerance = STRICT,
) -> bool:
    """Whether applying ``operations`` needs the resource's member list loaded.

    Adding, replacing and removing whole members (``path: "members"``, a path-less value with
    ``members``, ``members[value eq "id"]`` on remove) work as a delta; anything else that
    reads the list (another filter, ``members[...].display``) needs it.
    """
    attribute = resource_type.members_attribute
    if attribute is None:
        return False
    for operation in operations:
        if operation.path is None:
            continue
        try:
            target = resolve_target(operation.path, resource_type, tolerance)
        except SCIMError:
            continue  # apply_patch reports the bad path without needing the members
        if target.ref.attribute is not attribute:
            continue
        if target.value_filter is None and target.ref.sub_attribute is None:
            continue
        if operation.op == "remove" and target.filter_sub is None and target.member_ids is not None:
            continue
        return True
    return False
