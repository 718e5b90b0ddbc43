"""Database faults: MongoDB unreachable at start and during a run, and writes cut in half.

The server is a private mongoeco process the test stops and starts on the same port. While it
is away every SCIM request that needs it answers 503 with ``Retry-After`` and a SCIM Error
(the service is unavailable, not the request at fault; Entra escrows the object and retries
it, entra-quirks §E), and the same app object serves again once it is back. Writes that span
documents (deleting a user and its memberships, a PATCH of members) are interrupted between
their documents by stopping the server from a driver command listener, then retried: the data
must end up consistent.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pymongo import AsyncMongoClient, monitoring

from reference_app.settings import Settings, TenantSeed
from scimkit.store import ResourceStore
from scimkit.testing._mongo_server import MongoServer
from tests.hardening.support import (
    BULK_SCHEMA,
    SEARCH_SCHEMA,
    TENANT_A,
    TOKEN_A,
    check_error,
    check_response,
    client_for,
    count,
    group_body,
    make_app,
    patch_body,
    user_body,
)
from tests.mongo_fixtures import require_mongoeco
from tests.reference_app.support import running

# A killed server leaves sockets for the collector: collected at each test's end.
pytestmark = [pytest.mark.mongo, pytest.mark.usefixtures("collect_dropped_sockets")]

# Short timeouts: a request to a stopped server fails in well under a second.
TIMEOUTS: dict[str, Any] = {
    "serverSelectionTimeoutMS": 400,
    "connectTimeoutMS": 400,
    "socketTimeoutMS": 2000,
}
URI_TIMEOUTS = "&".join(f"{key}={value}" for key, value in TIMEOUTS.items())


class StopServerOn(monitoring.CommandListener):
    """Stops the server just before the first command that ``when`` picks is sent.

    The command then fails on the wire, as if the database had crashed at that moment.
    """

    def __init__(self, server: MongoServer) -> None:
        self.server = server
        self.when: Callable[[monitoring.CommandStartedEvent], bool] | None = None
        self.fired = 0

    def started(self, event: monitoring.CommandStartedEvent) -> None:
        if self.when is not None and self.when(event):
            self.when = None
            self.fired += 1
            count("faults")
            self.server.stop()

    def succeeded(self, event: monitoring.CommandSucceededEvent) -> None:
        pass

    def failed(self, event: monitoring.CommandFailedEvent) -> None:
        pass


def writes_memberships(event: monitoring.CommandStartedEvent) -> bool:
    """A write to the membership collection (``scim_`` is MongoStore's default prefix)."""
    name = event.command_name
    return name in ("insert", "update", "delete") and event.command.get(name) == "scim_memberships"


@pytest.fixture
def persistent_server(tmp_path: Path) -> Iterator[MongoServer]:
    """A private server whose data (and indexes) survive a stop and start (sqlite engine)."""
    require_mongoeco()
    with MongoServer(sqlite_path=tmp_path / "mongo.sqlite") as server:
        yield server


@pytest.fixture
def listener(persistent_server: MongoServer) -> StopServerOn:
    return StopServerOn(persistent_server)


@pytest.fixture
async def persistent_store(
    persistent_server: MongoServer, listener: StopServerOn, mongo_db_name: str
) -> AsyncIterator[ResourceStore]:
    from scimkit.mongo import MongoStore

    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        persistent_server.uri, tz_aware=True, event_listeners=[listener], **TIMEOUTS
    )
    try:
        # A short deadline: calls on the stopped server answer 503 in 2 s, not the default 5 s.
        store = MongoStore(client[mongo_db_name], operation_timeout=2.0)
        await store.ensure_indexes()
        yield store
    finally:
        await client.close()


def unavailable(response: httpx.Response) -> None:
    """A 503 SCIM Error that tells the client when to retry."""
    count("fault responses")
    assert response.status_code == 503, response.text
    body = check_error(response)
    assert "scimType" not in body
    retry_after = response.headers.get("retry-after", "")
    assert retry_after.isdigit() and int(retry_after) > 0, response.headers


async def back_up(server: MongoServer, store: ResourceStore) -> None:
    """Start the server again and wait until the store's client has reconnected.

    A pooled connection from before the stop fails once (PyMongo then clears the pool); a
    write on it is not retried by the driver on a standalone server, so without this wait the
    first request after a restart can answer 503 under load. Entra would retry that 503; the
    tests below assert what the retry finds, so they wait for the store first.
    """
    server.start()
    deadline = asyncio.get_running_loop().time() + 20
    answered = 0
    while answered < 2:
        answered = answered + 1 if await store.ping() else 0
        assert asyncio.get_running_loop().time() < deadline, "the store did not reconnect"
        if answered < 2:
            await asyncio.sleep(0.05)


async def every_operation(client: httpx.AsyncClient, user: str, group: str) -> list[httpx.Response]:
    """One request per SCIM operation that needs the database."""
    patch = patch_body({"op": "replace", "path": "displayName", "value": "X"})
    return [
        await client.get("/Users"),
        await client.get("/Users", params={"filter": 'userName eq "a@example.com"'}),
        await client.get("/Groups", params={"filter": f'members eq "{user}"'}),
        await client.get(f"/Users/{user}"),
        await client.post("/Users", json=user_body("new@example.com")),
        await client.put(f"/Users/{user}", json=user_body("a@example.com", title="T")),
        await client.patch(f"/Users/{user}", json=patch),
        await client.patch(
            f"/Groups/{group}",
            json=patch_body({"op": "add", "path": "members", "value": [{"value": "x"}]}),
        ),
        await client.delete(f"/Users/{user}"),
        await client.post("/Users/.search", json={"schemas": [SEARCH_SCHEMA]}),
        await client.post("/.search", json={"schemas": [SEARCH_SCHEMA]}),
    ]


async def check_all_unavailable(client: httpx.AsyncClient, user: str, group: str) -> None:
    for response in await every_operation(client, user, group):
        unavailable(response)
    bulk = {
        "schemas": [BULK_SCHEMA],
        "Operations": [
            {"method": "POST", "path": "/Users", "bulkId": "b", "data": user_body("b@x")}
        ],
    }
    response = await client.post("/Bulk", json=bulk)
    check_response(response, "fault")
    # Bulk reports per operation (RFC 7644 §3.7.3): the operation failed with a 503 Error.
    (result,) = response.json()["Operations"]
    assert result["status"] == "503" and result["response"]["status"] == "503", result
    # Discovery needs no database.
    assert (await client.get("/ServiceProviderConfig")).status_code == 200


# -- the library: MongoStore under create_scim_app ------------------------------------------------


async def test_unreachable_at_start_then_serves_without_restart(mongo_db_name: str):
    from scimkit.mongo import MongoStore

    require_mongoeco()
    server = MongoServer()  # not started: nothing listens on its port yet
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        server.uri, tz_aware=True, **TIMEOUTS
    )
    try:
        # Indexes come on first use; calls answer 503 within the 1 s deadline meanwhile.
        store = MongoStore(client[mongo_db_name], operation_timeout=1.0)
        app = make_app(store)
        async with client_for(app, TENANT_A, TOKEN_A) as scim:
            count("faults")
            assert await store.ping() is False
            await check_all_unavailable(scim, "some-id", "other-id")
            with server:
                assert await store.ping() is True
                created = await scim.post("/Users", json=user_body("a@example.com"))
                assert created.status_code == 201, created.text
                # The unique indexes were made on that first use: uniqueness holds.
                again = await scim.post("/Users", json=user_body("A@EXAMPLE.COM"))
                assert again.status_code == 409, again.text
                listed = await scim.get("/Users")
                assert listed.json()["totalResults"] == 1
    finally:
        await client.close()
        server.stop()


async def test_server_stops_mid_run_and_the_same_app_recovers(
    persistent_server: MongoServer, persistent_store: ResourceStore
):
    app = make_app(persistent_store)
    async with client_for(app, TENANT_A, TOKEN_A) as scim:
        user = (await scim.post("/Users", json=user_body("a@example.com"))).json()
        group = (await scim.post("/Groups", json=group_body("G", [user["id"]]))).json()
        persistent_server.stop()
        count("faults")
        assert await persistent_store.ping() is False
        await check_all_unavailable(scim, user["id"], group["id"])
        persistent_server.start()
        assert await persistent_store.ping() is True
        # Nothing was written while it was away; everything is as before.
        again = await scim.get(f"/Users/{user['id']}")
        assert again.status_code == 200 and again.json() == user | {
            "groups": again.json()["groups"]
        }
        assert again.json()["meta"]["version"] == user["meta"]["version"]
        members = (await scim.get(f"/Groups/{group['id']}")).json()["members"]
        assert [m["value"] for m in members] == [user["id"]]
        assert (await scim.get("/Users")).json()["totalResults"] == 1
        # And it writes again, with uniqueness still enforced.
        assert (await scim.post("/Users", json=user_body("b@example.com"))).status_code == 201
        assert (await scim.post("/Users", json=user_body("B@example.com"))).status_code == 409


async def test_memory_engine_server_restart(mongo_server: MongoServer, mongo_db_name: str):
    """The session-style server (in-memory engine): 503 while down, 2xx once back."""
    from scimkit.mongo import MongoStore

    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        mongo_server.uri, tz_aware=True, **TIMEOUTS
    )
    try:
        app = make_app(MongoStore(client[mongo_db_name], operation_timeout=2.0))
        async with client_for(app, TENANT_A, TOKEN_A) as scim:
            assert (await scim.post("/Users", json=user_body("a@example.com"))).status_code == 201
            mongo_server.stop()
            count("faults")
            unavailable(await scim.get("/Users"))
            unavailable(await scim.post("/Users", json=user_body("b@example.com")))
            mongo_server.start()  # comes back empty: the in-memory engine kept nothing
            assert (await scim.get("/Users")).status_code == 200
            assert (await scim.post("/Users", json=user_body("b@example.com"))).status_code == 201
    finally:
        await client.close()


# -- writes that span documents ------------------------------------------------------------------


async def _member_ids(scim: httpx.AsyncClient, group: str) -> set[str]:
    response = await scim.get(f"/Groups/{group}")
    assert response.status_code == 200, response.text
    return {m["value"] for m in response.json().get("members", [])}


async def _group_ids(scim: httpx.AsyncClient, user: str) -> set[str]:
    response = await scim.get(f"/Users/{user}")
    assert response.status_code == 200, response.text
    return {g["value"] for g in response.json().get("groups", [])}


async def test_delete_cut_between_user_and_memberships_is_safely_retried(
    persistent_server: MongoServer, persistent_store: ResourceStore, listener: StopServerOn
):
    app = make_app(persistent_store)
    async with client_for(app, TENANT_A, TOKEN_A) as scim:
        users = [
            (await scim.post("/Users", json=user_body(f"u{n}@example.com"))).json()["id"]
            for n in range(3)
        ]
        groups = [
            (await scim.post("/Groups", json=group_body(name, users))).json()["id"]
            for name in ("G1", "G2")
        ]
        doomed = users[0]
        listener.when = writes_memberships
        response = await scim.delete(f"/Users/{doomed}")
        assert listener.fired == 1
        unavailable(response)
        await back_up(persistent_server, persistent_store)
        # Entra retries a 503: the retry completes the delete (404: the user is gone).
        retried = await scim.delete(f"/Users/{doomed}")
        assert retried.status_code in (204, 404), retried.text
        assert (await scim.get(f"/Users/{doomed}")).status_code == 404
        for group in groups:
            assert await _member_ids(scim, group) == set(users[1:])
        found = await scim.get("/Groups", params={"filter": f'members eq "{doomed}"'})
        assert found.json()["totalResults"] == 0
        for user in users[1:]:
            assert await _group_ids(scim, user) == set(groups)


async def test_a_half_done_user_delete_is_completed_by_its_retry(
    persistent_server: MongoServer, persistent_store: ResourceStore, listener: StopServerOn
):
    """A delete cut short is completed by its retry (the guarantee docs/storage.md gives).

    The 503 makes the client retry; the retried DELETE clears the memberships left behind.
    """
    app = make_app(persistent_store)
    async with client_for(app, TENANT_A, TOKEN_A) as scim:
        user = (await scim.post("/Users", json=user_body("gone@example.com"))).json()["id"]
        group = (await scim.post("/Groups", json=group_body("G", [user]))).json()["id"]
        listener.when = writes_memberships
        unavailable(await scim.delete(f"/Users/{user}"))
        await back_up(persistent_server, persistent_store)
        assert (await scim.get(f"/Users/{user}")).status_code == 404
        assert (await scim.delete(f"/Users/{user}")).status_code == 404
        assert await _member_ids(scim, group) == set()


async def test_delete_of_a_group_cut_short_leaves_no_visible_membership(
    persistent_server: MongoServer, persistent_store: ResourceStore, listener: StopServerOn
):
    app = make_app(persistent_store)
    async with client_for(app, TENANT_A, TOKEN_A) as scim:
        user = (await scim.post("/Users", json=user_body("m@example.com"))).json()["id"]
        group = (await scim.post("/Groups", json=group_body("G", [user]))).json()["id"]
        listener.when = writes_memberships
        unavailable(await scim.delete(f"/Groups/{group}"))
        await back_up(persistent_server, persistent_store)
        # Before any retry, the user's derived groups skip the deleted group.
        assert await _group_ids(scim, user) == set()
        assert (await scim.delete(f"/Groups/{group}")).status_code in (204, 404)
        assert await _group_ids(scim, user) == set()


async def test_member_patch_cut_after_the_group_write_is_safely_retried(
    persistent_server: MongoServer, persistent_store: ResourceStore, listener: StopServerOn
):
    app = make_app(persistent_store)
    async with client_for(app, TENANT_A, TOKEN_A) as scim:
        users = [
            (await scim.post("/Users", json=user_body(f"p{n}@example.com"))).json()["id"]
            for n in range(3)
        ]
        group = (await scim.post("/Groups", json=group_body("G", users[:1]))).json()["id"]
        operations = patch_body(
            {"op": "add", "path": "members", "value": [{"value": u} for u in users[1:]]},
            {"op": "remove", "path": f'members[value eq "{users[0]}"]'},
            {"op": "replace", "path": "displayName", "value": "Renamed"},
        )
        listener.when = writes_memberships
        unavailable(await scim.patch(f"/Groups/{group}", json=operations))
        await back_up(persistent_server, persistent_store)
        retried = await scim.patch(f"/Groups/{group}", json=operations)
        # The remove's filter may match nothing on a retry if the first attempt got that far.
        assert retried.status_code in (200, 204) or (
            retried.status_code == 400 and check_error(retried)["scimType"] == "noTarget"
        ), retried.text
        assert await _member_ids(scim, group) == set(users[1:])
        final = (await scim.get(f"/Groups/{group}")).json()
        assert final["displayName"] == "Renamed"
        for user in users:
            assert await _group_ids(scim, user) == ({group} if user != users[0] else set())


# -- the reference app -----------------------------------------------------------------------------

TOKEN = "process-token-0123456789abcdef"


def _settings(server: MongoServer, database: str) -> Settings:
    return Settings(
        mongodb_uri=f"{server.uri}&{URI_TIMEOUTS}",
        mongodb_database=database,
        tenants=(TenantSeed("acme", TOKEN),),
    )


async def test_reference_app_reports_and_survives_a_database_outage(
    mongo_server: MongoServer, mongo_db_name: str
):
    async with (
        running(_settings(mongo_server, mongo_db_name)) as app,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver"
        ) as root,
        client_for(app, "acme", TOKEN) as scim,
    ):
        assert (await root.get("/healthz")).status_code == 200
        user = (await scim.post("/Users", json=user_body("a@example.com"))).json()["id"]
        mongo_server.stop()
        count("faults")
        health = await root.get("/healthz")
        assert health.status_code == 503
        unavailable(await scim.get("/Users"))
        unavailable(await scim.get(f"/Users/{user}"))
        unavailable(await scim.post("/Users", json=user_body("b@example.com")))
        # A tenant stored in MongoDB cannot be looked up either: 503 too, never a 500.
        async with client_for(app, "stored", "some-token") as stored:
            unavailable(await stored.get("/Users"))
        mongo_server.start()
        assert (await root.get("/healthz")).status_code == 200
        assert (await scim.get("/Users")).status_code == 200


async def test_reference_app_starts_without_its_database_and_recovers(
    mongo_db_name: str,
):
    require_mongoeco()
    server = MongoServer()  # not started
    try:
        async with (
            running(_settings(server, mongo_db_name)) as app,
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://testserver"
            ) as root,
            client_for(app, "acme", TOKEN) as scim,
        ):
            count("faults")
            assert (await root.get("/healthz")).status_code == 503
            unavailable(await scim.get("/Users"))
            server.start()
            assert (await root.get("/healthz")).status_code == 200
            assert (await scim.post("/Users", json=user_body("a@example.com"))).status_code == 201
            again = await scim.post("/Users", json=user_body("A@example.com"))
            assert again.status_code == 409, "unique indexes must exist after recovery"
    finally:
        server.stop()


async def test_a_stalled_server_answers_503_within_the_store_deadline(
    mongo_server: MongoServer, mongo_db_name: str
):
    """Issue 12 §5: a stuck database costs a request at most ``operation_timeout``, then 503.

    The client has the driver's default timeouts (30 s server selection, no socket timeout):
    only the store's deadline bounds the wait.
    """
    from scimkit.mongo import MongoStore

    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(mongo_server.uri, tz_aware=True)
    try:
        store = MongoStore(client[mongo_db_name], operation_timeout=0.5)
        async with client_for(make_app(store), TENANT_A, TOKEN_A) as scim:
            count("faults")
            created = await scim.post("/Users", json=user_body("a@example.com"))
            user = created.json()["id"]
            patch = patch_body({"op": "replace", "path": "displayName", "value": "A"})
            with mongo_server.stalled():
                for request in (
                    scim.get(f"/Users/{user}"),
                    scim.get("/Users", params={"filter": 'userName eq "a@example.com"'}),
                    scim.patch(f"/Users/{user}", json=patch),
                    scim.post("/Users", json=user_body("b@example.com")),
                ):
                    started = time.monotonic()
                    response = await request
                    assert time.monotonic() - started < 2.5
                    unavailable(response)
                    assert int(response.headers["Retry-After"]) > 0
            assert (await scim.get(f"/Users/{user}")).status_code == 200
    finally:
        await client.close()
