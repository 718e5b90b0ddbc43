from __future__ import annotations

import hashlib

import pytest

from reference_app.settings import SettingsError
from reference_app.tenants import (
    MemoryTenantRegistry,
    Policy,
    TenantDirectory,
    TenantExists,
    UnknownTenant,
    new_token,
)
from scimkit import ENTRA, STRICT


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def test_new_tokens_are_long_and_random():
    tokens = {new_token() for _ in range(20)}
    assert len(tokens) == 20
    assert all(len(token) >= 43 for token in tokens)


async def test_tokens_are_kept_only_as_sha256_digests():
    registry = MemoryTenantRegistry()
    token = await registry.create("acme")
    tenant = await registry.get("acme")
    assert tenant is not None
    assert tenant.digests == (_digest(token),)
    assert token not in repr(tenant) and token not in repr(vars(registry))


async def test_rotation_keeps_the_old_primary_as_secondary():
    registry = MemoryTenantRegistry()
    first = await registry.create("acme", token="first-token")
    second = await registry.rotate("acme")
    tenant = await registry.get("acme")
    assert tenant is not None and tenant.digests == (_digest(second), _digest(first))
    third = await registry.rotate("acme")
    tenant = await registry.get("acme")
    assert tenant is not None and tenant.digests == (_digest(third), _digest(second))


async def test_registry_errors():
    registry = MemoryTenantRegistry()
    await registry.create("acme")
    with pytest.raises(TenantExists):
        await registry.create("acme")
    with pytest.raises(UnknownTenant):
        await registry.rotate("ghost")
    with pytest.raises(UnknownTenant):
        await registry.set_policy("ghost", Policy.STRICT)
    with pytest.raises(SettingsError):
        await registry.create("Not/A/Name")


async def test_directory_prefers_the_first_registry_and_remembers_policies():
    first, second = MemoryTenantRegistry(), MemoryTenantRegistry()
    first.add("acme", "process-token")
    second.add("acme", "stored-token", Policy.STRICT)
    second.add("beta", "beta-token", Policy.STRICT)
    directory = TenantDirectory([first, second])
    assert await directory.digests("acme") == (_digest("process-token"),)
    decoys = await directory.digests("ghost")
    assert len(decoys) == 2 and not set(decoys) & {_digest("process-token"), _digest("")}
    assert directory.tolerance("acme") is ENTRA
    assert directory.tolerance("beta") is ENTRA  # not looked up yet: the default
    await directory.digests("beta")
    assert directory.tolerance("beta") is STRICT
    assert [t.name for t in await directory.list()] == ["acme", "beta"]
    assert (await directory.list())[0].digests == (_digest("process-token"),)


async def test_registries_refuse_tokens_that_cannot_be_presented():
    registry = MemoryTenantRegistry()
    with pytest.raises(ValueError, match="visible ASCII"):
        registry.add("acme", "tökén-0123456789")
    with pytest.raises(ValueError, match="visible ASCII"):
        await registry.create("acme", token="two words")
    assert await registry.list() == []
