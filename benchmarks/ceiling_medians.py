"""Per-round medians of ``run_ceiling`` results, for a machine other processes load too.

``run_ceiling`` sums each cell over its rounds; when other processes take the server core in
some runs and not in others, one loaded run skews the ratio of a cell. This reads one or more
of its JSON files and reports, per server and phase, the median over rounds of the app/ceiling
throughput ratio, of the CPU-derived ratio (ceiling µs / app µs) and of the CPU µs per request,
counting only rounds where neither run had more than ``--max-foreign`` of the server core
taken by other processes (all rounds when none qualifies, marked ``*``).

``python -m benchmarks.ceiling_medians benchmarks/results/ceiling_servers_*.json``
"""

from __future__ import annotations

import argparse
import json
import statistics
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["main", "medians"]


def _foreign(run: dict[str, Any]) -> float:
    seconds = float(run["seconds"]) or 1.0
    return max(0.0, (float(run["core_busy_s"]) - float(run["server_cpu_s"])) / seconds)


def _us(run: dict[str, Any]) -> float:
    return float(run["server_cpu_s"]) / max(1, int(run["requests"])) * 1e6


def medians(files: Sequence[Path], max_foreign: float) -> dict[tuple[str, str], dict[str, Any]]:
    """(server, phase) -> medians over the qualifying rounds of every file."""
    pairs: dict[tuple[str, str], list[tuple[dict[str, Any], dict[str, Any]]]] = defaultdict(list)
    for number, path in enumerate(files):
        runs: dict[tuple[str, str, int, str], dict[str, Any]] = {}
        for run in json.loads(path.read_text())["measurements"]:
            runs[run["asgi"], run["phase"], number * 100 + run["round"], run["server"]] = run
        for (asgi, phase, round_, kind), run in runs.items():
            ceiling = runs.get((asgi, phase, round_, "ceiling"))
            if kind == "app" and ceiling is not None:
                pairs[asgi, phase].append((run, ceiling))
    result: dict[tuple[str, str], dict[str, Any]] = {}
    for key, rounds in pairs.items():
        quiet = [p for p in rounds if max(_foreign(p[0]), _foreign(p[1])) <= max_foreign]
        chosen = quiet or rounds
        app_rps = [a["requests"] / a["seconds"] for a, _ in chosen]
        ceiling_rps = [c["requests"] / c["seconds"] for _, c in chosen]
        result[key] = {
            "rounds": len(chosen),
            "all_loaded": not quiet,
            "app_rps": statistics.median(app_rps),
            "ceiling_rps": statistics.median(ceiling_rps),
            "ratio": statistics.median(a / c for a, c in zip(app_rps, ceiling_rps, strict=True)),
            "cpu_ratio": statistics.median(_us(c) / _us(a) for a, c in chosen),
            "app_us": statistics.median(_us(a) for a, _ in chosen),
            "ceiling_us": statistics.median(_us(c) for _, c in chosen),
        }
    return result


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--max-foreign", type=float, default=0.15)
    args = parser.parse_args(argv)
    table = medians(args.files, args.max_foreign)
    print(
        "| phase | server | rounds | app req/s | ceiling req/s | app/ceiling | CPU-derived "
        "| app µs | ceiling µs | SCIM work µs | per core vs hypercorn |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for phase in ("get", "post", "patch"):
        base = table.get(("hypercorn", phase))
        for server in ("hypercorn", "granian", "uvicorn"):
            row = table.get((server, phase))
            if row is None:
                continue
            per_core = f"{base['app_us'] / row['app_us']:.2f}x" if base else "—"
            mark = "*" if row["all_loaded"] else ""
            print(
                f"| {phase} | {server} | {row['rounds']}{mark} | {row['app_rps']:.0f} "
                f"| {row['ceiling_rps']:.0f} | {row['ratio']:.2f} | {row['cpu_ratio']:.2f} "
                f"| {row['app_us']:.0f} | {row['ceiling_us']:.0f} "
                f"| {row['app_us'] - row['ceiling_us']:.0f} | {per_core} |"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
