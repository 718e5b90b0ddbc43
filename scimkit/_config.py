"""What the service provider supports and its limits (RFC 7643 §5, RFC 9865 §4).

:class:`ServiceConfig` is a frozen value: the service enforces it and the web layer renders it
as the ``/ServiceProviderConfig`` resource, so what is advertised is what is enforced.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, get_args

from scimkit._builtin import SERVICE_PROVIDER_CONFIG_SCHEMA
from scimkit._schema import discovery_meta

__all__ = ["AuthenticationScheme", "GroupPatchResponse", "OAUTH_BEARER", "ServiceConfig"]

GroupPatchResponse = Literal[
    "no_content_when_members_unloaded", "always_resource", "always_no_content"
]
"""How a successful group PATCH is answered (RFC 7644 §3.5.2 allows 200 with the resource or 204).

- ``no_content_when_members_unloaded`` (default): 204 when the PATCH did not load the group's
  members and the client sent neither ``attributes`` nor ``excludedAttributes``; otherwise 200
  with the resource as those parameters shape it, members included unless excluded. A large
  group's member adds and renames stay O(k) and a response never omits members unasked.
- ``always_resource``: 200 with the resource, members read when the PATCH did not load them.
- ``always_no_content``: 204 for every group PATCH.
"""


@dataclass(frozen=True, slots=True)
class AuthenticationScheme:
    """One entry of ``authenticationSchemes`` (RFC 7643 §5)."""

    type: str
    name: str
    description: str
    spec_uri: str | None = None
    documentation_uri: str | None = None
    primary: bool = False

    def to_json(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "type": self.type,
            "name": self.name,
            "description": self.description,
        }
        if self.spec_uri is not None:
            data["specUri"] = self.spec_uri
        if self.documentation_uri is not None:
            data["documentationUri"] = self.documentation_uri
        data["primary"] = self.primary
        return data


OAUTH_BEARER = AuthenticationScheme(
    type="oauthbearertoken",
    name="OAuth Bearer Token",
    description="Authentication with a bearer token in the Authorization header.",
    spec_uri="https://www.rfc-editor.org/info/rfc6750",
    primary=True,
)
"""The scheme Microsoft Entra uses: ``Authorization: Bearer <secret token>``."""


@dataclass(frozen=True, slots=True)
class ServiceConfig:
    """Features enabled and limits enforced by a SCIM service.

    A feature switched off is advertised as unsupported and answers 501 when used.
    ``max_results`` caps ``count`` (and is ``filter.maxResults`` and RFC 9865 ``maxPageSize``);
    ``default_count`` is the page size when a query names none. ``max_body_size`` limits every
    request body except Bulk, which has ``bulk_max_payload_size``. ``group_patch_response``
    chooses how a group PATCH is answered (:data:`GroupPatchResponse`).
    """

    patch: bool = True
    bulk: bool = True
    bulk_max_operations: int = 100
    bulk_max_payload_size: int = 1_048_576
    filter: bool = True
    max_results: int = 1000
    default_count: int = 100
    sort: bool = True
    etag: bool = True
    change_password: bool = False
    cursor: bool = True
    cursor_ttl: int = 600
    """Seconds a cursor stays valid (RFC 9865 ``cursorTimeout``)."""
    max_body_size: int = 1_048_576
    group_patch_response: GroupPatchResponse = "no_content_when_members_unloaded"
    documentation_uri: str | None = None
    authentication_schemes: tuple[AuthenticationScheme, ...] = field(default=(OAUTH_BEARER,))
    event_uris: tuple[str, ...] = ()
    """The security event URIs the service emits (RFC 9967 §4 ``securityEvents.eventUris``);
    empty when it emits none, and then ``securityEvents`` is not advertised."""

    def __post_init__(self) -> None:
        positive = {
            "bulk_max_operations": self.bulk_max_operations,
            "bulk_max_payload_size": self.bulk_max_payload_size,
            "max_results": self.max_results,
            "default_count": self.default_count,
            "cursor_ttl": self.cursor_ttl,
            "max_body_size": self.max_body_size,
        }
        for name, value in positive.items():
            if value < 1:
                raise ValueError(f"{name} must be positive")
        if self.group_patch_response not in get_args(GroupPatchResponse):
            raise ValueError(
                f"group_patch_response must be one of {', '.join(get_args(GroupPatchResponse))}"
            )
        if self.default_count > self.max_results:
            raise ValueError("default_count must not exceed max_results")

    def to_json(self, location: str | None = None) -> dict[str, Any]:
        """The ``ServiceProviderConfig`` resource (RFC 7643 §5, plus RFC 9865 ``pagination``)."""
        data: dict[str, Any] = {"schemas": [SERVICE_PROVIDER_CONFIG_SCHEMA.id]}
        if self.documentation_uri is not None:
            data["documentationUri"] = self.documentation_uri
        data["patch"] = {"supported": self.patch}
        data["bulk"] = {
            "supported": self.bulk,
            "maxOperations": self.bulk_max_operations if self.bulk else 0,
            "maxPayloadSize": self.bulk_max_payload_size if self.bulk else 0,
        }
        data["filter"] = {"supported": self.filter, "maxResults": self.max_results}
        data["changePassword"] = {"supported": self.change_password}
        data["sort"] = {"supported": self.sort}
        data["etag"] = {"supported": self.etag}
        pagination: dict[str, Any] = {
            "cursor": self.cursor,
            "index": True,
            "defaultPaginationMethod": "index",
            "defaultPageSize": self.default_count,
            "maxPageSize": self.max_results,
        }
        if self.cursor:
            pagination["cursorTimeout"] = self.cursor_ttl
        data["pagination"] = pagination
        data["authenticationSchemes"] = [s.to_json() for s in self.authentication_schemes]
        if self.event_uris:
            # Events are only delivered through the feed: no asynchronous SCIM requests.
            data["securityEvents"] = {"asyncRequest": "none", "eventUris": list(self.event_uris)}
        data["meta"] = discovery_meta("ServiceProviderConfig", location)
        return data
