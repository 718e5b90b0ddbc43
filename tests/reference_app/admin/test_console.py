"""The console over HTTP (in process): sessions, CSRF, tenant isolation, tokens, pages."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.applications import Starlette

from tests.reference_app.admin.support import (
    ADMIN_A,
    PASSWORD,
    admin_settings,
    browser_client,
    csrf_of,
    sign_in,
)
from tests.reference_app.support import TOKEN_A, patch_body, running, scim_client, scim_json

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
FCC = "urn:ietf:params:scim:schemas:extension:fcc:2.0:User"


@pytest.fixture
async def app() -> AsyncIterator[Starlette]:
    async with running(admin_settings()) as started:
        yield started


@pytest.fixture
async def browser(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    async with browser_client(app) as client:
        yield client


@pytest.fixture
async def signed_in(browser: httpx.AsyncClient) -> httpx.AsyncClient:
    response = await sign_in(browser)
    assert response.status_code == 303
    return browser


async def test_sign_in_page_and_session_cookie(browser: httpx.AsyncClient):
    page = await browser.get("/admin/")
    assert page.status_code == 200
    for label in ('<label for="email">Email</label>', '<label for="password">Password</label>'):
        assert label in page.text
    assert ">Sign in</button>" in page.text
    response = await sign_in(browser)
    assert response.status_code == 303
    assert response.headers["location"] == "/admin/t/acme/scim"
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "path=/admin" in cookie
    assert "secure" not in cookie  # plain http here
    assert PASSWORD not in response.headers["set-cookie"]
    assert (await browser.get("/admin/t/acme/scim")).status_code == 200


async def test_the_cookie_is_secure_under_https():
    async with running(admin_settings(public_url="https://scim.example")) as app:
        async with browser_client(app, "https://scim.example") as client:
            response = await sign_in(client)
    assert "secure" in response.headers["set-cookie"].lower()


async def test_wrong_password_then_rate_limit(browser: httpx.AsyncClient):
    wrong = await sign_in(browser, password="not the password")
    assert wrong.status_code == 401 and "Wrong email or password." in wrong.text
    for _ in range(4):
        await sign_in(browser, password="still wrong")
    limited = await sign_in(browser)  # even the right password waits
    assert limited.status_code == 429 and "Too many failed sign-ins" in limited.text


async def test_every_form_needs_its_csrf_token(signed_in: httpx.AsyncClient):
    for path in (
        "/admin/t/acme/scim/generate",
        "/admin/t/acme/scim/revoke",
        "/admin/t/acme/scim/test",
        "/admin/signout",
        "/admin/signin",
    ):
        assert (await signed_in.post(path, data={})).status_code == 403, path
        assert (await signed_in.post(path, data={"csrf": "forged"})).status_code == 403, path


async def test_other_tenants_are_not_found(app: Starlette, signed_in: httpx.AsyncClient):
    page = await signed_in.get("/admin/t/acme/scim")
    csrf = csrf_of(page.text)
    for path in (
        "/admin/t/beta/scim",
        "/admin/t/beta/activity",
        "/admin/t/beta/users",
        "/admin/t/beta/groups",
        "/admin/t/ghost/scim",
        "/admin/t/beta/users/x",
    ):
        assert (await signed_in.get(path)).status_code == 404, path
    assert (
        await signed_in.post("/admin/t/beta/scim/generate", data={"csrf": csrf})
    ).status_code == 404
    assert (await app.state.tenants.get("beta")).digests == (
        await app.state.tenants.get("beta")
    ).digests


async def test_signed_out_visitors_are_sent_to_sign_in(browser: httpx.AsyncClient):
    for path in ("/admin/t/acme/scim", "/admin/t/beta/users"):
        response = await browser.get(path)
        assert response.status_code == 303 and response.headers["location"] == "/admin"


async def test_sign_out_ends_the_session(signed_in: httpx.AsyncClient):
    page = await signed_in.get("/admin/t/acme/scim")
    out = await signed_in.post("/admin/signout", data={"csrf": csrf_of(page.text)})
    assert out.status_code == 303
    assert (await signed_in.get("/admin/t/acme/scim")).status_code == 303


async def test_generate_then_revoke_the_secondary(app: Starlette, signed_in: httpx.AsyncClient):
    page = await signed_in.get("/admin/t/acme/scim")
    assert "Primary token" in page.text and "Tenant URL" in page.text
    assert "http://testserver/scim/v2/acme" in page.text
    generated = await signed_in.post(
        "/admin/t/acme/scim/generate", data={"csrf": csrf_of(page.text)}
    )
    shown = re.search(r'<code id="new-token" class="big">([^<]+)</code>', generated.text)
    assert shown is not None
    token = shown.group(1)
    assert "Secondary token" in generated.text
    async with scim_client(app, "acme", token) as new, scim_client(app, "acme", TOKEN_A) as old:
        assert (await new.get("/Users")).status_code == 200
        assert (await old.get("/Users")).status_code == 200
        again = await signed_in.get("/admin/t/acme/scim")
        assert token not in again.text  # shown once
        revoked = await signed_in.post(
            "/admin/t/acme/scim/revoke", data={"csrf": csrf_of(again.text)}
        )
        assert revoked.status_code == 303
        assert (await old.get("/Users")).status_code == 401
        assert (await new.get("/Users")).status_code == 200


async def test_token_last_used_dates(app: Starlette, signed_in: httpx.AsyncClient):
    before = await signed_in.get("/admin/t/acme/scim")
    assert before.text.count("never") >= 1
    async with scim_client(app, "acme", TOKEN_A) as client:
        await client.get("/Users")
        await client.get("/Users")
    await app.state.token_use.flush()
    tenant = await app.state.tenants.get("acme")
    assert tenant.token_used[0] is not None
    assert tenant.token_created[0] <= tenant.token_used[0]


async def test_test_connection_shows_what_entra_sees(signed_in: httpx.AsyncClient):
    page = await signed_in.get("/admin/t/acme/scim")
    result = await signed_in.post("/admin/t/acme/scim/test", data={"csrf": csrf_of(page.text)})
    assert result.text.count("Entra would accept this") == 2
    assert "GET /Users?filter=userName eq" in result.text
    assert "GET /Groups?excludedAttributes=members&amp;filter=displayName eq" in result.text
    assert "application/scim+json" in result.text


async def test_users_are_listed_escaped_searched_and_paged(
    app: Starlette, signed_in: httpx.AsyncClient
):
    async with scim_client(app, "acme", TOKEN_A) as client:
        evil = await client.post(
            "/Users",
            **scim_json(
                {
                    "schemas": [USER],
                    "userName": "<img src=x onerror=alert(1)>",
                    FCC: {"loginDisabled": True},
                }
            ),
        )
        for n in range(30):
            await client.post("/Users", **scim_json({"schemas": [USER], "userName": f"user{n:02}"}))
    await app.state.activity.flush()
    listing = await signed_in.get("/admin/t/acme/users")
    assert "Page 1 of 2 · 31 in all" in listing.text
    # Searched for, so it is on the page whatever order the store lists users in.
    listing = await signed_in.get("/admin/t/acme/users", params={"q": "<img"})
    assert "&lt;img src=x onerror=alert(1)&gt;" in listing.text
    assert "<img src=x" not in listing.text
    found = await signed_in.get("/admin/t/acme/users", params={"q": "user0"})
    assert "10 in all" in found.text
    user = await signed_in.get(f"/admin/t/acme/users/{evil.json()['id']}")
    assert user.status_code == 200 and "&lt;img" in user.text and "<img src=x" not in user.text
    assert "POST" in user.text  # its create request
    assert (await signed_in.get("/admin/t/acme/users/nope")).status_code == 404
    assert (await signed_in.get("/admin/t/acme/groups", params={"q": '"\\'})).status_code == 200


async def test_activity_shows_failed_requests_with_their_detail(
    app: Starlette, signed_in: httpx.AsyncClient
):
    async with scim_client(app, "acme", TOKEN_A) as client:
        await client.post(
            "/Users", **scim_json({"schemas": [USER], "userName": "a", "password": "pw-1"})
        )
        await client.patch(
            "/Users/missing-id",
            **scim_json(patch_body({"op": "Replace", "path": "active", "value": "False"})),
        )
    await app.state.activity.flush()
    page = await signed_in.get("/admin/t/acme/activity", params={"errors": "1"})
    assert "/Users/missing-id" in page.text and ">404<" in page.text
    assert "missing-id" in page.text.split("/Users/missing-id", 1)[1]  # the SCIM detail
    assert 'href="/admin/t/acme/activity/' in page.text
    assert "/Users</td>" not in page.text  # the 201 is filtered out
    everything = await signed_in.get("/admin/t/acme/activity")
    detail_id = re.findall(r"/admin/t/acme/activity/([0-9a-f]+)", everything.text)[-1]
    detail = await signed_in.get(f"/admin/t/acme/activity/{detail_id}")
    assert "[redacted]" in detail.text and "pw-1" not in detail.text
    assert (await signed_in.get("/admin/t/acme/activity/0000")).status_code == 404


async def test_activity_says_when_the_request_log_is_off():
    async with running(admin_settings(request_log=False)) as app, browser_client(app) as client:
        await sign_in(client)
        async with scim_client(app, "acme", TOKEN_A) as scim:
            assert (await scim.get("/Users")).status_code == 200
        page = await client.get("/admin/t/acme/activity")
    assert page.status_code == 200
    assert "The request log is off for this server" in page.text
    assert "--request-log on" in page.text
    assert "No requests" in page.text


async def test_one_time_link(app: Starlette, browser: httpx.AsyncClient):
    token = await app.state.admins.issue_link("acme")
    page = await browser.get(f"/admin/link/{token}")
    assert page.status_code == 200  # a GET does not use the link up
    used = await browser.post(f"/admin/link/{token}", data={"csrf": csrf_of(page.text)})
    assert used.status_code == 303 and used.headers["location"] == "/admin/t/acme/scim"
    assert (await browser.get("/admin/t/acme/scim")).status_code == 200
    async with browser_client(app) as other:
        page = await other.get(f"/admin/link/{token}")
        again = await other.post(f"/admin/link/{token}", data={"csrf": csrf_of(page.text)})
        assert again.status_code == 410


async def test_pages_are_not_cached_or_framed(signed_in: httpx.AsyncClient):
    page = await signed_in.get("/admin/t/acme/scim")
    assert page.headers["cache-control"] == "no-store"
    assert page.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in page.headers["content-security-policy"]
    assert ADMIN_A in page.text
