"""Helpers for the console tests: settings with admins, and a signed-in client."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
from starlette.applications import Starlette

from reference_app.settings import AdminSeed
from tests.reference_app.support import two_tenants

__all__ = [
    "ADMIN_A",
    "ADMIN_B",
    "CHROMIUM",
    "CHROMIUM_ARGS",
    "PASSWORD",
    "admin_settings",
    "browser_client",
    "csrf_of",
    "sign_in",
]

PASSWORD = "correct horse battery staple"
# Debian's chromium, driven by Playwright (its own browser download cannot work here); the
# browser tests and scripts/screenshots.py launch it alike.
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ADMIN_A = "ada@acme.example"
ADMIN_B = "bob@beta.example"
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def admin_settings(**changes: Any):
    """``two_tenants`` with one admin each (acme: ADMIN_A, beta: ADMIN_B)."""
    admins = (AdminSeed("acme", ADMIN_A, PASSWORD), AdminSeed("beta", ADMIN_B, PASSWORD))
    return two_tenants(admins=admins, **changes)


def browser_client(app: Starlette, base_url: str = "http://testserver") -> httpx.AsyncClient:
    """A cookie-keeping client at the server root, as a browser is."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=base_url)


def csrf_of(html: str) -> str:
    found = _CSRF.search(html)
    assert found is not None, html
    return found.group(1)


async def sign_in(
    client: httpx.AsyncClient, email: str = ADMIN_A, password: str = PASSWORD
) -> httpx.Response:
    page = await client.get("/admin/")
    return await client.post(
        "/admin/signin",
        data={"email": email, "password": password, "csrf": csrf_of(page.text)},
    )
