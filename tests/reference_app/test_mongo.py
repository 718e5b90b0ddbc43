"""The reference app on MongoDB: stored tenants, the tenant commands, and a SCIM round trip.

Kept small: the test server (mongoeco) makes every indexed write cost milliseconds.
"""

from __future__ import annotations

import asyncio
import base64
import re
import time
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from reference_app.__main__ import _bootstrap_tenants, main
from reference_app.app import mongo_client
from reference_app.settings import EventsTokenSeed, Settings, TenantSeed
from scimkit.testing._mongo_server import MongoServer
from tests.reference_app.support import patch_body, running, scim_client, scim_json

pytestmark = pytest.mark.mongo

TOKEN_LINE = re.compile(r"Secret Token: (\S+)")
USER_URN = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_URN = "urn:ietf:params:scim:schemas:core:2.0:Group"
FCC = "urn:ietf:params:scim:schemas:extension:fcc:2.0:User"


@pytest.fixture
def settings(mongodb_uri: str, mongo_db_name: str) -> Settings:
    return Settings(mongodb_uri=mongodb_uri, mongodb_database=mongo_db_name)


def _cli(settings: Settings, *argv: str) -> list[str]:
    assert settings.mongodb_uri is not None
    return [
        *argv,
        "--mongodb-uri",
        settings.mongodb_uri,
        "--mongodb-database",
        settings.mongodb_database,
    ]


def _token(output: str) -> str:
    found = TOKEN_LINE.search(output)
    assert found is not None, output
    return found.group(1)


def test_tenant_commands(settings: Settings, capsys: pytest.CaptureFixture[str]):
    assert main(_cli(settings, "tenant", "create", "acme")) == 0
    first = _token(capsys.readouterr().out)
    assert main(_cli(settings, "tenant", "create", "beta", "--strict")) == 0
    capsys.readouterr()
    assert main(_cli(settings, "tenant", "create", "acme")) == 1
    assert "already exists" in capsys.readouterr().err

    assert main(_cli(settings, "tenant", "list")) == 0
    listing = capsys.readouterr().out
    assert re.search(r"^acme\tentra\tcreated \d{4}-\d\d-\d\d", listing, re.MULTILINE)
    assert re.search(r"^beta\tstrict\tcreated ", listing, re.MULTILINE)
    assert first not in listing

    assert (
        main(_cli(settings, "tenant", "rotate", "acme", "--public-url", "https://s.example")) == 0
    )
    rotated = capsys.readouterr().out
    assert "Tenant URL:   https://s.example/scim/v2/acme" in rotated
    second = _token(rotated)
    assert second != first
    assert main(_cli(settings, "tenant", "rotate", "ghost")) == 1
    assert main(_cli(settings, "tenant", "policy", "acme", "strict")) == 0
    assert main(_cli(settings, "tenant", "policy", "ghost", "strict")) == 1
    assert main(_cli(settings, "tenant", "create", "Not/Valid")) == 2


def test_events_token_and_push_commands(settings: Settings, capsys: pytest.CaptureFixture[str]):
    from reference_app.tenants import MongoTenantRegistry, TokenKind

    assert main(_cli(settings, "tenant", "create", "acme")) == 0
    scim_token = _token(capsys.readouterr().out)
    assert main(_cli(settings, "tenant", "events-token", "acme")) == 0
    first = re.search(r"Events token: (\S+)", capsys.readouterr().out)
    assert main(_cli(settings, "tenant", "events-token", "acme")) == 0
    printed = capsys.readouterr().out
    second = re.search(r"Events token: (\S+)", printed)
    assert first is not None and second is not None and first.group(1) != second.group(1)
    assert "reference-app events listen --tenant-url" in printed
    assert main(_cli(settings, "tenant", "events-token", "ghost")) == 1

    assert main(_cli(settings, "tenant", "events-push", "acme", "ftp://x.example")) == 2
    assert "absolute http(s) URL" in capsys.readouterr().err
    assert main(_cli(settings, "tenant", "events-push", "acme", "https://app.example/ev")) == 0
    assert main(_cli(settings, "tenant", "events-push", "ghost", "https://app.example/ev")) == 1

    async def stored() -> Any:
        client = mongo_client(settings)
        try:
            registry = MongoTenantRegistry(client[settings.mongodb_database]["tenants"])
            return await registry.get("acme")
        finally:
            await client.close()

    tenant = asyncio.run(stored())
    # Two kinds, each with its own primary/secondary: the SCIM token was never rotated.
    assert len(tenant.tokens(TokenKind.EVENTS).digests) == 2
    assert len(tenant.digests) == 1 and scim_token not in printed
    assert tenant.events_push == "https://app.example/ev"
    assert main(_cli(settings, "tenant", "events-push", "acme", "--clear")) == 0
    assert asyncio.run(stored()).events_push is None


def test_events_settings_on_a_store_without_a_feed_stop_serve(
    settings: Settings, capsys: pytest.CaptureFixture[str]
):
    # MongoStore records no events yet (or, once it does, needs a shared --events-key): either
    # way serve refuses to start rather than serve an events token that can never poll.
    argv = ["serve", "--tenant", "acme:tok-1", "--events-token", "acme:events-token-1"]
    assert main(_cli(settings, *argv)) == 2
    assert "events" in capsys.readouterr().err


def test_refold_command(settings: Settings, capsys: pytest.CaptureFixture[str]):
    # An empty database has nothing to rewrite; MongoStore.refold's own tests cover the rest.
    assert main(_cli(settings, "refold")) == 0
    assert "Rewrote the folded copies of 0 document(s)." in capsys.readouterr().out
    assert main(["refold"]) == 2


async def test_stored_tenants_serve_scim_and_rotate_without_restart(
    settings: Settings, capsys: pytest.CaptureFixture[str]
):
    # First start: no tenant anywhere, so `default` is created, stored and printed.
    settings = await _bootstrap_tenants(settings)
    token = _token(capsys.readouterr().out)
    assert settings.tenants == ()  # stored in MongoDB, not kept in the process
    # Second start: it exists, nothing is printed again.
    await _bootstrap_tenants(settings)
    assert capsys.readouterr().out == ""

    async with running(settings) as app:
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver"
        ) as root:
            assert (await root.get("/healthz")).json() == {"status": "ok"}
        async with scim_client(app, "default", token) as client:
            probe = await client.get("/Users?filter=userName+eq+%22nobody%22")
            assert probe.status_code == 200 and probe.json()["totalResults"] == 0
            created = await client.post(
                "/Users",
                **scim_json(
                    {
                        "schemas": [USER_URN],
                        "userName": "Ada@Example.com",
                        "active": "True",
                        FCC: {"administrator": "True"},
                    }
                ),
            )
            assert created.status_code == 201
            uid = created.json()["id"]
            assert created.json()[FCC] == {"administrator": True}
            duplicate = await client.post(
                "/Users", **scim_json({"schemas": [USER_URN], "userName": "ada@example.com"})
            )
            assert duplicate.status_code == 409
            disable = patch_body({"op": "Replace", "path": "active", "value": "False"})
            assert (await client.patch(f"/Users/{uid}", **scim_json(disable))).status_code in (
                200,
                204,
            )
            found = await client.get("/Users?filter=userName+eq+%22ADA%40example.com%22")
            assert [u["active"] for u in found.json()["Resources"]] == [False]

            group = await client.post(
                "/Groups", **scim_json({"schemas": [GROUP_URN], "displayName": "Admins"})
            )
            gid = group.json()["id"]
            add = patch_body({"op": "Add", "path": "members", "value": [{"value": uid}]})
            assert (await client.patch(f"/Groups/{gid}", **scim_json(add))).status_code in (
                200,
                204,
            )
            members = (await client.get(f"/Groups/{gid}")).json()["members"]
            assert [m["value"] for m in members] == [uid]
            again = await client.post(
                "/Groups", **scim_json({"schemas": [GROUP_URN], "displayName": "admins"})
            )
            assert again.status_code == 409

        # Rotate while serving: the next request sees the new token, the old one still works.
        assert await asyncio.to_thread(main, _cli(settings, "tenant", "rotate", "default")) == 0
        rotated = _token(capsys.readouterr().out)
        async with (
            scim_client(app, "default", token) as old,
            scim_client(app, "default", rotated) as new,
        ):
            assert (await old.get("/Users")).status_code == 200
            assert (await new.get("/Users")).status_code == 200

        # Another stored tenant sees none of default's data, and default's token is useless there.
        assert await asyncio.to_thread(main, _cli(settings, "tenant", "create", "other")) == 0
        other_token = _token(capsys.readouterr().out)
        async with scim_client(app, "other", other_token) as other:
            assert (await other.get("/Users")).json()["totalResults"] == 0
            assert (await other.get(f"/Users/{uid}")).status_code == 404
        async with scim_client(app, "other", rotated) as wrong:
            assert (await wrong.get("/Users")).status_code == 401


async def test_process_tenants_layer_over_stored_ones(
    settings: Settings,
    capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
):
    assert await asyncio.to_thread(main, _cli(settings, "tenant", "create", "acme")) == 0
    stored_token = _token(capsys.readouterr().out)
    settings = Settings(
        mongodb_uri=settings.mongodb_uri,
        mongodb_database=settings.mongodb_database,
        tenants=(TenantSeed("acme", "process-token-0123456789"),),
    )
    assert await _bootstrap_tenants(settings) == settings  # a tenant is given: no default
    assert capsys.readouterr().out == ""
    assert any("also stored in MongoDB" in r.getMessage() for r in caplog.records)
    async with running(settings) as app:
        async with scim_client(app, "acme", "process-token-0123456789") as process:
            assert (await process.get("/Groups")).status_code == 200
        async with scim_client(app, "acme", stored_token) as stored:
            assert (await stored.get("/Groups")).status_code == 401


async def test_healthz_reports_an_unreachable_database(
    mongo_server: MongoServer, mongo_db_name: str
):
    settings = Settings(
        # A short server selection keeps the "database down" answers quick.
        mongodb_uri=mongo_server.uri + "&serverSelectionTimeoutMS=1000",
        mongodb_database=mongo_db_name,
        tenants=(TenantSeed("acme", "process-token-0123456789"),),
    )
    async with (
        running(settings) as app,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://testserver"
        ) as root,
    ):
        assert (await root.get("/healthz")).status_code == 200
        mongo_server.stop()
        response = await root.get("/healthz")
        assert response.status_code == 503
        assert response.json() == {"status": "unavailable"}
        # SCIM requests answer 503 (Entra retries), whether the tenant is kept in the process
        # or would have to be read from the database.
        token = {"Authorization": "Bearer process-token-0123456789"}
        for path in ("/scim/v2/acme/Users", "/scim/v2/stored/Users"):
            failed = await root.get(path, headers=token)
            assert failed.status_code == 503, path
            assert failed.json()["status"] == "503"
        mongo_server.start()
        # The driver notices the server is back on its next check: allow it a few seconds.
        deadline = time.monotonic() + 15
        while (await root.get("/healthz")).status_code != 200:
            assert time.monotonic() < deadline, "still unhealthy after the database came back"
            await asyncio.sleep(0.2)


def test_tenant_admin_command_reads_the_password_from_stdin(
    settings: Settings, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
):
    import io

    from reference_app.admin.accounts import AdminDirectory, MongoAdminRegistry
    from reference_app.app import mongo_database

    assert main(_cli(settings, "tenant", "create", "acme")) == 0
    monkeypatch.setattr("sys.stdin", io.StringIO("a long enough password\n"))
    assert main(_cli(settings, "tenant", "admin", "acme", "Ada@Example.com")) == 0
    assert "created" in capsys.readouterr().out
    monkeypatch.setattr("sys.stdin", io.StringIO("short\n"))
    assert main(_cli(settings, "tenant", "admin", "acme", "ada@example.com")) == 2
    monkeypatch.setattr("sys.stdin", io.StringIO("a long enough password\n"))
    assert main(_cli(settings, "tenant", "admin", "ghost", "ada@example.com")) == 1

    async def sign_in() -> list[str]:
        async with mongo_database(settings) as database:
            admins = AdminDirectory([MongoAdminRegistry(database)])
            return await admins.sign_in("ada@example.com", "a long enough password")

    assert asyncio.run(sign_in()) == ["acme"]


async def test_first_start_on_mongodb_prints_a_console_link(
    settings: Settings, capsys: pytest.CaptureFixture[str]
):
    await _bootstrap_tenants(settings)
    link = re.search(r"/admin/link/(\S+)", capsys.readouterr().out)
    assert link is not None
    async with running(settings) as app:
        assert await app.state.admins.redeem_link(link.group(1)) == "default"


async def test_the_client_gives_up_server_selection_after_5_seconds():
    """Issue 12 §5: not the driver's 30 s; a serverSelectionTimeoutMS in the URI still wins."""
    default = mongo_client(Settings(mongodb_uri="mongodb://127.0.0.1:1/"))
    chosen = mongo_client(
        Settings(mongodb_uri="mongodb://127.0.0.1:1/?serverSelectionTimeoutMS=700")
    )
    try:
        assert default.options.server_selection_timeout == 5.0
        assert chosen.options.server_selection_timeout == 0.7
    finally:
        await default.close()
        await chosen.close()


async def test_events_on_mongodb_reach_a_poller_in_order(settings: Settings, tmp_path: Path):
    # The MongoDB feed (outbox drained off the request path) wired through the app: a
    # process tenant with an events token, the shared signing key given as a file.
    events_token = "events-token-of-acme-on-mongo-0123"
    configured = Settings(
        mongodb_uri=settings.mongodb_uri,
        mongodb_database=settings.mongodb_database,
        tenants=(TenantSeed("acme", "tok-acme-0123456789abcdef"),),
        events_tokens=(EventsTokenSeed("acme", events_token),),
        events_key=str(tmp_path / "events-key.pem"),
    )
    async with running(configured) as app:
        async with scim_client(app, "acme", "tok-acme-0123456789abcdef") as scim:
            body = {"schemas": [USER_URN], "userName": "ada@acme.example", "externalId": "ada"}
            created = await scim.post("/Users", **scim_json(body))
            assert created.status_code == 201, created.text
            user = created.json()
            disable = patch_body({"op": "Replace", "path": "active", "value": "False"})
            patched = await scim.patch(f"/Users/{user['id']}", **scim_json(disable))
            assert patched.status_code == 200, patched.text
            assert (await scim.delete(f"/Users/{user['id']}")).status_code == 204
        async with scim_client(app, "acme", events_token) as events:
            types: list[str] = []
            deadline = time.monotonic() + 20
            while len(types) < 4 and time.monotonic() < deadline:
                answer = await events.post(
                    "/Events", json={"returnImmediately": False, "maxEvents": 10}
                )
                assert answer.status_code == 200, answer.text
                sets = answer.json()["sets"]
                for compact in sets.values():
                    claims = _claims(compact)
                    (uri,) = claims["events"]
                    kind = re.search(r"prov:[a-z]+", uri)
                    assert kind is not None, uri
                    types.append(kind.group(0))
                    assert claims["sub_id"]["uri"] == f"/Users/{user['id']}"
                if sets:
                    await events.post("/Events", json={"ack": list(sets), "maxEvents": 0})
    assert types == ["prov:create", "prov:patch", "prov:deactivate", "prov:delete"], types


def _claims(compact: str) -> dict[str, Any]:
    # Signatures are verified against the JWKS in tests/reference_app/test_events.py.
    payload = compact.split(".")[1]
    decoded: dict[str, Any] = orjson.loads(
        base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    )
    return decoded
