"""The embedded consumer (examples/embedded.py): an in-process subscriber keeps SQLite in step."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from benchmarks._service import resource_types
from examples.accounts import Accounts
from examples.embedded import EmbeddedSync, scim_accounts
from scimkit import ENTRA, Checkpoint, Event, EventForm, MemoryStore, ResourceService
from tests.examples.support import EXPECTED_AUDIT, TENANT, EntraRun

USERS, GROUPS = resource_types()


@pytest.fixture
def service() -> ResourceService:
    return ResourceService(MemoryStore(), resource_types(), tolerance=ENTRA, record_events=True)


@pytest.fixture
def db_path(tmp_path: Path) -> str:
    return str(tmp_path / "app.sqlite")


@pytest.fixture
def accounts(db_path: str) -> Iterator[Accounts]:
    accounts = Accounts(db_path)
    yield accounts
    accounts.close()


@pytest.fixture
async def sync(service, accounts) -> AsyncIterator[EmbeddedSync]:
    sync = EmbeddedSync(service, TENANT, USERS, accounts)
    await sync.start()
    yield sync
    await sync.stop()


def entra(service: ResourceService) -> EntraRun:
    async def write(method: str, path: str, body: Any) -> Any:
        kind = USERS if path.startswith("/Users") else GROUPS
        id = path.split("/")[2] if path.count("/") == 2 else None
        if method == "POST":
            return await service.create(TENANT, kind, body)
        assert id is not None
        if method == "PATCH":
            return await service.patch(TENANT, kind, id, body)
        await service.delete(TENANT, kind, id)
        return None

    return EntraRun(write)


async def assert_in_step(sync: EmbeddedSync) -> None:
    await sync.caught_up()
    assert sync.accounts.all() == await scim_accounts(sync.service, TENANT, USERS)


def audit_by_user(accounts: Accounts, run: EntraRun) -> dict[int, list[str]]:
    return {n: accounts.audit(user.id) for n, user in enumerate(run.users)}


@pytest.mark.parametrize("form", [EventForm.FULL, EventForm.NOTICE])
async def test_the_table_follows_every_entra_step(service, accounts, form):
    run = entra(service)
    sync = EmbeddedSync(service, TENANT, USERS, accounts, form=form)
    await sync.start()
    for _, step in run.steps():
        await step()
        await assert_in_step(sync)
    await sync.stop()
    users = run.users
    assert not accounts.login_allowed("nobody@contoso.example")
    assert accounts.login_allowed("renamed@contoso.example")
    assert not accounts.login_allowed(users[1].user_name)  # deleted
    assert accounts.login_allowed(users[3].user_name) and accounts.login_allowed(users[4].user_name)
    assert audit_by_user(accounts, run) == EXPECTED_AUDIT


async def test_deactivation_and_login_disabled_refuse_login(service, sync, accounts):
    run = entra(service)
    steps = dict(run.steps())
    await steps["create"]()
    await steps['disable: active "False"']()
    await steps['fcc loginDisabled "True"']()
    await sync.caught_up()
    refused = {run.users[3].user_name, run.users[4].user_name}
    for user in run.users:
        assert accounts.login_allowed(user.user_name) is (user.user_name not in refused)
    admin = accounts.get(run.users[0].id or "")
    assert admin is not None and admin.administrator


async def test_a_restart_mid_stream_resumes_without_loss_or_double_effects(service, db_path):
    run = entra(service)
    steps = run.steps()
    accounts = Accounts(db_path)
    sync = EmbeddedSync(service, TENANT, USERS, accounts)
    await sync.start()
    for index, (_, step) in enumerate(steps):
        await step()
        if index % 2:
            # Stop the application at once, mid-stream (events may be half handled), and start
            # a new one on the same database while SCIM keeps writing.
            await sync.stop()
            accounts.close()
            accounts = Accounts(db_path)
            sync = EmbeddedSync(service, TENANT, USERS, accounts)
            await sync.start()
    await assert_in_step(sync)
    assert audit_by_user(accounts, run) == EXPECTED_AUDIT
    await sync.stop()
    accounts.close()


async def test_a_crash_between_commit_and_the_feeds_checkpoint_applies_once(service, accounts):
    run = entra(service)
    sync = EmbeddedSync(service, TENANT, USERS, accounts)
    crashed: list[int] = []
    handle = sync.handle

    async def crash_after_commit(event: Event) -> None:
        await handle(event)
        if not crashed:
            crashed.append(event.position)
            raise RuntimeError("process died after the commit")  # the feed keeps its checkpoint

    sync.subscription.handler = crash_after_commit
    sync.subscription.backoff = 0.001
    await sync.start()
    for _, step in run.steps():
        await step()
    await assert_in_step(sync)
    await sync.stop()
    assert crashed == [1]
    assert audit_by_user(accounts, run) == EXPECTED_AUDIT


async def test_the_database_position_wins_over_a_feed_checkpoint_left_behind(service, accounts):
    run = entra(service)
    sync = EmbeddedSync(service, TENANT, USERS, accounts)
    await sync.start()
    for _, step in run.steps():
        await step()
    await sync.caught_up()
    await sync.stop()
    feed = sync.feed
    stored = await feed.checkpoint(TENANT, sync.receiver)
    # The feed's checkpoint moved back (its save was lost); the database's position holds.
    assert await feed.save_checkpoint(
        TENANT, sync.receiver, Checkpoint(0), expected=stored.revision
    )
    audit = accounts.audit()
    again = EmbeddedSync(service, TENANT, USERS, accounts)
    await again.start()
    await again.caught_up()
    await again.stop()
    assert (await feed.checkpoint(TENANT, sync.receiver)).position == accounts.position("accounts")
    for event in await feed.read(TENANT, limit=1000):  # a re-delivery of everything is a no-op
        await again.handle(event)
    assert accounts.audit() == audit
