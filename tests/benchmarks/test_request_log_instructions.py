"""The program callgrind counts for the request log, run without callgrind at a small size."""

from __future__ import annotations

import logging

import pytest

from benchmarks import request_log_instructions
from reference_app.activity import ActivityRecorder

_REQUESTS = 16 * 40


async def _serve(logged: bool, requests: int) -> None:
    try:
        await request_log_instructions._serve(logged, requests)
    finally:
        logging.disable(logging.NOTSET)  # the counted program silences logging


async def test_every_post_is_recorded_none_dropped(monkeypatch: pytest.MonkeyPatch) -> None:
    recorders: list[ActivityRecorder] = []
    submit = ActivityRecorder.submit

    def watched(self: ActivityRecorder, raw: object) -> None:
        if self not in recorders:
            recorders.append(self)
        submit(self, raw)  # type: ignore[arg-type]

    monkeypatch.setattr(ActivityRecorder, "submit", watched)
    # ``_serve`` also asserts that none was dropped: a count that let the queue fill saw
    # dropped requests, not recorded ones.
    await _serve(True, _REQUESTS)
    (recorder,) = recorders
    assert recorder.stored == _REQUESTS and recorder.dropped == 0


async def test_the_log_off_side_runs_too() -> None:
    await _serve(False, 16)
