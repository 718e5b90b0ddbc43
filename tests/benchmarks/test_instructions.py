"""The program callgrind counts, run without callgrind at a tiny size, so it cannot rot."""

from __future__ import annotations

import pytest

from benchmarks import instructions


@pytest.mark.parametrize("app", instructions.APPS)
async def test_each_app_answers_each_kind_of_request(app: str) -> None:
    # ``_serve`` asserts each request's status itself (200 GET/PATCH, 201 POST).
    for kind in instructions.KINDS:
        await instructions._serve(app, kind, 5)


def test_an_app_without_a_part_has_only_that_part_switched_off() -> None:
    full = instructions.build("app")
    assert full.state.events is not None and full.state.service.record_events
    without_events = instructions.build("app-without-events")
    assert without_events.state.events is None
    assert not without_events.state.service.record_events
    without_log = instructions.build("app-without-request_log")
    assert without_log.state.events is not None
    assert full.state.activity is not None and without_log.state.activity is None
