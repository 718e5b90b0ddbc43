"""RFC 8936 poll delivery: request checks, re-delivery until acknowledged, order, isolation."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from scimkit import EventForm, MemoryFeed
from scimkit.events import EventPoller, EventSigner, PollError, PollRequest, parse_poll_request
from scimkit.testing import sample_events
from tests.events.support import b64decode, verify_set

SIGNER = EventSigner.generate()


def claims(token: str) -> dict[str, Any]:
    decoded: dict[str, Any] = json.loads(b64decode(token.split(".")[1]))
    return decoded


@pytest.fixture
def feed() -> MemoryFeed:
    return MemoryFeed()


@pytest.fixture
def poller(feed: MemoryFeed) -> EventPoller:
    return EventPoller(
        feed,
        SIGNER,
        issuer=lambda tenant: f"https://scim.example.com/scim/v2/{tenant}",
        default_max_events=2,
        long_poll=0.3,
    )


@pytest.mark.parametrize(
    "body",
    [
        [],
        {"maxEvents": -1},
        {"maxEvents": "3"},
        {"maxEvents": True},
        {"returnImmediately": "yes"},
        {"ack": "abc"},
        {"ack": [1]},
        {"ack": [""]},
        {"setErrs": []},
        {"setErrs": {"j": "bad"}},
        {"setErrs": {"j": {"description": "no err"}}},
        {"ack": ["j"] * 10_001},
    ],
)
def test_malformed_requests_are_invalid_request(body):
    with pytest.raises(PollError) as caught:
        parse_poll_request(body)
    assert caught.value.err == "invalid_request" and caught.value.status == 400
    assert caught.value.to_body()["description"]


def test_a_well_formed_request():
    parsed = parse_poll_request(
        {
            "maxEvents": 5,
            "returnImmediately": True,
            "ack": ["a", "b"],
            "setErrs": {"c": {"err": "invalid_key", "description": "kid unknown"}},
            "futureMember": 1,
        }
    )
    assert parsed.max_events == 5 and parsed.return_immediately
    assert parsed.ack == ("a", "b")
    assert parsed.set_errs is not None and parsed.set_errs["c"].err == "invalid_key"


async def test_unacknowledged_sets_are_delivered_again_in_order(feed, poller):
    events = feed.append("acme", sample_events("acme", 5))
    first = await poller.poll("acme", "app", PollRequest(return_immediately=True))
    assert list(first["sets"]) == [events[0].jti, events[1].jti]
    assert first["moreAvailable"] is True
    again = await poller.poll("acme", "app", PollRequest(return_immediately=True))
    assert list(again["sets"]) == list(first["sets"])
    # Acknowledging the second only: the first comes again, then the third.
    out_of_order = await poller.poll(
        "acme", "app", PollRequest(ack=(events[1].jti,), return_immediately=True)
    )
    assert list(out_of_order["sets"]) == [events[0].jti, events[2].jti]
    rest = await poller.poll(
        "acme",
        "app",
        PollRequest(max_events=10, ack=(events[0].jti, events[2].jti), return_immediately=True),
    )
    assert list(rest["sets"]) == [events[3].jti, events[4].jti]
    assert rest["moreAvailable"] is False
    done = await poller.poll(
        "acme",
        "app",
        PollRequest(ack=(events[3].jti, events[4].jti), return_immediately=True),
    )
    assert done == {"sets": {}, "moreAvailable": False}
    assert (await feed.checkpoint("acme", "app")).position == events[4].position


async def test_sets_are_signed_for_the_tenant(feed, poller):
    (event,) = feed.append("acme", sample_events("acme", 1))
    answer = await poller.poll("acme", "app", PollRequest(return_immediately=True))
    _, claims_ = verify_set(answer["sets"][event.jti], SIGNER.jwks())
    assert claims_["iss"] == "https://scim.example.com/scim/v2/acme"
    assert claims_["aud"] == "app"
    assert claims_["jti"] == event.jti
    assert "urn:ietf:params:scim:event:prov:patch:full" in claims_["events"]


async def test_form_is_chosen_per_receiver(feed):
    poller = EventPoller(
        feed,
        SIGNER,
        issuer=lambda tenant: "i",
        form=lambda tenant, receiver: EventForm.NOTICE if receiver == "lean" else EventForm.FULL,
    )
    (event,) = feed.append("acme", sample_events("acme", 1))
    lean = await poller.poll("acme", "lean", PollRequest(return_immediately=True))
    full = await poller.poll("acme", "rich", PollRequest(return_immediately=True))
    assert list(claims(lean["sets"][event.jti])["events"]) == [
        "urn:ietf:params:scim:event:prov:patch:notice"
    ]
    assert list(claims(full["sets"][event.jti])["events"]) == [
        "urn:ietf:params:scim:event:prov:patch:full"
    ]


async def test_receivers_have_their_own_checkpoints(feed, poller):
    (event,) = feed.append("acme", sample_events("acme", 1))
    await poller.poll("acme", "a", PollRequest(ack=(), return_immediately=True))
    await poller.poll("acme", "a", PollRequest(ack=(event.jti,), max_events=0))
    assert (await poller.poll("acme", "a", PollRequest(return_immediately=True)))["sets"] == {}
    other = await poller.poll("acme", "b", PollRequest(return_immediately=True))
    assert list(other["sets"]) == [event.jti]


async def test_unknown_and_foreign_jtis_are_refused_and_nothing_is_acknowledged(feed, poller):
    (mine,) = feed.append("acme", sample_events("acme", 1))
    (theirs,) = feed.append("other", sample_events("other", 1))
    for jti in ("never-issued", theirs.jti):
        with pytest.raises(PollError) as caught:
            await poller.poll("acme", "app", PollRequest(ack=(mine.jti, jti)))
        assert caught.value.err == "invalid_request"
        assert jti in caught.value.description
    answer = await poller.poll("acme", "app", PollRequest(return_immediately=True))
    assert list(answer["sets"]) == [mine.jti]


async def test_acknowledging_twice_is_harmless(feed, poller):
    (event,) = feed.append("acme", sample_events("acme", 1))
    await poller.poll("acme", "app", PollRequest(ack=(event.jti,), max_events=0))
    again = await poller.poll("acme", "app", PollRequest(ack=(event.jti,), return_immediately=True))
    assert again == {"sets": {}, "moreAvailable": False}


async def test_set_errors_settle_and_are_visible(feed, poller):
    first, second = feed.append("acme", sample_events("acme", 2))
    request = parse_poll_request(
        {
            "setErrs": {first.jti: {"err": "invalid_audience", "description": "not for us"}},
            "returnImmediately": True,
        }
    )
    answer = await poller.poll("acme", "app", request)
    assert list(answer["sets"]) == [second.jti]
    assert poller.errors("acme", "app")[first.jti].err == "invalid_audience"


async def test_long_poll_returns_when_an_event_arrives(feed, poller):
    poller.long_poll = 10
    task = asyncio.create_task(poller.poll("acme", "app", PollRequest()))
    await asyncio.sleep(0.05)
    assert not task.done()
    (event,) = feed.append("acme", sample_events("acme", 1))
    answer = await asyncio.wait_for(task, 5)
    assert list(answer["sets"]) == [event.jti]


async def test_long_poll_is_bounded(feed, poller):
    loop = asyncio.get_running_loop()
    started = loop.time()
    answer = await poller.poll("acme", "app", PollRequest())
    assert answer == {"sets": {}, "moreAvailable": False}
    assert 0.25 <= loop.time() - started < 5


async def test_max_events_is_capped(feed):
    poller = EventPoller(feed, SIGNER, issuer=lambda t: "i", default_max_events=2, max_events=3)
    feed.append("acme", sample_events("acme", 5))
    answer = await poller.poll("acme", "app", PollRequest(max_events=100))
    assert len(answer["sets"]) == 3 and answer["moreAvailable"]


def test_configuration_is_checked(feed):
    with pytest.raises(ValueError):
        EventPoller(feed, SIGNER, issuer=lambda t: "i", default_max_events=0)
    with pytest.raises(ValueError):
        EventPoller(feed, SIGNER, issuer=lambda t: "i", long_poll=-1)
