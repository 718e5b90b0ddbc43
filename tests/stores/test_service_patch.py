"""ResourceService.patch over each store: nothing stored changes but through the store's write.

The service PATCHes from ``get_shared`` (the stored values themselves on MemoryStore) with an
engine that copies only what it changes; these tests hold the stored resource, as read before
the PATCH, to be unchanged after a PATCH that fails and after one that succeeds.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from scimkit import ENTRA, USER, InvalidValue, MutabilityError, ResourceService
from scimkit._resource_type import ResourceType

T = "acme"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


@pytest.fixture
def resource_types() -> tuple[ResourceType, ...]:
    return (USER,)


def entra_user() -> dict[str, Any]:
    return {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE],
        "userName": "alice@contoso.example",
        "externalId": "alice",
        "active": True,
        "name": {"givenName": "Alice", "familyName": "Jansen", "formatted": "Alice Jansen"},
        "emails": [
            {"value": "alice@contoso.example", "type": "work", "primary": True},
            {"value": "alice@home.example", "type": "home"},
        ],
        "addresses": [{"type": "work", "locality": "Utrecht", "country": "NL"}],
        ENTERPRISE: {"department": "Legal", "manager": {"value": "m1"}},
    }


def message(*operations: dict[str, Any]) -> dict[str, Any]:
    return {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": list(operations),
    }


def entra_default(email: str, family: str) -> dict[str, Any]:
    return message(
        {"op": "Replace", "path": 'emails[type eq "work"].value', "value": email},
        {"op": "Replace", "path": "name.familyName", "value": family},
    )


@pytest.fixture
def entra(service: ResourceService) -> ResourceService:
    """The store's service with Entra's tolerance, as the reference app's tenants run."""
    return ResourceService(service.store, (USER,), tolerance=ENTRA)


@pytest.fixture
async def created(entra: ResourceService) -> dict[str, Any]:
    return await entra.create(T, USER, entra_user())


async def held(service: ResourceService, id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The store's uncopied read of the user, and a deep copy of it as it was."""
    read = await service.store.get_shared(T, USER, id)  # type: ignore[attr-defined]
    return read, copy.deepcopy(read)


async def test_a_failed_patch_leaves_the_stored_resource_as_it_was(
    entra: ResourceService, created: dict[str, Any]
) -> None:
    service = entra
    read, was = await held(service, created["id"])
    # The first operations change the working copy (the filtered email, the name, the
    # extension) before the last one fails validation.
    failing = message(
        {"op": "Replace", "path": 'emails[type eq "work"].value', "value": "x@contoso.example"},
        {"op": "Replace", "path": "name.familyName", "value": "Changed"},
        {"op": "Replace", "path": f"{ENTERPRISE}:department", "value": "Finance"},
        {"op": "Replace", "path": "active", "value": "maybe"},
    )
    with pytest.raises(InvalidValue):
        await service.patch(T, USER, created["id"], failing)
    with pytest.raises(MutabilityError):
        await service.patch(T, USER, created["id"], message({"op": "remove", "path": "userName"}))
    assert read == was
    assert await service.get(T, USER, created["id"]) == created


async def test_a_patch_replaces_the_stored_resource_without_changing_the_one_read(
    entra: ResourceService, created: dict[str, Any]
) -> None:
    service = entra
    read, was = await held(service, created["id"])
    patched = await service.patch(
        T, USER, created["id"], entra_default("new@contoso.example", "Smit")
    )
    assert read == was
    assert patched["emails"][0]["value"] == "new@contoso.example"
    assert patched["emails"][1] == was["emails"][1]
    assert patched["name"]["familyName"] == "Smit"
    assert patched["meta"]["version"] != was["meta"]["version"]
    stored = await service.get(T, USER, created["id"])
    assert stored == patched
    # The answer is the caller's: changing it changes nothing stored.
    patched["emails"][1]["value"] = "tampered"
    patched[ENTERPRISE]["manager"]["value"] = "tampered"
    patched["meta"]["version"] = "tampered"
    assert await service.get(T, USER, created["id"]) == stored


async def test_a_patch_that_changes_nothing_answers_a_copy(
    entra: ResourceService, created: dict[str, Any]
) -> None:
    service = entra
    same = await service.patch(
        T, USER, created["id"], entra_default("alice@contoso.example", "Jansen")
    )
    assert same == created
    same["name"]["familyName"] = "tampered"
    same["emails"][0]["value"] = "tampered"
    assert await service.get(T, USER, created["id"]) == created


async def test_a_patch_reply_shares_values_but_shaping_it_changes_nothing_stored(
    entra: ResourceService, created: dict[str, Any]
) -> None:
    service = entra
    reply = await service.patch_reply(
        T, USER, created["id"], entra_default("new@contoso.example", "Smit")
    )
    stored = await service.get(T, USER, created["id"])
    assert reply.represent and reply.resource == stored
    # What the web layer does to it: new top-level values, nested ones only read.
    reply.resource["meta"] = {**reply.resource["meta"], "location": "https://x/Users/1"}
    reply.resource["emails"] = [{**e, "display": "shown"} for e in reply.resource["emails"]]
    assert await service.get(T, USER, created["id"]) == stored
