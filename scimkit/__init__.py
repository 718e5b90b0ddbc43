"""scimkit: an async SCIM 2.0 server library.

The core (this package's top level) imports neither a web framework nor a database driver.
Adapters live in ``scimkit.web`` (Starlette) and ``scimkit.mongo`` (PyMongo / motor).
"""

from __future__ import annotations

from scimkit._builtin import (
    ENTERPRISE_USER_SCHEMA,
    GROUP,
    GROUP_SCHEMA,
    USER,
    USER_SCHEMA,
)
from scimkit._bulk import BulkResult, run_bulk
from scimkit._config import OAUTH_BEARER, AuthenticationScheme, GroupPatchResponse, ServiceConfig
from scimkit._cursor import Cursor, CursorCodec, CursorScope
from scimkit._errors import (
    BadRequest,
    Conflict,
    ExpiredCursor,
    Forbidden,
    InternalError,
    InvalidCount,
    InvalidCursor,
    InvalidFilter,
    InvalidPath,
    InvalidSyntax,
    InvalidValue,
    InvalidVersion,
    MethodNotAllowed,
    MissingRequired,
    MutabilityError,
    NoTarget,
    NotFound,
    NotImplementedFeature,
    PayloadTooLarge,
    PreconditionFailed,
    SCIMError,
    Sensitive,
    ServiceUnavailable,
    TooMany,
    TooManyRequests,
    Unauthorized,
    UniquenessError,
    UnsupportedMediaType,
)
from scimkit._event import (
    Event,
    EventForm,
    EventType,
    changed_paths,
    departure_events,
    write_events,
)
from scimkit._feed import Checkpoint, EventFeed, FeedStats, MemoryFeed, settle
from scimkit._filter import (
    And,
    AttrPath,
    BoundAnd,
    BoundCompare,
    BoundFilter,
    BoundNot,
    BoundOr,
    BoundPresent,
    BoundValuePath,
    Compare,
    CompareOp,
    Filter,
    Not,
    Or,
    PatchPath,
    Present,
    ValuePath,
    bind_filter,
    compile_filter,
    matches,
    parse_filter,
    parse_path,
)
from scimkit._memory import MemoryStore
from scimkit._meta import etag_matches, parse_etags, utc_now
from scimkit._operation import Operation
from scimkit._password import hash_password, verify_password
from scimkit._patch import PatchOperation, apply_patch, needs_members, parse_patch
from scimkit._patch_result import MemberDelta, PatchResult
from scimkit._projection import project
from scimkit._public import claim as _claim
from scimkit._resource_type import AttrRef, ResourceType, SchemaExtension
from scimkit._schema import Attribute, AttributeType, Mutability, Returned, Schema, Uniqueness
from scimkit._service import ListResult, QueryParams, ResourceService
from scimkit._store import Page, ResourceStore, StoreQuery
from scimkit._subscriber import Subscription, SubscriptionStatus
from scimkit._tolerance import ENTRA, STRICT, Tolerance
from scimkit._validation import parse_datetime, validate_resource

__version__ = "0.1.0"

__all__ = [
    "And",
    "AttrPath",
    "AttrRef",
    "Attribute",
    "AttributeType",
    "AuthenticationScheme",
    "BadRequest",
    "BoundAnd",
    "BoundCompare",
    "BoundFilter",
    "BoundNot",
    "BoundOr",
    "BoundPresent",
    "BoundValuePath",
    "BulkResult",
    "Checkpoint",
    "Compare",
    "CompareOp",
    "Conflict",
    "Cursor",
    "CursorCodec",
    "CursorScope",
    "ENTERPRISE_USER_SCHEMA",
    "ENTRA",
    "Event",
    "EventFeed",
    "EventForm",
    "EventType",
    "ExpiredCursor",
    "FeedStats",
    "Filter",
    "Forbidden",
    "GROUP",
    "GROUP_SCHEMA",
    "GroupPatchResponse",
    "InternalError",
    "InvalidCount",
    "InvalidCursor",
    "InvalidFilter",
    "InvalidPath",
    "InvalidSyntax",
    "InvalidValue",
    "InvalidVersion",
    "ListResult",
    "MemberDelta",
    "MemoryFeed",
    "MemoryStore",
    "MethodNotAllowed",
    "MissingRequired",
    "Mutability",
    "MutabilityError",
    "NoTarget",
    "Not",
    "NotFound",
    "NotImplementedFeature",
    "OAUTH_BEARER",
    "Operation",
    "Or",
    "Page",
    "PatchOperation",
    "PatchPath",
    "PatchResult",
    "PayloadTooLarge",
    "PreconditionFailed",
    "Present",
    "QueryParams",
    "ResourceService",
    "ResourceStore",
    "ResourceType",
    "Returned",
    "SCIMError",
    "STRICT",
    "Schema",
    "SchemaExtension",
    "Sensitive",
    "ServiceConfig",
    "ServiceUnavailable",
    "StoreQuery",
    "Subscription",
    "SubscriptionStatus",
    "Tolerance",
    "TooMany",
    "TooManyRequests",
    "USER",
    "USER_SCHEMA",
    "Unauthorized",
    "Uniqueness",
    "UniquenessError",
    "UnsupportedMediaType",
    "ValuePath",
    "apply_patch",
    "bind_filter",
    "changed_paths",
    "compile_filter",
    "departure_events",
    "etag_matches",
    "hash_password",
    "matches",
    "needs_members",
    "parse_datetime",
    "parse_etags",
    "parse_filter",
    "parse_patch",
    "parse_path",
    "project",
    "run_bulk",
    "settle",
    "utc_now",
    "validate_resource",
    "verify_password",
    "write_events",
]

_claim(globals(), __all__, "scimkit")
