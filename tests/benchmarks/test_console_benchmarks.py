"""The console and request-log benchmarks at tiny sizes, so they cannot rot (no timing asserted)."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from benchmarks import bench_console_pages, request_log_http


async def test_console_pages_are_fetched_and_checked_on_the_embedded_store() -> None:
    result = await bench_console_pages.run("memory", users=60, groups=3, log_size=40, repeat=1)
    assert result["target"]["worst_median_ms"] > 0
    assert "met" in result["target"]


@pytest.mark.parametrize("part", sorted(request_log_http.PARTS))
def test_a_part_over_http_runs_both_apps(tmp_path: Path, part: str) -> None:
    out = tmp_path / "request_log_http.json"
    argv = ["--rounds", "1", "--duration", "0.5", "--warmup", "0.2", "--seed-users", "20"]
    argv += ["--get-paths", "50", "--phases", "post", "--quiet-wait", "0", "--python-client"]
    argv += ["--part", part, "--ceiling"]
    assert request_log_http.main([*argv, "--out", str(out)]) == 0
    result = orjson.loads(out.read_bytes())
    assert result["part"] == part
    post = result["phases"]["post"]
    assert post["log-on"]["requests"] > 0 and post["log-off"]["requests"] > 0
    assert "met_as_share_of_scim_work" in result["phases"]["target"]
