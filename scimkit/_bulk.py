"""Bulk requests (RFC 7644 §3.7): bulkId references, dependency order, per-operation results.

Operations run one at a time in request order, except that an operation referring to
``bulkId:x`` (anywhere in its ``data`` or ``path``) runs after the POST that declared ``x``
(a stable topological order). Operations on a reference cycle, and those referring to a bulkId
that is unknown or whose POST failed, fail with 409 (RFC 7644 §3.7.1 allows this instead of
resolving cycles). ``failOnErrors`` stops processing after that many errors; the results list
the operations processed, in request order.

This module reads no request and writes no response: the caller hands it the parsed body and
renders the results (the web adapter adds the base URL to each ``location``).
"""

from __future__ import annotations

import heapq
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from scimkit._errors import (
    Conflict,
    InternalError,
    InvalidSyntax,
    InvalidValue,
    NotFound,
    PayloadTooLarge,
    SCIMError,
)
from scimkit._message import message_fields
from scimkit._meta import location as _location
from scimkit._resource_type import ResourceType
from scimkit._service import ResourceService

__all__ = [
    "BULK_REQUEST_SCHEMA",
    "BULK_RESPONSE_SCHEMA",
    "BulkResult",
    "Permit",
    "plan_order",
    "run_bulk",
]

BULK_REQUEST_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
BULK_RESPONSE_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:BulkResponse"

# A reference ends where a bulkId cannot continue inside a path, a filter or a URL.
_REFERENCE = re.compile(r"bulkId:([^\s\"'\]\[,/()]+)")
# The success status of each method; also the set of methods a bulk operation may use.
_STATUS = {"POST": 201, "PUT": 200, "PATCH": 200, "DELETE": 204}
# No SCIM message nests deeper than a handful of levels (PatchOp, resource, complex attribute,
# sub-attribute); deeper operation data is refused before anything walks it recursively.
_MAX_DEPTH = 64

Permit = Callable[[str, ResourceType], Awaitable[None]]
"""``permit(method, resource_type)`` raises (e.g. ``Forbidden``) to refuse one operation."""


@dataclass(frozen=True, slots=True)
class BulkResult:
    """What one operation of a BulkResponse reports (RFC 7644 §3.7.3).

    ``location`` is relative to the service's base URL (``/Users/2819c223``). ``unexpected`` is
    the exception behind a 500, for the caller to log; the client sees only ``error``.
    """

    index: int
    method: str | None
    bulk_id: str | None
    status: int
    location: str | None = None
    version: str | None = None
    error: SCIMError | None = None
    unexpected: Exception | None = None


@dataclass(slots=True)
class _Operation:
    index: int
    method: str
    path: str
    bulk_id: str | None
    version: str | None
    data: Any
    references: set[str] = field(default_factory=set)
    error: SCIMError | None = None  # a malformed operation fails when its turn comes


def _references(value: Any, found: set[str]) -> None:
    """Add the bulkIds ``value`` refers to; ``InvalidSyntax`` if it nests too deeply.

    Iterative, and bounded: orjson parses up to 1024 levels, deeper than the recursion left
    to a recursive walk (or to ``_substitute``) under the web stack, which failed with a 500.
    """
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            if "bulkId:" in item:
                found.update(_REFERENCE.findall(item))
        elif isinstance(item, dict | list):
            if depth >= _MAX_DEPTH:
                raise InvalidSyntax("The bulk operation's data is nested too deeply.")
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)


def _substitute(value: Any, ids: dict[str, str]) -> Any:
    if isinstance(value, str):
        if "bulkId:" not in value:
            return value
        return _REFERENCE.sub(lambda m: ids.get(m.group(1), m.group(0)), value)
    if isinstance(value, dict):
        return {key: _substitute(item, ids) for key, item in value.items()}
    if isinstance(value, list):
        return [_substitute(item, ids) for item in value]
    return value


def _parse(body: Any, max_operations: int) -> tuple[list[_Operation], int | None]:
    fields = message_fields(body, BULK_REQUEST_SCHEMA, "BulkRequest")
    raw_operations = fields.get("operations")
    if not isinstance(raw_operations, list):
        raise InvalidSyntax("A BulkRequest needs an 'Operations' array.")
    if len(raw_operations) > max_operations:
        raise PayloadTooLarge(
            f"The bulk request has {len(raw_operations)} operations; "
            f"the maximum is {max_operations}."
        )
    fail_on_errors = fields.get("failonerrors")
    if fail_on_errors is not None and (
        isinstance(fail_on_errors, bool)
        or not isinstance(fail_on_errors, int)
        or fail_on_errors < 1
    ):
        raise InvalidValue("'failOnErrors' must be a positive integer.")
    operations = []
    seen: set[str] = set()
    for index, raw in enumerate(raw_operations):
        operation = _operation(index, raw)
        if operation.bulk_id is not None:
            if operation.bulk_id in seen:
                raise InvalidValue(f"bulkId '{operation.bulk_id}' is used more than once.")
            seen.add(operation.bulk_id)
        operations.append(operation)
    return operations, fail_on_errors


def _operation(index: int, raw: Any) -> _Operation:
    if not isinstance(raw, dict):
        return _Operation(
            index,
            "",
            "",
            None,
            None,
            None,
            error=InvalidSyntax("A bulk operation must be a JSON object."),
        )
    fields = {key.lower(): value for key, value in raw.items()}
    method, path = fields.get("method"), fields.get("path")
    bulk_id, version = fields.get("bulkid"), fields.get("version")
    operation = _Operation(
        index,
        method.upper() if isinstance(method, str) else "",
        path if isinstance(path, str) else "",
        bulk_id if isinstance(bulk_id, str) else None,
        version if isinstance(version, str) else None,
        fields.get("data"),
    )
    if operation.method not in _STATUS:
        operation.error = InvalidValue("'method' must be one of POST, PUT, PATCH or DELETE.")
    elif not operation.path:
        operation.error = InvalidValue("A bulk operation needs a 'path'.")
    elif operation.method == "POST" and not operation.bulk_id:
        operation.error = InvalidValue("A POST bulk operation needs a 'bulkId'.")
    elif operation.method != "DELETE" and operation.data is None:
        operation.error = InvalidSyntax(f"A {operation.method} bulk operation needs 'data'.")
    elif (bulk_id is not None and not isinstance(bulk_id, str)) or (
        version is not None and not isinstance(version, str)
    ):
        operation.error = InvalidValue("'bulkId' and 'version' must be strings.")
    else:
        try:
            _references(operation.path, operation.references)
            _references(operation.data, operation.references)
        except InvalidSyntax as exc:
            operation.error = exc
    return operation


def plan_order(operations: list[_Operation]) -> tuple[list[_Operation], set[int]]:
    """Operations in a stable dependency order, and the indexes on reference cycles.

    Kahn's algorithm, always taking the lowest request index that is ready; whatever remains
    afterwards is on a cycle or depends on one, and is appended in request order.
    """
    declared = {op.bulk_id: op for op in operations if op.bulk_id is not None}
    dependants: dict[int, list[int]] = {}
    waiting: dict[int, int] = {}
    for op in operations:
        sources = {declared[ref].index for ref in op.references if ref in declared}
        waiting[op.index] = len(sources)
        for source in sources:
            dependants.setdefault(source, []).append(op.index)
    ready = [index for index, count in waiting.items() if count == 0]
    heapq.heapify(ready)
    order: list[int] = []
    while ready:
        index = heapq.heappop(ready)
        order.append(index)
        for dependant in dependants.get(index, ()):
            waiting[dependant] -= 1
            if waiting[dependant] == 0:
                heapq.heappush(ready, dependant)
    placed = set(order)
    stuck = [op.index for op in operations if op.index not in placed]
    by_index = {op.index: op for op in operations}
    return [by_index[i] for i in (*order, *stuck)], _on_cycles(operations, declared, set(stuck))


def _on_cycles(
    operations: list[_Operation], declared: dict[str, _Operation], stuck: set[int]
) -> set[int]:
    """The stuck operations that can reach themselves through references (the cycles proper)."""
    edges = {
        op.index: {declared[ref].index for ref in op.references if ref in declared}
        for op in operations
        if op.index in stuck
    }
    cyclic = set()
    for start in edges:
        seen: set[int] = set()
        frontier = list(edges[start])
        while frontier:
            node = frontier.pop()
            if node == start:
                cyclic.add(start)
                break
            if node in seen or node not in edges:
                continue
            seen.add(node)
            frontier.extend(edges[node])
    return cyclic


async def run_bulk(
    service: ResourceService, tenant: str, body: Any, *, permit: Permit | None = None
) -> list[BulkResult]:
    """Process a parsed BulkRequest body; the results of the operations run, in request order.

    Raises a :class:`SCIMError` only when the request as a whole is invalid (malformed, too many
    operations, a bulkId used twice); each operation's failure is reported in its result.
    ``permit`` is asked before each operation runs.
    """
    operations, fail_on_errors = _parse(body, service.config.bulk_max_operations)
    order, cyclic = plan_order(operations)
    run = _Run(service, tenant, permit, operations, cyclic)
    results: list[BulkResult] = []
    errors = 0
    for op in order:
        if fail_on_errors is not None and errors >= fail_on_errors:
            break
        result = await run.one(op)
        results.append(result)
        if result.error is not None:
            errors += 1
    results.sort(key=lambda result: result.index)
    return results


class _Run:
    """The state of one bulk request while its operations run."""

    def __init__(
        self,
        service: ResourceService,
        tenant: str,
        permit: Permit | None,
        operations: list[_Operation],
        cyclic: set[int],
    ) -> None:
        self._service = service
        self._tenant = tenant
        self._permit = permit
        self._declared = {op.bulk_id: op for op in operations if op.bulk_id is not None}
        self._cyclic = cyclic
        self._ids: dict[str, str] = {}  # bulkId -> id of the resource its POST created

    async def one(self, op: _Operation) -> BulkResult:
        # RFC 7644 §3.7.3: every result has a location except a failed POST's. Until the
        # target resolves, the location is the path the operation named.
        path = _substitute(op.path, self._ids)
        location = "/" + path.strip("/") if path and op.method != "POST" else None
        try:
            if op.error is not None:
                raise op.error
            self._check_references(op)
            resource_type, id = self._target(op.method, path)
            if id is not None:
                location = _location("", resource_type, id)
            if self._permit is not None:
                await self._permit(op.method, resource_type)
            resource = await self._execute(op, resource_type, id, _substitute(op.data, self._ids))
        except Exception as exc:
            error = exc if isinstance(exc, SCIMError) else InternalError()
            return BulkResult(
                op.index,
                op.method or None,
                op.bulk_id,
                error.status,
                location,
                error=error,
                unexpected=None if isinstance(exc, SCIMError) else exc,
            )
        version = None
        if resource is not None:
            location = _location("", resource_type, resource["id"])
            version = resource.get("meta", {}).get("version")
        return BulkResult(op.index, op.method, op.bulk_id, _STATUS[op.method], location, version)

    async def _execute(
        self, op: _Operation, resource_type: ResourceType, id: str | None, data: Any
    ) -> dict[str, Any] | None:
        service, tenant = self._service, self._tenant
        if op.method == "POST":
            resource = await service.create(tenant, resource_type, data)
            assert op.bulk_id is not None
            self._ids[op.bulk_id] = resource["id"]
            return resource
        assert id is not None
        if op.method == "PUT":
            return await service.replace(tenant, resource_type, id, data, if_match=op.version)
        if op.method == "PATCH":
            return await service.patch(
                tenant, resource_type, id, data, if_match=op.version, members=False
            )
        await service.delete(tenant, resource_type, id, if_match=op.version)
        return None

    def _check_references(self, op: _Operation) -> None:
        for ref in sorted(op.references):
            if ref in self._ids:
                continue
            source = self._declared.get(ref)
            if source is None:
                raise Conflict(f"bulkId '{ref}' is not declared by any operation of this request.")
            if op.index in self._cyclic or source.index in self._cyclic:
                raise Conflict(f"bulkId '{ref}' is part of a circular reference.")
            raise Conflict(f"bulkId '{ref}' could not be resolved: its operation failed.")

    def _target(self, method: str, path: str) -> tuple[ResourceType, str | None]:
        """The resource type and id a bulk ``path`` names (``/Users`` or ``/Users/{id}``)."""
        segments = path.strip("/").split("/")
        endpoint = "/" + segments[0].lower()
        for resource_type in self._service.resource_types:
            if resource_type.endpoint.lower() == endpoint:
                break
        else:
            raise NotFound(f"No resource endpoint at '{path}'.")
        if method == "POST":
            if len(segments) != 1:
                raise InvalidValue("A POST bulk operation's path must be a resource endpoint.")
            return resource_type, None
        if len(segments) != 2 or not segments[1]:
            raise InvalidValue(f"A {method} bulk operation's path must name one resource.")
        return resource_type, segments[1]
