"""The outbox: a write's events kept in the document it writes, until the drainer moves them.

A resource write pushes its events onto the document's ``_outbox`` array in the same
single-document update that changes the resource, so MongoDB's single-document atomicity makes
the write and its events durable together or not at all (``docs/events.md``). The drainer
(``_drain``) moves them into the events collection and pulls them out again.

An outbox entry is :meth:`Event.to_json` with the payload's keys encoded like the resource's
(``$ref``, dotted extension URNs) and ``i``, the event's index within its write (the drainer
orders the events of one write that sit in several documents by it: a delete before the
groups' member removals). Where the document knows a value the writer does not (the version an
atomic increment gives, the ``externalId`` of a resource deleted without reading it), an update
pipeline computes the entry's field from the document.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from scimkit._event import Event, EventType
from scimkit._patch import PATCH_OP_SCHEMA
from scimkit._resource_type import ResourceType
from scimkit._store import format_version
from scimkit.mongo._codec import decode_document, encode_document

__all__ = [
    "OUTBOX",
    "TOMBSTONE",
    "departure_outbox",
    "entry_event",
    "event_entry",
    "pushed",
    "pushed_with_version",
    "tombstone_pipeline",
    "version_expression",
]

OUTBOX = "_outbox"
"""The field holding a document's undrained events."""
TOMBSTONE = "_deleted"
"""Set (to the time of the delete) on a deleted resource until the drainer removes it."""


def event_entry(event: Event, index: int) -> dict[str, Any]:
    """The outbox entry of ``event``, the ``index``-th event of its write."""
    entry = event.to_json()
    entry.pop("position", None)
    if "data" in entry:
        entry["data"] = encode_document(entry["data"])
    entry["i"] = index
    return entry


def entry_event(entry: Mapping[str, Any], position: int = 0) -> Event:
    """The event an outbox entry (or an events-collection record) holds."""
    record = dict(entry)
    if "data" in record:
        record["data"] = decode_document(record["data"])
    if record.get("externalId") is None:
        record.pop("externalId", None)
    event = Event.from_json(record)
    return event.at(position) if position else event


def pushed(events: Sequence[Event]) -> dict[str, Any]:
    """The ``$push`` of an update that records ``events`` (one write's, in order)."""
    return {OUTBOX: {"$each": [event_entry(event, i) for i, event in enumerate(events)]}}


def version_expression(counter: Any) -> dict[str, Any]:
    """An aggregation expression for the weak ETag of the write counter ``counter``."""
    prefix, suffix = format_version(0).split("0")
    return {"$concat": [prefix, {"$toString": counter}, suffix]}


def _appended(entries: list[Any]) -> dict[str, Any]:
    return {"$concatArrays": [{"$ifNull": [f"${OUTBOX}", []]}, entries]}


def _computed(entry: Mapping[str, Any], fields: Mapping[str, Any]) -> dict[str, Any]:
    # $literal: the entry holds client text ("$..." strings would read as field paths).
    return {"$mergeObjects": [{"$literal": dict(entry)}, dict(fields)]}


def pushed_with_version(events: Sequence[Event]) -> dict[str, Any]:
    """A pipeline ``$set`` of ``_outbox`` for a write that increments ``v`` in the same stage.

    The events' ``version`` and ``externalId`` are read from the document: the version is the
    one the increment gives, which the writer cannot know without a compare-and-set.
    """
    counter = {"$add": ["$v", 1]}
    entries = []
    for index, event in enumerate(events):
        fields: dict[str, Any] = {"externalId": "$a.externalId"}
        if event.version is not None:
            fields["version"] = version_expression(counter)
        entries.append(_computed(event_entry(event, index), fields))
    return {OUTBOX: _appended(entries)}


def tombstone_pipeline(
    events: Sequence[Event],
    *,
    unique_paths: Sequence[str],
    left: Sequence[tuple[str, str]],
    at: datetime,
) -> list[dict[str, Any]]:
    """The update pipeline that turns a resource into a tombstone carrying its delete events.

    The counter moves on (a compare-and-set against the old version fails), the events are
    pushed with the document's ``externalId``, ``_left`` names the groups the resource was in
    as (group type, id) pairs and ``_txn``/``_iat`` the write (so a drainer can finish a
    delete whose writer died), and the unique attributes are removed, which takes the
    tombstone out of the unique indexes: the same ``userName`` can be created again at once.
    """
    entries = [
        _computed(event_entry(event, index), {"externalId": "$a.externalId"})
        for index, event in enumerate(events)
    ]
    stage: dict[str, Any] = {
        "v": {"$add": ["$v", 1]},
        TOMBSTONE: at,
        OUTBOX: _appended(entries),
    }
    if events:
        stage["_txn"] = events[0].txn
        stage["_iat"] = events[0].iat
    if left:
        stage["_left"] = {"$literal": [list(pair) for pair in left]}
    pipeline: list[dict[str, Any]] = [{"$set": stage}]
    if unique_paths:
        pipeline.append({"$unset": list(unique_paths)})
    return pipeline


def departure_outbox(
    group_type: ResourceType,
    member_id: str,
    *,
    tenant: str,
    txn: str,
    iat: datetime,
    index: int,
) -> dict[str, Any]:
    """The pipeline ``$set`` of ``_outbox`` for the groups a deleted member left.

    Added to :func:`~scimkit.mongo._codec.next_version`'s stage: one update of many groups, so
    each group's event is computed from its own document (its id, the version this increment
    gives it, its ``externalId``). The ``jti`` is the write's ``txn`` and the group id, so a
    delete finished again after a crash records each group's event once (the events
    collection's unique ``jti``).
    """
    removal = {
        "schemas": [PATCH_OP_SCHEMA],
        "Operations": [{"op": "remove", "path": f'members[value eq "{member_id}"]'}],
    }
    entry = {
        "tenant": tenant,
        "txn": txn,
        "type": EventType.PATCH.value,
        "resourceType": group_type.name,
        "iat": iat,
        "data": encode_document(removal),
        "attributes": ["members"],
        "i": index,
    }
    fields = {
        "jti": {"$concat": [f"{txn}.", "$a.id"]},
        "id": "$a.id",
        "uri": {"$concat": [f"{group_type.endpoint}/", "$a.id"]},
        "version": version_expression({"$add": ["$v", 1]}),
        "externalId": "$a.externalId",
    }
    return {OUTBOX: _appended([_computed(entry, fields)])}
