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
from scimkit._context import Operation
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
from scimkit._policy import ENTRA, STRICT, Tolerance
from scimkit._resource_type import AttrRef, ResourceType, SchemaExtension
from scimkit._schema import Attribute, AttributeType, Mutability, Returned, Schema, Uniqueness

__version__ = "0.1.0"

__all__ = [
    "AttrRef",
    "Attribute",
    "AttributeType",
    "BadRequest",
    "Conflict",
    "ENTERPRISE_USER_SCHEMA",
    "ENTRA",
    "ExpiredCursor",
    "Forbidden",
    "GROUP",
    "GROUP_SCHEMA",
    "InternalError",
    "InvalidCount",
    "InvalidCursor",
    "InvalidFilter",
    "InvalidPath",
    "InvalidSyntax",
    "InvalidValue",
    "InvalidVersion",
    "MethodNotAllowed",
    "MissingRequired",
    "Mutability",
    "MutabilityError",
    "NoTarget",
    "NotFound",
    "NotImplementedFeature",
    "Operation",
    "PayloadTooLarge",
    "PreconditionFailed",
    "ResourceType",
    "Returned",
    "SCIMError",
    "STRICT",
    "Schema",
    "SchemaExtension",
    "Sensitive",
    "ServiceUnavailable",
    "Tolerance",
    "TooMany",
    "TooManyRequests",
    "USER",
    "USER_SCHEMA",
    "Unauthorized",
    "Uniqueness",
    "UniquenessError",
    "UnsupportedMediaType",
]

for _name in __all__:
    _obj = globals()[_name]
    if isinstance(_obj, type):
        _obj.__module__ = "scimkit"
del _name, _obj
