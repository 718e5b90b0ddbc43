"""Response bodies: resources as sent, ListResponses and BulkResponses (RFC 7644 §3.4.2, §3.7.3).

Stored resources leave here with ``meta.location`` and the groups' ``$ref`` added and projected
by ``attributes`` / ``excludedAttributes``; both depend on the request's base URL, which the
stores do not know.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from scimkit._bulk import BULK_RESPONSE_SCHEMA, BulkResult
from scimkit._meta import location
from scimkit._projection import project
from scimkit._resource_type import ResourceType
from scimkit._service import ListResult, ResourceService
from scimkit.web._responses import LIST_RESPONSE_SCHEMA, SCIMResponse

__all__ = ["Renderer", "list_of"]


def list_of(items: list[dict[str, Any]]) -> dict[str, Any]:
    """A ListResponse body holding all of ``items`` (discovery lists)."""
    return _list_body(items, len(items), len(items), start_index=1)


def _list_body(
    items: list[dict[str, Any]],
    total: int,
    per_page: int,
    *,
    start_index: int | None = None,
    next_cursor: str | None = None,
    previous_cursor: str | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "schemas": [LIST_RESPONSE_SCHEMA],
        "totalResults": total,
        "itemsPerPage": per_page,
    }
    if start_index is not None:
        body["startIndex"] = start_index
    if next_cursor is not None:
        body["nextCursor"] = next_cursor
    if previous_cursor is not None:
        body["previousCursor"] = previous_cursor
    body["Resources"] = items
    return body


class Renderer:
    """Renders a service's resources and results for one base URL at a time."""

    def __init__(self, service: ResourceService) -> None:
        self._service = service
        self._etag = service.config.etag
        self._group_endpoint = next(
            (rt.endpoint for rt in service.resource_types if rt.members_attribute is not None),
            None,
        )

    def shape(
        self,
        resource: dict[str, Any],
        resource_type: ResourceType,
        base: str,
        attributes: Sequence[str],
        excluded: Sequence[str],
        *,
        here: str | None = None,
    ) -> dict[str, Any]:
        """A stored resource as sent: ``meta.location`` added, then projected (RFC 7644 §3.9).

        ``here`` is the resource's location when the caller has made it already.
        """
        meta = resource.get("meta")
        if meta is not None:
            if here is None:
                here = location(base, resource_type, resource["id"])
            # Fresh dicts throughout: the stored copy's nested values may be the store's own.
            resource["meta"] = {**meta, "location": here}
        groups = resource.get("groups")
        if groups and self._group_endpoint is not None:
            # Stores derive `groups` without `$ref`, which depends on the request's base URL.
            prefix = f"{base}{self._group_endpoint}/"
            resource["groups"] = [
                entry
                if not isinstance(entry, dict) or "$ref" in entry or "value" not in entry
                else {**entry, "$ref": prefix + str(entry["value"])}
                for entry in groups
            ]
        return project(
            resource,
            resource_type,
            attributes=attributes or None,
            excluded_attributes=excluded or None,
        )

    def resource(
        self,
        resource: dict[str, Any],
        resource_type: ResourceType,
        base: str,
        attributes: Sequence[str] = (),
        excluded: Sequence[str] = (),
        status: int = 200,
    ) -> SCIMResponse:
        """One resource with its ``Location`` and ``ETag`` headers."""
        here = location(base, resource_type, resource["id"])
        headers = {"Location": here}
        version = self.version(resource.get("meta", {}).get("version"))
        if version is not None:
            headers["ETag"] = version
        body = self.shape(resource, resource_type, base, attributes, excluded, here=here)
        return SCIMResponse(body, status, headers)

    def listing(
        self,
        result: ListResult,
        resource_type: ResourceType | None,
        base: str,
        attributes: Sequence[str],
        excluded: Sequence[str],
    ) -> SCIMResponse:
        """A ListResponse (RFC 7644 §3.4.2); root results name their type in meta."""
        shaped = []
        for resource in result.resources:
            rt = resource_type
            if rt is None:
                rt = self._service.resource_type(resource["meta"]["resourceType"])
            shaped.append(self.shape(resource, rt, base, attributes, excluded))
        body = _list_body(
            shaped,
            result.total_results,
            result.items_per_page,
            start_index=result.start_index,
            next_cursor=result.next_cursor,
            previous_cursor=result.previous_cursor,
        )
        return SCIMResponse(body)

    def bulk(self, results: list[BulkResult], base: str) -> SCIMResponse:
        """A BulkResponse (RFC 7644 §3.7.3); always 200 once the request parsed."""
        operations = []
        for result in results:
            operation: dict[str, Any] = {}
            if result.method is not None:
                operation["method"] = result.method
            if result.bulk_id is not None:
                operation["bulkId"] = result.bulk_id
            if result.location is not None:
                operation["location"] = base + result.location
            version = self.version(result.version)
            if version is not None:
                operation["version"] = version
            operation["status"] = str(result.status)
            if result.error is not None:
                operation["response"] = result.error.to_body()
            operations.append(operation)
        return SCIMResponse({"schemas": [BULK_RESPONSE_SCHEMA], "Operations": operations})

    def version(self, version: str | None) -> str | None:
        """A resource's version as sent: ``None`` when ETags are off (``ServiceConfig.etag``)."""
        return version if self._etag else None
