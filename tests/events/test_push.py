"""RFC 8935 push: one SET per POST, 202 acknowledges, failures and hangs retried in order."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest

from scimkit import MemoryFeed
from scimkit.events import EventSigner, PushDelivery, check_push_url
from scimkit.testing import sample_events
from tests.events.support import verify_set

SIGNER = EventSigner.generate()


@dataclass
class Receiver:
    """A local HTTP receiver whose answers are scripted: a status, or "hang"."""

    script: list[int | str] = field(default_factory=list)
    received: list[tuple[str, str]] = field(default_factory=list)  # (content type, body)
    accepted: list[str] = field(default_factory=list)
    url: str = ""

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            headers = {
                k.strip().lower(): v.strip()
                for k, _, v in (line.partition(":") for line in lines[1:] if line)
            }
            body = (await reader.readexactly(int(headers["content-length"]))).decode()
            self.received.append((headers.get("content-type", ""), body))
            answer = self.script.pop(0) if self.script else 202
            if answer == "hang":
                await asyncio.sleep(30)
                return
            if answer == 202:
                self.accepted.append(body)
                payload = b""
            else:
                payload = json.dumps({"err": "invalid_request", "description": "down"}).encode()
            writer.write(
                f"HTTP/1.1 {answer} X\r\nContent-Length: {len(payload)}\r\n"
                "Content-Type: application/json\r\nConnection: close\r\n\r\n".encode()
                + payload
            )
            await writer.drain()
        finally:
            writer.close()


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    receiver = Receiver()
    server = await asyncio.start_server(receiver.handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    receiver.url = f"http://127.0.0.1:{port}/events"
    yield receiver
    server.close()


async def until(condition, timeout: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        assert loop.time() < deadline, "timed out"
        await asyncio.sleep(0.01)


async def drained(delivery: PushDelivery, timeout: float = 10.0) -> None:
    """Wait until the delivery has settled its backlog.

    The receiver logs its 202 before the delivery task records it, so checking at once races.
    """
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while (await delivery.status()).backlog:
        assert loop.time() < deadline, "timed out"
        await asyncio.sleep(0.01)


def push(feed: MemoryFeed, url: str, **options) -> PushDelivery:
    return PushDelivery(
        feed,
        SIGNER,
        "acme",
        url,
        issuer="https://scim.example.com/scim/v2/acme",
        backoff=0.02,
        max_backoff=0.1,
        **options,
    )


async def test_each_set_is_posted_as_secevent_jwt(receiver):
    feed = MemoryFeed()
    events = feed.append("acme", sample_events("acme", 3))
    delivery = push(feed, receiver.url)
    delivery.start()
    try:
        await until(lambda: len(receiver.accepted) == 3)
        await drained(delivery)
    finally:
        await delivery.stop()
    assert {content for content, _ in receiver.received} == {"application/secevent+jwt"}
    jtis = [verify_set(body, SIGNER.jwks())[1]["jti"] for body in receiver.accepted]
    assert jtis == [e.jti for e in events]
    status = await delivery.status()
    assert (status.backlog, status.delivered, status.last_error) == (0, 3, None)


async def test_failures_and_hangs_are_retried_in_order_until_accepted(receiver):
    feed = MemoryFeed()
    events = feed.append("acme", sample_events("acme", 2))
    receiver.script = [500, "hang", 400]
    delivery = push(feed, receiver.url, timeout=0.3)
    delivery.start()
    try:
        await until(lambda: len(receiver.received) >= 3)
        status = await delivery.status()
        assert status.backlog == 2 and status.attempts >= 1
        assert status.last_error is not None
        await until(lambda: len(receiver.accepted) == 2)
        await drained(delivery)
    finally:
        await delivery.stop()
    sent = [verify_set(body, SIGNER.jwks())[1]["jti"] for _, body in receiver.received]
    # The first SET is sent until accepted; only then the second.
    assert sent == [events[0].jti] * 4 + [events[1].jti]
    status = await delivery.status()
    assert status.backlog == 0 and status.last_error is None and status.last_success_at


async def test_a_restart_resumes_after_the_last_accepted_set(receiver):
    feed = MemoryFeed()
    feed.append("acme", sample_events("acme", 2))
    delivery = push(feed, receiver.url)
    delivery.start()
    await until(lambda: len(receiver.accepted) == 2)
    await delivery.stop()
    (later,) = feed.append("acme", sample_events("acme", 1))
    delivery = push(feed, receiver.url)
    delivery.start()
    try:
        await until(lambda: len(receiver.accepted) == 3)
        await asyncio.sleep(0.05)
    finally:
        await delivery.stop()
    assert len(receiver.received) == 3
    assert verify_set(receiver.accepted[-1], SIGNER.jwks())[1]["jti"] == later.jti


async def test_an_unreachable_receiver_shows_its_error(unused_tcp_port):
    feed = MemoryFeed()
    feed.append("acme", sample_events("acme", 1))
    delivery = push(feed, f"http://127.0.0.1:{unused_tcp_port}/x")
    delivery.start()
    try:
        await until(lambda: delivery.subscription._last_error is not None)
    finally:
        await delivery.stop()
    status = await delivery.status()
    assert status.backlog == 1 and "ConnectError" in (status.last_error or "")


@pytest.mark.parametrize(
    "url", ["ftp://host/x", "file:///etc/passwd", "/relative", "https://", "javascript:x"]
)
def test_push_urls_must_be_http(url):
    with pytest.raises(ValueError, match="http"):
        check_push_url(url)
    with pytest.raises(ValueError):
        PushDelivery(MemoryFeed(), SIGNER, "acme", url, issuer="i")
