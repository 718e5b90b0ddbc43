from __future__ import annotations

from tests.mongo_fixtures import mongo_db_name, mongo_server, mongodb_uri

__all__ = ["mongo_db_name", "mongo_server", "mongodb_uri"]
