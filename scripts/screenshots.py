"""Render each admin console page to ``docs/images/console-*.png`` (run by scripts/screenshots).

Starts ``reference-app serve`` on a free localhost port with one tenant and one admin, sends it
the requests Entra would (including a few that fail), then photographs the pages with Debian's
Chromium through Playwright.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import httpx
from playwright.sync_api import Page, sync_playwright

# Run as a file: the repository root makes the tests' helpers importable (the same server,
# push receiver and browser settings the browser tests use).
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.reference_app.admin.support import CHROMIUM, CHROMIUM_ARGS  # noqa: E402
from tests.reference_app.process import free_port, served  # noqa: E402
from tests.reference_app.receiver import receiving  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
IMAGES = ROOT / "docs" / "images"
TENANT = "contoso"
TOKEN = "screenshot-token-0123456789abcdefghijklmnop"
EVENTS_TOKEN = "screenshot-events-token-0123456789abcdefghij"
EMAIL = "it-admin@contoso.example"
PASSWORD = "a password for the screenshots"
PUBLIC_URL = "https://scim.example.com"
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
FCC = "urn:ietf:params:scim:schemas:extension:fcc:2.0:User"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
PEOPLE = [
    ("Adele", "Vance"), ("Alex", "Wilber"), ("Diego", "Siciliani"), ("Grady", "Archie"),
    ("Henrietta", "Mueller"), ("Isaiah", "Langer"), ("Johanna", "Lorenz"), ("Joni", "Sherman"),
    ("Lee", "Gu"), ("Lidia", "Holloway"), ("Lynne", "Robbins"), ("Megan", "Bowen"),
    ("Miriam", "Graham"), ("Nestor", "Wilke"), ("Patti", "Fernandez"), ("Pradeep", "Gupta"),
]  # fmt: skip


def _seed(base: str) -> None:
    """What an Entra cycle sends: probe, match-then-create, a group, and some failures."""
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/scim+json"}
    with httpx.Client(base_url=f"{base}/scim/v2/{TENANT}", headers=headers) as entra:
        entra.get("/Users", params={"filter": 'userName eq "0b0f6c2e-4c1c-4a55-9b0a-7d2b1f0d8e11"'})
        entra.get("/Groups", params={"filter": 'displayName eq "7c1e0a4d-0f5e"'})
        ids = []
        for given, family in PEOPLE:
            user_name = f"{given}.{family}@contoso.example".lower()
            entra.get("/Users", params={"filter": f'userName eq "{user_name}"'})
            created = entra.post(
                "/Users",
                json={
                    "schemas": [USER, FCC],
                    "userName": user_name,
                    "active": "True",
                    "externalId": given.lower(),
                    "name": {
                        "givenName": given,
                        "familyName": family,
                        "formatted": f"{given} {family}",
                    },
                    "emails": [{"type": "work", "value": user_name, "primary": True}],
                    FCC: {
                        "administrator": "True" if given == "Megan" else "False",
                        "loginDisabled": "True" if given == "Lee" else "False",
                    },
                },
            )
            ids.append(created.json()["id"])
        group = entra.post("/Groups", json={"schemas": [GROUP], "displayName": "Sales"})
        entra.patch(
            f"/Groups/{group.json()['id']}",
            json={
                "schemas": [PATCH],
                "Operations": [
                    {"op": "Add", "path": "members", "value": [{"value": i} for i in ids[:5]]}
                ],
            },
        )
        entra.post("/Groups", json={"schemas": [GROUP], "displayName": "Finance"})
        entra.patch(
            f"/Users/{ids[3]}",
            json={
                "schemas": [PATCH],
                "Operations": [{"op": "Replace", "path": "active", "value": "False"}],
            },
        )
        entra.post(  # a duplicate: Entra's create after a failed match (409)
            "/Users",
            json={
                "schemas": [USER],
                "userName": "megan.bowen@contoso.example",
                "password": "never-shown-1",
            },
        )
        entra.patch(  # a wrong value (400)
            f"/Users/{ids[5]}",
            json={"schemas": [PATCH], "Operations": [
                {"op": "Replace", "path": "active", "value": "maybe"}]},
        )  # fmt: skip


def _shoot(page: Page, name: str, *, full_page: bool = True) -> None:
    IMAGES.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(IMAGES / f"console-{name}.png"), full_page=full_page)
    print(f"docs/images/console-{name}.png")


def main() -> int:
    arguments = [
        "--public-url", PUBLIC_URL, "--tenant", f"{TENANT}:{TOKEN}",
        "--admin", f"{TENANT}:{EMAIL}:{PASSWORD}", "--log-level", "warning",
        "--events-token", f"{TENANT}:{EVENTS_TOKEN}",
    ]  # fmt: skip
    with receiving() as receiver, served(arguments, port=free_port()) as server:
        # A push receiver down for maintenance, so the Events page shows a delivery error.
        receiver.status = 503
        receiver.error = b'{"err": "temporarily_unavailable", "description": "maintenance"}'
        receiver_url = receiver.url
        base = server.base_url
        _seed(base)
        time.sleep(6)  # the request log and token use are written by background tasks
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            page = browser.new_page(base_url=base, viewport={"width": 1280, "height": 800})
            page.goto("/admin/")
            _shoot(page, "signin")
            page.get_by_label("Email").fill(EMAIL)
            page.get_by_label("Password").fill(PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            page.wait_for_url("**/scim")
            _shoot(page, "scim")
            page.get_by_role("button", name="Test connection").click()
            page.get_by_text("Entra would accept this").first.wait_for()
            _shoot(page, "test-connection")
            page.get_by_role("button", name="Generate new token").click()
            page.locator("#new-token").wait_for()
            _shoot(page, "new-token")
            page.goto(f"/admin/t/{TENANT}/activity")
            _shoot(page, "activity", full_page=False)  # the newest rows
            page.locator("tr.failed a").first.click()
            _shoot(page, "request")
            page.goto(f"/admin/t/{TENANT}/users")
            _shoot(page, "users")
            page.get_by_role("link", name="megan.bowen@contoso.example").click()
            _shoot(page, "user")
            page.goto(f"/admin/t/{TENANT}/groups")
            _shoot(page, "groups")
            page.goto(f"/admin/t/{TENANT}/events")
            page.get_by_label("Receiver URL").fill(receiver_url)
            page.get_by_role("button", name="Save receiver").click()
            for _ in range(50):  # the first push attempt fails in the background
                if "HTTP 503" in page.locator("#push-error").inner_text():
                    break
                time.sleep(0.1)
                page.reload()
            _shoot(page, "events")
            browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
