"""MongoDB storage: :class:`MongoStore`, on PyMongo's ``AsyncMongoClient`` or motor.

The only part of scimkit that imports ``pymongo``, ``motor`` or ``bson``; install the
``mongo`` extra. :class:`MongoFeed` is the store's event feed (``MongoStore.feed``,
``docs/events.md``). Design notes (document layout, indexes, memberships, limits) are in
``docs/storage.md``.
"""

from __future__ import annotations

from scimkit._public import claim as _claim
from scimkit.mongo._feed import MongoFeed
from scimkit.mongo._indexes import IndexSpec
from scimkit.mongo._refold import RefoldReport
from scimkit.mongo._store import DEFAULT_SORTED, MongoStore

__all__ = ["DEFAULT_SORTED", "IndexSpec", "MongoFeed", "MongoStore", "RefoldReport"]

_claim(globals(), __all__, __name__)
