"""ResourceService.create over each store: a shared answer, once rendered, changes nothing stored.

The web layer creates with ``shared=True`` (``docs/storage.md``, "Copies"): on MemoryStore the
answer's values are the stored ones, which the renderer reads and replaces, never mutates.
"""

from __future__ import annotations

import copy
import uuid
from typing import Any

import orjson
import pytest

from scimkit import ENTRA, GROUP, USER, ResourceService
from scimkit._resource_type import ResourceType
from scimkit.web._render import Renderer

T = "acme"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


@pytest.fixture
def resource_types() -> tuple[ResourceType, ...]:
    return (USER, GROUP)


@pytest.fixture
def entra(service: ResourceService) -> ResourceService:
    """The store's service with Entra's tolerance, as the reference app's tenants run."""
    return ResourceService(service.store, (USER, GROUP), tolerance=ENTRA)


def entra_user(name: str) -> dict[str, Any]:
    return {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE],
        "userName": f"{name}@contoso.example",
        "externalId": name,
        "active": True,
        "name": {"givenName": name, "familyName": "Jansen", "formatted": f"{name} Jansen"},
        "emails": [{"value": f"{name}@contoso.example", "type": "work", "primary": True}],
        "meta": {"resourceType": "User"},
        ENTERPRISE: {"department": "Legal", "manager": {"value": "m1"}},
        "roles": [],
    }


async def test_a_shared_create_answers_what_is_stored_and_rendering_it_changes_nothing(
    entra: ResourceService,
) -> None:
    created = await entra.create(T, USER, entra_user("alice"), shared=True)
    stored = await entra.get(T, USER, created["id"])
    assert created == stored
    held = copy.deepcopy(stored)
    # What the web layer does with it: shape (new top-level values) and serialise at once.
    response = Renderer(entra).resource(created, USER, "https://x/scim/", status=201)
    location = f"https://x/scim/Users/{created['id']}"
    assert response.headers["location"] == location
    expected = {**held, "meta": {**held["meta"], "location": location}}
    assert orjson.loads(response.body) == orjson.loads(
        orjson.dumps(expected, option=orjson.OPT_UTC_Z)
    )
    assert await entra.get(T, USER, created["id"]) == held
    # The top-level dict is the caller's: replacing its values changes nothing stored.
    created["name"] = {"familyName": "replaced"}
    created["emails"] = []
    assert await entra.get(T, USER, created["id"]) == held


async def test_a_shared_create_answer_stays_as_read_while_writes_go_on(
    entra: ResourceService,
) -> None:
    created = await entra.create(T, USER, entra_user("bob"), shared=True)
    group = await entra.create(
        T,
        GROUP,
        {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "displayName": "staff",
            "members": [{"value": created["id"]}],
        },
        shared=True,
    )
    user_was, group_was = copy.deepcopy(created), copy.deepcopy(group)
    await entra.replace(T, USER, created["id"], {**entra_user("bob"), "active": False})
    await entra.replace(
        T, GROUP, group["id"], {"schemas": group["schemas"], "displayName": "renamed"}
    )
    assert created == user_was
    assert group == group_was
    assert [m["value"] for m in group["members"]] == [created["id"]]


async def test_a_create_answers_a_copy_by_default(entra: ResourceService) -> None:
    created = await entra.create(T, USER, entra_user("carol"))
    stored = copy.deepcopy(created)
    created["name"]["familyName"] = "tampered"
    created["emails"][0]["value"] = "tampered"
    created[ENTERPRISE]["manager"]["value"] = "tampered"
    assert await entra.get(T, USER, created["id"]) == stored


async def test_created_ids_are_random_uuid4_hex(entra: ResourceService) -> None:
    ids = {(await entra.create(T, USER, entra_user(f"u{n}")))["id"] for n in range(50)}
    assert len(ids) == 50
    for id in ids:
        parsed = uuid.UUID(hex=id)
        assert (parsed.version, parsed.variant, parsed.hex) == (4, uuid.RFC_4122, id)
