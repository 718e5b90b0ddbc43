"""Provisioning events in the reference app: settings, events tokens, /Events, JWKS, push."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from joserfc import jws
from joserfc.jwk import KeySet

from reference_app.app import create_app, events_feed
from reference_app.events import POLL_RECEIVER
from reference_app.listen import describe, jwks_url_of
from reference_app.settings import (
    EventsPushSeed,
    EventsTokenSeed,
    Settings,
    SettingsError,
    load_settings,
    worker_environ,
)
from reference_app.tenants import MemoryTenantRegistry, TokenKind
from tests.reference_app.receiver import Receiver, receiving
from tests.reference_app.support import (
    TOKEN_A,
    patch_body,
    running,
    scim_client,
    scim_json,
    two_tenants,
)

EVENTS_A = "events-token-of-acme-0123456789"
EVENTS_B = "events-token-of-beta-0123456789"
USER = "urn:ietf:params:scim:schemas:core:2.0:User"


def _events_settings(**changes: Any) -> Settings:
    return two_tenants(
        events_tokens=(EventsTokenSeed("acme", EVENTS_A), EventsTokenSeed("beta", EVENTS_B)),
        **changes,
    )


async def _create_user(client: httpx.AsyncClient, name: str, **extra: Any) -> dict[str, Any]:
    body = {"schemas": [USER], "userName": name, **extra}
    response = await client.post("/Users", **scim_json(body))
    assert response.status_code == 201, response.text
    result: dict[str, Any] = response.json()
    return result


async def _poll(client: httpx.AsyncClient, **body: Any) -> httpx.Response:
    return await client.post("/Events", json={"returnImmediately": True, **body})


# -- settings ---------------------------------------------------------------------------------


def test_events_settings_from_the_environment_and_for_workers(tmp_path: Path):
    key = str(tmp_path / "key.pem")
    environ = {
        "SCIMKIT_TENANTS": "acme:tok-1",
        "SCIMKIT_EVENTS_TOKENS": f"acme:{EVENTS_A}",
        "SCIMKIT_EVENTS_PUSH": "acme:https://app.example.com/events",
        "SCIMKIT_EVENTS_KEY": key,
    }
    settings = load_settings({}, environ)
    assert settings.events_tokens == (EventsTokenSeed("acme", EVENTS_A),)
    assert settings.events_push == (EventsPushSeed("acme", "https://app.example.com/events"),)
    assert settings.events_key == key and settings.events
    assert EVENTS_A not in repr(settings)
    assert load_settings({}, worker_environ(settings)) == settings
    assert not load_settings({}, {"SCIMKIT_EVENTS": "off"}).events


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"events_push": ["acme:ftp://example.com/x"]}, "absolute http"),
        ({"events_push": ["acme"]}, "TENANT:URL"),
        ({"events_tokens": ["acme:bad token"]}, "visible ASCII"),
        ({"events_tokens": [f"acme:{EVENTS_A}", f"acme:{EVENTS_B}"]}, "given twice"),
        ({"events": "off", "events_tokens": [f"acme:{EVENTS_A}"]}, "need events on"),
        ({"events": "maybe"}, "on or off"),
    ],
)
def test_bad_events_settings_are_refused(overrides: dict[str, Any], message: str):
    with pytest.raises(SettingsError, match=message):
        load_settings({"tenants": ["acme:tok-1"], **overrides}, {})


def test_events_settings_name_process_tenants():
    with pytest.raises(SettingsError, match="not a process tenant"):
        create_app(two_tenants(events_tokens=(EventsTokenSeed("ghost", EVENTS_A),)))


def test_a_store_without_a_feed_refuses_events_settings():
    class NoFeed:
        pass

    settings = _events_settings()
    with pytest.raises(SettingsError, match="NoFeed does not"):
        events_feed(settings, NoFeed())  # type: ignore[arg-type]
    assert events_feed(two_tenants(), NoFeed()) is None  # type: ignore[arg-type]


def test_the_signing_key_is_made_and_kept(tmp_path: Path):
    key = tmp_path / "events.pem"
    first = create_app(_events_settings(events_key=str(key))).state.events.signer
    assert key.stat().st_mode & 0o777 == 0o600
    again = create_app(_events_settings(events_key=str(key))).state.events.signer
    assert again.kid == first.kid


def test_events_off_means_no_feed_and_no_routes():
    app = create_app(two_tenants(events=False))
    assert app.state.events is None
    assert not app.state.service.record_events


# -- poll -------------------------------------------------------------------------------------


async def test_an_events_token_polls_and_a_scim_token_does_not():
    async with running(_events_settings()) as app:
        async with scim_client(app, "acme", TOKEN_A) as scim:
            user = await _create_user(scim, "ada@acme.example", externalId="ada")
            assert (await _poll(scim)).status_code == 401  # a SCIM token at /Events
        async with scim_client(app, "acme", EVENTS_A) as events:
            assert (await events.get("/Users")).status_code == 401  # an events token at SCIM
            answer = await _poll(events)
            assert answer.status_code == 200
            sets = answer.json()["sets"]
            assert len(sets) == 1
            root = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")
            async with root:
                jwks = (await root.get("/.well-known/jwks.json")).json()
            ((jti, compact),) = sets.items()
            verified = jws.deserialize_compact(compact, KeySet.import_key_set(jwks))
            claims = orjson.loads(verified.payload)
            assert claims["iss"] == "http://127.0.0.1:8000/scim/v2/acme"
            assert claims["sub_id"] == {
                "format": "scim",
                "uri": f"/Users/{user['id']}",
                "externalId": "ada",
            }
            assert "prov:create" in describe(claims) and "userName=ada@acme.example" in describe(
                claims
            )
            # Acknowledged: not delivered again.
            assert (await _poll(events, ack=[jti])).json()["sets"] == {}


async def test_feeds_and_tokens_are_per_tenant():
    async with running(_events_settings()) as app:
        async with scim_client(app, "acme", TOKEN_A) as scim:
            await _create_user(scim, "ada@acme.example")
        async with scim_client(app, "beta", EVENTS_A) as wrong:
            assert (await _poll(wrong)).status_code == 401
        async with scim_client(app, "beta", EVENTS_B) as beta:
            assert (await _poll(beta)).json()["sets"] == {}


async def test_a_rotated_events_token_keeps_the_receivers_place():
    async with running(_events_settings()) as app:
        async with scim_client(app, "acme", TOKEN_A) as scim:
            await _create_user(scim, "ada@acme.example")
            await _create_user(scim, "bob@acme.example")
        registry = await app.state.tenants.registry_of("acme")
        async with scim_client(app, "acme", EVENTS_A) as old:
            first = (await _poll(old, maxEvents=1)).json()["sets"]
            new_token = await registry.rotate("acme", TokenKind.EVENTS)
            # The old token is the secondary now; the new one continues the same receiver.
            async with scim_client(app, "acme", new_token) as new:
                second = (await _poll(new, ack=list(first))).json()["sets"]
                assert len(second) == 1 and not set(second) & set(first)
            assert await registry.revoke_secondary("acme", TokenKind.EVENTS)
            assert (await _poll(old)).status_code == 401
        # The SCIM token was not touched by any of it.
        async with scim_client(app, "acme", TOKEN_A) as scim:
            assert (await scim.get("/Users")).status_code == 200


async def test_an_events_tokens_use_is_noted_on_its_own_kind():
    async with running(_events_settings()) as app:
        async with scim_client(app, "acme", EVENTS_A) as events:
            assert (await _poll(events)).status_code == 200
        await app.state.token_use.flush()
        tenant = await app.state.tenants.get("acme")
        assert tenant.tokens(TokenKind.EVENTS).used[0] is not None
        assert tenant.tokens(TokenKind.SCIM).used[0] is None


async def test_polls_are_not_in_the_request_log():
    async with running(_events_settings()) as app:
        async with scim_client(app, "acme", EVENTS_A) as events:
            assert (await _poll(events)).status_code == 200
        async with scim_client(app, "acme", TOKEN_A) as scim:
            await scim.get("/Users")
        await app.state.activity.flush()
        records = await app.state.request_log.find("acme", _everything())
        assert [record.path for record in records] == ["/Users"]


def _everything() -> Any:
    from reference_app.request_log import RequestQuery

    return RequestQuery(limit=50)


async def test_memory_registry_events_tokens_are_their_own_kind():
    registry = MemoryTenantRegistry()
    registry.add("acme", TOKEN_A)
    tenant = await registry.get("acme")
    assert tenant is not None and tenant.tokens(TokenKind.EVENTS).digests == ()
    token = await registry.rotate("acme", TokenKind.EVENTS)
    assert token != TOKEN_A
    tenant = await registry.get("acme")
    assert tenant is not None
    assert len(tenant.events_digests) == 1 and len(tenant.digests) == 1
    assert not await registry.revoke_secondary("acme", TokenKind.EVENTS)
    await registry.set_events_push("acme", "https://app.example.com/events")
    assert (await registry.get("acme")).events_push == "https://app.example.com/events"  # type: ignore[union-attr]


def test_the_jwks_is_at_the_root_of_the_tenant_url():
    assert (
        jwks_url_of("https://scim.example.com/scim/v2/acme")
        == "https://scim.example.com/.well-known/jwks.json"
    )


def test_describe_names_patch_operations():
    claims = {
        "iat": 0,
        "sub_id": {"format": "scim", "uri": "/Users/1"},
        "events": {
            "urn:ietf:params:scim:event:prov:patch:full": {
                "data": {
                    "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                    "Operations": [{"op": "replace", "path": "active", "value": False}],
                }
            }
        },
    }
    assert describe(claims) == "1970-01-01T00:00:00Z  prov:patch  /Users/1  changed: replace active"


# -- push -------------------------------------------------------------------------------------


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with receiving() as found:
        yield found


async def _until(check: Any, timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.05)


async def test_push_retries_a_failing_receiver_then_delivers(receiver: Receiver):
    settings = _events_settings(events_push=(EventsPushSeed("acme", receiver.url),), metrics_port=0)
    async with running(settings) as app:
        pushes = app.state.events.pushes
        metrics = app.state.metrics
        async with scim_client(app, "acme", TOKEN_A) as scim:
            user = await _create_user(scim, "ada@acme.example")
            await scim.patch(
                f"/Users/{user['id']}",
                **scim_json(patch_body({"op": "replace", "path": "active", "value": False})),
            )

        async def failed() -> bool:
            status = await pushes.status("acme")
            return status is not None and status.last_error == "PushRejected: HTTP 500"

        await _until(failed)
        assert metrics.push_failures._value.get() >= 1
        await metrics.update_backlogs(pushes)
        assert _sample(metrics, "scim_event_backlog", receiver="push") == 3
        assert _sample(metrics, "scim_event_backlog", receiver="poll") == 3

        receiver.status = 202

        async def delivered() -> bool:
            status = await pushes.status("acme")
            return status is not None and status.backlog == 0

        await _until(delivered)
        status = await pushes.status("acme")
        assert status.last_error is None and status.last_success_at is not None
        assert len(receiver.received) == 3  # create, patch, deactivate: in order, once each
        assert _sample(metrics, "scim_event_delivery_lag_seconds_count", receiver="push") == 3
        await metrics.update_backlogs(pushes)
        assert _sample(metrics, "scim_event_backlog", receiver="push") == 0

        # Cleared: the delivery stops.
        registry = await app.state.tenants.registry_of("acme")
        await registry.set_events_push("acme", None)
        await pushes.sync("acme")
        assert await pushes.status("acme") is None


def _sample(metrics: Any, name: str, **labels: str) -> float:
    value = metrics.registry.get_sample_value(name, labels)
    assert value is not None, name
    return float(value)


async def test_the_poll_receivers_name_is_stable():
    assert POLL_RECEIVER == "poll"
