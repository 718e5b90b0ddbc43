"""Bulk in the core (RFC 7644 §3.7): bulkId references, ordering, cycles, failOnErrors, permits."""

from __future__ import annotations

from typing import Any

import pytest

from scimkit import (
    GROUP,
    USER,
    Forbidden,
    InvalidSyntax,
    InvalidValue,
    MemoryStore,
    PayloadTooLarge,
    QueryParams,
    ResourceService,
    ResourceType,
    ServiceConfig,
)
from scimkit._bulk import BULK_REQUEST_SCHEMA, BulkResult, run_bulk

T = "acme"
USER_URN = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_URN = "urn:ietf:params:scim:schemas:core:2.0:Group"


def bulk(*operations: Any, fail_on_errors: int | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"schemas": [BULK_REQUEST_SCHEMA], "Operations": list(operations)}
    if fail_on_errors is not None:
        body["failOnErrors"] = fail_on_errors
    return body


def user(name: str, **extra: Any) -> dict[str, Any]:
    return {"schemas": [USER_URN], "userName": name, **extra}


def group(name: str, **extra: Any) -> dict[str, Any]:
    return {"schemas": [GROUP_URN], "displayName": name, **extra}


def patch(*operations: dict[str, Any]) -> dict[str, Any]:
    return {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": list(operations),
    }


def dependent_request() -> dict[str, Any]:
    """A group POST that refers to a user created later, then PATCHes of both by bulkId."""
    return bulk(
        {
            "method": "POST",
            "path": "/Groups",
            "bulkId": "g1",
            "data": group("Team", members=[{"type": "User", "value": "bulkId:u1"}]),
        },
        {"method": "POST", "path": "/Users", "bulkId": "u1", "data": user("u1@x.org")},
        {
            "method": "PATCH",
            "path": "/Users/bulkId:u1",
            "data": patch({"op": "replace", "path": "displayName", "value": "U One"}),
        },
        {
            "method": "PATCH",
            "path": "/Groups/bulkId:g1",
            "data": patch({"op": "remove", "path": 'members[value eq "bulkId:u1"]'}),
        },
    )


def statuses(results: list[BulkResult]) -> list[int]:
    return [result.status for result in results]


async def total(service: ResourceService, resource_type: ResourceType) -> int:
    return (await service.query(T, resource_type, QueryParams())).total_results


@pytest.fixture
def service() -> ResourceService:
    return ResourceService(MemoryStore(), [USER, GROUP])


async def test_bulk_ids_resolve_in_data_and_path_in_dependency_order(
    service: ResourceService,
) -> None:
    """The group POST comes first but refers to a user created later: it must run after."""
    results = await run_bulk(service, T, dependent_request())
    assert statuses(results) == [201, 201, 200, 200]
    assert [result.index for result in results] == [0, 1, 2, 3]
    group_id = results[0].location.removeprefix("/Groups/")  # type: ignore[union-attr]
    user_id = results[1].location.removeprefix("/Users/")  # type: ignore[union-attr]
    assert results[0].bulk_id == "g1" and results[0].version
    assert results[2].location == f"/Users/{user_id}"
    stored_user = await service.get(T, USER, user_id)
    assert stored_user["displayName"] == "U One"
    stored_group = await service.get(T, GROUP, group_id)
    assert "members" not in stored_group  # the last PATCH removed the member added at creation


async def test_cycles_fail_with_409_others_proceed(service: ResourceService) -> None:
    results = await run_bulk(
        service,
        T,
        bulk(
            {
                "method": "POST",
                "path": "/Groups",
                "bulkId": "a",
                "data": group("A", members=[{"value": "bulkId:b"}]),
            },
            {
                "method": "POST",
                "path": "/Groups",
                "bulkId": "b",
                "data": group("B", members=[{"value": "bulkId:a"}]),
            },
            {"method": "POST", "path": "/Users", "bulkId": "c", "data": user("c@x.org")},
            {
                "method": "POST",
                "path": "/Groups",
                "bulkId": "d",
                "data": group("D", members=[{"value": "bulkId:nowhere"}]),
            },
        ),
    )
    assert statuses(results) == [409, 409, 201, 409]
    assert results[0].error is not None and "circular" in results[0].error.detail
    assert results[3].error is not None and "not declared" in results[3].error.detail
    # RFC 7644 §3.7.3: a failed POST has no location.
    assert results[0].location is None and results[3].location is None


async def test_reference_to_failed_post_is_409(service: ResourceService) -> None:
    results = await run_bulk(
        service,
        T,
        bulk(
            {"method": "POST", "path": "/Users", "bulkId": "bad", "data": {"schemas": []}},
            {
                "method": "POST",
                "path": "/Groups",
                "bulkId": "g",
                "data": group("G", members=[{"value": "bulkId:bad"}]),
            },
        ),
    )
    assert statuses(results) == [400, 409]


async def test_fail_on_errors_stops_processing(service: ResourceService) -> None:
    results = await run_bulk(
        service,
        T,
        bulk(
            {"method": "DELETE", "path": "/Users/missing-1"},
            {"method": "DELETE", "path": "/Users/missing-2"},
            {"method": "POST", "path": "/Users", "bulkId": "x", "data": user("x@x.org")},
            fail_on_errors=2,
        ),
    )
    assert statuses(results) == [404, 404]
    assert await total(service, USER) == 0


async def test_put_delete_and_version_preconditions(service: ResourceService) -> None:
    created = await service.create(T, USER, user("al@x.org"))
    path = f"/Users/{created['id']}"
    results = await run_bulk(
        service,
        T,
        bulk(
            {"method": "PUT", "path": path, "version": 'W/"old"', "data": user("a@x.org")},
            {
                "method": "PUT",
                "path": path,
                "version": created["meta"]["version"],
                "data": user("al@x.org", nickName="Al"),
            },
            {"method": "DELETE", "path": path},
        ),
    )
    assert statuses(results) == [412, 200, 204]
    assert [result.location for result in results] == [path, path, path]
    assert results[1].version is not None and results[2].version is None


async def test_malformed_operations_fail_individually(service: ResourceService) -> None:
    results = await run_bulk(
        service,
        T,
        bulk(
            {"method": "GET", "path": "/Users"},
            {"method": "POST", "path": "/Users", "data": user("nobulkid@x.org")},
            {"method": "POST", "path": "/Nowhere", "bulkId": "n", "data": {}},
            "not an object",
            {"method": "PATCH", "path": "/Users"},
        ),
    )
    assert statuses(results) == [400, 400, 404, 400, 400]
    assert [result.method for result in results] == ["GET", "POST", "POST", None, "PATCH"]


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ([], InvalidSyntax),
        ({"Operations": []}, InvalidSyntax),
        ({"schemas": [BULK_REQUEST_SCHEMA]}, InvalidSyntax),
        ({**bulk(), "failOnErrors": 0}, InvalidValue),
        ({**bulk(), "failOnErrors": True}, InvalidValue),
        (
            bulk(
                {"method": "POST", "path": "/Users", "bulkId": "x", "data": user("1@x.org")},
                {"method": "POST", "path": "/Users", "bulkId": "x", "data": user("2@x.org")},
            ),
            InvalidValue,
        ),
        (bulk(*[{"method": "DELETE", "path": f"/Users/{i}"} for i in range(3)]), PayloadTooLarge),
    ],
)
async def test_a_bad_request_as_a_whole_raises(body: Any, error: type[Exception]) -> None:
    service = ResourceService(MemoryStore(), [USER], config=ServiceConfig(bulk_max_operations=2))
    with pytest.raises(error):
        await run_bulk(service, T, body)


async def test_deeply_nested_data_fails_that_operation(service: ResourceService) -> None:
    deep: Any = "leaf"
    for _ in range(100):
        deep = [deep]
    results = await run_bulk(
        service,
        T,
        bulk(
            {"method": "POST", "path": "/Users", "bulkId": "d", "data": user("d@x.org", x=deep)},
            {"method": "POST", "path": "/Users", "bulkId": "e", "data": user("e@x.org")},
        ),
    )
    assert statuses(results) == [400, 201]
    assert isinstance(results[0].error, InvalidSyntax)


async def test_permit_is_asked_per_operation_and_may_refuse(service: ResourceService) -> None:
    asked: list[tuple[str, str]] = []

    async def permit(method: str, resource_type: ResourceType) -> None:
        asked.append((method, resource_type.name))
        if resource_type is GROUP:
            raise Forbidden()

    results = await run_bulk(
        service,
        T,
        bulk(
            {"method": "POST", "path": "/Users", "bulkId": "u", "data": user("u@x.org")},
            {"method": "POST", "path": "/Groups", "bulkId": "g", "data": group("G")},
        ),
        permit=permit,
    )
    assert asked == [("POST", "User"), ("POST", "Group")]
    assert statuses(results) == [201, 403]
    assert await total(service, GROUP) == 0


async def test_an_unexpected_failure_is_a_500_with_its_cause(service: ResourceService) -> None:
    async def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("database password is hunter2")

    service.store.create = broken  # type: ignore[method-assign]
    results = await run_bulk(
        service,
        T,
        bulk({"method": "POST", "path": "/Users", "bulkId": "u", "data": user("u@x.org")}),
    )
    assert statuses(results) == [500]
    assert results[0].error is not None and "hunter2" not in results[0].error.detail
    assert isinstance(results[0].unexpected, RuntimeError)


async def test_every_failed_operation_but_a_post_has_a_location(service: ResourceService) -> None:
    """RFC 7644 §3.7.3: ``location`` is required in every result except a failed POST's."""
    results = await run_bulk(
        service,
        T,
        bulk(
            {"method": "PUT", "path": "/Users/bulkId:nowhere", "data": user("a@x.org")},
            {"method": "PATCH", "path": "/Users/abc"},
            {"method": "DELETE", "path": "/Nowhere/abc"},
            {"method": "DELETE", "path": "Users"},
            {"method": "DELETE", "path": "/Users/missing"},
            {"method": "POST", "path": "/Users", "bulkId": "p", "data": {"schemas": []}},
        ),
    )
    assert statuses(results) == [409, 400, 404, 400, 404, 400]
    assert [result.location for result in results] == [
        "/Users/bulkId:nowhere",
        "/Users/abc",
        "/Nowhere/abc",
        "/Users",
        "/Users/missing",
        None,
    ]
