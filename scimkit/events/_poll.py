"""Poll delivery (RFC 8936): a receiver POSTs acknowledgements and asks for the next SETs.

:func:`parse_poll_request` checks a request body; :class:`EventPoller` answers it from an
:class:`~scimkit.EventFeed`: acknowledged and rejected (``setErrs``) SETs are settled in the
receiver's checkpoint, and the oldest unsettled SETs are returned, so a SET that is not
acknowledged is delivered again. Errors are :class:`PollError` with the RFC 8935 §2.3 / RFC 8936
§2.6 body ``{"err": ..., "description": ...}``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from scimkit._event import Event, EventForm
from scimkit._feed import Checkpoint, EventFeed, settle

if TYPE_CHECKING:
    from scimkit.events._set import EventSigner

__all__ = ["EventPoller", "PollError", "PollRequest", "SetError", "parse_poll_request"]

# Checkpoint saves that lost to a concurrent save are retried this often (then 503).
_SAVE_ATTEMPTS = 20
_MAX_ACKS = 10_000


class PollError(Exception):
    """A poll that cannot be answered: ``err`` is an RFC 8935 §2.3 error code."""

    def __init__(self, err: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.err = err
        self.description = description
        self.status = status

    def to_body(self) -> dict[str, str]:
        return {"err": self.err, "description": self.description}


@dataclass(frozen=True, slots=True)
class SetError:
    """A receiver's report that it could not process a SET (RFC 8936 §2.4 ``setErrs``)."""

    err: str
    description: str = ""


@dataclass(frozen=True, slots=True)
class PollRequest:
    """A checked poll request (RFC 8936 §2.4); ``max_events`` ``None`` means the default."""

    max_events: int | None = None
    return_immediately: bool = False
    ack: tuple[str, ...] = ()
    set_errs: Mapping[str, SetError] | None = None


def parse_poll_request(body: Any) -> PollRequest:
    """Check a decoded poll request body; :class:`PollError` (``invalid_request``) if bad.

    Members this version does not know are ignored, as the RFC's extensibility asks.
    """
    if not isinstance(body, dict):
        raise PollError("invalid_request", "The poll request body must be a JSON object.")
    max_events = body.get("maxEvents")
    if max_events is not None and (
        not isinstance(max_events, int) or isinstance(max_events, bool) or max_events < 0
    ):
        raise PollError("invalid_request", "maxEvents must be a non-negative integer.")
    return_immediately = body.get("returnImmediately", False)
    if not isinstance(return_immediately, bool):
        raise PollError("invalid_request", "returnImmediately must be true or false.")
    ack = body.get("ack", [])
    if not isinstance(ack, list) or not all(isinstance(jti, str) and jti for jti in ack):
        raise PollError("invalid_request", "ack must be an array of jti strings.")
    raw_errs = body.get("setErrs", {})
    if not isinstance(raw_errs, dict):
        raise PollError("invalid_request", "setErrs must be an object mapping jti to an error.")
    set_errs: dict[str, SetError] = {}
    for jti, error in raw_errs.items():
        if (
            not isinstance(error, dict)
            or not isinstance(error.get("err"), str)
            or not isinstance(error.get("description", ""), str)
        ):
            raise PollError(
                "invalid_request",
                f"setErrs[{jti!r}] must be an object with 'err' and 'description' strings.",
            )
        set_errs[jti] = SetError(error["err"], error.get("description", ""))
    if len(ack) + len(set_errs) > _MAX_ACKS:
        raise PollError(
            "invalid_request", f"At most {_MAX_ACKS} SETs may be acknowledged in one poll."
        )
    return PollRequest(max_events, return_immediately, tuple(ack), set_errs)


class EventPoller:
    """Answers RFC 8936 polls from a feed, one checkpoint per (tenant, receiver).

    - ``issuer(tenant)`` is the tenant's SCIM base URL (the SETs' ``iss``).
    - ``audience(tenant, receiver)`` is the SETs' ``aud`` (default: the receiver's name).
    - ``form(tenant, receiver)`` picks ``full`` or ``notice`` payloads (default ``full``).
    - ``default_max_events`` answers a poll without ``maxEvents``; ``max_events`` caps it.
    - ``long_poll`` bounds, in seconds, how long a poll with ``returnImmediately: false``
      waits for a first event.

    Polls of one receiver are answered one at a time in this process; across processes the
    checkpoint's compare-and-set keeps acknowledgements from being lost (at worst a SET is
    delivered again). The last ``setErrs`` a receiver reported are in :meth:`errors`.
    """

    def __init__(
        self,
        feed: EventFeed,
        signer: EventSigner,
        *,
        issuer: Callable[[str], str],
        audience: Callable[[str, str], str | list[str]] | None = None,
        form: Callable[[str, str], EventForm] | None = None,
        default_max_events: int = 100,
        max_events: int = 1000,
        long_poll: float = 30.0,
    ) -> None:
        if not 1 <= default_max_events <= max_events:
            raise ValueError("default_max_events must be between 1 and max_events")
        if long_poll < 0:
            raise ValueError("long_poll must not be negative")
        self.feed = feed
        self.signer = signer
        self.issuer = issuer
        self.audience = audience or (lambda tenant, receiver: receiver)
        self.form = form or (lambda tenant, receiver: EventForm.FULL)
        self.default_max_events = default_max_events
        self.max_events = max_events
        self.long_poll = long_poll
        self._locks: dict[tuple[str, str], asyncio.Lock] = {}
        self._errors: dict[tuple[str, str], dict[str, SetError]] = {}

    def errors(self, tenant: str, receiver: str) -> dict[str, SetError]:
        """The ``setErrs`` the receiver sent in its last poll that had any."""
        return dict(self._errors.get((tenant, receiver), {}))

    async def poll(self, tenant: str, receiver: str, request: PollRequest) -> dict[str, Any]:
        """Settle the request's acknowledgements, then return ``{"sets", "moreAvailable"}``."""
        lock = self._locks.setdefault((tenant, receiver), asyncio.Lock())
        async with lock:
            checkpoint = await self._settle(tenant, receiver, request)
            wanted = request.max_events
            wanted = self.default_max_events if wanted is None else min(wanted, self.max_events)
            if wanted == 0:
                return {"sets": {}, "moreAvailable": False}
            batch, more = await self._pending(tenant, checkpoint, wanted)
            if not batch and not request.return_immediately and self.long_poll > 0:
                if await self.feed.wait(
                    tenant, after=self._last(checkpoint), timeout=self.long_poll
                ):
                    batch, more = await self._pending(tenant, checkpoint, wanted)
            return {"sets": self._encode(tenant, receiver, batch), "moreAvailable": more}

    async def _settle(self, tenant: str, receiver: str, request: PollRequest) -> Checkpoint:
        errors = dict(request.set_errs or {})
        jtis = list(dict.fromkeys([*request.ack, *errors]))
        checkpoint = await self.feed.checkpoint(tenant, receiver)
        if not jtis:
            return checkpoint
        positions = await self.feed.positions(tenant, jtis)
        unknown = [jti for jti in jtis if jti not in positions]
        if unknown:
            shown = ", ".join(unknown[:5]) + (", ..." if len(unknown) > 5 else "")
            raise PollError(
                "invalid_request",
                f"This feed holds no SET with jti {shown}: nothing was acknowledged. "
                "Acknowledge only SETs this endpoint delivered (and not yet dropped by "
                "retention).",
            )
        if errors:
            self._errors[(tenant, receiver)] = errors
        for _ in range(_SAVE_ATTEMPTS):
            following = await self.feed.read(
                tenant, after=checkpoint.position, limit=len(checkpoint.settled) + len(jtis) + 1
            )
            moved = settle(checkpoint, positions.values(), following)
            if (moved.position, moved.settled) == (checkpoint.position, checkpoint.settled):
                return checkpoint
            if await self.feed.save_checkpoint(
                tenant, receiver, moved, expected=checkpoint.revision
            ):
                return Checkpoint(moved.position, moved.settled, checkpoint.revision + 1)
            checkpoint = await self.feed.checkpoint(tenant, receiver)
        raise PollError("temporarily_unavailable", "The feed is busy; poll again.", status=503)

    async def _pending(
        self, tenant: str, checkpoint: Checkpoint, wanted: int
    ) -> tuple[list[Event], bool]:
        # Settled events above the checkpoint are skipped; reading that many more than wanted
        # (plus one) tells whether further unsettled events exist.
        read = await self.feed.read(
            tenant, after=checkpoint.position, limit=wanted + len(checkpoint.settled) + 1
        )
        unsettled = [event for event in read if event.position not in checkpoint.settled]
        return unsettled[:wanted], len(unsettled) > wanted

    @staticmethod
    def _last(checkpoint: Checkpoint) -> int:
        # Every event above the checkpoint is settled here: wait for one above all of them.
        return max((checkpoint.position, *checkpoint.settled))

    def _encode(self, tenant: str, receiver: str, events: Sequence[Event]) -> dict[str, str]:
        issuer = self.issuer(tenant)
        audience = self.audience(tenant, receiver)
        form = self.form(tenant, receiver)
        return {
            event.jti: self.signer.encode(event, issuer=issuer, audience=audience, form=form)
            for event in events
        }
