from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from reference_app.admin import accounts
from reference_app.admin.accounts import AdminDirectory, MemoryAdminRegistry, MongoAdminRegistry


async def test_sign_in_finds_every_tenant_the_email_administers_with_that_password():
    registry = MemoryAdminRegistry()
    registry.add("acme", "Ada@Example.com", "pw-of-acme-1234")
    registry.add("beta", "ada@example.com ", "pw-of-acme-1234")
    registry.add("gamma", "ada@example.com", "another-password")
    directory = AdminDirectory([registry])
    assert await directory.sign_in("ADA@example.com", "pw-of-acme-1234") == ["acme", "beta"]
    assert await directory.sign_in("ada@example.com", "another-password") == ["gamma"]
    assert await directory.sign_in("ada@example.com", "wrong") == []
    assert await directory.sign_in("nobody@example.com", "pw-of-acme-1234") == []


async def test_a_sign_in_link_works_once():
    registry = MemoryAdminRegistry()
    directory = AdminDirectory([registry])
    token = await directory.issue_link("acme")
    assert await directory.redeem_link("made-up") is None
    assert await directory.redeem_link(token) == "acme"
    assert await directory.redeem_link(token) is None


async def test_an_expired_link_does_not_work(monkeypatch: pytest.MonkeyPatch):
    registry = MemoryAdminRegistry()
    monkeypatch.setattr(accounts, "LINK_TTL", timedelta(seconds=-1))
    token = registry.add_link("acme")
    assert await registry.redeem_link(token) is None


@pytest.mark.mongo
async def test_mongo_accounts_and_links(mongodb_uri: str, mongo_db_name: str):
    from pymongo import AsyncMongoClient

    client = AsyncMongoClient[dict[str, Any]](mongodb_uri, tz_aware=True)
    try:
        registry = MongoAdminRegistry(client[mongo_db_name])
        await registry.ensure_indexes()
        assert await registry.set_password("acme", "Ada@Example.com", "first-password-1")
        assert not await registry.set_password("acme", "ada@example.com", "second-password")
        stored = await client[mongo_db_name]["admins"].find_one({"tenant": "acme"})
        assert stored is not None and "second-password" not in str(stored)
        directory = AdminDirectory([MemoryAdminRegistry(), registry])
        assert await directory.sign_in("ada@example.com", "first-password-1") == []
        assert await directory.sign_in("ada@example.com", "second-password") == ["acme"]
        token = await directory.issue_link("acme")
        assert await directory.redeem_link(token) == "acme"
        assert await directory.redeem_link(token) is None
    finally:
        await client.close()
