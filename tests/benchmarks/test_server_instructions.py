"""Instructions over a server (``benchmarks.server_instructions``), tiny and without callgrind."""

from __future__ import annotations

import asyncio
import random
import secrets
import subprocess
from pathlib import Path

import pytest

from benchmarks import _entra
from benchmarks._entra import make_users
from benchmarks._http import RawClient
from benchmarks.run_ceiling import (
    TENANT,
    PythonGenerator,
    Server,
    ceiling_ids,
    free_port,
    make_workload,
    seed,
    wait_healthy,
)
from benchmarks.server_instructions import KINDS, Count, dumped, ratios, send, server_command


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
def test_the_served_app_answers_every_kind_without_a_failure(app: str, tmp_path: Path) -> None:
    token = secrets.token_urlsafe(12)
    port = free_port()
    log = tmp_path / "server.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            server_command(app, "hypercorn", port, token),
            stdout=sink,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    server = Server(app, "hypercorn", process, port, log, f"/scim/v2/{TENANT}")

    async def drive() -> list[int]:
        await wait_healthy(server)
        users = make_users(4, "t", random.Random(1))
        if app == "app":
            await seed(server, token, users)
        else:
            ceiling_ids(users)
        generator = PythonGenerator(make_workload(users, 8), token)
        client = RawClient(server.base_url, _entra.headers(token), 2, timeout=30)
        try:
            return [await send(client, generator, kind, kind, 6, 2) for kind in KINDS]
        finally:
            await client.aclose()

    try:
        assert asyncio.run(drive()) == [0, 0, 0]
    finally:
        server.stop()
