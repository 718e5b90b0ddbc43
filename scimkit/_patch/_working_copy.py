"""Applying operations: RFC 7644 §3.5.2 add / remove / replace on a working copy.

The working copy is copy-on-write: only the top-level keys an operation touches are copied, so
a PATCH of ``active`` never copies a large ``members`` list. With the member list not loaded,
``members`` operations are folded into a :class:`MemberChanges` instead.

A sub-attribute value written into a stored record (``name.familyName``,
``emails[type eq "work"].value``) is checked here when the validator would take it as it is
(``Target.leaf``); an attribute changed only by such writes is left out of the validator's
walk (``checked``), which would otherwise re-check every record of it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from scimkit._errors import (
    InternalError,
    InvalidPath,
    InvalidSyntax,
    InvalidValue,
    MutabilityError,
    NoTarget,
)
from scimkit._patch._members import MemberChanges
from scimkit._patch._operation import OpName, PatchOperation
from scimkit._patch._path import (
    Target,
    record_matches,
    resolve_key,
    resolve_target,
    schema_target,
)
from scimkit._patch._values import (
    complex_value,
    is_true,
    items_value,
    member_value,
    simple_value,
)
from scimkit._resource_type import AttrRef, ResourceType
from scimkit._schema import Attribute, Mutability, Schema
from scimkit._store import members_by_id
from scimkit._tolerance import Tolerance

__all__ = ["WorkingCopy", "required_removal"]

_RO = Mutability.READ_ONLY
_IMM = Mutability.IMMUTABLE


def _immutable_change(attribute: Attribute, where: str) -> MutabilityError:
    return MutabilityError(f"Attribute '{where}' is immutable and already has a value.")


def required_removal(where: str) -> MutabilityError:
    # RFC 7644 §3.5.2.2: removing (or unassigning) a required attribute answers "mutability".
    return MutabilityError(f"Attribute '{where}' is required and cannot be removed.")


class WorkingCopy:
    """A copy-on-write working copy of one resource, and the operations that change it."""

    __slots__ = (
        "members",
        "member_attr",
        "original",
        "owned",
        "resource_type",
        "tolerance",
        "unchecked",
        "work",
    )

    def __init__(
        self,
        original: Mapping[str, Any],
        resource_type: ResourceType,
        tolerance: Tolerance,
        members_loaded: bool,
    ) -> None:
        self.original = original
        self.work: dict[str, Any] = dict(original)
        self.owned: set[str] = set()
        # Owned keys written other than by checked sub-attribute writes: validated as a whole.
        self.unchecked: set[str] = set()
        self.resource_type = resource_type
        self.tolerance = tolerance
        self.member_attr = resource_type.members_attribute
        self.members = (
            MemberChanges() if self.member_attr is not None and not members_loaded else None
        )

    # -- working copy -------------------------------------------------------------------------

    @property
    def checked(self) -> set[str]:
        """The owned keys changed only by sub-attribute values checked here (``Target.leaf``)."""
        return self.owned - self.unchecked

    def _own(self, key: str) -> None:
        """Copy an extension object before its first change (copy-on-write).

        Only an extension object is written into in place (it holds the attributes); every
        other change builds new lists and records from the old ones, so an object is copied
        one level deep and nothing else is copied.
        """
        if key not in self.owned:
            self.owned.add(key)
            value = self.work.get(key)
            if isinstance(value, dict):
                self.work[key] = dict(value)

    def _unchecked(self, ref: AttrRef) -> None:
        self.unchecked.add(ref.schema if ref.extension else ref.attribute.name)

    def _holder(self, ref: AttrRef, create: bool, checked: bool = False) -> dict[str, Any] | None:
        """The dict holding ``ref.attribute``: the resource or its extension object.

        The caller writes there; unless it says it checks what it writes (``checked``), the
        key is left to the validator.
        """
        if not ref.extension:
            # A core value is replaced, never written into: nothing to copy.
            name = ref.attribute.name
            self.owned.add(name)
            if not checked:
                self.unchecked.add(name)
            return self.work
        self._own(ref.schema)
        if not checked:
            self.unchecked.add(ref.schema)
        holder = self.work.get(ref.schema)
        if not isinstance(holder, dict):
            if not create:
                return None
            holder = self.work[ref.schema] = {}
        return holder

    def _tidy(self, ref: AttrRef) -> None:
        if ref.extension and self.work.get(ref.schema) == {}:
            del self.work[ref.schema]

    # -- dispatch -----------------------------------------------------------------------------

    def apply(self, operation: PatchOperation) -> None:
        op, value, path = operation.op, operation.value, operation.path
        if path is None:
            if op == "remove":
                raise NoTarget("A 'remove' operation needs a 'path' (RFC 7644 §3.5.2.2).")
            self._apply_pathless(op, value)
            return
        # A schema URN holds colons; most paths hold none and need not be compared.
        schema = schema_target(path, self.resource_type) if ":" in path else None
        if schema is not None:
            self._apply_schema(op, schema, value)
            return
        target = resolve_target(path, self.resource_type, self.tolerance)
        ref = target.ref
        sub = ref.sub_attribute or target.filter_sub
        if ref.attribute.mutability is _RO or (sub is not None and sub.mutability is _RO):
            raise MutabilityError(f"Attribute '{operation.path}' is readOnly.")
        if target.value_filter is not None:
            self._apply_filtered(op, target, value)
        elif ref.sub_attribute is not None:
            self._apply_sub(op, ref, value, target.leaf)
        else:
            self._apply_attribute(op, ref, value)

    def _apply_pathless(self, op: OpName, value: Any) -> None:
        if not isinstance(value, dict):
            raise InvalidValue(
                f"Without a 'path', the value of '{op}' must be a JSON object of attributes."
            )
        for key, item in value.items():
            self._apply_key(op, key, item, None)

    def _apply_schema(self, op: OpName, schema: Schema, value: Any) -> None:
        """A path naming a whole schema: its attributes as one complex attribute (§3.5.2)."""
        if op != "remove":
            # Exactly the path-less value {URN: value}: each named attribute is applied, the
            # others are left as they are (§3.5.2.3 for a complex target).
            self._apply_key(op, schema.id, _without_own_schemas(schema, value), None)
            return
        if schema is self.resource_type.schema:
            raise InvalidPath(
                f"Path '{schema.id}' names the core schema, which cannot be removed; "
                "remove its attributes by their own paths."
            )
        holder = self.work.get(schema.id)
        if not isinstance(holder, dict):
            return
        if any(e.required for e in self.resource_type.extensions if e.schema is schema):
            raise required_removal(schema.id)
        for key in list(holder):
            ref = self.resource_type.resolve(schema.id, key)
            # readOnly values are the server's (as in a request body, a client cannot unset them).
            if ref is not None and ref.attribute.mutability is not _RO:
                self._apply_attribute("remove", ref, None)

    def _apply_key(self, op: OpName, key: Any, item: Any, within: str | None) -> None:
        if not isinstance(key, str):  # pragma: no cover - JSON keys are strings
            raise InvalidValue("Attribute names must be strings.")
        if within is None:
            if key.lower() == "schemas":
                return  # the validator rewrites schemas from the attributes present
            schema = self.resource_type.schema_for(key) if key[:4].lower() == "urn:" else None
            if schema is not None:
                # RFC form: an extension's attributes nested under its URN.
                if not isinstance(item, dict):
                    raise InvalidValue(f"'{key}' must be a JSON object of attributes.")
                for inner_key, inner in item.items():
                    self._apply_key(op, inner_key, inner, schema.id)
                return
        ref = resolve_key(key, within, self.resource_type, self.tolerance.patch_dotted_keys)
        if ref.attribute.mutability is _RO or (
            ref.sub_attribute is not None and ref.sub_attribute.mutability is _RO
        ):
            return  # readOnly attributes in a value are ignored, as in a POST body
        if ref.sub_attribute is not None:
            self._apply_sub(op, ref, item)
        else:
            self._apply_attribute(op, ref, item)

    # -- a whole attribute --------------------------------------------------------------------

    def _apply_attribute(self, op: OpName, ref: AttrRef, value: Any) -> None:
        attribute = ref.attribute
        if self.members is not None and attribute is self.member_attr:
            self._member_delta(op, value)
            return
        holder = self._holder(ref, create=op != "remove")
        if holder is None:
            return
        where = ref.dotted
        if op == "remove":
            self._remove_attribute(holder, ref, value)
        elif attribute.multi_valued:
            items = self._items(attribute, value, where)
            if op == "add":
                self._append(holder, attribute, items)
            else:
                self._set_items(holder, attribute, items, where)
        elif attribute.is_complex:
            new = complex_value(attribute, value, self.tolerance, where, keep_nulls=True)
            self._merge_single(holder, attribute, new, where)
        else:
            self._set(
                holder, attribute, simple_value(attribute, value, self.tolerance, where), where
            )
        self._tidy(ref)

    def _items(self, attribute: Attribute, value: Any, where: str) -> list[Any]:
        if attribute is self.member_attr:
            raw = value if isinstance(value, list) else [value]
            members = [
                member_value(attribute, item, self.tolerance) for item in raw if item is not None
            ]
            return list(members_by_id(members).values())
        return items_value(attribute, value, self.tolerance, where)

    def _set(self, holder: dict[str, Any], attribute: Attribute, new: Any, where: str) -> None:
        old = holder.get(attribute.name)
        if attribute.mutability is _IMM and old is not None and new != old:
            raise _immutable_change(attribute, where)
        if new is None:
            holder.pop(attribute.name, None)
        else:
            holder[attribute.name] = new

    def _merge_single(
        self,
        holder: dict[str, Any],
        attribute: Attribute,
        new: dict[str, Any] | None,
        where: str,
    ) -> None:
        """Add/replace on a single complex attribute: merge sub-attributes (RFC 7644 §3.5.2.3)."""
        old = holder.get(attribute.name)
        if new is None:
            if attribute.mutability is _IMM and old:
                raise _immutable_change(attribute, where)
            holder.pop(attribute.name, None)
            return
        record = dict(old) if isinstance(old, dict) else {}
        _merge_record(attribute, record, new, where)
        if record:
            holder[attribute.name] = record
        else:
            holder.pop(attribute.name, None)

    def _append(self, holder: dict[str, Any], attribute: Attribute, items: list[Any]) -> None:
        """Add to a multi-valued attribute; a value already present is not added again."""
        current = holder.get(attribute.name)
        values = list(current) if isinstance(current, list) else []
        members = attribute is self.member_attr
        # Members are the same member when their ids are equal; other values when equal whole.
        ids = {old.get("value") for old in values if isinstance(old, dict)} if members else set()
        written = []
        for item in items:
            if item["value"] in ids if members else item in values:
                continue
            if members:
                ids.add(item["value"])
            written.append(len(values))
            values.append(item)
        self._one_primary(attribute, values, written)
        _store_list(holder, attribute, values)

    def _set_items(
        self, holder: dict[str, Any], attribute: Attribute, items: list[Any], where: str
    ) -> None:
        old = holder.get(attribute.name)
        if attribute.mutability is _IMM and old and items != old:
            raise _immutable_change(attribute, where)
        _store_list(holder, attribute, items)

    def _remove_attribute(self, holder: dict[str, Any], ref: AttrRef, value: Any) -> None:
        attribute = ref.attribute
        where = ref.dotted
        if attribute.required:
            raise required_removal(where)
        if value is not None:
            if not self.tolerance.patch_remove_by_value:
                raise InvalidSyntax(
                    f"A 'remove' operation takes no 'value' (RFC 7644 §3.5.2.2); "
                    f"to remove some values of '{where}', use a filter in the path."
                )
            if attribute.multi_valued:
                self._remove_values(holder, attribute, value, where)
                return
        old = holder.get(attribute.name)
        if old is None:
            return
        if attribute.mutability is _IMM:
            raise _immutable_change(attribute, where)
        del holder[attribute.name]

    def _remove_values(
        self, holder: dict[str, Any], attribute: Attribute, value: Any, where: str
    ) -> None:
        """Entra's ``remove`` + ``value`` array: remove those values; absent ones are no-ops."""
        gone = self._items(attribute, value, where)
        current = holder.get(attribute.name)
        if not isinstance(current, list):
            return
        if attribute is self.member_attr:
            ids = {member["value"] for member in gone}
            keep = [m for m in current if not (isinstance(m, dict) and m.get("value") in ids)]
        else:
            keep = [item for item in current if not any(_same_value(item, g) for g in gone)]
        _store_list(holder, attribute, keep)

    def _member_delta(self, op: OpName, value: Any) -> None:
        """``members`` without a filter, while the member list is not loaded."""
        assert self.members is not None and self.member_attr is not None
        if op == "remove":
            if value is None:
                self.members.replace_all(())  # RFC 7644 §3.5.2.2: all values are removed
                return
            if not self.tolerance.patch_remove_by_value:
                raise InvalidSyntax(
                    "A 'remove' operation takes no 'value' (RFC 7644 §3.5.2.2); to remove one "
                    'member use the path members[value eq "id"].'
                )
            self.members.remove(m["value"] for m in self._items(self.member_attr, value, ""))
        elif op == "add":
            self.members.add(self._items(self.member_attr, value, ""))
        else:
            self.members.replace_all(self._items(self.member_attr, value, ""))

    # -- attr.sub -----------------------------------------------------------------------------

    def _apply_sub(self, op: OpName, ref: AttrRef, value: Any, leaf: type | None = None) -> None:
        parent = ref.attribute
        sub = ref.sub_attribute
        assert sub is not None
        where = ref.dotted
        if parent.multi_valued:
            raise InvalidPath(
                f"'{where}' names a sub-attribute of the multi-valued '{parent.name}'; "
                f'select values with a filter, e.g. {parent.name}[type eq "work"].{sub.name}.'
            )
        holder = self._holder(ref, create=op != "remove", checked=True)
        if holder is None:
            return
        old = holder.get(parent.name)
        record = dict(old) if isinstance(old, dict) else {}
        if op == "remove":
            self._unchecked(ref)
            if sub.required:
                raise required_removal(where)
            _merge_record(parent, record, {sub.name: None}, where.rpartition(".")[0])
        else:
            # A value of the checked type is a single value: simple_value would return it.
            new = value if type(value) is leaf else simple_value(sub, value, self.tolerance, where)
            if new is not None and type(new) is leaf:
                _check_leaf(parent, sub, record.get(sub.name), new, where.rpartition(".")[0])
                record[sub.name] = new
            else:
                self._unchecked(ref)
                _merge_record(parent, record, {sub.name: new}, where.rpartition(".")[0])
        if record:
            holder[parent.name] = record
        else:
            holder.pop(parent.name, None)
        if ref.extension:
            self._tidy(ref)

    # -- attr[filter] and attr[filter].sub ----------------------------------------------------

    def _apply_filtered(self, op: OpName, target: Target, value: Any) -> None:
        ref = target.ref
        attribute = ref.attribute
        if self.members is not None and attribute is self.member_attr:
            if op == "remove" and target.filter_sub is None and target.member_ids is not None:
                self.members.remove(target.member_ids)
                return
            raise InternalError(
                "This PATCH needs the member list loaded (see scimkit needs_members())."
            )
        holder = self._holder(ref, create=op != "remove", checked=True)
        current = holder.get(attribute.name) if holder is not None else None
        values = list(current) if isinstance(current, list) else []
        if target.member_ids is not None:
            # value eq "id" on a case-exact value: a set lookup, not the evaluator per record.
            ids = set(target.member_ids)
            matched = [
                index
                for index, item in enumerate(values)
                if isinstance(item, dict) and item.get("value") in ids
            ]
        else:
            matched = []
            for index, item in enumerate(values):  # a loop: no comprehension's frame to make
                if isinstance(item, dict) and record_matches(target, item):
                    matched.append(index)
        if op == "remove":
            self._unchecked(ref)
            if not matched:
                if attribute is self.member_attr:
                    return  # as with the delta form: removing an absent member changes nothing
                raise NoTarget(f"No value of '{attribute.name}' matches '{target.text}'.")
            values = self._remove_matched(target, values, matched)
        elif matched:
            self._write_matched(op, target, values, matched, value)
        else:
            self._unchecked(ref)
            created = self._create(op, target, value)
            if created is None:
                return
            matched = [len(values)]
            values.append(created)
            self._one_primary(attribute, values, matched)
        assert holder is not None
        _store_list(holder, attribute, values)
        if ref.extension:
            self._tidy(ref)

    def _remove_matched(self, target: Target, values: list[Any], matched: list[int]) -> list[Any]:
        sub = target.filter_sub
        if sub is None:
            chosen = set(matched)
            return [item for index, item in enumerate(values) if index not in chosen]
        where = f"{target.text}"
        if sub.required:
            raise required_removal(where)
        for index in matched:
            values[index] = _merged(target.ref.attribute, values[index], {sub.name: None}, where)
        return [item for item in values if item]

    def _write_matched(
        self, op: OpName, target: Target, values: list[Any], matched: list[int], value: Any
    ) -> None:
        attribute = target.ref.attribute
        sub = target.filter_sub
        where = target.text
        new: dict[str, Any] | None
        if sub is not None:
            leaf = target.leaf
            # A value of the checked type is a single value: simple_value would return it.
            written = (
                value if type(value) is leaf else simple_value(sub, value, self.tolerance, where)
            )
            if written is not None and type(written) is leaf:
                # A checked value set in the matched records (not primary: Target.leaf): no
                # record empties, and no other record's primary changes.
                _set_in(attribute, sub, values, matched, written, where)
                return
            self._unchecked(target.ref)
            new = {sub.name: written}
        else:
            self._unchecked(target.ref)
            new = complex_value(attribute, value, self.tolerance, where, keep_nulls=op == "add")
        for index in matched:
            if sub is None and op == "replace":
                # RFC 7644 §3.5.2.3: matching records are replaced as a whole.
                values[index] = (
                    member_value(attribute, new, self.tolerance)
                    if attribute is self.member_attr
                    else dict(new or {})
                )
            else:
                values[index] = _merged(attribute, values[index], new or {}, where)
        if sub is None or sub is attribute.sub_attribute("primary"):
            # Only a write of primary (or of whole records) can set a second one.
            self._one_primary(attribute, values, matched)
        values[:] = [item for item in values if item]

    def _create(self, op: OpName, target: Target, value: Any) -> dict[str, Any] | None:
        """A filter that matched nothing on add/replace: create the value when policy allows."""
        attribute = target.ref.attribute
        sub = target.filter_sub
        where = target.text
        if self.tolerance.patch_filter_creates and target.template is not None:
            element = dict(target.template)
            if sub is not None:
                new = simple_value(sub, value, self.tolerance, where)
                if new is None:
                    return None
                element[sub.name] = new
            else:
                element.update(
                    complex_value(attribute, value, self.tolerance, where, keep_nulls=False) or {}
                )
        elif op == "replace" and sub is None and self.tolerance.patch_replace_absent_adds:
            element = complex_value(attribute, value, self.tolerance, where, keep_nulls=False) or {}
        else:
            raise NoTarget(f"No value of '{attribute.name}' matches '{where}'.")
        if attribute is self.member_attr:
            return member_value(attribute, element, self.tolerance)
        return element

    def _one_primary(self, attribute: Attribute, values: list[Any], written: Iterable[int]) -> None:
        """RFC 7644 §3.5.2: a value set to primary clears ``primary`` on the others."""
        primary = attribute.sub_attribute("primary")
        if primary is None:
            return
        key = primary.name
        chosen = {index for index in written if _primary(values[index], key, self.tolerance)}
        if not chosen:
            return
        for index, item in enumerate(values):
            if index not in chosen and _primary(item, key, self.tolerance):
                values[index] = {**item, key: False}


def _without_own_schemas(schema: Schema, value: Any) -> Any:
    """The value of a schema path without a ``schemas`` key that names only that schema.

    Clients built on typed models (python-scim's) serialise an extension object with its own
    ``"schemas": [URN]``; that repeats the path and is dropped. Any other ``schemas`` stays in
    the value, to be refused as an unknown attribute.
    """
    if not isinstance(value, dict):
        return value
    for key, urns in value.items():
        if (
            isinstance(key, str)
            and key.lower() == "schemas"
            and isinstance(urns, list)
            and all(isinstance(urn, str) and urn.lower() == schema.id.lower() for urn in urns)
        ):
            return {k: v for k, v in value.items() if k != key}
    return value


def _primary(item: Any, key: str, tolerance: Tolerance) -> bool:
    return isinstance(item, dict) and is_true(item.get(key), tolerance)


def _merge_record(
    attribute: Attribute, record: dict[str, Any], new: Mapping[str, Any], where: str
) -> None:
    """Write sub-attribute values into a record in place; ``None`` unassigns.

    An immutable sub-attribute (or any sub-attribute of an immutable attribute) that already
    has a value may not change (RFC 7643 §7).
    """
    frozen = attribute.mutability is _IMM
    for name, item in new.items():
        old = record.get(name)
        if (
            old is not None
            and item != old
            and (frozen or ((sub := attribute.sub_attribute(name)) and sub.mutability is _IMM))
        ):
            raise _immutable_change(attribute, f"{where}.{name}")
        if item is None:
            record.pop(name, None)
        else:
            record[name] = item


def _check_leaf(attribute: Attribute, sub: Attribute, old: Any, value: Any, where: str) -> None:
    """:func:`_merge_record`'s rule for one sub-attribute value: an immutable one stays."""
    if (
        old is not None
        and value != old
        and (attribute.mutability is _IMM or sub.mutability is _IMM)
    ):
        raise _immutable_change(attribute, f"{where}.{sub.name}")


def _set_in(
    attribute: Attribute,
    sub: Attribute,
    values: list[Any],
    matched: list[int],
    value: Any,
    where: str,
) -> None:
    """:func:`_merged` of ``{sub.name: value}`` into the matched records, ``value`` not null."""
    name = sub.name
    frozen = attribute.mutability is _IMM or sub.mutability is _IMM
    for index in matched:
        record = values[index]
        if frozen:
            _check_leaf(attribute, sub, record.get(name), value, where)
        values[index] = {**record, name: value}


def _merged(
    attribute: Attribute, record: dict[str, Any], new: Mapping[str, Any], where: str
) -> dict[str, Any]:
    """A multi-valued record with ``new`` merged in; empty when the merge unassigned its value.

    ``{"type": "work"}`` left by removing ``emails[type eq "work"].value`` describes no e-mail
    address, so the record goes, as a record emptied of every sub-attribute does.
    """
    merged = dict(record)
    _merge_record(attribute, merged, new, where)
    if "value" in record and "value" not in merged and attribute.sub_attribute("value"):
        return {}
    return merged


def _store_list(holder: dict[str, Any], attribute: Attribute, values: list[Any]) -> None:
    if values:
        holder[attribute.name] = values
    else:
        holder.pop(attribute.name, None)


def _same_value(item: Any, gone: Any) -> bool:
    """Whether a stored value is one named in a remove-by-value array."""
    if isinstance(item, dict) and isinstance(gone, dict):
        if "value" in gone:
            return bool(item.get("value") == gone["value"])
        return all(item.get(key) == value for key, value in gone.items())
    return bool(item == gone)
