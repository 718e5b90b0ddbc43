from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from tests.mongo_fixtures import (
    collect_dropped_sockets,
    mongo_db_name,
    mongo_server,
    mongodb_uri,
)

__all__ = ["collect_dropped_sockets", "mongo_db_name", "mongo_server", "mongodb_uri"]


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Run ``slow`` tests (large fuzz and property runs) only when selected with ``-m slow``."""
    if "slow" in (config.getoption("markexpr") or ""):
        return
    skip = pytest.mark.skip(reason="slow: run with -m slow")
    for item in items:
        if item.get_closest_marker("slow") is not None:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _logging_left_enabled() -> Iterator[None]:
    """A test that switches logging off (``logging.disable``) breaks every later ``caplog``."""
    yield
    assert logging.root.manager.disable == logging.NOTSET, "this test left logging disabled"
