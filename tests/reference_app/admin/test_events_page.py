"""The console's Events page and a user's events, over HTTP (in process)."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.applications import Starlette

from tests.reference_app.admin.support import admin_settings, browser_client, csrf_of, sign_in
from tests.reference_app.support import TOKEN_A, patch_body, running, scim_client, scim_json

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
NEW_TOKEN = re.compile(r'<code id="new-token" class="big">([^<]+)</code>')


@pytest.fixture
async def app() -> AsyncIterator[Starlette]:
    async with running(admin_settings()) as started:
        yield started


@pytest.fixture
async def signed_in(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    async with browser_client(app) as client:
        assert (await sign_in(client)).status_code == 303
        yield client


async def test_generate_an_events_token_and_poll_with_it(
    app: Starlette, signed_in: httpx.AsyncClient
):
    page = await signed_in.get("/admin/t/acme/events")
    assert page.status_code == 200
    assert "http://testserver/scim/v2/acme/Events" in page.text
    assert "none yet: generate one to poll" in page.text
    # Without its CSRF token the form is refused.
    assert (await signed_in.post("/admin/t/acme/events/generate")).status_code == 403
    made = await signed_in.post("/admin/t/acme/events/generate", data={"csrf": csrf_of(page.text)})
    found = NEW_TOKEN.search(made.text)
    assert made.status_code == 200 and found is not None
    async with scim_client(app, "acme", found.group(1)) as events:
        assert (await events.post("/Events", json={"returnImmediately": True})).status_code == 200
    async with scim_client(app, "acme", TOKEN_A) as scim:
        assert (await scim.post("/Events", json={"returnImmediately": True})).status_code == 401
    again = await signed_in.get("/admin/t/acme/events")
    assert found.group(1) not in again.text  # shown once
    assert 'Secondary token</th><td class="muted"' in again.text


async def test_a_push_url_is_validated_set_and_cleared(signed_in: httpx.AsyncClient):
    page = await signed_in.get("/admin/t/acme/events")
    csrf = csrf_of(page.text)
    bad = await signed_in.post(
        "/admin/t/acme/events/push", data={"csrf": csrf, "url": "javascript:alert(1)"}
    )
    assert bad.status_code == 400 and "absolute http(s) URL" in bad.text
    done = await signed_in.post(
        "/admin/t/acme/events/push",
        data={"csrf": csrf, "url": "http://127.0.0.1:9/nobody", "action": "set"},
    )
    assert done.status_code == 303
    page = await signed_in.get(done.headers["location"])
    assert "Events are now pushed to this URL." in page.text
    assert 'value="http://127.0.0.1:9/nobody"' in page.text and 'id="push-backlog"' in page.text
    cleared = await signed_in.post(
        "/admin/t/acme/events/push", data={"csrf": csrf, "action": "clear"}
    )
    page = await signed_in.get(cleared.headers["location"])
    assert "Events are no longer pushed." in page.text and 'id="push-backlog"' not in page.text


async def test_a_users_page_lists_its_events(app: Starlette, signed_in: httpx.AsyncClient):
    async with scim_client(app, "acme", TOKEN_A) as scim:
        created = await scim.post("/Users", **scim_json({"schemas": [USER], "userName": "ada"}))
        other = await scim.post("/Users", **scim_json({"schemas": [USER], "userName": "bob"}))
        uid = created.json()["id"]
        await scim.patch(
            f"/Users/{uid}",
            **scim_json(patch_body({"op": "replace", "path": "active", "value": False})),
        )
    page = await signed_in.get(f"/admin/t/acme/users/{uid}")
    rows = re.findall(r'<td class="mono">(prov:\w+)</td>', page.text)
    assert rows == ["prov:deactivate", "prov:patch", "prov:create"]  # newest first, only hers
    assert other.json()["id"] not in page.text


async def test_without_events_the_page_says_so():
    async with running(admin_settings(events=False)) as app, browser_client(app) as client:
        await sign_in(client)
        page = await client.get("/admin/t/acme/events")
        assert page.status_code == 200 and "does not deliver provisioning events" in page.text
        refused = await client.post(
            "/admin/t/acme/events/generate", data={"csrf": csrf_of(page.text)}
        )
        assert refused.status_code == 404
