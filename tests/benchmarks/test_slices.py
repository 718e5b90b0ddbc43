"""The interleaved-slices measurement: the CPU counter and the verdict's arithmetic."""

from __future__ import annotations

import gc
import os
import time
from pathlib import Path

import pytest

from benchmarks import one_process
from benchmarks.slices import Slice, process_cpu_ns, read_collections, summarize


def test_the_cpu_counter_counts_this_process_in_nanoseconds() -> None:
    before = process_cpu_ns(os.getpid())
    sum(range(2_000_000))  # a few milliseconds of CPU
    spent = process_cpu_ns(os.getpid()) - before
    assert 100_000 < spent < 10_000_000_000


def _cycle(cycle: int, off: float, on: float, ceiling: float, **changes: object) -> list[Slice]:
    """One cycle's three slices of 1000 requests each, at the given µs per request."""
    made = [
        Slice(cycle, app, 1000, 0.5, int(us * 1000 * 1000), 0.0, 0)
        for app, us in (("off", off), ("on", on), ("ceiling", ceiling))
    ]
    return [Slice(**{**s.__dict__, **changes}) if s.app == "on" and changes else s for s in made]


def test_differences_are_taken_within_a_cycle_so_drift_cancels() -> None:
    # The machine gets 50 % slower over the run; the part costs 10 µs, the SCIM work 100 µs
    # at the start's speed, in every cycle.
    slices = []
    for cycle in range(10):
        speed = 1 + cycle / 20
        slices += _cycle(cycle, 300 * speed, 310 * speed, 200 * speed)
    result = summarize(slices, "on", "off", "ceiling")
    assert result["cycles_counted"] == 10
    part, work = result["part_us"], result["scim_work_us"]
    assert part["mean_95"][0] < part["mean"] < part["mean_95"][1]
    # Each cycle's difference scales with its own speed; the share does not drift at all.
    assert result["share_of_scim_work_pct"]["of_means"] == pytest.approx(10.0)
    assert result["share_of_scim_work_pct"]["of_medians"] == pytest.approx(10.0)
    assert work["median"] == pytest.approx(100 * (1 + 4.5 / 20), abs=0.1)
    assert result["share_of_request_pct"] == pytest.approx(10 / 300 * 100, abs=0.1)


@pytest.mark.parametrize("changes", [{"foreign_share": 0.3}, {"errors": 1}, {"requests": 0}])
def test_a_cycle_with_a_busy_neighbour_or_failed_requests_is_left_out(
    changes: dict[str, object],
) -> None:
    slices = (
        _cycle(0, 300, 310, 200) + _cycle(1, 300, 900, 200, **changes) + _cycle(2, 300, 312, 200)
    )
    result = summarize(slices, "on", "off", "ceiling")
    assert (result["cycles"], result["cycles_counted"]) == (3, 2)
    assert result["part_us"]["mean"] == pytest.approx(11.0)


def test_a_cycle_a_full_collection_ran_in_is_left_out_and_counted() -> None:
    slices = _cycle(0, 300, 310, 200) + _cycle(1, 300, 900, 200) + _cycle(2, 300, 312, 200)
    # The slices carry no times here (all 0.0): give cycle 1's "on" slice a span of its own.
    slices = [
        Slice(**{**s.__dict__, "started": 10.0, "ended": 10.5})
        if (s.cycle, s.app) == (1, "on")
        else s
        for s in slices
    ]
    result = summarize(slices, "on", "off", "ceiling", collections=[(10.2, 10.9)])
    assert result["cycles_with_a_full_collection"] == 1
    assert result["full_collections_in"] == {"ceiling": 0, "off": 0, "on": 1}
    assert result["part_us"]["mean"] == pytest.approx(11.0)


def test_the_server_logs_its_full_collections_on_the_shared_clock(tmp_path: Path) -> None:
    path = tmp_path / "gc.log"
    before = list(gc.callbacks)
    try:
        one_process.log_full_collections(path)
        started = time.monotonic()
        gc.collect(1)  # not a full one
        assert read_collections(path) == []
        gc.collect()
        ((start, end),) = read_collections(path)
        assert started <= start <= end <= time.monotonic()
    finally:
        gc.callbacks[:] = before
