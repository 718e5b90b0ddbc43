"""Secrets never reach the logs: bearer tokens (right or wrong) and passwords.

Everything is logged at DEBUG while requests that succeed, fail authentication, fail
validation and fail unexpectedly (a 500, which scimkit logs with its traceback) go through
the library app and the reference app.
"""

from __future__ import annotations

import logging
from typing import Any

import pytest

from reference_app.settings import Settings, TenantSeed
from scimkit import MemoryStore
from tests.hardening.support import (
    BULK_SCHEMA,
    TENANT_A,
    TOKEN_A,
    client_for,
    make_app,
    patch_body,
    user_body,
)
from tests.reference_app.support import running

PASSWORD = "Pa55w0rd-never-logged"
WRONG_TOKEN = "wrong-token-never-logged-1234567890"


class Exploding(MemoryStore):
    """A store whose creates fail unexpectedly, so the 500 path (and its logging) runs."""

    async def create(
        self, tenant: str, resource_type: Any, resource: dict[str, Any], **record: Any
    ) -> Any:
        raise RuntimeError("boom")


def secrets_in(caplog: pytest.LogCaptureFixture, secrets: list[str]) -> list[str]:
    text = caplog.text + "".join(
        str(record.args) + str(record.exc_info) for record in caplog.records
    )
    return [secret for secret in secrets if secret in text]


async def _requests(app: Any, tenant: str, token: str) -> list[int]:
    statuses = []
    async with client_for(app, tenant, token) as good, client_for(app, tenant, WRONG_TOKEN) as bad:
        body = user_body("logged@example.com", password=PASSWORD)
        for client in (good, bad):
            statuses.append((await client.post("/Users", json=body)).status_code)
            statuses.append((await client.get("/Users")).status_code)
        patch = patch_body({"op": "replace", "path": "password", "value": PASSWORD})
        statuses.append((await good.patch("/Users/nope", json=patch)).status_code)
        bulk = {
            "schemas": [BULK_SCHEMA],
            "Operations": [{"method": "POST", "path": "/Users", "bulkId": "b", "data": body}],
        }
        statuses.append((await good.post("/Bulk", json=bulk)).status_code)
    return statuses


async def test_library_app_logs_no_token_and_no_password(caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.DEBUG)
    await _requests(make_app(MemoryStore()), TENANT_A, TOKEN_A)
    statuses = await _requests(make_app(Exploding()), TENANT_A, TOKEN_A)
    assert 500 in statuses  # the unexpected failure was logged...
    assert any(record.levelno >= logging.ERROR for record in caplog.records)
    # ...with method, path and traceback only: nothing the request carried.
    assert secrets_in(caplog, [TOKEN_A, WRONG_TOKEN, PASSWORD]) == []


async def test_reference_app_logs_no_token_and_no_password(caplog: pytest.LogCaptureFixture):
    caplog.set_level(logging.DEBUG)
    token = "reference-token-never-logged-0123456789"
    settings = Settings(tenants=(TenantSeed("acme", token),), log_level="debug")
    async with running(settings) as app:
        await _requests(app, "acme", token)
    assert secrets_in(caplog, [token, WRONG_TOKEN, PASSWORD]) == []
    assert token not in repr(settings)
