"""SCIM errors: one exception class per RFC 7644 §3.12 ``scimType`` and per status-only case.

Every class carries ``status`` and ``scim_type`` as class attributes, named on its class line
(``class NotFound(SCIMError, status=404)``) and inherited by its subclasses, and renders the SCIM
Error message with :meth:`SCIMError.to_body`. Web adapters register one handler on
:class:`SCIMError`.

Hierarchy::

    SCIMError
    ├── BadRequest (400)
    │   ├── InvalidFilter      invalidFilter
    │   ├── TooMany            tooMany
    │   ├── InvalidSyntax      invalidSyntax
    │   ├── InvalidPath        invalidPath
    │   ├── NoTarget           noTarget
    │   ├── InvalidValue       invalidValue
    │   │   └── MissingRequired  invalidValue (a required attribute is absent)
    │   ├── InvalidVersion     invalidVersion
    │   ├── MutabilityError    mutability
    │   ├── Sensitive          sensitive
    │   ├── InvalidCursor      invalidCursor   (RFC 9865)
    │   ├── ExpiredCursor      expiredCursor   (RFC 9865)
    │   └── InvalidCount       invalidCount    (RFC 9865)
    ├── Unauthorized (401)
    ├── Forbidden (403)
    ├── NotFound (404)
    ├── MethodNotAllowed (405)
    ├── Conflict (409)
    │   └── UniquenessError    uniqueness
    ├── PreconditionFailed (412)
    ├── PayloadTooLarge (413)
    ├── UnsupportedMediaType (415)
    ├── TooManyRequests (429)
    ├── InternalError (500)
    ├── NotImplementedFeature (501)
    └── ServiceUnavailable (503)
"""

from __future__ import annotations

from typing import Any, ClassVar

__all__ = [
    "BadRequest",
    "Conflict",
    "ExpiredCursor",
    "Forbidden",
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
    "MutabilityError",
    "NoTarget",
    "NotFound",
    "NotImplementedFeature",
    "PayloadTooLarge",
    "PreconditionFailed",
    "SCIMError",
    "Sensitive",
    "ServiceUnavailable",
    "TooMany",
    "TooManyRequests",
    "Unauthorized",
    "UniquenessError",
    "UnsupportedMediaType",
]

ERROR_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:Error"


class SCIMError(Exception):
    """Base of every scimkit error; renders as a SCIM Error message."""

    status: ClassVar[int] = 500
    scim_type: ClassVar[str | None] = None
    default_detail: ClassVar[str] = "An error occurred."

    def __init_subclass__(
        cls, *, status: int | None = None, scim_type: str | None = None, **kwargs: Any
    ) -> None:
        super().__init_subclass__(**kwargs)
        if status is not None:
            cls.status = status
        if scim_type is not None:
            cls.scim_type = scim_type

    def __init__(
        self,
        detail: str | None = None,
        *,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.detail = detail if detail is not None else self.default_detail
        self.headers: dict[str, str] = dict(headers) if headers else {}
        super().__init__(self.detail)

    def to_body(self) -> dict[str, Any]:
        """The RFC 7644 §3.12 Error message (``status`` is a string, as the RFC's examples)."""
        body: dict[str, Any] = {"schemas": [ERROR_SCHEMA], "status": str(self.status)}
        if self.scim_type is not None:
            body["scimType"] = self.scim_type
        body["detail"] = self.detail
        return body

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.detail!r})"


class BadRequest(SCIMError, status=400):
    """400: the request is malformed."""

    default_detail = "The request is not valid."


class InvalidFilter(BadRequest, scim_type="invalidFilter"):
    """400 invalidFilter: the filter syntax is invalid or the filter cannot apply."""

    default_detail = "The specified filter syntax was invalid."

    def __init__(self, detail: str | None = None, *, position: int | None = None) -> None:
        self.position = position
        if detail is not None and position is not None:
            detail = f"{detail} (at position {position})"
        super().__init__(detail)


class TooMany(BadRequest, scim_type="tooMany"):
    """400 tooMany: the query would return more results than the server allows."""

    default_detail = (
        "The specified filter yields more results than the server is willing to return."
    )


class MutabilityError(BadRequest, scim_type="mutability"):
    """400 mutability: the request tries to change a readOnly or immutable attribute."""

    default_detail = (
        "The attempted modification is not compatible with the target attribute's mutability."
    )


class InvalidSyntax(BadRequest, scim_type="invalidSyntax"):
    """400 invalidSyntax: the request body is not parsable or violates the message schema."""

    default_detail = "The request body message structure was invalid."


class InvalidPath(BadRequest, scim_type="invalidPath"):
    """400 invalidPath: the PATCH ``path`` is invalid or names an unknown attribute."""

    default_detail = "The path attribute was invalid or malformed."


class NoTarget(BadRequest, scim_type="noTarget"):
    """400 noTarget: the PATCH path or filter matched no value."""

    default_detail = "The specified path did not yield an attribute or attribute value."


class InvalidValue(BadRequest, scim_type="invalidValue"):
    """400 invalidValue: a value is missing, of the wrong type or otherwise not acceptable."""

    default_detail = "A required value was missing, or the value specified was not compatible."


class MissingRequired(InvalidValue):
    """400 invalidValue: a required attribute is absent."""

    default_detail = "A required attribute is missing."


class InvalidVersion(BadRequest, scim_type="invalidVers"):
    """400 invalidVers: the requested protocol version is not supported."""

    default_detail = "The specified SCIM protocol version is not supported."


class Sensitive(BadRequest, scim_type="sensitive"):
    """400 sensitive: sensitive information was sent in the request URI."""

    default_detail = "The request cannot be completed because it contains sensitive information."


class InvalidCursor(BadRequest, scim_type="invalidCursor"):
    """400 invalidCursor (RFC 9865): the cursor is malformed or not bound to this query."""

    default_detail = "The cursor value is invalid."


class ExpiredCursor(BadRequest, scim_type="expiredCursor"):
    """400 expiredCursor (RFC 9865): the cursor is no longer valid."""

    default_detail = "The cursor has expired."


class InvalidCount(BadRequest, scim_type="invalidCount"):
    """400 invalidCount (RFC 9865): the count is not acceptable for cursor pagination."""

    default_detail = "The count value is invalid."


class Unauthorized(SCIMError, status=401):
    """401: authentication is missing or not valid."""

    default_detail = "Authorization failure. The authorization header is invalid or missing."


class Forbidden(SCIMError, status=403):
    """403: the client may not perform this operation."""

    default_detail = "Operation is not permitted based on the supplied authorization."


class NotFound(SCIMError, status=404):
    """404: the resource or endpoint does not exist."""

    default_detail = "The specified resource or endpoint does not exist."


class MethodNotAllowed(SCIMError, status=405):
    """405: the HTTP method is not supported on this endpoint."""

    default_detail = "The HTTP method is not supported on this endpoint."


class Conflict(SCIMError, status=409):
    """409: the request conflicts with the current state of the service provider."""

    default_detail = "The request conflicts with the current state of the resource."


class UniquenessError(Conflict, scim_type="uniqueness"):
    """409 uniqueness: a unique attribute value is already taken."""

    default_detail = "One or more of the attribute values are already in use or are reserved."


class PreconditionFailed(SCIMError, status=412):
    """412: the resource changed since the version the client named."""

    default_detail = "Failed to update. Resource has changed on the server."


class PayloadTooLarge(SCIMError, status=413):
    """413: the request is larger than the server accepts."""

    default_detail = "The request payload is larger than the server accepts."


class UnsupportedMediaType(SCIMError, status=415):
    """415: the request body is not JSON."""

    default_detail = "Requests must be sent as application/scim+json or application/json."


class TooManyRequests(SCIMError, status=429):
    """429: the client is sending requests too fast."""

    default_detail = "Too many requests."


class InternalError(SCIMError, status=500):
    """500: an unexpected failure; never expected in normal operation."""

    default_detail = "An internal error occurred."


class NotImplementedFeature(SCIMError, status=501):
    """501: the service provider does not support the requested operation."""

    default_detail = "The requested operation is not supported by this service provider."


class ServiceUnavailable(SCIMError, status=503):
    """503: the backing store is unreachable; retry later."""

    default_detail = "The service is temporarily unavailable; retry later."

    def __init__(self, detail: str | None = None, *, retry_after: int = 5) -> None:
        super().__init__(detail, headers={"Retry-After": str(retry_after)})
        self.retry_after = retry_after
