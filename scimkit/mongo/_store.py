"""MongoStore: the ResourceStore on MongoDB, through PyMongo's async API or motor.

Two collections: ``<prefix>resources`` (one document per resource, layout in ``_codec``)
and ``<prefix>memberships`` (one document per group member). Every query starts with the
tenant and, on resources, the resource type, and so does every index (``_indexes``).

There are no multi-document transactions (mongoeco has none, and a single-server MongoDB
has none either), so writes that touch both collections are ordered to leave a safe,
retryable state after a crash between them (see ``docs/storage.md``):

- the resource document is written first, with compare-and-set on its write counter
  (``v``), so a stale ``expected_version`` fails before anything else changes;
- memberships follow; adding and removing are idempotent, so a retried request converges;
- a PATCH that changes only members rewrites no group document: after the memberships, one
  atomic update gives the group its next version (deltas commute, so nothing is compared
  unless the client sent If-Match);
- deleting removes the resource first, then its memberships. Leftovers of a deleted group
  are skipped when a member's ``groups`` is derived; leftovers of a deleted member still list
  it in its groups' ``members`` (checking every member's existence would cost a full GET a
  second O(n) query) until the client retries the delete, which clears them even though the
  resource is already gone.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import uuid
from collections.abc import Callable, Coroutine, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any, Concatenate, NoReturn, ParamSpec, Protocol, TypeVar

import pymongo
from bson.codec_options import CodecOptions
from bson.errors import BSONError
from pymongo import DeleteMany, ReplaceOne, ReturnDocument, UpdateMany, UpdateOne
from pymongo.errors import BulkWriteError, DocumentTooLarge, DuplicateKeyError, PyMongoError

from scimkit._builtin import GROUP, USER
from scimkit._errors import (
    InternalError,
    PayloadTooLarge,
    PreconditionFailed,
    ServiceUnavailable,
    UniquenessError,
)
from scimkit._event import Event, WriteRecord
from scimkit._filter import (
    BoundCompare,
    BoundCondition,
    BoundFilter,
    CompareOp,
    filter_conditions,
)
from scimkit._meta import utc_now
from scimkit._patch_result import MemberDelta, PatchResult
from scimkit._resource_type import ResourceType
from scimkit._store import (
    DEFAULT_INDEXED,
    Page,
    StoreQuery,
    check_tenant,
    effective_member_delta,
    format_version,
    group_entry,
    member_form,
    members_by_id,
    named_members,
    normalize_members,
    not_found,
    reject_derived_filters,
    stored_form,
    stored_value,
    version_counter,
    writes_resource,
)
from scimkit.mongo._codec import (
    member_from_document,
    membership_document,
    next_version,
    resource_document,
    resource_from_document,
    sort_field,
    sort_key,
)
from scimkit.mongo._drain import OutboxDrainer
from scimkit.mongo._feed import MongoFeed, checkpoint_indexes, event_indexes
from scimkit.mongo._indexes import (
    IndexSpec,
    ensure_indexes,
    membership_indexes,
    only_duplicate_keys,
    outbox_indexes,
    resource_indexes,
)
from scimkit.mongo._outbox import (
    OUTBOX,
    TOMBSTONE,
    departure_outbox,
    event_entry,
    pushed,
    pushed_with_version,
    tombstone_pipeline,
)
from scimkit.mongo._query import translate_after, translate_filter, translate_order
from scimkit.mongo._refold import RefoldReport, refold

__all__ = ["DEFAULT_SORTED", "MongoStore"]

DEFAULT_SORTED: Mapping[str, tuple[str, ...]] = {"User": ("userName",), "Group": ("displayName",)}
"""Attributes with an index in sort order, for ``sortBy`` pages and keyset cursors."""


class Database(Protocol):
    """What MongoStore uses of a database.

    PyMongo's ``AsyncDatabase`` and motor's ``AsyncIOMotorDatabase`` both provide it; the
    collections they return differ in type but not in the calls the store makes.
    """

    def get_collection(self, name: str, codec_options: CodecOptions[Any] | None = None) -> Any:
        """The collection ``name``, decoding with ``codec_options``."""
        ...

    async def command(self, command: str) -> Any:
        """Run a database command (the store sends ``ping``)."""
        ...


# Stored dates come back as aware UTC datetimes whatever the client's own options.
_CODEC_OPTIONS: CodecOptions[Any] = CodecOptions(tz_aware=True, tzinfo=UTC)
_P = ParamSpec("_P")
_T = TypeVar("_T")


def _bounded(
    method: Callable[Concatenate[MongoStore, _P], Coroutine[Any, Any, _T]],
) -> Callable[Concatenate[MongoStore, _P], Coroutine[Any, Any, _T]]:
    """Run a store call under the store's deadline (``operation_timeout``).

    ``pymongo.timeout`` bounds everything the driver does inside the call (server selection,
    connection checkout, every query, its ``maxTimeMS``); past the deadline the driver raises,
    and ``_driver_errors`` answers 503 with Retry-After instead of leaving the client waiting.
    """

    @functools.wraps(method)
    async def bounded(store: MongoStore, /, *args: _P.args, **kwargs: _P.kwargs) -> _T:
        with pymongo.timeout(store.operation_timeout):
            return await method(store, *args, **kwargs)

    return bounded


class MongoStore:
    """A :class:`~scimkit.store.ResourceStore` on a MongoDB database.

    ``database`` is a PyMongo ``AsyncDatabase`` or a motor ``AsyncIOMotorDatabase``. The store
    serves exactly ``resource_types`` (their unique attributes define its unique indexes).
    Collections are named ``<collection_prefix>resources`` and ``<collection_prefix>memberships``.
    ``indexed`` and ``sorted_by`` name, per resource type, attributes that get a lookup index
    and a sort index. Indexes are created on first use unless ``create_indexes`` is false
    (then call :meth:`ensure_indexes` at deployment). ``max_page_size`` bounds a query that
    gives no ``count``. ``operation_timeout`` (seconds, ``None`` for the client's own settings)
    bounds each store call as a whole, from server selection to the last reply: a call that
    would take longer raises ``ServiceUnavailable`` (503, Retry-After), well before Entra gives
    up on the request. :meth:`ensure_indexes` and :meth:`refold` called directly are not
    bounded (deployment and migration may take long).

    Provisioning events (``ResourceService(record_events=True)``): each write keeps its events
    in the written document's outbox and a background drainer moves them into
    :attr:`feed` (a :class:`~scimkit.mongo.MongoFeed` on ``<prefix>events``), keeping them
    ``event_retention``. ``drain_lease`` is how long a drainer holds a tenant, so that one
    process at a time positions its events; ``drain_sweep_interval`` how often outboxes left
    by a dead process are looked for; ``tombstone_grace`` how old an unfinished delete must be
    before the drainer finishes it. Call :meth:`close` to stop the drainer (``docs/events.md``).
    """

    def __init__(
        self,
        database: Database,
        resource_types: Iterable[ResourceType] = (USER, GROUP),
        *,
        collection_prefix: str = "scim_",
        max_page_size: int = 1000,
        indexed: Mapping[str, Iterable[str]] = DEFAULT_INDEXED,
        sorted_by: Mapping[str, Iterable[str]] = DEFAULT_SORTED,
        create_indexes: bool = True,
        operation_timeout: float | None = 5.0,
        event_retention: timedelta | None = timedelta(days=30),
        drain_lease: timedelta = timedelta(seconds=30),
        drain_sweep_interval: float = 5.0,
        tombstone_grace: timedelta = timedelta(seconds=30),
    ) -> None:
        if operation_timeout is not None and operation_timeout <= 0:
            raise ValueError("operation_timeout must be positive (or None)")
        self.operation_timeout = operation_timeout
        self._database = database
        self._types: dict[str, ResourceType] = {}
        for resource_type in resource_types:
            if resource_type.name in self._types:
                raise ValueError(f"resource type {resource_type.name!r} is given twice")
            self._types[resource_type.name] = resource_type
        self._resources = database.get_collection(
            f"{collection_prefix}resources", codec_options=_CODEC_OPTIONS
        )
        self._memberships = database.get_collection(
            f"{collection_prefix}memberships", codec_options=_CODEC_OPTIONS
        )
        self.max_page_size = max_page_size
        self.resource_index_specs: tuple[IndexSpec, ...] = (
            resource_indexes(
                self._types.values(),
                {name: tuple(paths) for name, paths in indexed.items()},
                {name: tuple(paths) for name, paths in sorted_by.items()},
            )
            + outbox_indexes()
        )
        self.membership_index_specs: tuple[IndexSpec, ...] = membership_indexes()
        self.event_index_specs = event_indexes(event_retention)
        self.checkpoint_index_specs = checkpoint_indexes()
        self._events = database.get_collection(
            f"{collection_prefix}events", codec_options=_CODEC_OPTIONS
        )
        self._checkpoints = database.get_collection(
            f"{collection_prefix}event_checkpoints", codec_options=_CODEC_OPTIONS
        )
        # Events are written to an outbox in the resource document with the write and moved
        # into the feed by the drainer's task, off the request path (docs/events.md).
        self._drainer = OutboxDrainer(
            self._resources,
            MongoFeed(
                self._events,
                database.get_collection(
                    f"{collection_prefix}event_tenants", codec_options=_CODEC_OPTIONS
                ),
                self._checkpoints,
                retention=event_retention,
                on_use=self._start_drainer,
            ),
            self._finish_delete,
            lease=drain_lease,
            sweep_interval=drain_sweep_interval,
            tombstone_grace=tombstone_grace,
        )
        self.feed: MongoFeed = self._drainer.feed
        self._unique_fields = tuple(
            spec.keys[-1][0]
            for spec in self.resource_index_specs
            if spec.unique and spec.name != "t_rt_id"
        )
        self._indexes_ready = not create_indexes
        self._index_lock = asyncio.Lock()

    # -- setup ----------------------------------------------------------------------------------

    async def ensure_indexes(self) -> None:
        """Create the store's indexes (tenant-prefixed, unique where required). Idempotent."""
        with _driver_errors():
            for collection, specs in self._index_plan():
                await ensure_indexes(collection, specs)
        self._indexes_ready = True

    def _index_plan(self) -> tuple[tuple[Any, tuple[IndexSpec, ...]], ...]:
        return (
            (self._resources, self.resource_index_specs),
            (self._memberships, self.membership_index_specs),
            (self._events, self.event_index_specs),
            (self._checkpoints, self.checkpoint_index_specs),
        )

    async def missing_indexes(self) -> list[str]:
        """Names of the declared indexes the database lacks or holds with another definition.

        Empty when every index exists as declared (for a readiness check). Raises
        ``ServiceUnavailable`` when the server does not answer.
        """
        missing: list[str] = []
        with _driver_errors():
            for collection, specs in self._index_plan():
                existing = await collection.index_information()
                missing.extend(
                    spec.name
                    for spec in specs
                    if spec.name not in existing or not spec.matches(existing[spec.name])
                )
        return missing

    async def _ready(self) -> None:
        if self._indexes_ready:
            return
        async with self._index_lock:
            if not self._indexes_ready:
                await self.ensure_indexes()

    async def refold(self) -> RefoldReport:
        """Rewrite folded mirrors and sort keys written under an older folding rule.

        A one-off migration (``docs/storage.md``): a full scan of both collections, safe to
        run while serving and again until it reports no conflicts.
        """
        await self._ready()
        with _driver_errors():
            return await refold(self._resources, self._memberships, self._types)

    @_bounded
    async def ping(self) -> bool:
        """Whether the server answers a ``ping`` (for health checks); never raises."""
        try:
            await self._database.command("ping")
        except PyMongoError:
            return False
        return True

    # -- the protocol -------------------------------------------------------------------------

    @_bounded
    async def create(
        self,
        tenant: str,
        resource_type: ResourceType,
        resource: dict[str, Any],
        *,
        record: WriteRecord | None = None,
        shared: bool = False,  # what it returns is built fresh: never shared
    ) -> dict[str, Any]:
        """Store a new resource (with ``id`` and ``meta``) and return it as stored.

        With ``record``, the insert carries the create event in the document's outbox.
        """
        self._registered(resource_type)
        await self._ready()
        stored = stored_form(resource, resource_type)
        stored["meta"]["version"] = format_version(1)
        document = resource_document(check_tenant(tenant), resource_type, stored, 1)
        members = resource_type.members_attribute
        wanted = []
        if members is not None:
            wanted = [member_form(m) for m in normalize_members(resource.get(members.name))]
        if record is not None:
            after = {**stored, members.name: wanted} if members is not None and wanted else stored
            events = record.events(tenant, resource_type, stored["id"], before=None, after=after)
            document[OUTBOX] = pushed(events)[OUTBOX]["$each"]
        with _driver_errors(self._uniqueness(resource_type, stored)):
            await self._resources.insert_one(document)
        if members is not None:
            await self._write_members(tenant, resource_type, stored["id"], wanted, {})
            if wanted:
                stored[members.name] = wanted
        if record is not None:
            self._drainer.wake(tenant)
        # A new id is in no group yet: there are no groups to derive.
        return stored

    @_bounded
    async def get(
        self, tenant: str, resource_type: ResourceType, id: str, *, members: bool = True
    ) -> dict[str, Any]:
        """Return the resource, with group members unless ``members`` is false."""
        resource, _ = await self._get(tenant, resource_type, id, (), members=members)
        return resource

    @_bounded
    async def get_with_types(
        self,
        tenant: str,
        resource_type: ResourceType,
        id: str,
        ids: Sequence[str],
        *,
        members: bool = True,
    ) -> tuple[dict[str, Any], dict[str, str]]:
        """:meth:`get` and :meth:`resource_types_of` of ``ids`` in the same ``aggregate``.

        An uncorrelated ``$lookup`` on the ``(t, rt, a.id)`` index answers which of ``ids``
        exist beside the resource, so a PATCH that adds members reads the group and checks
        them in one round trip.
        """
        return await self._get(tenant, resource_type, id, ids, members=members)

    async def _get(
        self,
        tenant: str,
        resource_type: ResourceType,
        id: str,
        ids: Sequence[str],
        *,
        members: bool,
    ) -> tuple[dict[str, Any], dict[str, str]]:
        self._registered(resource_type)
        query = self._existence_query(tenant, ids)
        lookup: tuple[dict[str, Any], ...] = ()
        if query is not None:
            lookup = (
                {
                    "$lookup": {
                        "from": self._resources.name,
                        "pipeline": [
                            {"$match": query},
                            {"$project": {"_id": 0, "rt": 1, "a.id": 1}},
                        ],
                        "as": "_known",
                    }
                },
            )
        documents = await self._read(
            tenant,
            resource_type,
            self._key(tenant, resource_type, id),
            {"_id": 0, "a": 1},
            also=lookup,
        )
        if not documents:
            raise not_found(resource_type, id)
        resource = self._resource_of(resource_type, documents[0])
        if members:
            await self._add_members(tenant, resource_type, [resource])
        known = {document["a"]["id"]: document["rt"] for document in documents[0].get("_known", ())}
        return resource, known

    # Every read decodes fresh documents: the uncopied read the service PATCHes from
    # (docs/storage.md, "Copies") is get itself.
    get_shared = get

    @_bounded
    async def replace(
        self,
        tenant: str,
        resource_type: ResourceType,
        id: str,
        resource: dict[str, Any],
        *,
        expected_version: str | None = None,
        record: WriteRecord | None = None,
    ) -> dict[str, Any]:
        """Replace the whole resource (members included for groups) and return it."""
        self._registered(resource_type)
        await self._ready()
        stored = stored_form({**resource, "id": id}, resource_type)
        members = resource_type.members_attribute
        wanted = []
        if members is not None:
            wanted = [member_form(m) for m in normalize_members(resource.get(members.name))]
        events = None
        if record is not None:

            def events(before: Mapping[str, Any], written: dict[str, Any]) -> tuple[Event, ...]:
                after = dict(written)
                if members is not None and wanted:
                    after[members.name] = wanted
                groups = resource_type.groups_attribute
                if groups is not None and before.get(groups.name):
                    after[groups.name] = before[groups.name]
                return record.events(tenant, resource_type, id, before=before, after=after)

        await self._compare_and_set(
            tenant, resource_type, id, stored, expected_version, record=record, events=events
        )
        if members is not None:
            current = await self._member_map(tenant, id)
            await self._write_members(tenant, resource_type, id, wanted, current)
            if wanted:
                stored[members.name] = wanted
        await self._add_groups(tenant, resource_type, [stored])
        return stored

    @_bounded
    async def update(
        self,
        tenant: str,
        resource_type: ResourceType,
        id: str,
        result: PatchResult,
        *,
        expected_version: str | None,
        modified: datetime | None = None,
        record: WriteRecord | None = None,
        shared: bool = False,  # what it returns is decoded or built fresh: never shared
    ) -> dict[str, Any]:
        """Apply a PATCH result written against ``expected_version`` and return the resource.

        Members change only through ``result.member_delta``. Its effective part comes from
        the membership write itself for a member-only delta of adds and at most one removal
        without ``expected_version`` (Entra's member PATCHes: upserts report what they
        inserted); otherwise one query on the k members it names finds it before the write.
        A result that changes nothing stored
        (see ``writes_resource``) and no membership writes nothing and keeps the version and
        ``lastModified``. A member's derived ``groups`` come back as ``result.resource`` holds
        them (read for this PATCH): writing a member changes none of its memberships, so they
        are not derived again.
        """
        self._registered(resource_type)
        await self._ready()
        members = resource_type.members_attribute
        with_members = members is not None and members.name in result.resource
        delta, current = MemberDelta(), None
        if (
            members is not None
            and expected_version is None
            and not with_members
            and not writes_resource(result, resource_type)
            and _reports_its_effect(result.member_delta)
        ):
            # Entra's member adds and removes: the write itself says what took effect.
            delta = await self._write_delta(tenant, resource_type, id, result.member_delta)
            if delta:
                return await self._update_members(
                    tenant,
                    resource_type,
                    id,
                    delta,
                    None,
                    None,
                    modified,
                    False,
                    record,
                    written=True,
                )
        elif members is not None and result.member_delta:
            delta, current = await self._effective_delta(tenant, id, result.member_delta)
        if not writes_resource(result, resource_type) and not delta:
            document = await self._find_one(tenant, resource_type, id)
            if document is None:
                raise not_found(resource_type, id)
            if expected_version is not None and version_counter(expected_version) != document["v"]:
                raise PreconditionFailed()
            resource = resource_from_document(document)
            await self._add_members_and_groups(
                tenant, resource_type, [resource], members=with_members
            )
            return resource
        if not writes_resource(result, resource_type):
            return await self._update_members(
                tenant,
                resource_type,
                id,
                delta,
                current,
                expected_version,
                modified,
                with_members,
                record,
            )
        stored = stored_form({**result.resource, "id": id}, resource_type)
        stored["meta"]["lastModified"] = stored_value(utc_now() if modified is None else modified)
        events = None
        if record is not None:

            def events(before: Mapping[str, Any], written: dict[str, Any]) -> tuple[Event, ...]:
                after = dict(written)
                if with_members and members is not None and members.name in result.resource:
                    after[members.name] = result.resource[members.name]
                return record.events(
                    tenant, resource_type, id, before=before, after=after, member_delta=delta
                )

        await self._compare_and_set(
            tenant, resource_type, id, stored, expected_version, record=record, events=events
        )
        if delta:
            await self._apply_delta(tenant, resource_type, id, delta, current)
        _keep_groups(stored, result.resource, resource_type)
        if with_members:
            await self._add_members(tenant, resource_type, [stored])
        return stored

    async def _update_members(
        self,
        tenant: str,
        resource_type: ResourceType,
        id: str,
        delta: MemberDelta,
        current: dict[str, dict[str, Any]] | None,
        expected_version: str | None,
        modified: datetime | None,
        with_members: bool,
        record: WriteRecord | None = None,
        *,
        written: bool = False,
    ) -> dict[str, Any]:
        """A member-only PATCH: the memberships, then the group's next version, no rewrite.

        Member deltas commute, so without ``expected_version`` nothing is compared: each
        request gets its own version from one atomic increment and none loses a race. With
        one, a compare-and-set increment goes first (a stale version changes nothing); the
        second increment after the memberships keeps a reader in between from pairing the
        new version with the old members. ``written``: the memberships are written already
        (:meth:`_write_delta`) and ``delta`` is what took effect.
        """
        key = self._key(tenant, resource_type, id)
        bump = next_version(utc_now() if modified is None else modified)
        if expected_version is not None:
            with _driver_errors():
                checked = await self._resources.update_one(
                    {**key, "v": version_counter(expected_version)}, bump
                )
            if not checked.matched_count:
                if await self._find_one(tenant, resource_type, id) is None:
                    raise not_found(resource_type, id)
                raise PreconditionFailed()
        if not written:
            await self._apply_delta(tenant, resource_type, id, delta, current)
        if record is not None:
            # The event goes with the version increment; the document supplies the version
            # it gets and its externalId (docs/events.md).
            events = record.events(
                tenant,
                resource_type,
                id,
                before={},
                after={"meta": {"version": "(the increment's)"}},
                member_delta=delta,
            )
            bump = [{"$set": {**bump[0]["$set"], **pushed_with_version(events)}}]
        with _driver_errors():
            document = await self._resources.find_one_and_update(
                key, bump, {"_id": 0, "a": 1}, return_document=ReturnDocument.AFTER
            )
        if record is not None and document is not None:
            self._drainer.wake(tenant)
        if document is None:
            # Deleted meanwhile (or never there): clear what this call may have added, as a
            # retried delete would.
            if await self._id_is_free(tenant, id):
                await self._drop_memberships(tenant, id)
            raise not_found(resource_type, id)
        resource = resource_from_document(document)
        await self._add_members_and_groups(tenant, resource_type, [resource], members=with_members)
        return resource

    @_bounded
    async def delete(
        self,
        tenant: str,
        resource_type: ResourceType,
        id: str,
        *,
        expected_version: str | None = None,
        record: WriteRecord | None = None,
    ) -> None:
        """Delete the resource, then its memberships (as a group and as a member).

        With ``record`` the resource becomes a tombstone carrying its delete event (reads
        treat it as gone; the drainer removes it once its events are in the feed), and the
        groups it was in get their member-removal events with their new versions.
        """
        self._registered(resource_type)
        await self._ready()
        query = self._key(tenant, resource_type, id)
        if expected_version is not None:
            query["v"] = version_counter(expected_version)
        if record is not None:
            await self._delete_recorded(tenant, resource_type, id, query, expected_version, record)
            return
        with _driver_errors():
            deleted = await self._resources.delete_one(query)
        if not deleted.deleted_count:
            await self._refuse_delete(tenant, resource_type, id, expected_version)
        await self._drop_memberships(tenant, id, resource_type)

    async def _delete_recorded(
        self,
        tenant: str,
        resource_type: ResourceType,
        id: str,
        query: dict[str, Any],
        expected_version: str | None,
        record: WriteRecord,
    ) -> None:
        """A delete with events: the groups left, the tombstone, the memberships, the groups.

        The tombstone goes first and names the groups left, so a writer that dies after it
        leaves a delete the drainer finishes (:meth:`_finish_delete`); the groups' version
        increments carry their events and come in the same bulk as the tombstone's "finished"
        mark. Round trips as without events: one read of the memberships, one update for the
        tombstone, one delete of the memberships and, if the resource was in groups, one bulk.
        """
        t = check_tenant(tenant)
        with _driver_errors():
            memberships = await self._memberships.find(
                {"t": t, "m": id}, {"_id": 0, "g": 1, "gt": 1}
            ).to_list(None)
        left = sorted({(m["gt"], m["g"]) for m in memberships})
        events = record.events(tenant, resource_type, id, before={}, after=None)
        pipeline = tombstone_pipeline(
            events, unique_paths=self._unique_fields, left=left, at=utc_now()
        )
        with _driver_errors():
            marked = await self._resources.update_one(query, pipeline)
        if not marked.matched_count:
            await self._refuse_delete(tenant, resource_type, id, expected_version)
        tombstone: dict[str, Any] = {"t": t, "rt": resource_type.name, "a": {"id": id}}
        if left:
            tombstone |= {"_left": left, "_txn": record.txn, "_iat": record.iat}
        if left or resource_type.members_attribute is not None:
            # A member in no group has no memberships to drop (just read), as without events.
            await self._cascade(tombstone, first_index=len(events))
        self._drainer.wake(tenant)

    async def _refuse_delete(
        self, tenant: str, resource_type: ResourceType, id: str, expected_version: str | None
    ) -> NoReturn:
        """Raise why a delete matched nothing: a stale version, or no such resource.

        A delete that crashed between its two steps left memberships behind: a retry clears
        them, unless the id now names another resource (of another type).
        """
        if expected_version is not None and await self._find_one(tenant, resource_type, id):
            raise PreconditionFailed()
        if await self._id_is_free(tenant, id):
            await self._drop_memberships(tenant, id)
        raise not_found(resource_type, id)

    async def _cascade(self, tombstone: Mapping[str, Any], *, first_index: int = 1) -> None:
        """Drop a deleted resource's memberships; its groups get a new version and an event.

        Idempotent: finishing a delete again drops nothing more, and a group's event has the
        same ``jti`` the second time (the feed keeps one).
        """
        t, id = tombstone["t"], tombstone["a"]["id"]
        await self._bulk([DeleteMany({"t": t, "g": id}), DeleteMany({"t": t, "m": id})])
        if "_left" not in tombstone:
            return
        by_type: dict[str, list[str]] = {}
        for group_type, group in tombstone["_left"]:
            by_type.setdefault(group_type, []).append(group)
        operations: list[Any] = []
        bump = next_version(utc_now())[0]["$set"]
        for type_name, groups in sorted(by_type.items()):
            group_type = self._types.get(type_name)
            if group_type is None:
                continue
            outbox = departure_outbox(
                group_type,
                id,
                tenant=t,
                txn=tombstone["_txn"],
                iat=tombstone["_iat"],
                index=first_index,
            )
            operations.append(
                UpdateMany(
                    {
                        "t": t,
                        "rt": type_name,
                        "a.id": {"$in": sorted(groups)},
                        TOMBSTONE: {"$exists": False},
                    },
                    [{"$set": {**bump, **outbox}}],
                )
            )
        # The mark comes last: a tombstone still naming its groups is an unfinished delete.
        operations.append(
            UpdateOne(
                {"t": t, "rt": tombstone["rt"], "a.id": id, TOMBSTONE: {"$exists": True}},
                {"$unset": {"_left": ""}},
            )
        )
        with _driver_errors():
            await self._resources.bulk_write(operations, ordered=True)

    async def _finish_delete(self, tenant: str, tombstone: Mapping[str, Any]) -> None:
        """The drainer's end of a delete whose writer may have died (see :meth:`_cascade`)."""
        await self._cascade(tombstone)

    # -- events ------------------------------------------------------------------------------

    def _start_drainer(self) -> None:
        self._drainer.start()

    async def record_events(self, tenant: str, events: Sequence[Event]) -> None:
        """Record events that belong to no resource write (tests, application events).

        They travel like a write's: an outbox in a document of their own (a tombstone that
        serves no read), drained into the feed and then removed.
        """
        t = check_tenant(tenant)
        if any(event.tenant != t for event in events):
            raise ValueError("an event belongs to the feed of its own tenant")
        document = {
            "t": t,
            "rt": "~events",
            "a": {"id": uuid.uuid4().hex},
            "v": 0,
            TOMBSTONE: utc_now(),
            OUTBOX: [event_entry(event, i) for i, event in enumerate(events)],
        }
        with _driver_errors():
            await self._resources.insert_one(document)
        self._drainer.wake(t)

    async def drain_events(self) -> None:
        """Move every pending outbox into the feed now, finishing deletes left by dead writers.

        The drainer's task does this on its own; this is for tests, tools and shutdown.
        """
        await self._ready()
        with _driver_errors():
            await self._drainer.drain_all()

    def start_drainer(self) -> None:
        """Start the drainer's task now (it also starts on the first write with events)."""
        self._drainer.start()

    async def close(self) -> None:
        """Stop the drainer's task, handing back its leases (the store's client stays open)."""
        await self._drainer.close()

    @_bounded
    async def query(self, tenant: str, resource_type: ResourceType, query: StoreQuery) -> Page:
        """Return one page of the resources matching the query, and the total."""
        self._registered(resource_type)
        await self._ready()
        selection = await self.selection(tenant, resource_type, query.filter)
        count = self.max_page_size if query.count is None else max(0, query.count)
        if count == 0:
            return Page((), await self._count(selection), ())
        descending = query.descending and query.sort_by is not None
        # Walking backwards reads in the reverse order from the cursor, then flips the page.
        reverse = descending != (query.after is not None and query.backward)
        match = selection
        if query.after is not None:
            after = translate_after(query.sort_by, query.after, reverse)
            match = {**selection, "$and": [*selection.get("$and", ()), after]}
        projection: dict[str, Any] = {"_id": 0, "a": 1}
        field = sort_field(query.sort_by) if query.sort_by is not None else None
        if field is not None:
            projection[field] = 1
        skip = query.start_index - 1 if query.after is None else 0
        documents = await self._read(
            tenant,
            resource_type,
            match,
            projection,
            order=translate_order(query.sort_by, reverse),
            skip=skip,
            limit=count,
        )
        # A page that is not full ends the matches, so it tells the total without a count:
        # Entra's match GET (at most one user) costs one round trip.
        if query.after is None and len(documents) < count and (documents or not skip):
            total = skip + len(documents)
        else:
            total = await self._count(selection)
        if query.after is not None and query.backward:
            documents.reverse()
        resources = [self._resource_of(resource_type, document) for document in documents]
        keys = [
            (sort_key(document, field), resource["id"])
            for document, resource in zip(documents, resources, strict=True)
        ]
        if query.members:
            await self._add_members(tenant, resource_type, resources)
        return Page(resources, total, keys)

    # Every page decodes fresh documents: the uncopied query (docs/storage.md, "Copies") is
    # query itself.
    query_shared = query

    @_bounded
    async def resource_types_of(self, tenant: str, ids: Sequence[str]) -> dict[str, str]:
        """The resource type name of each of ``ids`` that names a resource in the tenant.

        One query on the ``(t, rt, a.id)`` index, reading only the type and id.
        """
        query = self._existence_query(tenant, ids)
        if query is None:
            return {}
        with _driver_errors():
            documents = await self._resources.find(query, {"_id": 0, "rt": 1, "a.id": 1}).to_list(
                None
            )
        return {document["a"]["id"]: document["rt"] for document in documents}

    def _existence_query(self, tenant: str, ids: Sequence[str]) -> dict[str, Any] | None:
        """The query for the live resources named by ``ids`` (``None`` when none is asked)."""
        t = check_tenant(tenant)
        wanted = sorted({id for id in ids if isinstance(id, str)})
        if not wanted:
            return None
        return {
            "t": t,
            "rt": {"$in": sorted(self._types)},
            "a.id": {"$in": wanted},
            TOMBSTONE: {"$exists": False},
        }

    # -- queries ---------------------------------------------------------------------------------

    async def selection(
        self, tenant: str, resource_type: ResourceType, bound: BoundFilter | None
    ) -> dict[str, Any]:
        """The resource-collection query for a filter, ``members`` conditions resolved.

        Each ``members`` condition becomes ``{"a.id": {"$in": [group ids]}}`` (``$nin`` for
        ``ne``), the ids read from the membership collection first.
        """
        selection: dict[str, Any] = {
            "t": check_tenant(tenant),
            "rt": resource_type.name,
            TOMBSTONE: {"$exists": False},
        }
        if bound is None:
            return selection
        reject_derived_filters(bound, resource_type)
        attribute = resource_type.members_attribute
        answers: dict[BoundFilter, dict[str, Any]] = {}
        if attribute is not None:
            for leaf in filter_conditions(bound):
                if (
                    leaf.ref.attribute is attribute
                    and not leaf.ref.extension
                    and leaf not in answers
                ):
                    answers[leaf] = await self._member_condition(tenant, resource_type, leaf)
        # translate_filter only writes a.*, f.*, s.* and operator keys: t and rt stay as set.
        return selection | translate_filter(bound, rewrite=answers.get if answers else None)

    async def _member_condition(
        self,
        tenant: str,
        resource_type: ResourceType,
        leaf: BoundCondition,
    ) -> dict[str, Any]:
        negated = isinstance(leaf, BoundCompare) and leaf.op is CompareOp.NE
        if isinstance(leaf, BoundCompare) and leaf.op is CompareOp.NE:
            # "ne" holds when no member equals: the complement of the groups where one does.
            leaf = BoundCompare(leaf.ref, CompareOp.EQ, leaf.value)
        query: dict[str, Any] = {"t": check_tenant(tenant)}
        sub = leaf.ref.sub_attribute
        if (
            isinstance(leaf, BoundCompare)
            and leaf.op is CompareOp.EQ
            and sub is not None
            and sub.name == "value"
            and isinstance(leaf.value, str)
        ):
            query["m"] = leaf.value  # the t_m_g index
        else:
            query |= translate_filter(leaf)
        query["gt"] = resource_type.name
        with _driver_errors():
            groups = await self._memberships.distinct("g", query)
        return {"a.id": {"$nin" if negated else "$in": sorted(groups)}}

    # -- resources -----------------------------------------------------------------------------

    def _registered(self, resource_type: ResourceType) -> None:
        known = self._types.get(resource_type.name)
        if known is None:
            raise InternalError(f"This MongoStore does not serve {resource_type.name} resources.")
        if known is not resource_type and _unique_paths(known) != _unique_paths(resource_type):
            raise InternalError(
                f"{resource_type.name} declares other unique attributes than the type this "
                f"MongoStore was built with; its indexes would not enforce them."
            )

    @staticmethod
    def _key(tenant: str, resource_type: ResourceType, id: str) -> dict[str, Any]:
        if not isinstance(id, str):
            raise not_found(resource_type, str(id))
        return {
            "t": check_tenant(tenant),
            "rt": resource_type.name,
            "a.id": id,
            TOMBSTONE: {"$exists": False},
        }

    async def _find_one(
        self, tenant: str, resource_type: ResourceType, id: str
    ) -> dict[str, Any] | None:
        with _driver_errors():
            document: dict[str, Any] | None = await self._resources.find_one(
                self._key(tenant, resource_type, id), {"_id": 0, "a": 1, "v": 1}
            )
        return document

    async def _count(self, selection: dict[str, Any]) -> int:
        with _driver_errors():
            total: int = await self._resources.count_documents(selection)
        return total

    async def _read(
        self,
        tenant: str,
        resource_type: ResourceType,
        match: dict[str, Any],
        projection: dict[str, Any],
        *,
        order: Sequence[tuple[str, int]] = (),
        skip: int = 0,
        limit: int | None = None,
        also: Sequence[dict[str, Any]] = (),
    ) -> list[dict[str, Any]]:
        """The matching documents, in one round trip with the groups of each member.

        For a type with a derived ``groups`` attribute, each document gets ``_groups``: its
        memberships in this tenant, each with the group documents its id names (``_n``), so
        :meth:`_resource_of` derives ``groups`` without another query. ``also`` are stages
        added at the end (lookups of what the caller needs in the same round trip).
        """
        pipeline: list[dict[str, Any]] = [{"$match": match}]
        if order:
            pipeline.append({"$sort": dict(order)})
        if skip:
            pipeline.append({"$skip": skip})
        if limit is not None:
            pipeline.append({"$limit": limit})
        pipeline.append({"$project": projection})
        if resource_type.groups_attribute is not None:
            pipeline.append(self._groups_lookup(check_tenant(tenant)))
        pipeline.extend(also)
        with _driver_errors():
            cursor = self._resources.aggregate(pipeline)
            if inspect.isawaitable(cursor):  # PyMongo's async API; motor's cursor is latent
                cursor = await cursor
            documents: list[dict[str, Any]] = await cursor.to_list(None)
        return documents

    def _groups_lookup(self, tenant: str) -> dict[str, Any]:
        group_types = sorted(n for n, rt in self._types.items() if rt.members_attribute)
        names = {
            "from": self._resources.name,
            "localField": "g",
            "foreignField": "a.id",
            "pipeline": [
                {
                    "$match": {
                        "t": tenant,
                        "rt": {"$in": group_types},
                        TOMBSTONE: {"$exists": False},
                    }
                },
                {"$project": {"_id": 0, "rt": 1, "a.displayName": 1}},
            ],
            "as": "_n",
        }
        return {
            "$lookup": {
                "from": self._memberships.name,
                "localField": "a.id",
                "foreignField": "m",
                "pipeline": [
                    {"$match": {"t": tenant}},
                    {"$project": {"_id": 0, "g": 1, "gt": 1}},
                    {"$lookup": names},
                ],
                "as": "_groups",
            }
        }

    @staticmethod
    def _resource_of(resource_type: ResourceType, document: Mapping[str, Any]) -> dict[str, Any]:
        """The resource of a document read by :meth:`_read`, ``groups`` derived."""
        resource = resource_from_document(document)
        attribute = resource_type.groups_attribute
        if attribute is None:
            return resource
        entries: list[dict[str, Any]] = []
        for membership in sorted(document.get("_groups", ()), key=lambda m: m["g"]):
            # Memberships of a deleted group (no group document of their type) are skipped.
            for group in membership["_n"]:
                if group["rt"] == membership["gt"]:
                    entries.append(group_entry(membership["g"], group["a"].get("displayName")))
                    break
        if entries:
            resource[attribute.name] = entries
        return resource

    async def _compare_and_set(
        self,
        tenant: str,
        resource_type: ResourceType,
        id: str,
        stored: dict[str, Any],
        expected_version: str | None,
        *,
        record: WriteRecord | None = None,
        events: Callable[[Mapping[str, Any], dict[str, Any]], tuple[Event, ...]] | None = None,
    ) -> None:
        """Write ``stored`` over the resource at ``expected_version`` (or whatever is current).

        Sets the new version in ``stored``. Without an expected version a lost race is
        retried, since the caller asked for no precondition. With ``events`` (``(before,
        after) -> events``) the same update pushes the write's events onto the outbox;
        ``before`` is the record's (the resource the service read at ``expected_version``),
        so recording costs no extra read. The update sets the resource's fields rather than
        replacing the document, so an outbox not yet drained stays.
        """
        key = self._key(tenant, resource_type, id)
        before = record.before if record is not None else None
        while True:
            if expected_version is not None:
                counter = version_counter(expected_version)
                if counter is None:
                    if await self._find_one(tenant, resource_type, id) is None:
                        raise not_found(resource_type, id)
                    raise PreconditionFailed()
                if events is not None and before is None:
                    current = await self._find_one(tenant, resource_type, id)
                    if current is None:
                        raise not_found(resource_type, id)
                    before = resource_from_document(current)
            else:
                current = await self._find_one(tenant, resource_type, id)
                if current is None:
                    raise not_found(resource_type, id)
                counter = current["v"]
                before = resource_from_document(current)
            stored["meta"]["version"] = format_version(counter + 1)
            document = resource_document(key["t"], resource_type, stored, counter + 1)
            update: dict[str, Any] = {"$set": document}
            if events is not None:
                assert before is not None
                update["$push"] = pushed(events(before, stored))
            with _driver_errors(self._uniqueness(resource_type, stored)):
                written = await self._resources.update_one({**key, "v": counter}, update)
            if written.matched_count:
                if events is not None:
                    self._drainer.wake(tenant)
                return
            if expected_version is not None:
                if await self._find_one(tenant, resource_type, id) is None:
                    raise not_found(resource_type, id)
                raise PreconditionFailed()

    async def _id_is_free(self, tenant: str, id: str) -> bool:
        query = {"t": check_tenant(tenant), "rt": {"$in": sorted(self._types)}, "a.id": id}
        with _driver_errors():
            return await self._resources.find_one(query, {"_id": 1}) is None

    def _uniqueness(
        self, resource_type: ResourceType, stored: Mapping[str, Any]
    ) -> Mapping[str, str]:
        """Index name -> the detail of its violation, for :func:`_driver_errors`."""
        details = {
            "t_rt_id": f"A {resource_type.name} with id '{stored.get('id')}' already exists."
        }
        for spec in self.resource_index_specs:
            if spec.unique and spec.attribute is not None and spec.name != "t_rt_id":
                details[spec.name] = f"The {spec.attribute} value is already in use."
        return details

    # -- memberships ---------------------------------------------------------------------------

    async def _member_map(self, tenant: str, group: str) -> dict[str, dict[str, Any]]:
        with _driver_errors():
            documents = await self._memberships.find(
                {"t": check_tenant(tenant), "g": group}, {"_id": 0, "m": 1, "a": 1}
            ).to_list(None)
        return {document["m"]: member_from_document(document) for document in documents}

    async def _effective_delta(
        self, tenant: str, group: str, delta: MemberDelta
    ) -> tuple[MemberDelta, dict[str, dict[str, Any]] | None]:
        """The part of ``delta`` that changes something (and, to replace, the current list)."""
        if delta.replace:
            current = await self._member_map(tenant, group)
            return effective_member_delta(delta, current), current
        named = named_members(delta)
        if not named:
            return MemberDelta(), None
        with _driver_errors():
            documents = await self._memberships.find(
                {"t": check_tenant(tenant), "g": group, "m": {"$in": named}},
                {"_id": 0, "m": 1, "a": 1},
            ).to_list(None)
        # The stored forms matter for rewritten members only (see effective_member_delta).
        present = {document["m"]: member_from_document(document) for document in documents}
        return effective_member_delta(delta, present), None

    async def _write_delta(
        self, tenant: str, resource_type: ResourceType, group: str, delta: MemberDelta
    ) -> MemberDelta:
        """Write the adds and the removal of a delta; the part that took effect.

        No read first: each add is an upsert with ``$setOnInsert``, which the result reports
        only when it inserted (a present member is kept as it is), and the delete of the one
        removed id reports whether it was there. A membership another writer inserted at the
        same moment fails on the unique index and is that writer's change, not this one's.
        Only for deltas :func:`_reports_its_effect` accepts.
        """
        forms = [member_form(member) for member in members_by_id(delta.added).values()]
        operations: list[Any] = []
        for member in forms:
            document = membership_document(tenant, resource_type, group, member)
            key = {"t": document["t"], "g": group, "m": document["m"]}
            operations.append(UpdateOne(key, {"$setOnInsert": document}, upsert=True))
        removed = tuple(dict.fromkeys(delta.removed))
        if removed:
            operations.append(
                DeleteMany({"t": check_tenant(tenant), "g": group, "m": {"$in": list(removed)}})
            )
        inserted, deleted = await self._bulk(operations)
        return MemberDelta(
            tuple(member for index, member in enumerate(forms) if index in inserted),
            removed if deleted else (),
        )

    async def _apply_delta(
        self,
        tenant: str,
        resource_type: ResourceType,
        group: str,
        delta: MemberDelta,
        current: dict[str, dict[str, Any]] | None,
    ) -> None:
        if delta.replace:
            await self._write_members(
                tenant, resource_type, group, list(delta.added), current or {}
            )
            return
        operations: list[Any] = []
        if delta.removed:
            operations.append(
                DeleteMany(
                    {"t": check_tenant(tenant), "g": group, "m": {"$in": list(delta.removed)}}
                )
            )
        for member in delta.added:
            document = membership_document(tenant, resource_type, group, member)
            key = {"t": document["t"], "g": group, "m": document["m"]}
            # $setOnInsert: re-adding a present member keeps it as it is (idempotent).
            operations.append(UpdateOne(key, {"$setOnInsert": document}, upsert=True))
        for member in delta.rewritten:
            document = membership_document(tenant, resource_type, group, member)
            key = {"t": document["t"], "g": group, "m": document["m"]}
            operations.append(ReplaceOne(key, document, upsert=True))
        await self._bulk(operations)

    async def _write_members(
        self,
        tenant: str,
        resource_type: ResourceType,
        group: str,
        wanted: Sequence[dict[str, Any]],
        current: Mapping[str, dict[str, Any]],
    ) -> None:
        """Make the group's memberships exactly ``wanted``, writing only the differences."""
        wanted_by_id = {member["value"]: member for member in wanted}
        operations: list[Any] = []
        gone = [m for m in current if m not in wanted_by_id]
        if gone:
            operations.append(
                DeleteMany({"t": check_tenant(tenant), "g": group, "m": {"$in": gone}})
            )
        for value, member in wanted_by_id.items():
            if current.get(value) != member:
                document = membership_document(tenant, resource_type, group, member)
                key = {"t": document["t"], "g": group, "m": value}
                operations.append(ReplaceOne(key, document, upsert=True))
        await self._bulk(operations)

    async def _bulk(self, operations: list[Any]) -> tuple[frozenset[int], int]:
        """Run membership writes unordered.

        Returns the indexes of the upserts that inserted and the number of memberships deleted.
        """
        if not operations:
            return frozenset(), 0
        with _driver_errors():
            try:
                outcome = (
                    await self._memberships.bulk_write(operations, ordered=False)
                ).bulk_api_result
            except BulkWriteError as exc:
                # Two writers upserting one membership at once: one insert loses on the
                # unique index, and the membership exists as wanted. Anything else fails.
                if not only_duplicate_keys(exc):
                    raise
                outcome = exc.details
        inserted = frozenset(entry["index"] for entry in outcome.get("upserted", ()))
        return inserted, int(outcome.get("nRemoved", 0))

    async def _drop_memberships(
        self, tenant: str, id: str, resource_type: ResourceType | None = None
    ) -> None:
        """Drop the memberships of a deleted resource; the groups it was in get new versions.

        The versions change after the memberships do, so a reader in between caches a version
        that is about to go stale, never a new version with the old members.
        """
        t = check_tenant(tenant)
        with _driver_errors():
            groups = await self._memberships.distinct("g", {"t": t, "m": id})
        # Only a group type has memberships of its own to drop; the id may name either kind.
        operations = [DeleteMany({"t": t, "m": id})] if groups else []
        if resource_type is None or resource_type.members_attribute is not None:
            operations.append(DeleteMany({"t": t, "g": id}))
        await self._bulk(operations)
        if groups:
            group_types = [n for n, rt in self._types.items() if rt.members_attribute is not None]
            with _driver_errors():
                await self._resources.update_many(
                    {"t": t, "rt": {"$in": group_types}, "a.id": {"$in": sorted(groups)}},
                    next_version(utc_now()),
                )

    async def _add_members_and_groups(
        self,
        tenant: str,
        resource_type: ResourceType,
        resources: list[dict[str, Any]],
        *,
        members: bool,
    ) -> None:
        """Fill in group members (one query) and derived groups (two queries) in place."""
        if members:
            await self._add_members(tenant, resource_type, resources)
        await self._add_groups(tenant, resource_type, resources)

    async def _add_members(
        self, tenant: str, resource_type: ResourceType, resources: list[dict[str, Any]]
    ) -> None:
        """Fill in group members in place, one query for all of ``resources``."""
        attribute = resource_type.members_attribute
        if attribute is None or not resources:
            return
        ids = [r["id"] for r in resources]
        with _driver_errors():
            documents = (
                await self._memberships.find(
                    {"t": check_tenant(tenant), "g": _one_or_in(ids)},
                    {"_id": 0, "g": 1, "a": 1},
                )
                .sort([("g", 1), ("m", 1)])
                .to_list(None)
            )
        by_group: dict[str, list[dict[str, Any]]] = {}
        for document in documents:
            by_group.setdefault(document["g"], []).append(member_from_document(document))
        for resource in resources:
            if by_group.get(resource["id"]):
                resource[attribute.name] = by_group[resource["id"]]

    async def _add_groups(
        self, tenant: str, resource_type: ResourceType, resources: list[dict[str, Any]]
    ) -> None:
        attribute = resource_type.groups_attribute
        if attribute is None or not resources:
            return
        t = check_tenant(tenant)
        ids = [r["id"] for r in resources]
        with _driver_errors():
            memberships = await self._memberships.find(
                {"t": t, "m": _one_or_in(ids)}, {"_id": 0, "g": 1, "gt": 1, "m": 1}
            ).to_list(None)
        if not memberships:
            return
        by_type: dict[str, set[str]] = {}
        for document in memberships:
            by_type.setdefault(document["gt"], set()).add(document["g"])
        names: dict[str, Any] = {}
        for type_name, group_ids in by_type.items():
            with _driver_errors():
                groups = await self._resources.find(
                    {
                        "t": t,
                        "rt": type_name,
                        "a.id": _one_or_in(sorted(group_ids)),
                        TOMBSTONE: {"$exists": False},
                    },
                    {"_id": 0, "a.id": 1, "a.displayName": 1},
                ).to_list(None)
            for group in groups:
                names[group["a"]["id"]] = group["a"].get("displayName")
        entries: dict[str, list[dict[str, Any]]] = {}
        for document in sorted(memberships, key=lambda d: d["g"]):
            if document["g"] in names:  # memberships of a deleted group are skipped
                entry = group_entry(document["g"], names[document["g"]])
                entries.setdefault(document["m"], []).append(entry)
        for resource in resources:
            if entries.get(resource["id"]):
                resource[attribute.name] = entries[resource["id"]]


# -- helpers ----------------------------------------------------------------------------------


@contextmanager
def _driver_errors(unique: Mapping[str, str] | None = None) -> Iterator[None]:
    """Turn driver exceptions into scimkit errors at the adapter's edge.

    ``unique`` maps unique index names to the detail of their violation.
    """
    try:
        yield
    except DuplicateKeyError as exc:
        raise UniquenessError(_duplicate_detail(exc, unique or {})) from exc
    except DocumentTooLarge as exc:
        raise PayloadTooLarge("The resource is too large to store.") from exc
    except PyMongoError as exc:
        raise ServiceUnavailable("The directory store is unavailable; retry later.") from exc
    except BSONError as exc:
        raise InternalError("A value could not be encoded for storage.") from exc


def _duplicate_detail(exc: DuplicateKeyError, unique: Mapping[str, str]) -> str:
    message = str((exc.details or {}).get("errmsg") or exc)
    for name, detail in unique.items():
        if f"index: {name} " in message:
            return detail
    pattern = (exc.details or {}).get("keyPattern") or {}
    for name, detail in unique.items():
        if name.startswith("unique_") and name[len("unique_") :] in pattern:
            return detail
    return UniquenessError.default_detail


def _keep_groups(
    stored: dict[str, Any], patched: Mapping[str, Any], resource_type: ResourceType
) -> None:
    attribute = resource_type.groups_attribute
    if attribute is not None and patched.get(attribute.name):
        stored[attribute.name] = [dict(entry) for entry in patched[attribute.name]]


def _reports_its_effect(delta: MemberDelta) -> bool:
    """Whether writing ``delta`` tells which of its changes took effect (see ``_write_delta``).

    Adds do (each upsert reports an insert); deleting one id does; deleting several reports
    only how many went, and rewrites and replacements need the current forms: those read
    the named memberships first.
    """
    return bool(delta) and not delta.replace and not delta.rewritten and len(delta.removed) <= 1


def _one_or_in(values: Sequence[str]) -> Any:
    return values[0] if len(values) == 1 else {"$in": list(values)}


def _unique_paths(resource_type: ResourceType) -> set[str]:
    return {ref.dotted for ref in resource_type.unique_attributes()}
