"""The console and request-log benchmarks at tiny sizes, so they cannot rot (no timing asserted)."""

from __future__ import annotations

from pathlib import Path

from benchmarks import bench_console_pages, request_log_http


async def test_console_pages_are_fetched_and_checked_on_the_embedded_store() -> None:
    result = await bench_console_pages.run("memory", users=60, groups=3, log_size=40, repeat=1)
    assert result["target"]["worst_median_ms"] > 0
    assert "met" in result["target"]


def test_request_log_over_http_runs_both_apps(tmp_path: Path) -> None:
    out = tmp_path / "request_log_http.json"
    argv = ["--rounds", "1", "--duration", "0.5", "--warmup", "0.2", "--seed-users", "20"]
    argv += ["--get-paths", "50", "--phases", "get", "--quiet-wait", "0", "--python-client"]
    assert request_log_http.main([*argv, "--out", str(out)]) == 0
    assert out.stat().st_size > 0
