from __future__ import annotations

from datetime import UTC, datetime, timedelta

from reference_app.admin.sync import Health, sync_status
from reference_app.request_log import LogCounts

NOW = datetime(2025, 5, 1, 12, 0, tzinfo=UTC)


def _at(*minutes_ago: float) -> list[datetime]:
    return [NOW - timedelta(minutes=m) for m in minutes_ago]


def test_no_requests_yet():
    status = sync_status(LogCounts(0, 0, []), NOW)
    assert status.health is Health.NONE and status.error_level == "ok"


def test_a_cycle_in_progress_and_its_start():
    status = sync_status(LogCounts(4, 0, _at(0.5, 1, 3, 6, 50)), NOW)
    assert status.health is Health.SYNCING
    assert status.cycle_started == NOW - timedelta(minutes=6)  # 44 minutes' pause before it
    assert status.next_expected == NOW + timedelta(minutes=34)


def test_idle_between_cycles_then_late():
    assert sync_status(LogCounts(2, 0, _at(20, 22)), NOW).health is Health.IDLE
    late = sync_status(LogCounts(2, 0, _at(130, 131)), NOW)
    assert late.health is Health.LATE


def test_error_share_levels_around_entras_40_percent():
    assert sync_status(LogCounts(100, 29, _at(1)), NOW).error_level == "ok"
    assert sync_status(LogCounts(100, 30, _at(1)), NOW).error_level == "warning"
    assert sync_status(LogCounts(100, 40, _at(1)), NOW).error_level == "danger"
