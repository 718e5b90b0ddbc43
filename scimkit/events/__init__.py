"""scimkit's event delivery adapter: SETs (RFC 8417/9967), poll (RFC 8936) and push (RFC 8935).

Signing needs the ``events`` extra (joserfc; httpx for push)::

    signer = EventSigner.from_file("events-key.pem")
    poller = EventPoller(feed, signer, issuer=lambda tenant: f"https://scim.example.com/{tenant}")

The event model and the feed are in the core (:class:`scimkit.Event`,
:class:`scimkit.EventFeed`); the Starlette routes are in ``scimkit.web``. Names are imported on
first use, so ``scimkit.web`` loads without the extra until events are served.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from scimkit.events._poll import (
        EventPoller,
        PollError,
        PollRequest,
        SetError,
        parse_poll_request,
    )
    from scimkit.events._push import PushDelivery, PushRejected, check_push_url
    from scimkit.events._set import SET_MEDIA_TYPE, SET_TYPE, EventSigner, set_claims

_HOMES = {
    "EventPoller": "_poll",
    "PollError": "_poll",
    "PollRequest": "_poll",
    "SetError": "_poll",
    "parse_poll_request": "_poll",
    "PushDelivery": "_push",
    "PushRejected": "_push",
    "check_push_url": "_push",
    "SET_MEDIA_TYPE": "_set",
    "SET_TYPE": "_set",
    "EventSigner": "_set",
    "set_claims": "_set",
}

__all__ = [
    "EventPoller",
    "EventSigner",
    "PollError",
    "PollRequest",
    "PushDelivery",
    "PushRejected",
    "SET_MEDIA_TYPE",
    "SET_TYPE",
    "SetError",
    "check_push_url",
    "parse_poll_request",
    "set_claims",
]


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"scimkit.events.{home}"), name)
    if isinstance(value, type):
        value.__module__ = __name__
    globals()[name] = value
    return value
