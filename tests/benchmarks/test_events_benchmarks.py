"""The events benchmarks at tiny sizes, so they cannot rot (no timing is asserted)."""

from __future__ import annotations

import pytest

from benchmarks import bench_events_overhead, bench_events_poll, entra_cycle_events


def test_overhead_in_process_measures_all_three_apps() -> None:
    result = bench_events_overhead.in_process(seeded=5, batch=5, repeat=1, prefill=200)
    assert result["prefilled_events"] == 200
    for phase in bench_events_overhead.PHASES:
        row = result[phase]
        assert all(row[f"{app}_us"] > 0 for app in bench_events_overhead.APPS)
        assert set(row) >= {"overhead_pct", "meets_target", "events_us"}


def test_overhead_is_extra_scim_work_over_scim_work() -> None:
    assert bench_events_overhead.overhead(on=130, off=120, ceiling=80) == 25.0


def test_poll_drains_every_event_once() -> None:
    result = bench_events_poll.run(events=30, max_events=7, repeat=1)
    assert result["events"] == 30 and result["polls"] == 6  # 5 batches, then an empty ack
    assert result["events_per_s"] > 0


async def test_entra_cycle_has_exactly_its_events_and_the_consumer_ends_in_step() -> None:
    result = await entra_cycle_events.cycle(40)
    assert result["errors"] == 0
    assert result["events_by_type"] == result["expected_by_type"]
    assert result["events_exact"] and result["table_equal"]
    assert result["table_rows"] == 40


@pytest.mark.slow
async def test_entra_cycle_of_20k_users() -> None:
    result = await entra_cycle_events.cycle(20_000)
    assert result["errors"] == 0 and result["events_exact"] and result["table_equal"]


def test_tracked_objects_smoke():
    result = bench_events_overhead.tracked(20)
    for app in ("events-on", "events-off"):
        row = result[app]
        assert row["tracked_objects"] > 0 and row["full_collection_ms"] >= 0
        assert len(row["collections_by_generation"]) == 3
