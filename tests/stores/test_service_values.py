"""ResourceService over each store: values a store cannot keep as given are refused alike.

Every test runs on MemoryStore and on MongoStore (mongoeco's wire server): a value the
validator lets through must be one both stores keep identically, and one it refuses must
leave nothing stored on either.
"""

from __future__ import annotations

from typing import Any

import pytest

from scimkit import (
    USER,
    InvalidValue,
    MutabilityError,
    QueryParams,
    ResourceService,
    ServiceConfig,
    UniquenessError,
    verify_password,
)
from scimkit._resource_type import ResourceType
from scimkit._schema import Attribute, AttributeType, Schema

T = "acme"
GADGET_URN = "urn:example:params:scim:schemas:Gadget"
GADGET = ResourceType(
    name="Gadget",
    endpoint="/Gadgets",
    schema=Schema(
        id=GADGET_URN,
        name="Gadget",
        attributes=(
            Attribute("label"),
            Attribute("count", AttributeType.INTEGER),
            Attribute("weight", AttributeType.DECIMAL),
            Attribute(
                "parts",
                AttributeType.COMPLEX,
                multi_valued=True,
                sub_attributes=(Attribute("value"), Attribute("size", AttributeType.INTEGER)),
            ),
        ),
    ),
)
INT64_MAX = 2**63 - 1
INT64_MIN = -(2**63)


@pytest.fixture
def resource_types() -> tuple[ResourceType, ...]:
    return (GADGET, USER)


def gadget(**values: Any) -> dict[str, Any]:
    return {"schemas": [GADGET_URN], "label": "g", **values}


def patch(*operations: dict[str, Any]) -> dict[str, Any]:
    return {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": list(operations),
    }


async def labels(service: ResourceService) -> list[str]:
    page = await service.query(T, GADGET, QueryParams())
    return sorted(resource["label"] for resource in page.resources)


async def test_integers_at_the_int64_bounds_are_kept_exactly(service: ResourceService):
    created = await service.create(
        T, GADGET, gadget(count=INT64_MAX, parts=[{"value": "p", "size": INT64_MIN}])
    )
    stored = await service.get(T, GADGET, created["id"])
    assert stored["count"] == INT64_MAX
    assert stored["parts"] == [{"value": "p", "size": INT64_MIN}]


@pytest.mark.parametrize(
    ("values", "path"),
    [
        ({"count": INT64_MAX + 1}, "count"),
        ({"count": INT64_MIN - 1}, "count"),
        ({"count": 10**30}, "count"),
        ({"count": 10**5000}, "count"),
        ({"parts": [{"value": "p", "size": 2**64}]}, "parts[0].size"),
        ({"weight": 10**400}, "weight"),
    ],
)
async def test_out_of_range_numbers_are_invalid_values_on_create(
    service: ResourceService, values: dict[str, Any], path: str
):
    with pytest.raises(InvalidValue, match=path.replace("[", r"\[")):
        await service.create(T, GADGET, gadget(**values))
    assert await labels(service) == []


async def test_out_of_range_integers_are_invalid_values_on_replace_and_patch(
    service: ResourceService,
):
    created = await service.create(T, GADGET, gadget(count=1))
    id = created["id"]
    with pytest.raises(InvalidValue, match="'count'"):
        await service.replace(T, GADGET, id, gadget(count=2**63))
    with pytest.raises(InvalidValue, match="'count'"):
        await service.patch(
            T, GADGET, id, patch({"op": "replace", "path": "count", "value": 2**63})
        )
    with pytest.raises(InvalidValue, match="size"):
        await service.patch(
            T, GADGET, id, patch({"op": "add", "path": "parts", "value": [{"size": -(2**70)}]})
        )
    with pytest.raises(InvalidValue, match="'count'"):
        await service.patch(T, GADGET, id, patch({"op": "add", "value": {"count": 2**64}}))
    stored = await service.get(T, GADGET, id)
    assert stored["count"] == 1
    assert "parts" not in stored
    assert stored["meta"]["version"] == created["meta"]["version"]


IOTA = "\u0390x"  # ΐ: its upper case is three code points, Ϊ́ (U+0399 U+0308 U+0301)


def user(name: str) -> dict[str, Any]:
    return {"schemas": [USER.schema.id], "userName": name}


async def find(service: ResourceService, tenant: str, name: str) -> list[str]:
    page = await service.query(tenant, USER, QueryParams(filter=f'userName eq "{name}"'))
    return [resource["userName"] for resource in page.resources]


async def test_canonical_caseless_matches_are_one_user_name(service: ResourceService):
    await service.create(T, USER, user(IOTA))
    with pytest.raises(UniquenessError):
        await service.create(T, USER, user(IOTA.upper()))
    assert await find(service, T, IOTA.upper()) == [IOTA]
    await service.create("other", USER, user(IOTA.upper()))
    assert await find(service, "other", IOTA) == [IOTA.upper()]


# -- passwords (RFC 7643 §4.1.1: writeOnly, returned never) ------------------------------------

CLEAR = "c0rrect horse battery"


def with_password(service: ResourceService, change_password: bool) -> ResourceService:
    config = ServiceConfig(change_password=change_password)
    return ResourceService(service.store, (GADGET, USER), config=config)


async def stored_password(service: ResourceService, id: str) -> Any:
    return (await service.get(T, USER, id)).get("password")


async def test_a_password_is_stored_only_as_a_salted_scrypt_hash(service: ResourceService):
    first = await service.create(T, USER, user("a") | {"password": CLEAR})
    second = await service.create(T, USER, user("b") | {"password": CLEAR})
    assert "password" not in await service.create(T, USER, user("c"))
    hashes = [await stored_password(service, r["id"]) for r in (first, second)]
    for stored in hashes:
        assert stored.startswith("$scrypt$") and CLEAR not in stored
        assert verify_password(CLEAR, stored)
        assert not verify_password(CLEAR + "!", stored)
    assert hashes[0] != hashes[1]  # salted
    assert first.get("password") != CLEAR


async def test_password_changes_are_refused_when_change_password_is_not_advertised(
    service: ResourceService,
):
    assert service.config.change_password is False
    created = await service.create(T, USER, user("a") | {"password": CLEAR})
    id, before = created["id"], await stored_password(service, created["id"])
    attempts = [
        service.replace(T, USER, id, user("a") | {"password": "new-secret"}),
        service.patch(T, USER, id, patch({"op": "replace", "path": "password", "value": "x1"})),
        service.patch(T, USER, id, patch({"op": "add", "value": {"password": "x2"}})),
        service.patch(T, USER, id, patch({"op": "remove", "path": "password"})),
    ]
    for attempt in attempts:
        with pytest.raises(MutabilityError, match="changePassword") as info:
            await attempt
        assert "new-secret" not in str(info.value.detail)
    assert await stored_password(service, id) == before

    # Not a change: a PUT that leaves the password out keeps it (it can never be read back to
    # be sent again), and sending the same password again changes nothing.
    renamed = await service.replace(T, USER, id, user("a2"))
    assert await stored_password(service, id) == before
    same = await service.patch(
        T, USER, id, patch({"op": "replace", "path": "password", "value": CLEAR})
    )
    assert same["meta"]["version"] == renamed["meta"]["version"]
    await service.replace(T, USER, id, user("a3") | {"password": CLEAR})
    assert await stored_password(service, id) == before


async def test_password_changes_store_a_new_hash_when_change_password_is_advertised(
    service: ResourceService,
):
    service = with_password(service, True)
    created = await service.create(T, USER, user("a") | {"password": CLEAR})
    id = created["id"]
    await service.replace(T, USER, id, user("a") | {"password": "second secret"})
    stored = await stored_password(service, id)
    assert verify_password("second secret", stored) and "second secret" not in stored
    await service.patch(T, USER, id, patch({"op": "replace", "path": "password", "value": "3rd"}))
    assert verify_password("3rd", await stored_password(service, id))
    await service.patch(T, USER, id, patch({"op": "remove", "path": "password"}))
    assert await stored_password(service, id) is None
