"""Provisioning events (RFC 9967 §2.4): what one write tells the outside world.

An :class:`Event` records one provisioning event of one tenant with both payloads RFC 9967 §2.2
allows, so the form (``full`` or ``notice``) is chosen per receiver when the event is delivered:
``data`` (the resource as a GET returns it, or for a PATCH the operations applied) and
``attributes`` (the changed attribute paths). Attributes that are never returned (``password``)
appear in neither.

:func:`write_events` derives the events of one write from what the write did; every event of
one write shares one ``txn``. The functions here are pure: the store that records the write
records its events with it (see ``docs/events.md``) and the feed assigns positions.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import Enum, StrEnum
from functools import lru_cache
from typing import Any

import orjson

from scimkit._patch import PATCH_OP_SCHEMA, PatchOperation
from scimkit._patch_result import MemberDelta
from scimkit._projection import project
from scimkit._resource_type import ResourceType
from scimkit._schema import Attribute, Returned, Schema

__all__ = [
    "PROV_EVENT_PREFIX",
    "Event",
    "WriteRecord",
    "EventForm",
    "EventType",
    "changed_paths",
    "departure_events",
    "new_event_id",
    "write_events",
]

PROV_EVENT_PREFIX = "urn:ietf:params:scim:event:prov:"
"""The URI prefix of RFC 9967 provisioning events."""

# Attributes every write touches or that no client sets: reporting them would make every event
# look like a change of everything.
_SERVER_KEYS = frozenset({"id", "meta", "schemas"})


class EventForm(StrEnum):
    """The payload form of a create, put or patch event (RFC 9967 §2.2), chosen per receiver."""

    FULL = "full"
    """``data``: the resource as a GET returns it, or the PATCH operations applied."""
    NOTICE = "notice"
    """``attributes``: the changed attribute paths only; the receiver reads the resource."""


class EventType(StrEnum):
    """The provisioning event types of RFC 9967 §2.4."""

    CREATE = "create"
    PUT = "put"
    PATCH = "patch"
    DELETE = "delete"
    ACTIVATE = "activate"
    DEACTIVATE = "deactivate"

    @property
    def has_form(self) -> bool:
        """Whether the event URI carries a ``:full`` / ``:notice`` qualifier."""
        return self in (EventType.CREATE, EventType.PUT, EventType.PATCH)

    def uri(self, form: EventForm = EventForm.FULL) -> str:
        """The event URI, e.g. ``urn:ietf:params:scim:event:prov:patch:notice``."""
        if self.has_form:
            return f"{PROV_EVENT_PREFIX}{self.value}:{form.value}"
        return f"{PROV_EVENT_PREFIX}{self.value}"

    @classmethod
    def all_uris(cls) -> tuple[str, ...]:
        """Every event URI these types can be delivered as (``eventUris``, RFC 9967 §4)."""
        uris: list[str] = []
        for kind in cls:
            forms = (EventForm.FULL, EventForm.NOTICE) if kind.has_form else (EventForm.FULL,)
            uris.extend(kind.uri(form) for form in forms)
        return tuple(uris)


@dataclass(frozen=True, slots=True)
class Event:
    """One provisioning event of one tenant, before it is encoded as a SET.

    ``position`` is assigned by the feed when the event is appended (0 before): it increases
    monotonically per tenant. ``jti`` is unique; ``txn`` is shared by every event of one write.
    ``uri`` is the subject's path relative to the SCIM base (``/Users/{id}``, RFC 9967 §2.1).
    ``version`` is the resource's ETag after the write (``None`` for a delete). ``data`` is the
    ``full`` payload and ``attributes`` the ``notice`` payload; activate, deactivate and delete
    events carry neither.
    """

    tenant: str
    jti: str
    txn: str
    type: EventType
    resource_type: str
    id: str
    uri: str
    iat: datetime
    version: str | None = None
    external_id: str | None = None
    data: Any = None
    attributes: tuple[str, ...] = ()
    position: int = 0

    def event_uri(self, form: EventForm = EventForm.FULL) -> str:
        """The RFC 9967 event URI of this event in ``form``."""
        return self.type.uri(form)

    def payload(self, form: EventForm = EventForm.FULL) -> dict[str, Any]:
        """The event payload (RFC 9967 §2.2) in ``form``: the value under the event URI."""
        body: dict[str, Any] = {}
        if self.type.has_form:
            if form is EventForm.FULL:
                body["data"] = plain(self.data)
            else:
                body["attributes"] = list(self.attributes)
        if self.version is not None:
            body["version"] = self.version
        return body

    def at(self, position: int) -> Event:
        """The event at a feed position (what a feed returns from an append)."""
        # Positional construction: dataclasses.replace costs several times more, once per
        # event on the write path.
        return Event(
            self.tenant,
            self.jti,
            self.txn,
            self.type,
            self.resource_type,
            self.id,
            self.uri,
            self.iat,
            self.version,
            self.external_id,
            self.data,
            self.attributes,
            position,
        )

    def to_json(self) -> dict[str, Any]:
        """A JSON-shaped record of the event, for stores that persist events."""
        record: dict[str, Any] = {
            "tenant": self.tenant,
            "jti": self.jti,
            "txn": self.txn,
            "type": self.type.value,
            "resourceType": self.resource_type,
            "id": self.id,
            "uri": self.uri,
            "iat": self.iat,
            "position": self.position,
        }
        if self.version is not None:
            record["version"] = self.version
        if self.external_id is not None:
            record["externalId"] = self.external_id
        if self.data is not None:
            record["data"] = plain(self.data)
        if self.attributes:
            record["attributes"] = list(self.attributes)
        return record

    @classmethod
    def from_json(cls, record: Mapping[str, Any]) -> Event:
        """The event :meth:`to_json` recorded (a store's persisted form)."""
        iat = record["iat"]
        if isinstance(iat, datetime) and iat.tzinfo is None:
            iat = iat.replace(tzinfo=UTC)  # BSON dates come back naive, in UTC
        return cls(
            tenant=record["tenant"],
            jti=record["jti"],
            txn=record["txn"],
            type=EventType(record["type"]),
            resource_type=record["resourceType"],
            id=record["id"],
            uri=record["uri"],
            iat=iat,
            version=record.get("version"),
            external_id=record.get("externalId"),
            data=record.get("data"),
            attributes=tuple(record.get("attributes") or ()),
            position=int(record.get("position") or 0),
        )


class _Deferred(Mapping[str, Any]):
    """A JSON object computed when read, not when the event is recorded.

    Events are recorded on the write path and a feed keeps many of them; a deferred payload
    holds references to what it is made from (immutable inputs only) instead of a copy, so
    recording allocates one small object and the feed retains no copied trees. Each read
    computes it again (a receiver reads an event about once).
    """

    __slots__ = ("_make", "_args")

    def __init__(self, make: Callable[..., Mapping[str, Any]], *args: Any) -> None:
        self._make = make
        self._args = args

    def value(self) -> dict[str, Any]:
        return dict(self._make(*self._args))

    def __getitem__(self, key: str) -> Any:
        return self.value()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.value())

    def __len__(self) -> int:
        return len(self.value())

    def __repr__(self) -> str:
        return repr(self.value())


def plain(data: Any) -> Any:
    """An event's ``data`` as plain JSON-shaped values (a deferred payload computed)."""
    return data.value() if isinstance(data, _Deferred) else data


def new_event_id() -> str:
    """A fresh identifier for a ``jti`` or a ``txn``: 128 random bits as 32 hex digits."""
    # As unique as a uuid4 (which wraps the same 16 bytes) at a fraction of the cost.
    return os.urandom(16).hex()


# --- deriving the events of a write ------------------------------------------------------------


# Not frozen, unlike the other value objects: a frozen dataclass sets each field through
# object.__setattr__, and one is made per write (nothing changes it once made).
@dataclass(slots=True)
class WriteRecord:
    """What the service hands a store with a write so the store records its events.

    The service knows the write (``kind``, the PATCH ``operations``, when: ``iat``; one
    ``txn``); the store knows the resource just before and after it and the groups a deleted
    member leaves, inside its atomic section. :meth:`events` joins the two.

    ``before`` is the resource as the service read it for a write that compares its version
    (PUT, PATCH): exactly the resource the write replaces, so a store whose write is one
    compare-and-set need not read it again to derive the events (MongoStore). A store reads
    the record and never changes it.
    """

    kind: EventType
    iat: datetime
    txn: str = field(default_factory=new_event_id)
    operations: tuple[PatchOperation, ...] = ()
    before: Mapping[str, Any] | None = field(default=None, compare=False)

    def events(
        self,
        tenant: str,
        resource_type: ResourceType,
        id: str,
        *,
        before: Mapping[str, Any] | None,
        after: Mapping[str, Any] | None,
        member_delta: MemberDelta | None = None,
        left: Iterable[tuple[ResourceType, str, str | None, str | None]] = (),
        keys: Collection[str] | None = None,
        snapshot: bool = False,
    ) -> tuple[Event, ...]:
        """The write's events, in order.

        ``left`` holds (group type, id, version, externalId) per group a deleted resource left;
        ``keys`` the top-level keys the write changed, when the store knows them;
        ``snapshot`` as for :func:`write_events`.
        """
        drafts = self.drafts(
            resource_type,
            id,
            before=before,
            after=after,
            member_delta=member_delta,
            left=left,
            keys=keys,
            snapshot=snapshot,
        )
        return tuple(
            _drafted_event(draft, tenant, new_event_id(), self.txn, self.iat, resource_type)
            for draft in drafts
        )

    def drafts(
        self,
        resource_type: ResourceType,
        id: str,
        *,
        before: Mapping[str, Any] | None,
        after: Mapping[str, Any] | None,
        member_delta: MemberDelta | None = None,
        left: Iterable[tuple[ResourceType, str, str | None, str | None]] = (),
        keys: Collection[str] | None = None,
        snapshot: bool = False,
    ) -> list[Draft]:
        """The write's events as :data:`Draft` tuples, for a feed that keeps them compactly.

        Arguments as for :meth:`events`; the feed adds ``jti``, ``txn``, ``iat`` and positions.
        """
        drafts = _write_drafts(
            resource_type,
            self.kind,
            id,
            before,
            after,
            self.operations,
            member_delta,
            keys,
            snapshot,
        )
        for group_type, group_id, version, external_id in left:
            drafts.append(_departure_draft(group_type, id, group_id, version, external_id))
        return drafts


def write_events(
    tenant: str,
    resource_type: ResourceType,
    kind: EventType,
    id: str,
    *,
    iat: datetime,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
    operations: Sequence[PatchOperation] = (),
    member_delta: MemberDelta | None = None,
    txn: str | None = None,
    new_id: Callable[[], str] = new_event_id,
    keys: Collection[str] | None = None,
    snapshot: bool = False,
) -> tuple[Event, ...]:
    """The events of one successful write, in the order a receiver should apply them.

    ``kind`` is ``CREATE``, ``PUT``, ``PATCH`` or ``DELETE``. ``before`` is the resource before
    the write (``None`` for a create) and ``after`` the resource as stored after it, with
    ``meta.version`` (``None`` for a delete). For a PATCH, ``operations`` are the operations
    applied and ``member_delta`` the member changes made without the member list loaded.
    ``keys``, when the writer knows them (a PATCH's ``changed_attributes``), are the only
    top-level keys that changed: the others are not compared. ``snapshot`` says ``after`` is
    never changed later (a store's stored entry, replaced and never mutated): a create's data
    is then projected from it when read rather than copied on the write path. A patch's data
    is rendered from the (frozen) operations when read.

    - A write that changes a User's ``active`` adds ``activate`` or ``deactivate`` after the
      put/patch event (an absent ``active`` counts as active; a create reports none: its data
      carries ``active``).
    - A group's member changes are a ``patch`` event with ``attributes: ["members"]``.
    - The groups a deleted resource leaves are :func:`departure_events`, which the store
      derives since only it knows the memberships.
    """
    txn = txn or new_id()
    drafts = _write_drafts(
        resource_type, kind, id, before, after, operations, member_delta, keys, snapshot
    )
    return tuple(_drafted_event(d, tenant, new_id(), txn, iat, resource_type) for d in drafts)


# What a write's events are before they have ids and positions: (type, resource type name, id,
# uri, version, externalId, data code, data source, attributes). ``attributes`` is None for a
# create (its paths follow from the data source and are computed when read), _Changes for a
# write that knows its changed keys (a PATCH: the paths are computed from them when read), else
# the paths. The data code says what the source is (see _NO_DATA...); a feed keeps the source
# in a compact form.
Draft = tuple[EventType, str, str, str, str | None, str | None, int, Any, Any]

# EventType's members, read through the enum's class (whose metaclass has a __getattr__), cost
# about ten times a module name; the write path names them several times per write.
_CREATE, _PUT, _PATCH, _DELETE = EventType.CREATE, EventType.PUT, EventType.PATCH, EventType.DELETE
_WRITES = (_CREATE, _PUT, _PATCH, _DELETE)

_NO_DATA = 0
_JSON = 1  # the data itself, JSON-shaped
_RESOURCE = 2  # a stored resource (never mutated): the data is its projection, made when read
_OPERATIONS = 3  # PATCH operations as (op, path, value) rows: the data is their PatchOp message


def _write_drafts(
    resource_type: ResourceType,
    kind: EventType,
    id: str,
    before: Mapping[str, Any] | None,
    after: Mapping[str, Any] | None,
    operations: Sequence[PatchOperation],
    member_delta: MemberDelta | None,
    keys: Collection[str] | None,
    snapshot: bool,
) -> list[Draft]:
    if kind not in _WRITES:
        raise ValueError(f"{kind} is not a write")
    subject = before if kind is _DELETE else after
    if subject is None:
        raise ValueError(f"a {kind.value} needs the resource {'before' if before else 'after'}")
    raw_external_id = subject.get("externalId")
    external_id = raw_external_id if isinstance(raw_external_id, str) else None
    uri = f"{resource_type.endpoint}/{id}"
    name = resource_type.name
    if kind is _DELETE:
        return [(kind, name, id, uri, None, external_id, _NO_DATA, None, ())]
    assert after is not None
    meta = after.get("meta")
    version = meta.get("version") if meta else None
    facts = _facts(resource_type)
    code: int
    source: Any
    # A feed keeps the sources for a long time: never-returned values (a password, its hash)
    # are left out of them at once, not only when the data is made. Where such values may sit
    # deeper than the top level (``hidden_names`` is None), the data is made at once instead.
    hidden_names = facts.hidden_names
    if kind is _PATCH:
        rows = None if hidden_names is None else _operation_rows(operations, hidden_names)
        if rows is None:
            code, source = _JSON, _patch_message(_rows(operations), resource_type)
        else:
            code, source = _OPERATIONS, rows
    elif snapshot and facts.snapshots:
        code, source = _RESOURCE, _without(after, facts.never_returned)
    else:
        code, source = _JSON, project(after, resource_type)
    attributes: tuple[str, ...] | _Changes | None
    if code == _RESOURCE and before is None and keys is None and not member_delta:
        attributes = None  # a create's paths follow from the resource: made when read
    elif keys is not None and before is not None and hidden_names is not None:
        attributes = _Changes.of(
            resource_type, facts.unreported, keys, before, after, bool(member_delta)
        )
    else:
        attributes = changed_paths(
            before, after, resource_type, member_delta=member_delta, keys=keys
        )
    drafts: list[Draft] = [(kind, name, id, uri, version, external_id, code, source, attributes)]
    # ``keys`` holds every top-level key the write changed: without ``active`` there is no
    # activation to compare.
    if kind is not _CREATE and before is not None and (keys is None or "active" in keys):
        change = _activation(resource_type, before, after)
        if change is not None:
            drafts.append((change, name, id, uri, version, external_id, _NO_DATA, None, ()))
    return drafts


@dataclass(frozen=True, slots=True)
class _Facts:
    """What drafting a write's events needs to know of its resource type, worked out once.

    ``hidden_names`` as :func:`_hidden_names`; ``never_returned`` the top-level keys never
    returned; ``unreported`` those and the members, which :class:`_Changes` does not keep;
    ``snapshots``: a create's data may be its stored resource (a type without members whose
    never-returned values are all top-level).
    """

    hidden_names: frozenset[str] | None
    never_returned: frozenset[str]
    unreported: frozenset[str]
    snapshots: bool


@lru_cache(maxsize=256)
def _facts(resource_type: ResourceType) -> _Facts:
    hidden_names = _hidden_names(resource_type)
    never_returned = _never_returned(resource_type)
    members = resource_type.members_attribute
    return _Facts(
        hidden_names,
        never_returned,
        never_returned if members is None else never_returned | {members.name},
        members is None and hidden_names is not None,
    )


def _without(resource: Mapping[str, Any], keys: frozenset[str]) -> Mapping[str, Any]:
    """``resource`` without ``keys`` (itself when it has none of them, as it usually has)."""
    for key in keys:
        if key in resource:
            return {k: v for k, v in resource.items() if k not in keys}
    return resource


PatchRow = tuple[str, str | None, Any]
"""A PATCH operation as a feed keeps it: ``(op, path, value)``."""


def _rows(operations: Sequence[PatchOperation]) -> list[PatchRow]:
    return [(operation.op, operation.path, operation.value) for operation in operations]


def _operation_rows(
    operations: Sequence[PatchOperation], hidden: frozenset[str]
) -> list[PatchRow] | None:
    """The operations as rows, or None when one may set a never-returned value.

    ``hidden`` holds the never-returned names (lower case), looked for in each path and each
    key of a path-less value, in any case (cautious: such a PATCH has its data rendered at
    once instead). One pass does both, as every recorded PATCH needs both.
    """
    rows: list[PatchRow] = []
    for operation in operations:
        path, value = operation.path, operation.value
        if hidden:
            if path is not None:
                # _names_hidden, its choice made here: one function call less per operation.
                if (_names_cached if len(path) <= _CACHED_TEXT else _names)(path, hidden):
                    return None
            elif isinstance(value, dict) and _fragment_names_hidden(value, hidden):
                return None
        rows.append((operation.op, path, value))
    return rows


def _drafted_event(
    draft: Draft, tenant: str, jti: str, txn: str, iat: datetime, resource_type: ResourceType
) -> Event:
    kind, name, id, uri, version, external_id, code, source, attributes = draft
    data: Any = None
    if code == _JSON:
        data = source
    elif code == _RESOURCE:
        data = _Deferred(project, source, resource_type)
        if attributes is None:
            attributes = _created_paths(source, resource_type)
    elif code == _OPERATIONS:
        data = _Deferred(_patch_message, tuple(source), resource_type)
    if isinstance(attributes, _Changes):
        attributes = attributes.paths()
    return Event(
        tenant, jti, txn, kind, name, id, uri, iat, version, external_id, data, attributes or ()
    )


class _Changes:
    """The values of the top-level keys a write changed, before and after: its notice paths.

    Comparing them costs more than keeping them, and a receiver may never ask for ``notice``;
    so a feed keeps them (as JSON, see :func:`retain`) and the paths are computed when read.
    ``kept`` is what is kept: the keys, their values before and after (in the keys' order),
    and whether the members changed (compared through the member delta, not here).
    """

    __slots__ = ("resource_type", "kept")

    def __init__(
        self, resource_type: ResourceType, kept: tuple[list[str], list[Any], list[Any], bool]
    ) -> None:
        self.resource_type = resource_type
        self.kept = kept

    @classmethod
    def of(
        cls,
        resource_type: ResourceType,
        unreported: frozenset[str],
        keys: Collection[str],
        before: Mapping[str, Any],
        after: Mapping[str, Any],
        members: bool,
    ) -> _Changes:
        """The changes of ``keys`` but those ``unreported`` (never returned, or the members)."""
        # One loop: three comprehensions (or maps) over the few keys cost about twice as much.
        kept: list[str] = []
        old: list[Any] = []
        new: list[Any] = []
        for key in keys:
            if key not in unreported:
                kept.append(key)
                old.append(before.get(key))
                new.append(after.get(key))
        return cls(resource_type, (kept, old, new, members))

    def paths(self) -> tuple[str, ...]:
        keys, old, new, members = self.kept
        before = dict(zip(keys, old, strict=True))
        after = dict(zip(keys, new, strict=True))
        return _diff_paths(before, after, self.resource_type, members, keys)

    @classmethod
    def decode(cls, blob: str, resource_type: ResourceType) -> _Changes:
        keys, old, new, members = orjson.loads(blob)
        return cls(resource_type, (keys, old, new, members))


def _departure_draft(
    group_type: ResourceType,
    member_id: str,
    group_id: str,
    version: str | None,
    external_id: str | None,
) -> Draft:
    removal = {
        "schemas": [PATCH_OP_SCHEMA],
        "Operations": [{"op": "remove", "path": f'members[value eq "{member_id}"]'}],
    }
    uri = f"{group_type.endpoint}/{group_id}"
    return (
        EventType.PATCH,
        group_type.name,
        group_id,
        uri,
        version,
        external_id,
        _JSON,
        removal,
        ("members",),
    )


# --- the form a feed retains an event in ------------------------------------------------------

Retained = tuple[Any, ...]
"""An event as :class:`~scimkit.MemoryFeed` keeps it: a plain tuple of ``str``, ``int``,
``datetime`` and ``None`` (see :func:`retain`)."""

_TYPES = tuple(EventType)
_TYPE_CODES = {kind: code for code, kind in enumerate(_TYPES)}
_OBJECT = 4  # data kept as the object itself: it does not survive a JSON round trip


def retain(
    draft: Draft, jti: str | None, txn: str, iat: datetime, position: int, resource_type: int
) -> Retained:
    """An event in its retained form: a tuple the garbage collector stops tracking.

    A feed keeps many events for a long time; as objects (an :class:`Event`, its payload, the
    resource or operations it refers to) each would be several more objects every full
    collection traverses. CPython untracks a tuple that holds only untracked values, so the
    data source is kept as JSON text, the type as its number and the resource type as the
    feed's index for it (``resource_type``), the paths as one string (attribute paths hold
    no spaces): the tuple costs the collector nothing from the first collection that sees it.
    ``jti`` is None when it is :func:`derived_jti` of the ``txn`` and the position.
    """
    kind, name, id, uri, version, external_id, code, source, attributes = draft
    blob: Any = None
    # Text, not orjson's bytes: those are allocated outside Python's small-object allocator
    # with room to spare and shrunk, and keeping 100,000 of them made each dumps ~8 times
    # slower (heap growth and trimming); a str of the same JSON is a small object.
    if code != _NO_DATA:
        try:
            blob = orjson.dumps(source).decode()
        except TypeError:  # a value JSON cannot hold: keep the object (and track the tuple)
            code, blob = _OBJECT, source
    paths: str | None = None
    if type(attributes) is _Changes:
        # JSON text of an array, so never taken for joined paths (which start with a name).
        try:
            paths = orjson.dumps(attributes.kept).decode()
        except TypeError:  # a value JSON cannot hold: compare now
            paths = " ".join(attributes.paths())
    elif attributes is not None:
        paths = " ".join(attributes)
    return (
        position,
        jti,
        txn,
        _TYPE_CODES[kind],
        name,
        id,
        uri,
        iat,
        version,
        external_id,
        code,
        blob,
        paths,
        resource_type,
    )


def retain_event(event: Event, position: int) -> Retained:
    """An :class:`Event` made elsewhere in its retained form (its data kept as it reads)."""
    data = plain(event.data)
    code = _NO_DATA if data is None else _JSON
    draft: Draft = (
        event.type,
        event.resource_type,
        event.id,
        event.uri,
        event.version,
        event.external_id,
        code,
        data,
        event.attributes,
    )
    record = retain(draft, event.jti, event.txn, event.iat, position, -1)
    if code == _JSON and record[10] == _JSON and orjson.loads(record[11]) != data:
        # Not JSON-shaped (tuples, datetimes): readers get the very object back.
        record = (*record[:10], _OBJECT, data, *record[12:])
    if any(" " in path for path in event.attributes):  # not a path: kept as given
        record = (*record[:12], event.attributes, record[13])
    return record


def retained_position(record: Retained) -> int:
    position: int = record[0]
    return position


def retained_iat(record: Retained) -> datetime:
    iat: datetime = record[7]
    return iat


def retained_jti(record: Retained) -> str:
    jti: str | None = record[1]
    return derived_jti(record[2], record[0]) if jti is None else jti


def retained_jti_given(record: Retained) -> str | None:
    """The record's jti when it was given (not derived from its txn and position)."""
    jti: str | None = record[1]
    return jti


def derived_jti(txn: str, position: int) -> str:
    """The ``jti`` of the event at ``position`` of a write's ``txn``: unique as the txn is.

    ``txn`` is 128 random bits per write and a write's events have distinct positions, so
    the feed need not draw (or index) a random id per event; :func:`derived_position` reads
    the position back.
    """
    return f"{txn}.{position:x}"


def derived_position(jti: str) -> int | None:
    """The position a :func:`derived_jti` names (None for any other text)."""
    txn, dot, position = jti.rpartition(".")
    if not dot or not txn or not position.isalnum():
        return None
    try:
        return int(position, 16)
    except ValueError:
        return None


def restore(record: Retained, tenant: str, resource_types: Sequence[ResourceType]) -> Event:
    """The :class:`Event` a :func:`retain` record holds (``resource_types`` by the feed's index).

    A create's ``notice`` paths are computed here, from the resource: a receiver may never ask
    for them, so the write does not.
    """
    (position, jti, txn, kind, name, id, uri, iat, version, external_id, code, blob) = record[:12]
    if jti is None:
        jti = derived_jti(txn, position)
    paths, type_index = record[12], record[13]
    if isinstance(paths, str) and paths.startswith("["):
        attributes: Any = _Changes.decode(paths, resource_types[type_index]).paths()
    elif isinstance(paths, str):
        attributes = tuple(paths.split(" ")) if paths else ()
    else:
        attributes = paths
    data: Any = None
    if code == _JSON:
        data = orjson.loads(blob)
    elif code == _OBJECT:
        data = blob
    elif code == _RESOURCE:
        resource_type = resource_types[type_index]
        resource = orjson.loads(blob)
        data = _Deferred(project, resource, resource_type)
        if attributes is None:
            attributes = _created_paths(resource, resource_type)
    elif code == _OPERATIONS:
        rows = tuple(tuple(row) for row in orjson.loads(blob))
        data = _Deferred(_patch_message, rows, resource_types[type_index])
    return Event(
        tenant,
        jti,
        txn,
        _TYPES[kind],
        name,
        id,
        uri,
        iat,
        version,
        external_id,
        data,
        attributes or (),
        position,
    )


def departure_events(
    tenant: str,
    group_type: ResourceType,
    member_id: str,
    groups: Iterable[tuple[str, str | None, str | None]],
    *,
    iat: datetime,
    txn: str,
    new_id: Callable[[], str] = new_event_id,
) -> tuple[Event, ...]:
    """``patch`` events for the groups a deleted resource leaves (one per group).

    ``groups`` holds (group id, group version, group externalId). The ``full`` data is the
    PATCH that removes the member, as if a client had sent it, so a receiver replaying full
    events ends with the same member lists.
    """
    return tuple(
        _drafted_event(
            _departure_draft(group_type, member_id, group_id, version, external_id),
            tenant,
            new_id(),
            txn,
            iat,
            group_type,
        )
        for group_id, version, external_id in groups
    )


def changed_paths(
    before: Mapping[str, Any] | None,
    after: Mapping[str, Any],
    resource_type: ResourceType,
    *,
    member_delta: MemberDelta | None = None,
    keys: Collection[str] | None = None,
) -> tuple[str, ...]:
    """The attribute paths a write changed, sorted: the ``notice`` payload (RFC 9967 §2.2).

    Core attributes are named plainly (``name.familyName`` for a singular complex attribute's
    sub-attributes), extension attributes with their URN (``urn:...:User:manager``). Server
    attributes (``id``, ``meta``, ``schemas``), derived ``groups`` and never-returned attributes
    are left out. ``members`` is reported when ``member_delta`` changed them. ``keys`` limits
    the comparison to these top-level keys (``members`` then only through ``member_delta``).
    """
    if before is None and keys is None and not member_delta:
        return _created_paths(after, resource_type)
    return _diff_paths(before, after, resource_type, bool(member_delta), keys)


def _diff_paths(
    before: Mapping[str, Any] | None,
    after: Mapping[str, Any],
    resource_type: ResourceType,
    members_changed: bool,
    keys: Collection[str] | None,
) -> tuple[str, ...]:
    old = before or {}
    paths: set[str] = set()
    if keys is None:
        compared: Iterable[str] = old.keys() | after.keys()
    else:
        members = resource_type.members_attribute
        compared = [k for k in keys if members is None or k != members.name]
    for key in compared:
        kind, found = _key_kind(resource_type, key)
        if kind is _KeyKind.SKIP:
            continue
        old_value, new_value = old.get(key), after.get(key)
        if old_value == new_value:
            continue
        if kind is _KeyKind.EXTENSION:
            old_ext = old_value or {}
            new_ext = new_value or {}
            for name in old_ext.keys() | new_ext.keys():
                attribute = found.get(name)
                if attribute is not None and old_ext.get(name) != new_ext.get(name):
                    paths.add(f"{key}:{attribute.name}")
            continue
        attribute = found
        assert isinstance(attribute, Attribute)
        if kind is _KeyKind.COMPLEX and before is not None:
            subs = _changed_subs(old_value, new_value)
            paths.update(
                f"{attribute.name}.{sub.name}"
                for sub in attribute.sub_attributes
                if sub.name in subs and sub.returned is not Returned.NEVER
            )
        else:
            paths.add(attribute.name)
    if members_changed:
        paths.add("members")
    return tuple(sorted(paths))


def _created_paths(after: Mapping[str, Any], resource_type: ResourceType) -> tuple[str, ...]:
    # A created resource's paths depend only on which keys it has (and which attributes its
    # extensions have): one provisioning client sends the same shape every time.
    shape = tuple(
        (key, tuple(k for k, v in value.items() if v is not None) if ":" in key else None)
        if isinstance(value, dict)
        else (key, None)
        for key, value in after.items()
        if value is not None
    )
    return _paths_of_shape(resource_type, shape)


@lru_cache(maxsize=256)
def _paths_of_shape(
    resource_type: ResourceType, shape: tuple[tuple[str, tuple[str, ...] | None], ...]
) -> tuple[str, ...]:
    after = {key: True if names is None else dict.fromkeys(names, True) for key, names in shape}
    return _diff_paths(None, after, resource_type, False, None)


@lru_cache(maxsize=256)
def _never_returned(resource_type: ResourceType) -> frozenset[str]:
    """The top-level keys of a resource that are never returned (``password``)."""
    return frozenset(
        attribute.name
        for attribute in resource_type.schema.attributes
        if attribute.returned is Returned.NEVER
    )


@lru_cache(maxsize=256)
def _hidden_names(resource_type: ResourceType) -> frozenset[str] | None:
    """The lower-case names of the core attributes never returned (``password``).

    None when never-returned values may sit deeper (a sub-attribute, an extension attribute):
    then the feed is handed rendered data, not the sources to render it from.
    """
    names = set()
    for attribute in resource_type.schema.attributes:
        if attribute.returned is Returned.NEVER:
            names.add(attribute.name.lower())
        elif any(sub.returned is Returned.NEVER for sub in attribute.sub_attributes):
            return None
    for extension in resource_type.extensions:
        for attribute in extension.schema.attributes:
            if attribute.returned is Returned.NEVER or any(
                sub.returned is Returned.NEVER for sub in attribute.sub_attributes
            ):
                return None
    return frozenset(names)


def _fragment_names_hidden(value: Mapping[str, Any], hidden: frozenset[str]) -> bool:
    """Whether a path-less PATCH value may set a never-returned value (cautious).

    By name in any case: its keys, and the keys of an extension's object.
    """
    for key, item in value.items():
        if _names_hidden(key, hidden) or (
            isinstance(item, dict) and any(_names_hidden(k, hidden) for k in item)
        ):
            return True
    return False


def _names_hidden(text: str, hidden: frozenset[str]) -> bool:
    # An IdP sends the same few short paths and keys in every PATCH: those answers are cached;
    # a long text is not, so a client cannot fill the cache with large strings.
    check = _names_cached if len(text) <= _CACHED_TEXT else _names
    return check(text, hidden)


def _names(text: str, hidden: frozenset[str]) -> bool:
    folded = text.lower()
    return any(name in folded for name in hidden)


_CACHED_TEXT = 200
_names_cached = lru_cache(maxsize=4096)(_names)


class _KeyKind(Enum):
    SKIP = 0  # server key, unknown, derived or never returned
    PLAIN = 1
    COMPLEX = 2  # singular complex: reported per sub-attribute
    EXTENSION = 3  # an extension URN: reported per attribute


@lru_cache(maxsize=4096)
def _key_kind(resource_type: ResourceType, key: str) -> tuple[_KeyKind, Any]:
    """How a top-level key of a resource is reported (resource types compare by identity).

    For an extension: the mapping of its returned attributes by name (any case); for an
    attribute: the attribute.
    """
    if key in _SERVER_KEYS:
        return _KeyKind.SKIP, None
    if key in resource_type.schema_ids[1:]:
        extension = resource_type.schema_for(key)
        if extension is None:
            return _KeyKind.SKIP, None
        return _KeyKind.EXTENSION, _ReturnedAttributes(extension)
    ref = resource_type.resolve_path(key)
    attribute = ref.attribute if ref is not None and ref.sub_attribute is None else None
    if attribute is None or attribute.returned is Returned.NEVER:
        return _KeyKind.SKIP, None
    if attribute.name == "groups" and attribute.mutability.value == "readOnly":
        return _KeyKind.SKIP, None
    if attribute.is_complex and not attribute.multi_valued:
        return _KeyKind.COMPLEX, attribute
    return _KeyKind.PLAIN, attribute


class _ReturnedAttributes:
    """An extension schema's attributes that may appear in events, looked up by name."""

    __slots__ = ("_schema", "_found")

    def __init__(self, schema: Schema) -> None:
        self._schema = schema
        self._found: dict[str, Attribute | None] = {}

    def get(self, name: str) -> Attribute | None:
        if name not in self._found:
            attribute = self._schema.attribute(name)
            if attribute is not None and attribute.returned is Returned.NEVER:
                attribute = None
            self._found[name] = attribute
        return self._found[name]


def _changed_subs(old: Any, new: Any) -> set[str]:
    old_map = old if isinstance(old, dict) else {}
    new_map = new if isinstance(new, dict) else {}
    return {k for k in old_map.keys() | new_map.keys() if old_map.get(k) != new_map.get(k)}


def _activation(
    resource_type: ResourceType, before: Mapping[str, Any], after: Mapping[str, Any]
) -> EventType | None:
    if not _has_activation(resource_type):
        return None
    # Unassigned counts as active: SCIM leaves the default to the service provider, and an
    # account nobody deactivated is one the application lets log in.
    was = before.get("active") is not False
    now = after.get("active") is not False
    if was == now:
        return None
    return EventType.ACTIVATE if now else EventType.DEACTIVATE


@lru_cache(maxsize=256)
def _has_activation(resource_type: ResourceType) -> bool:
    """Whether the type has a Boolean core ``active`` (resource types compare by identity)."""
    attribute = resource_type.schema.attribute("active")
    return attribute is not None and attribute.type.value == "boolean"


def _patch_message(rows: Sequence[PatchRow], resource_type: ResourceType) -> dict[str, Any]:
    """The applied operations (as rows) as a PatchOp message, never-returned values removed."""
    shown = []
    for op, path, value in rows:
        rendered = _shown_operation(op, path, value, resource_type)
        if rendered is not None:
            shown.append(rendered)
    return {"schemas": [PATCH_OP_SCHEMA], "Operations": shown}


def _shown_operation(
    op: str, path: str | None, value: Any, resource_type: ResourceType
) -> dict[str, Any] | None:
    rendered: dict[str, Any] = {"op": op}
    shown = value
    if path is None:
        if isinstance(value, dict):
            shown = _shown_fragment(value, resource_type, None)
        if value is not None:
            rendered["value"] = shown
        return rendered
    rendered["path"] = path
    # The attribute a path targets is named before any value filter: members[value eq "x"].
    head = path.split("[", 1)[0].strip()
    ref = resource_type.resolve_path(head)
    if ref is not None:
        if ref.attribute.returned is Returned.NEVER or (
            ref.sub_attribute is not None and ref.sub_attribute.returned is Returned.NEVER
        ):
            return None
        if value is not None and ref.sub_attribute is None and "[" not in path:
            shown = _shown_value(
                value, resource_type, ref.schema, ref.attribute.name, ref.extension
            )
    if value is not None:
        rendered["value"] = shown
    return rendered


def _shown_value(
    value: Any, resource_type: ResourceType, schema: str, name: str, extension: bool
) -> Any:
    """One attribute's value as a GET shows it: never-returned sub-attributes removed."""
    if not isinstance(value, dict | list):
        return value
    if extension:
        shown = project({schema: {name: value}}, resource_type).get(schema, {})
    else:
        shown = project({name: value}, resource_type)
    return shown.get(name, [] if isinstance(value, list) else {})


def _shown_fragment(
    value: Mapping[str, Any], resource_type: ResourceType, urn: str | None
) -> dict[str, Any]:
    """A path-less PATCH value (attribute paths as keys) without never-returned values.

    Keys are client text (any case, dotted as Entra sends ``name.givenName``, or an extension
    URN holding its own attributes), so each is resolved against the schema.
    """
    shown: dict[str, Any] = {}
    for key, item in value.items():
        if urn is None and resource_type.schema_for(key) not in (None, resource_type.schema):
            if isinstance(item, dict):
                shown[key] = _shown_fragment(item, resource_type, key)
            continue
        ref = resource_type.resolve_path(f"{urn}:{key}" if urn else key)
        if ref is None:
            shown[key] = item
            continue
        if ref.attribute.returned is Returned.NEVER or (
            ref.sub_attribute is not None and ref.sub_attribute.returned is Returned.NEVER
        ):
            continue
        if ref.sub_attribute is None:
            item = _shown_value(item, resource_type, ref.schema, ref.attribute.name, ref.extension)
        shown[key] = item
    return shown
