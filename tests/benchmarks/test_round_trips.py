"""The round-trip counter (benchmarks/round_trips.py) runs on the stand-in, so it cannot rot."""

from __future__ import annotations

import pytest

from benchmarks.round_trips import OPERATIONS, count, table

pytestmark = pytest.mark.mongo


async def test_counts_every_operation_and_attributes_each_command(
    mongodb_uri: str, mongo_db_name: str
) -> None:
    counts = await count(mongodb_uri, mongo_db_name)

    assert list(counts) == list(OPERATIONS)
    no_hit = counts["match GET, no hit"]
    # Issue 16's target, already met: one aggregate answers a match GET that finds nobody.
    assert [(c.name, c.collection) for c in no_hit.commands if c.on_request_path] == [
        ("aggregate", "scim_resources")
    ]
    assert no_hit.commands[0].origin[0] == "MongoStore.query"
    for name, result in counts.items():
        assert result.request_path >= 1, name
        for command in result.commands:
            assert command.name not in {"hello", "isMaster", "createIndexes"}, name
            assert command.origin, f"{name}: {command.name} sent from outside scimkit"
            # The request log is written by its drain task, never while the request waits.
            if command.collection == "request_log":
                assert not command.on_request_path, name
    assert "| match GET, no hit | 1 | 1 | 1 |" in table(counts)


async def test_recording_events_adds_no_round_trip_to_a_request(
    mongodb_uri: str, mongo_db_name: str
) -> None:
    plain = await count(mongodb_uri, mongo_db_name)
    recorded = await count(mongodb_uri, f"{mongo_db_name}_events", events=True)
    for name in OPERATIONS:
        assert recorded[name].request_path == plain[name].request_path, name
    # The drain happens, but in the drainer's task, after the response.
    drained = [c for c in recorded["POST user"].commands if c.collection == "scim_events"]
    assert drained and not any(c.on_request_path for c in drained)
