"""Discovery endpoints (RFC 7644 §4) generated from the definitions and the config."""

from __future__ import annotations

from typing import Any

import httpx

from scimkit import GROUP, USER, MemoryStore, ResourceService, ServiceConfig
from scimkit.web import BearerTokenAuth, WebOptions, create_scim_app
from tests.web.conftest import BASE, TOKENS


async def test_service_provider_config_reflects_config(client: httpx.AsyncClient) -> None:
    response = await client.get("/ServiceProviderConfig")
    assert response.status_code == 200
    data = response.json()
    assert data["schemas"] == ["urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig"]
    assert data["patch"] == {"supported": True}
    assert data["bulk"]["supported"] is True and data["bulk"]["maxOperations"] == 100
    assert data["filter"] == {"supported": True, "maxResults": 1000}
    assert data["changePassword"] == {"supported": False}
    assert data["etag"] == {"supported": True}
    assert data["pagination"]["cursor"] is True
    assert data["pagination"]["cursorTimeout"] == 600
    assert data["authenticationSchemes"][0]["type"] == "oauthbearertoken"
    assert data["meta"]["location"] == f"{BASE}/ServiceProviderConfig"


async def test_resource_types(client: httpx.AsyncClient) -> None:
    data = (await client.get("/ResourceTypes")).json()
    assert data["totalResults"] == 2
    names = [r["name"] for r in data["Resources"]]
    assert names == ["User", "Group"]
    user = data["Resources"][0]
    assert user["endpoint"] == "/Users"
    assert user["schemaExtensions"][0]["schema"].endswith("enterprise:2.0:User")
    one = await client.get("/ResourceTypes/Group")
    assert one.json()["meta"]["location"] == f"{BASE}/ResourceTypes/Group"
    assert (await client.get("/ResourceTypes/Printer")).status_code == 404


async def test_schemas(client: httpx.AsyncClient) -> None:
    data = (await client.get("/Schemas")).json()
    ids = [s["id"] for s in data["Resources"]]
    assert ids == [
        "urn:ietf:params:scim:schemas:core:2.0:User",
        "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User",
        "urn:ietf:params:scim:schemas:core:2.0:Group",
    ]
    one = await client.get("/Schemas/urn:ietf:params:scim:schemas:core:2.0:Group")
    assert one.status_code == 200
    assert one.json()["attributes"][0]["name"] == "displayName"
    assert (await client.get("/Schemas/urn:nope")).status_code == 404


async def test_filter_on_discovery_is_403(client: httpx.AsyncClient) -> None:
    """RFC 7644 §4: a filter on discovery endpoints SHOULD be answered with 403."""
    response = await client.get('/Schemas?filter=id eq "x"')
    assert response.status_code == 403


async def test_disabled_features_are_advertised_and_answer_501() -> None:
    config = ServiceConfig(patch=False, sort=False, bulk=False, cursor=False, filter=False)
    service = ResourceService(MemoryStore(), [USER, GROUP], config=config)
    options = WebOptions(authenticate=BearerTokenAuth.from_tokens(TOKENS), public_discovery=True)
    app = create_scim_app(service, options)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url=BASE,
        headers={"Authorization": "Bearer acme-primary"},
    ) as client:
        spc = (await client.get("/ServiceProviderConfig", headers={"Authorization": ""})).json()
        assert spc["patch"]["supported"] is False
        assert spc["bulk"] == {"supported": False, "maxOperations": 0, "maxPayloadSize": 0}
        assert spc["sort"]["supported"] is False
        assert spc["pagination"]["cursor"] is False
        user: dict[str, Any] = (
            await client.post(
                "/Users",
                json={"schemas": [USER.schema.id], "userName": "x"},
            )
        ).json()
        patch = await client.patch(
            f"/Users/{user['id']}",
            json={"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": []},
        )
        assert patch.status_code == 501
        assert (await client.get("/Users?sortBy=userName")).status_code == 501
        assert (await client.get("/Users?cursor=")).status_code == 501
        assert (await client.get('/Users?filter=userName eq "x"')).status_code == 501
        assert (await client.post("/Bulk", json={})).status_code == 501
