"""The console in a real browser: Debian's Chromium driven by Playwright, against a real server.

The server is ``reference-app serve`` in a subprocess (hypercorn, embedded store); the SCIM
calls Entra would make go to it over HTTP as well.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.reference_app.admin.support import (
    ADMIN_A,
    ADMIN_B,
    CHROMIUM,
    CHROMIUM_ARGS,
    PASSWORD,
)
from tests.reference_app.process import free_port, reference_app_command
from tests.reference_app.receiver import receiving
from tests.reference_app.support import SETTINGS_VARIABLES, TOKEN_A, TOKEN_B

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
SCIM_JSON = {"Content-Type": "application/scim+json"}

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="needs Debian's chromium (scripts/test installs it as root)"
)


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    port = free_port()
    environ = {k: v for k, v in os.environ.items() if k not in SETTINGS_VARIABLES}
    command = [
        *reference_app_command(), "serve", "--port", str(port),
        "--tenant", f"acme:{TOKEN_A}", "--tenant", f"beta:{TOKEN_B}",
        "--admin", f"acme:{ADMIN_A}:{PASSWORD}", "--admin", f"beta:{ADMIN_B}:{PASSWORD}",
    ]  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    process = subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=environ, text=True
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the server did not start"
            time.sleep(0.1)
        yield base
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Any, server: str) -> Iterator[Any]:
    context = browser.new_context(base_url=server)
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


def _sign_in(page: Any, email: str = ADMIN_A, password: str = PASSWORD) -> Any:
    page.goto("/admin/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)
    with page.expect_navigation():
        page.get_by_role("button", name="Sign in").click()
    return page


def _scim(server: str, tenant: str, token: str) -> httpx.Client:
    return httpx.Client(
        base_url=f"{server}/scim/v2/{tenant}",
        headers={"Authorization": f"Bearer {token}"},
        timeout=5,
    )


def test_sign_in_with_a_wrong_password_then_the_right_one(page: Any):
    _sign_in(page, password="not the password")
    assert page.get_by_role("alert").inner_text() == "Wrong email or password."
    assert page.url.endswith("/admin/signin")
    _sign_in(page)
    assert page.url.endswith("/admin/t/acme/scim")
    assert page.get_by_role("heading", name="User Provisioning (SCIM)").is_visible()
    assert page.locator("#tenant-url").inner_text().endswith("/scim/v2/acme")
    assert page.get_by_role("button", name="Copy").first.is_visible()


def test_a_form_posted_without_its_csrf_token_is_refused(page: Any):
    _sign_in(page)
    page.evaluate("document.querySelectorAll('input[name=csrf]').forEach(e => e.remove())")
    with page.expect_response(re.compile(r"/scim/generate$")) as info:
        page.get_by_role("button", name="Generate new token").click()
    assert info.value.status == 403
    assert page.get_by_role("heading", name="Forbidden").is_visible()


def test_generate_a_token_use_both_then_revoke_the_secondary(page: Any, server: str):
    _sign_in(page, ADMIN_B)
    assert page.url.endswith("/admin/t/beta/scim")
    page.get_by_role("button", name="Generate new token").click()
    new_token = page.locator("#new-token").inner_text().strip()
    assert len(new_token) >= 43
    assert page.get_by_role("rowheader", name="Secondary token").is_visible()
    with _scim(server, "beta", new_token) as new, _scim(server, "beta", TOKEN_B) as old:
        assert new.get("/Users").status_code == 200
        assert old.get("/Users").status_code == 200  # still valid as the secondary
        page.get_by_role("button", name="Revoke secondary token").click()
        page.get_by_text("The secondary token no longer works.").wait_for()
        assert old.get("/Users").status_code == 401
        assert new.get("/Users").status_code == 200
    assert new_token not in page.content()  # shown once only


def test_a_failed_entra_request_appears_in_activity_with_its_detail(page: Any, server: str):
    with _scim(server, "acme", TOKEN_A) as entra:
        body = {"schemas": [USER], "userName": "dup@acme.example"}
        assert entra.post("/Users", json=body, headers=SCIM_JSON).status_code in (201, 409)
        conflict = entra.post("/Users", json=body, headers=SCIM_JSON)
        assert conflict.status_code == 409
        detail = conflict.json()["detail"]
    _sign_in(page)
    page.get_by_role("navigation").get_by_role("link", name="Activity").click()
    page.get_by_label("Errors only").check()
    page.get_by_role("button", name="Filter").click()
    row = page.locator("tr.failed", has_text="uniqueness").first
    for _ in range(50):  # recorded off the request path: allow the background task a moment
        if row.count():
            break
        time.sleep(0.1)
        page.reload()
    assert detail in row.inner_text() and "409" in row.inner_text()
    row.get_by_role("link").first.click()
    assert page.get_by_text(detail).first.is_visible()
    assert "dup@acme.example" in page.locator("pre").first.inner_text()


def test_a_hostile_user_name_is_shown_as_text(page: Any, server: str):
    hostile = "<img src=x onerror=alert(1)>"
    with _scim(server, "acme", TOKEN_A) as entra:
        created = entra.post(
            "/Users", json={"schemas": [USER], "userName": hostile}, headers=SCIM_JSON
        )
        assert created.status_code in (201, 409)
    dialogs: list[str] = []

    def on_dialog(dialog: Any) -> None:
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", on_dialog)
    _sign_in(page)
    page.goto("/admin/t/acme/users?q=%3Cimg")
    cell = page.get_by_role("link", name=hostile)
    assert cell.inner_text() == hostile
    assert page.locator("main img").count() == 0
    cell.click()
    assert page.get_by_role("heading", name=hostile).is_visible()
    assert dialogs == []


def test_an_admin_of_one_tenant_gets_404_for_another(page: Any):
    _sign_in(page)
    for path in ("/admin/t/beta/scim", "/admin/t/beta/activity", "/admin/t/beta/users",
                 "/admin/t/beta/groups", "/admin/t/beta/users/some-id"):  # fmt: skip
        response = page.goto(path)
        assert response.status == 404, path
        assert page.get_by_role("heading", name="Not found").is_visible()


# -- Events ------------------------------------------------------------------------------------


def _events_page(page: Any) -> Any:
    _sign_in(page)
    page.get_by_role("navigation").get_by_role("link", name="Events").click()
    assert page.get_by_role("heading", name="Events", exact=True).is_visible()
    return page


def test_an_events_token_made_in_the_page_polls_events_and_a_scim_token_does_not(
    page: Any, server: str
):
    _events_page(page)
    poll_url = page.locator("#poll-url").inner_text().strip()
    assert poll_url.endswith("/scim/v2/acme/Events")
    page.get_by_role("button", name="Generate events token").click()
    token = page.locator("#new-token").inner_text().strip()
    assert len(token) >= 43
    poll = {"returnImmediately": True, "maxEvents": 1}
    with httpx.Client(timeout=5) as http:
        events = http.post(poll_url, json=poll, headers={"Authorization": f"Bearer {token}"})
        assert events.status_code == 200 and "sets" in events.json()
        scim = http.post(poll_url, json=poll, headers={"Authorization": f"Bearer {TOKEN_A}"})
        assert scim.status_code == 401
    with _scim(server, "acme", token) as wrong_kind:
        assert wrong_kind.get("/Users").status_code == 401


def test_a_failing_push_receiver_shows_its_last_error(page: Any):
    with receiving() as receiver:
        _events_page(page)
        page.get_by_label("Receiver URL").fill(receiver.url)
        page.get_by_role("button", name="Save receiver").click()
        page.get_by_text("Events are now pushed to this URL.").wait_for()
        error = page.locator("#push-error")
        for _ in range(100):  # delivery runs in the background: its first attempt fails
            if "HTTP 500" in error.inner_text():
                break
            time.sleep(0.1)
            page.reload()
        assert "PushRejected: HTTP 500" in error.inner_text()
        page.get_by_role("button", name="Stop pushing").click()
        page.get_by_text("Events are no longer pushed.").wait_for()


def test_a_users_page_lists_its_create_and_deactivate_events(page: Any, server: str):
    with _scim(server, "acme", TOKEN_A) as entra:
        body = {"schemas": [USER], "userName": "eve@acme.example"}
        user = entra.post("/Users", json=body, headers=SCIM_JSON).json()
        off = {
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "path": "active", "value": "False"}],
        }
        assert entra.patch(f"/Users/{user['id']}", json=off, headers=SCIM_JSON).status_code == 200
    _sign_in(page)
    page.goto(f"/admin/t/acme/users/{user['id']}")
    table = page.locator("#user-events")
    assert page.get_by_role("heading", name="Events").is_visible()
    kinds = [cell.strip() for cell in table.locator("tbody td.mono:nth-child(2)").all_inner_texts()]
    assert kinds == ["prov:deactivate", "prov:patch", "prov:create"]
