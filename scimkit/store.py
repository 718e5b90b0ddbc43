"""For people who write a store: the storage protocol and the rules every store shares.

A store implements :class:`ResourceStore` (its contract is in the docstrings) and passes
``scimkit.testing.StoreContract``. The helpers here are what MemoryStore and MongoStore use to
agree with each other: how a resource is kept (:func:`stored_form`), how versions look
(:func:`format_version`), how members are de-duplicated and ordered, which member changes take
effect, which filters no store can run, and one walk over a bound filter
(:func:`filter_conditions`, :func:`filter_terms`). Whether a resource type is a group is
``ResourceType.members_attribute``; the derived ``groups`` is ``ResourceType.groups_attribute``.
"""

from __future__ import annotations

from scimkit._filter import BoundCondition, filter_conditions, filter_terms
from scimkit._store import (
    DEFAULT_INDEXED,
    Page,
    ResourceStore,
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

__all__ = [
    "BoundCondition",
    "DEFAULT_INDEXED",
    "Page",
    "ResourceStore",
    "StoreQuery",
    "check_tenant",
    "effective_member_delta",
    "filter_conditions",
    "filter_terms",
    "format_version",
    "group_entry",
    "member_form",
    "members_by_id",
    "named_members",
    "normalize_members",
    "not_found",
    "reject_derived_filters",
    "stored_form",
    "stored_value",
    "version_counter",
    "writes_resource",
]
