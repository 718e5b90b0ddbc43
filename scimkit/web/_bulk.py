"""Bulk requests (RFC 7644 §3.7): bulkId references, dependency order, per-operation results.

Operations run one at a time in request order, except that an operation referring to
``bulkId:x`` (anywhere in its ``data`` or ``path``) runs after the POST that declared ``x``
(a stable topological order). Operations on a reference cycle, and those referring to a bulkId
that is unknown or whose POST failed, fail with 409 (RFC 7644 §3.7.1 allows this instead of
resolving cycles). ``failOnErrors`` stops processing after that many errors; the response lists
the operations processed, in request order.
"""

from __future__ import annotations

import heapq
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from scimkit._errors import (
    Conflict,
    InternalError,
    InvalidSyntax,
    InvalidValue,
    NotFound,
    PayloadTooLarge,
    SCIMError,
)
from scimkit._resource_type import ResourceType
from scimkit.web._auth import Action, Principal
from scimkit.web._errors import logger
from scimkit.web._responses import SCIMResponse

if TYPE_CHECKING:
    from scimkit.web._endpoints import Endpoints

__all__ = ["BULK_REQUEST_SCHEMA", "BULK_RESPONSE_SCHEMA", "plan_order", "run_bulk"]

BULK_REQUEST_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:BulkRequest"
BULK_RESPONSE_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:BulkResponse"

# A reference ends where a bulkId cannot continue inside a path, a filter or a URL.
_REFERENCE = re.compile(r"bulkId:([^\s\"'\]\[,/()]+)")
_ACTIONS = {
    "POST": Action.CREATE,
    "PUT": Action.REPLACE,
    "PATCH": Action.PATCH,
    "DELETE": Action.DELETE,
}
_STATUS = {"POST": "201", "PUT": "200", "PATCH": "200", "DELETE": "204"}
# No SCIM message nests deeper than a handful of levels (PatchOp, resource, complex attribute,
# sub-attribute); deeper operation data is refused before anything walks it recursively.
_MAX_DEPTH = 64


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
    if not isinstance(body, dict):
        raise InvalidSyntax("A BulkRequest must be a JSON object.")
    fields = {key.lower(): value for key, value in body.items()}
    schemas = fields.get("schemas")
    if not isinstance(schemas, list) or BULK_REQUEST_SCHEMA not in schemas:
        raise InvalidSyntax(f"A BulkRequest must list '{BULK_REQUEST_SCHEMA}' in 'schemas'.")
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
    if operation.method not in _ACTIONS:
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
    endpoints: Endpoints, body: Any, tenant: str, principal: Principal, base: str
) -> SCIMResponse:
    """Process a BulkRequest body and answer the BulkResponse (always 200 once parsed)."""
    config = endpoints.config
    operations, fail_on_errors = _parse(body, config.bulk_max_operations)
    order, cyclic = plan_order(operations)
    declared = {op.bulk_id: op for op in operations if op.bulk_id is not None}
    ids: dict[str, str] = {}  # bulkId -> id of the resource its POST created
    results: dict[int, dict[str, Any]] = {}
    errors = 0
    for op in order:
        if fail_on_errors is not None and errors >= fail_on_errors:
            break
        result = await _run_one(endpoints, op, tenant, principal, base, declared, cyclic, ids)
        results[op.index] = result
        if "response" in result:
            errors += 1
    return SCIMResponse(
        {
            "schemas": [BULK_RESPONSE_SCHEMA],
            "Operations": [results[index] for index in sorted(results)],
        }
    )


async def _run_one(
    endpoints: Endpoints,
    op: _Operation,
    tenant: str,
    principal: Principal,
    base: str,
    declared: dict[str, _Operation],
    cyclic: set[int],
    ids: dict[str, str],
) -> dict[str, Any]:
    result: dict[str, Any] = {"method": op.method or None}
    if op.bulk_id is not None:
        result["bulkId"] = op.bulk_id
    try:
        if op.error is not None:
            raise op.error
        _check_references(op, declared, cyclic, ids)
        path = _substitute(op.path, ids)
        data = _substitute(op.data, ids)
        resource_type, id = _target(endpoints, op.method, path)
        if id is not None:
            # RFC 7644 §3.7: location is required except for a failed POST.
            result["location"] = f"{base}{resource_type.endpoint}/{id}"
        await endpoints.authorize(principal, _ACTIONS[op.method], resource_type)
        service = endpoints.service
        resource: dict[str, Any] | None = None
        if op.method == "POST":
            resource = await service.create(tenant, resource_type, data)
            assert op.bulk_id is not None
            ids[op.bulk_id] = resource["id"]
        elif op.method == "PUT":
            assert id is not None
            resource = await service.replace(tenant, resource_type, id, data, if_match=op.version)
        elif op.method == "PATCH":
            assert id is not None
            resource = await service.patch(
                tenant, resource_type, id, data, if_match=op.version, members=False
            )
        else:
            assert id is not None
            await service.delete(tenant, resource_type, id, if_match=op.version)
        if resource is not None:
            result["location"] = f"{base}{resource_type.endpoint}/{resource['id']}"
            version = resource.get("meta", {}).get("version")
            if version is not None and endpoints.config.etag:
                result["version"] = version
        result["status"] = _STATUS[op.method]
    except Exception as exc:
        error = exc if isinstance(exc, SCIMError) else InternalError()
        if not isinstance(exc, SCIMError):
            logger.error("Unexpected error in bulk operation %d", op.index, exc_info=exc)
        result["status"] = str(error.status)
        result["response"] = error.to_body()
    if result["method"] is None:
        del result["method"]
    return result


def _check_references(
    op: _Operation, declared: dict[str, _Operation], cyclic: set[int], ids: dict[str, str]
) -> None:
    for ref in sorted(op.references):
        if ref in ids:
            continue
        source = declared.get(ref)
        if source is None:
            raise Conflict(f"bulkId '{ref}' is not declared by any operation of this request.")
        if op.index in cyclic or source.index in cyclic:
            raise Conflict(f"bulkId '{ref}' is part of a circular reference.")
        raise Conflict(f"bulkId '{ref}' could not be resolved: its operation failed.")


def _target(endpoints: Endpoints, method: str, path: str) -> tuple[ResourceType, str | None]:
    """The resource type and id a bulk ``path`` names (``/Users`` or ``/Users/{id}``)."""
    segments = path.strip("/").split("/")
    endpoint = "/" + segments[0].lower()
    for resource_type in endpoints.service.resource_types:
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
