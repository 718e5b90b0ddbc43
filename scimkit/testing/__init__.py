"""Test support for scimkit users and scimkit's own tests.

:class:`StoreContract` is the store contract suite: subclass it with a ``store`` fixture to
check a :class:`~scimkit.store.ResourceStore` implementation; :class:`FeedContract` is the
event feed's (``feed`` and ``append`` fixtures). It needs pytest and
pytest-asyncio, so it is imported on first use: ``scimkit.testing._mongo_server`` (the
mongoeco test server helper, stdlib only) stays importable without them.

:class:`ASGIClient` calls an ASGI app in process with the exact bytes given (stdlib only);
the tests and the benchmarks share it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from scimkit.testing._asgi import ASGIApp, ASGIClient, ASGIResponse

if TYPE_CHECKING:
    from scimkit.testing._contract import (
        CONTRACT_GROUP,
        CONTRACT_RESOURCE_TYPES,
        CONTRACT_USER,
        StoreContract,
    )
    from scimkit.testing._feed_contract import FeedContract, sample_events

__all__ = [
    "ASGIApp",
    "ASGIClient",
    "ASGIResponse",
    "CONTRACT_GROUP",
    "CONTRACT_RESOURCE_TYPES",
    "CONTRACT_USER",
    "FeedContract",
    "StoreContract",
    "sample_events",
]


def __getattr__(name: str) -> Any:
    # Only the contract's names get here: the ASGI ones are imported above.
    if name in ("FeedContract", "sample_events"):
        from scimkit.testing import _feed_contract

        return getattr(_feed_contract, name)
    if name in __all__:
        from scimkit.testing import _contract

        return getattr(_contract, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
