"""Push delivery (RFC 8935): each SET POSTed to the receiver's URL, in order, until accepted.

:class:`PushDelivery` is a :class:`~scimkit.Subscription` whose handler POSTs one SET per
request as ``application/secevent+jwt``. Only ``202 Accepted`` acknowledges (RFC 8935 §2.2);
any other answer, a timeout or a connection failure is retried with exponential backoff and
jitter, so the receiver sees the SETs in feed order and none is skipped. It runs in its own
task: SCIM requests never wait for a receiver.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from urllib.parse import urlsplit

import httpx

from scimkit._event import Event, EventForm
from scimkit._feed import EventFeed
from scimkit._meta import utc_now
from scimkit._subscriber import Subscription, SubscriptionStatus
from scimkit.events._set import SET_MEDIA_TYPE, EventSigner

__all__ = ["PushDelivery", "PushRejected", "check_push_url"]


class PushRejected(Exception):
    """The receiver did not answer 202; the SET will be sent again."""


def check_push_url(url: str) -> str:
    """``url`` if it is an absolute http(s) URL with a host; ``ValueError`` otherwise."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"A push receiver URL must be an absolute http(s) URL, not {url!r}.")
    return url


class PushDelivery:
    """Pushes one tenant's SETs to ``url`` (RFC 8935), one at a time, in feed order.

    The checkpoint is kept in the feed under ``receiver`` (default ``push:<url>``), so a
    restart resumes after the last accepted SET. ``audience`` is the SETs' ``aud`` (default the
    URL), ``form`` their payload form. ``timeout`` bounds each request; ``headers`` are added
    to each (e.g. the receiver's ``Authorization``). :meth:`status` shows the backlog and the
    last error.
    """

    def __init__(
        self,
        feed: EventFeed,
        signer: EventSigner,
        tenant: str,
        url: str,
        *,
        issuer: str,
        audience: str | list[str] | None = None,
        form: EventForm = EventForm.FULL,
        receiver: str | None = None,
        headers: dict[str, str] | None = None,
        timeout: float = 10.0,
        backoff: float = 0.5,
        max_backoff: float = 60.0,
        client: httpx.AsyncClient | None = None,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self.url = check_push_url(url)
        self.signer = signer
        self.issuer = issuer
        self.audience = audience if audience is not None else url
        self.form = form
        self.headers = {"Content-Type": SET_MEDIA_TYPE, "Accept": "application/json"}
        self.headers.update(headers or {})
        self._client = client
        self._own_client = client is None
        self._timeout = timeout
        self.subscription = Subscription(
            feed,
            tenant,
            receiver or f"push:{url}",
            self._send,
            backoff=backoff,
            max_backoff=max_backoff,
            clock=clock,
        )

    def start(self) -> None:
        """Start pushing in a background task."""
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self._timeout)
        self.subscription.start()

    async def stop(self) -> None:
        """Stop pushing (an unacknowledged SET is sent again on the next start)."""
        await self.subscription.stop()
        if self._own_client and self._client is not None:
            await self._client.aclose()
            self._client = None

    async def status(self) -> SubscriptionStatus:
        """Backlog, last error and last success of this receiver."""
        return await self.subscription.status()

    async def _send(self, event: Event) -> None:
        client = self._client
        if client is None:
            raise RuntimeError("push delivery is not started")
        token = self.signer.encode(
            event, issuer=self.issuer, audience=self.audience, form=self.form
        )
        try:
            response = await client.post(
                self.url, content=token.encode("ascii"), headers=self.headers
            )
        except httpx.TimeoutException as exc:
            raise PushRejected(f"no answer within {self._timeout}s") from exc
        except httpx.HTTPError as exc:
            raise PushRejected(f"{type(exc).__name__}: {exc}") from exc
        if response.status_code == 202:
            return
        raise PushRejected(_describe(response))


def _describe(response: httpx.Response) -> str:
    """The receiver's answer in one line, with its RFC 8935 §2.3 ``err`` when it sent one."""
    detail = ""
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("err"), str):
        detail = f": {body['err']}"
        if isinstance(body.get("description"), str):
            detail += f" ({body['description']})"
    return f"HTTP {response.status_code}{detail}"
