"""The event endpoints over HTTP: POST {Tenant URL}/Events (RFC 8936) and the JWKS."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from scimkit import GROUP, USER, MemoryFeed, MemoryStore, ResourceService, ServiceConfig
from scimkit.events import EventPoller, EventSigner
from scimkit.testing import sample_events
from scimkit.web import BearerTokenAuth, WebOptions, create_scim_app, event_routes, jwks_route
from tests.events.support import verify_set

BASE = "http://scim.test/scim/v2/acme"
SCIM = {"acme": ["scim-token"], "globex": ["globex-scim"]}
EVENTS = {"acme": ["events-token"], "globex": ["globex-events"]}


@pytest.fixture
def feed() -> MemoryFeed:
    return MemoryFeed()


@pytest.fixture
def signer() -> EventSigner:
    return EventSigner.generate()


@pytest.fixture
async def client(feed, signer) -> AsyncIterator[httpx.AsyncClient]:
    poller = EventPoller(
        feed, signer, issuer=lambda tenant: f"http://scim.test/scim/v2/{tenant}", long_poll=0.2
    )
    service = ResourceService(
        MemoryStore(), [USER, GROUP], config=ServiceConfig(event_uris=("urn:x:1",))
    )
    app = create_scim_app(
        service,
        WebOptions(authenticate=BearerTokenAuth.from_tokens(SCIM)),
        routes_after_scim=[
            *event_routes(poller, authenticate=BearerTokenAuth.from_tokens(EVENTS)),
            jwks_route(signer),
        ],
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://scim.test") as client:
        yield client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_poll_acknowledge_and_verify_against_the_published_jwks(client, feed):
    events = feed.append("acme", sample_events("acme", 2))
    answer = await client.post(
        f"{BASE}/Events", json={"returnImmediately": True}, headers=bearer("events-token")
    )
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/json"
    body = answer.json()
    assert list(body["sets"]) == [e.jti for e in events] and body["moreAvailable"] is False
    jwks = (await client.get("/.well-known/jwks.json")).json()
    for jti, token in body["sets"].items():
        _, claims = verify_set(token, jwks)
        assert claims["jti"] == jti and claims["iss"] == BASE
    acked = await client.post(
        f"{BASE}/Events",
        json={"ack": list(body["sets"]), "returnImmediately": True},
        headers=bearer("events-token"),
    )
    assert acked.json() == {"sets": {}, "moreAvailable": False}


async def test_a_scim_token_is_refused_on_the_feed(client, feed):
    feed.append("acme", sample_events("acme", 1))
    for headers in (bearer("scim-token"), bearer("globex-events"), {}):
        answer = await client.post(f"{BASE}/Events", json={}, headers=headers)
        assert answer.status_code == 401
        assert answer.json()["err"] == "authentication_failed"
        assert answer.headers["www-authenticate"].startswith("Bearer")


async def test_an_events_token_is_refused_on_scim_endpoints(client):
    answer = await client.get(f"{BASE}/Users", headers=bearer("events-token"))
    assert answer.status_code == 401
    assert (await client.get(f"{BASE}/Users", headers=bearer("scim-token"))).status_code == 200


@pytest.mark.parametrize(
    ("content", "status"),
    [(b"not json", 400), (b"[]", 400), (b'{"maxEvents": -2}', 400), (b"x" * 2_000_000, 413)],
)
async def test_malformed_polls_get_rfc8936_errors(client, content, status):
    answer = await client.post(
        f"{BASE}/Events",
        content=content,
        headers={**bearer("events-token"), "Content-Type": "application/json"},
    )
    assert answer.status_code == status
    assert answer.json()["err"] == "invalid_request"
    assert answer.json()["description"]


async def test_unknown_jti_in_ack(client, feed):
    (other,) = feed.append("globex", sample_events("globex", 1))
    answer = await client.post(
        f"{BASE}/Events", json={"ack": [other.jti]}, headers=bearer("events-token")
    )
    assert answer.status_code == 400
    assert answer.json()["err"] == "invalid_request"
    assert other.jti in answer.json()["description"]


async def test_feeds_are_per_tenant(client, feed):
    feed.append("globex", sample_events("globex", 2))
    answer = await client.post(
        f"{BASE}/Events", json={"returnImmediately": True}, headers=bearer("events-token")
    )
    assert answer.json()["sets"] == {}


async def test_discovery_advertises_security_events(client):
    answer = await client.get(f"{BASE}/ServiceProviderConfig", headers=bearer("scim-token"))
    assert answer.json()["securityEvents"] == {"asyncRequest": "none", "eventUris": ["urn:x:1"]}


def test_no_security_events_without_event_uris():
    assert "securityEvents" not in ServiceConfig().to_json()
