"""The remote consumer (examples/remote.py): RFC 8936 polls, SETs verified against the JWKS."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from benchmarks._entra import headers
from benchmarks._service import resource_types
from examples.accounts import Accounts
from examples.embedded import scim_accounts
from examples.remote import RemoteSync, SetRejected
from scimkit import ENTRA, EventForm, MemoryStore, ResourceService
from scimkit.events import EventPoller, EventSigner
from scimkit.web import BearerTokenAuth, WebOptions, create_scim_app, event_routes, jwks_route
from tests.examples.support import EXPECTED_AUDIT, TENANT, EntraRun

USERS, _ = resource_types()
ORIGIN = "http://scim.test"
TENANT_URL = f"{ORIGIN}/scim/v2/{TENANT}"
SCIM_TOKEN, EVENTS_TOKEN = "entra-secret", "fortes-events"


@pytest.fixture
def service() -> ResourceService:
    return ResourceService(MemoryStore(), resource_types(), tolerance=ENTRA, record_events=True)


@pytest.fixture(params=[EventForm.FULL, EventForm.NOTICE], ids=["full", "notice"])
def form(request: pytest.FixtureRequest) -> EventForm:
    form: EventForm = request.param
    return form


@pytest.fixture
def signer() -> EventSigner:
    return EventSigner.generate()


@pytest.fixture
async def http(service, signer, form) -> AsyncIterator[httpx.AsyncClient]:
    poller = EventPoller(
        service.store.feed,
        signer,
        issuer=lambda tenant: f"{ORIGIN}/scim/v2/{tenant}",
        form=lambda tenant, receiver: form,
        long_poll=0.1,
    )
    app = create_scim_app(
        service,
        WebOptions(authenticate=BearerTokenAuth.from_tokens({TENANT: [SCIM_TOKEN]})),
        routes_after_scim=[
            *event_routes(
                poller, authenticate=BearerTokenAuth.from_tokens({TENANT: [EVENTS_TOKEN]})
            ),
            jwks_route(signer),
        ],
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=ORIGIN) as client:
        yield client


@pytest.fixture
def db_path(tmp_path: Path) -> str:
    return str(tmp_path / "app.sqlite")


@pytest.fixture
def accounts(db_path) -> Iterator[Accounts]:
    accounts = Accounts(db_path)
    yield accounts
    accounts.close()


def remote(http: httpx.AsyncClient, accounts: Accounts, **options: Any) -> RemoteSync:
    return RemoteSync(
        http,
        TENANT_URL,
        accounts,
        USERS,
        events_token=EVENTS_TOKEN,
        scim_token=SCIM_TOKEN,
        audience=options.pop("audience", AUDIENCE),
        **options,
    )


def entra_over_http(http: httpx.AsyncClient) -> EntraRun:
    async def write(method: str, path: str, body: Any) -> Any:
        answer = await http.request(
            method,
            TENANT_URL + path,
            content=None if body is None else orjson.dumps(body),
            headers=headers(SCIM_TOKEN),
        )
        assert answer.status_code in (200, 201, 204), answer.text
        return answer.json() if answer.content else None

    return EntraRun(write)


AUDIENCE = "token0"
"""The receiver's name (the SETs' ``aud``): ``BearerTokenAuth`` names a tenant's tokens by index."""


async def test_the_table_follows_every_entra_step_over_http(http, service, accounts, form):
    sync = remote(http, accounts)
    run = entra_over_http(http)
    for name, step in run.steps():
        await step()
        assert await sync.drain() > 0, name
        assert accounts.all() == await scim_accounts(service, TENANT, USERS), name
    audit = {n: accounts.audit(user.id) for n, user in enumerate(run.users)}
    if form is EventForm.FULL:
        assert audit == EXPECTED_AUDIT
    assert accounts.login_allowed("renamed@contoso.example")
    assert not accounts.login_allowed(run.users[1].user_name)


async def test_lost_acknowledgements_redeliver_without_double_effects(http, service, db_path, form):
    run = entra_over_http(http)
    for _, step in run.steps():
        await step()
    first = Accounts(db_path)
    sync = remote(http, first, max_events=7)
    applied, more = await sync.poll(return_immediately=True)
    assert applied == 7 and more
    first.close()  # the process dies: the 7 SETs are committed but never acknowledged
    second = Accounts(db_path)
    again = remote(http, second, max_events=7)
    await again.drain()
    assert second.all() == await scim_accounts(service, TENANT, USERS)
    audit = {n: second.audit(user.id) for n, user in enumerate(run.users)}
    if form is EventForm.FULL:
        assert audit == EXPECTED_AUDIT
    else:  # notice events are read when handled: the table jumps to the current state
        assert all(len(set(actions)) == len(actions) for actions in audit.values())
    second.close()


async def test_sets_are_verified_against_the_published_keys(http, service, accounts, signer):
    sync = remote(http, accounts)
    await sync.load_keys()
    await service.create(TENANT, USERS, {"userName": "bjensen"})
    (event,) = await service.store.feed.read(TENANT)
    good = signer.encode(event, issuer=TENANT_URL, audience=AUDIENCE)
    assert sync.verify(good)["jti"] == event.jti
    forged = EventSigner.generate()
    forged.kid = signer.kid  # same key id, another key
    with pytest.raises(SetRejected, match="signature"):
        sync.verify(forged.encode(event, issuer=TENANT_URL, audience=AUDIENCE))
    with pytest.raises(SetRejected, match="not for this receiver"):
        sync.verify(signer.encode(event, issuer=f"{ORIGIN}/scim/v2/other", audience=AUDIENCE))
    with pytest.raises(SetRejected, match="not for this receiver"):
        sync.verify(signer.encode(event, issuer=TENANT_URL, audience="someone-else"))
