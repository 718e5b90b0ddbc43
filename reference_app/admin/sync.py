"""What the request times say about Entra's provisioning job: its rhythm and its error share.

Entra runs a cycle about every 40 minutes; a job whose requests mostly fail is quarantined
(more than 40 % failed once failures pass 5,000, ``entra-quirks.md`` §E) and then slows down
to one cycle a day. The console reads both from the request log.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from reference_app.request_log import LogCounts

__all__ = [
    "CYCLE",
    "ERROR_WINDOW",
    "QUARANTINE_SHARE",
    "WARNING_SHARE",
    "Health",
    "SyncStatus",
    "sync_status",
]

CYCLE = timedelta(minutes=40)
"""Entra's interval between incremental cycles."""
CYCLE_GAP = timedelta(minutes=10)
"""A pause this long between two requests separates two cycles."""
ERROR_WINDOW = timedelta(hours=24)
QUARANTINE_SHARE = 0.40
WARNING_SHARE = 0.30
"""Share of failed requests from which the console warns (the threshold is 40 %)."""


class Health(StrEnum):
    NONE = "none"
    SYNCING = "syncing"
    IDLE = "idle"
    LATE = "late"


@dataclass(frozen=True, slots=True)
class SyncStatus:
    health: Health
    last_request: datetime | None
    cycle_started: datetime | None
    """When the newest cycle began (first request after a pause of :data:`CYCLE_GAP`)."""
    next_expected: datetime | None
    total: int
    failed: int

    @property
    def error_share(self) -> float:
        return self.failed / self.total if self.total else 0.0

    @property
    def error_level(self) -> str:
        """``ok``, ``warning`` (from 30 %) or ``danger`` (from Entra's 40 %)."""
        if self.error_share >= QUARANTINE_SHARE:
            return "danger"
        return "warning" if self.error_share >= WARNING_SHARE else "ok"


def sync_status(counts: LogCounts, now: datetime) -> SyncStatus:
    """The status from ``counts`` (``times`` newest first) at ``now``."""
    times: Sequence[datetime] = counts.times
    if not times:
        return SyncStatus(Health.NONE, None, None, None, counts.total, counts.failed)
    last = times[0]
    started = last
    for newer, older in zip(times, times[1:], strict=False):
        if newer - older >= CYCLE_GAP:
            break
        started = older
    next_expected = started + CYCLE
    if now - last < timedelta(minutes=2):
        health = Health.SYNCING
    elif now <= next_expected + CYCLE:
        health = Health.IDLE
    else:
        health = Health.LATE
    return SyncStatus(health, last, started, next_expected, counts.total, counts.failed)
