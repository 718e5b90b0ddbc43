"""The tenant cache (``--tenant-cache-seconds``): what it keeps, for how long, and what it forgets.

Over the process registry for its rules, then two apps on one MongoDB database for the price
docs/deployment.md states: a token revoked elsewhere works here until the entry expires.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from reference_app.app import mongo_client
from reference_app.settings import AdminSeed, Settings, SettingsError, load_settings
from reference_app.tenant_cache import CachedTenantRegistry
from reference_app.tenants import (
    MemoryTenantRegistry,
    MongoTenantRegistry,
    Policy,
    Tenant,
    TokenKind,
)
from tests.reference_app.admin.support import ADMIN_A, PASSWORD, browser_client, csrf_of, sign_in
from tests.reference_app.support import running, scim_client

TTL = 5.0


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class CountingRegistry(MemoryTenantRegistry):
    """The process registry, counting its reads; ``hold`` makes the next read wait for it."""

    def __init__(self) -> None:
        super().__init__()
        self.reads = 0
        self.hold: asyncio.Event | None = None
        self.reading = asyncio.Event()

    async def get(self, name: str) -> Tenant | None:
        self.reads += 1
        found = await super().get(name)
        if self.hold is not None:
            hold, self.hold = self.hold, None
            self.reading.set()
            await hold.wait()  # answers what it read before the wait
        return found


def _cache(size: int = 10) -> tuple[CachedTenantRegistry, CountingRegistry, Clock]:
    registry, clock = CountingRegistry(), Clock()
    registry.add("acme", "token-of-acme-0123456789")
    return CachedTenantRegistry(registry, TTL, size=size, clock=clock), registry, clock


async def test_a_tenant_is_read_once_per_time_to_live():
    cache, registry, clock = _cache()
    first = await cache.get("acme")
    clock.now += TTL - 0.001
    assert await cache.get("acme") is first
    assert registry.reads == 1
    clock.now += 0.001  # expired: read afresh
    assert await cache.get("acme") == first
    assert registry.reads == 2


async def test_names_that_are_not_tenants_are_never_kept():
    cache, registry, _ = _cache()
    assert await cache.get("ghost") is None
    assert await cache.get("ghost") is None
    assert registry.reads == 2
    # So a tenant made elsewhere (here: behind the cache's back) is found at once.
    registry.add("ghost", "token-of-ghost-0123456789")
    assert await cache.get("ghost") is not None


async def test_a_change_made_through_the_cache_is_seen_at_once():
    cache, _, _ = _cache()
    before = await cache.get("acme")
    assert before is not None and len(before.digests) == 1

    await cache.rotate("acme")
    rotated = await cache.get("acme")
    assert rotated is not None and len(rotated.digests) == 2
    assert rotated.digests[1] == before.digests[0]

    assert await cache.revoke_secondary("acme")
    revoked = await cache.get("acme")
    assert revoked is not None and revoked.digests == rotated.digests[:1]

    await cache.set_policy("acme", Policy.STRICT)
    assert (await cache.get("acme")).policy is Policy.STRICT  # type: ignore[union-attr]
    await cache.set_events_push("acme", "https://app.example/events")
    pushed = await cache.get("acme")
    assert pushed is not None and pushed.events_push == "https://app.example/events"
    await cache.rotate("acme", TokenKind.EVENTS)
    assert (await cache.get("acme")).events_digests  # type: ignore[union-attr]

    await cache.create("beta", token="token-of-beta-0123456789")
    assert await cache.get("beta") is not None


async def test_a_look_up_under_way_during_a_change_is_not_kept():
    cache, registry, _ = _cache()
    registry.hold = asyncio.Event()
    hold = registry.hold
    looking = asyncio.create_task(cache.get("acme"))
    await registry.reading.wait()  # it has read the tenant, one token
    await cache.rotate("acme")
    hold.set()
    stale = await looking
    assert stale is not None and len(stale.digests) == 1  # what it read, answered as read...
    fresh = await cache.get("acme")  # ...but not kept: the next look-up reads again
    assert fresh is not None and len(fresh.digests) == 2
    assert registry.reads == 2


async def test_failed_changes_forget_too():
    cache, registry, _ = _cache()
    await cache.get("acme")
    with pytest.raises(LookupError):
        await cache.rotate("ghost")
    with pytest.raises(Exception, match="acme"):
        await cache.create("acme")  # TenantExists
    await cache.get("acme")
    assert registry.reads == 2


async def test_token_use_is_passed_on_and_keeps_the_entry():
    cache, registry, _ = _cache()
    tenant = await cache.get("acme")
    assert tenant is not None
    when = datetime(2026, 12, 5, tzinfo=UTC)
    await cache.record_use("acme", tenant.digests[0], when)
    assert (await registry.get("acme")).tokens().used == (when,)  # type: ignore[union-attr]
    assert await cache.get("acme") is tenant
    assert [t.name for t in await cache.list()] == ["acme"]


async def test_the_cache_keeps_at_most_its_size_the_oldest_going_first():
    cache, registry, _ = _cache(size=2)
    for name in ("beta", "cyd"):
        registry.add(name, f"token-of-{name}-0123456789")
    for name in ("acme", "beta", "cyd"):
        await cache.get(name)
    reads = registry.reads
    await cache.get("cyd")
    await cache.get("beta")
    assert registry.reads == reads
    await cache.get("acme")  # the oldest, gone when cyd came
    assert registry.reads == reads + 1


@pytest.mark.parametrize(("ttl", "size"), [(0, 10), (-1, 10), (1, 0)])
def test_a_cache_needs_a_positive_time_and_room(ttl: float, size: int):
    with pytest.raises(ValueError):
        CachedTenantRegistry(MemoryTenantRegistry(), ttl, size=size)


def test_the_setting_is_read_bounded_and_needs_mongodb():
    uri = {"SCIMKIT_MONGODB_URI": "mongodb://db:27017"}
    assert load_settings({}, environ={}).tenant_cache_seconds == 0
    environ = {**uri, "SCIMKIT_TENANT_CACHE_SECONDS": "5"}
    assert load_settings({}, environ=environ).tenant_cache_seconds == 5
    assert load_settings({"tenant_cache_seconds": 7}, environ=environ).tenant_cache_seconds == 7
    with pytest.raises(SettingsError, match="0 \\(off\\) to 300"):
        load_settings({"tenant_cache_seconds": 5000}, environ=uri)
    with pytest.raises(SettingsError, match="0 \\(off\\) to 300"):
        load_settings({"tenant_cache_seconds": -1}, environ=uri)
    with pytest.raises(SettingsError, match="needs a MongoDB URI"):
        load_settings({"tenant_cache_seconds": 5}, environ={})
    with pytest.raises(SettingsError, match="integer"):
        load_settings({}, environ={**uri, "SCIMKIT_TENANT_CACHE_SECONDS": "2.5"})


@pytest.mark.mongo
async def test_on_mongodb_a_token_revoked_elsewhere_works_here_until_the_entry_expires(
    mongodb_uri: str,
):
    # Two apps on one database, as two instances: `here` keeps tenants 1 s, `elsewhere` reads
    # them per request. The rotations are made behind both (the CLI's way), then through one.
    name = f"scimkit_test_{uuid.uuid4().hex[:16]}"
    cached = Settings(mongodb_uri=mongodb_uri, mongodb_database=name, tenant_cache_seconds=1)
    uncached = Settings(mongodb_uri=mongodb_uri, mongodb_database=name)
    client: Any = mongo_client(uncached)
    registry = MongoTenantRegistry(client[name]["tenants"])
    try:
        first = await registry.create("acme")
        async with running(cached) as here, running(uncached) as elsewhere:
            assert isinstance(here.state.tenants.registries[-1], CachedTenantRegistry)

            async def status(app: Any, token: str) -> int:
                async with scim_client(app, "acme", token) as scim:
                    return (await scim.get("/Users")).status_code

            assert [await status(app, first) for app in (here, elsewhere)] == [200, 200]
            await registry.rotate("acme")
            third = await registry.rotate("acme")  # `first` is gone from the database
            assert await status(elsewhere, first) == 401
            assert await status(here, first) == 200  # the kept entry, for up to a second
            await asyncio.sleep(1.05)
            assert await status(here, first) == 401
            assert await status(here, third) == 200

            # A rotation through this instance's own registry (the console's way) holds here
            # at once, without waiting for the entry to expire.
            own = await here.state.tenants.registry_of("acme")
            fourth = await own.rotate("acme")
            await own.rotate("acme")  # `third` is gone
            assert await status(here, third) == 401
            assert await status(here, fourth) == 200
    finally:
        await client.drop_database(name)
        await client.close()


@pytest.mark.mongo
async def test_the_console_says_how_long_other_instances_keep_a_revoked_token(mongodb_uri: str):
    name = f"scimkit_test_{uuid.uuid4().hex[:16]}"
    settings = Settings(
        mongodb_uri=mongodb_uri,
        mongodb_database=name,
        tenant_cache_seconds=30,
        admins=(AdminSeed("acme", ADMIN_A, PASSWORD),),
    )
    client: Any = mongo_client(settings)
    try:
        first = await MongoTenantRegistry(client[name]["tenants"]).create("acme")
        async with running(settings) as app, browser_client(app) as browser:
            assert (await sign_in(browser)).status_code == 303
            page = await browser.get("/admin/t/acme/scim")
            await browser.post("/admin/t/acme/scim/generate", data={"csrf": csrf_of(page.text)})
            page = await browser.get("/admin/t/acme/scim")
            revoked = await browser.post(
                "/admin/t/acme/scim/revoke", data={"csrf": csrf_of(page.text)}
            )
            shown = await browser.get(revoked.headers["location"])
            assert "no longer works here" in shown.text
            assert "within 30 seconds" in shown.text
            async with scim_client(app, "acme", first) as old:
                assert (await old.get("/Users")).status_code == 401  # here: at once
    finally:
        await client.drop_database(name)
        await client.close()
