"""Instructions over a server (``benchmarks.server_instructions``), tiny and without callgrind."""

from __future__ import annotations

import asyncio
import secrets
from pathlib import Path

import pytest

from benchmarks.server_instructions import KINDS, Count, Window, drive, dumped, ratios, start


def test_the_ratio_is_the_ceilings_instructions_over_the_apps() -> None:
    counts = [
        Count("app", "get", 100, 150_000_000, 0),
        Count("ceiling", "get", 200, 240_000_000, 0),
        Count("app", "post", 100, 200_000_000, 0),  # no ceiling count: no row
    ]
    table = ratios(counts)
    assert list(table) == ["get"]
    row = table["get"]
    assert (row["app"], row["ceiling"], row["scim_work"]) == (1_500_000, 1_200_000, 300_000)
    assert row["app_over_ceiling"] == pytest.approx(0.8)


def test_the_newest_dump_is_read(tmp_path: Path) -> None:
    out = tmp_path / "app.callgrind"
    for number, total in ((1, 10), (2, 20), (10, 30)):  # 10 after 2: numbers, not text
        (tmp_path / f"app.callgrind.{number}").write_text(
            f"version: 1\ncreator: callgrind\nevents: Ir\nsummary: {total}\ntotals: 99\n"
        )
    assert dumped(out) == 30


@pytest.mark.parametrize("app", ["app", "ceiling"])
def test_the_served_app_answers_every_kind_inside_its_window(app: str, tmp_path: Path) -> None:
    # A leading dash, as token_urlsafe gives one time in 64: passed as "--token -x..." it was
    # taken for an option and the ceiling never started.
    token = "-" + secrets.token_urlsafe(12)
    handle = start(app, "hypercorn", token, tmp_path)
    calls: list[str] = []

    def after() -> int:
        calls.append("after")
        return 42

    window = Window(lambda: calls.append("before"), after)
    options = {"requests": 6, "warmup": 2, "connections": 2, "seeded": 4, "healthy_within": 30}
    try:
        counts = asyncio.run(drive(handle, token, KINDS, window, **options))
    finally:
        handle.stop()
    assert [(c.app, c.kind, c.requests, c.instructions) for c in counts] == [
        (app, kind, 6, 42) for kind in KINDS
    ]
    assert all(c.errors == 0 for c in counts)
    assert calls == ["before", "after"] * len(KINDS)
