"""Runs the micro-benchmarks of scimkit's hot paths, each against its target, into one report.

Each section is one file (``bench_<section>.py``, ``mongo_shapes.py``):

- ``patch``: ``parse_patch`` + ``apply_patch`` of Entra's PATCH dialects on a stored User, and
  a one-member add on a Group without its member list (what the service does).
- ``validate``: ``validate_resource`` + ``project`` + ``orjson.dumps`` of Entra's create body
  against scim2-models' ``User[EnterpriseUser].model_validate`` + ``model_dump_json`` in the
  same run (target: scimkit ≥ 5x faster).
- ``lookup``: ``userName eq`` lookup on the memory store at 1k and 100k users, through
  ``MemoryStore.query`` with a bound filter and through ``ResourceService.query``
  (target: 100k ≤ 1.3x 1k).
- ``members``: ``ResourceService.patch`` adding one member to a group of 10 and of 100k members
  on the memory store (target: 100k ≤ 2x 10).
- ``asgi``: the reference app and ``benchmarks/ceiling_app.py`` called in process as ASGI apps
  (no HTTP server) on Entra's GET, POST and PATCH; the difference is the SCIM work without
  hypercorn.
- ``request_log``: the reference app in process with the Activity page's request log on and
  off, the background recorder's work included (target: on ≤ 1.1x off).
- ``mongo``: the MongoDB query shapes of Entra's filters and the store's indexes, printed (no
  timing: the mongoeco stand-in is no performance reference).

Filter parse + bind + translate is measured by ``benchmarks/bench_filter.py``.

``python -m benchmarks.micro`` (all) or ``python -m benchmarks.micro validate lookup``. Times are
CPU time of this process (``time.process_time``, ``_timing.py``): the machine may be shared.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson

if __package__ in (None, ""):  # run as a file: make `benchmarks` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import (
    bench_asgi,
    bench_lookup,
    bench_members,
    bench_patch,
    bench_request_log,
    bench_validate,
    mongo_shapes,
)
from benchmarks._report import machine_info

SECTIONS = ("validate", "patch", "lookup", "members", "asgi", "request_log", "mongo")
_OPTIONS = orjson.OPT_UTC_Z


def run_section(section: str, args: argparse.Namespace) -> dict[str, Any]:
    """One section's entries for the report (``mongo`` gives two: queries and indexes)."""
    if section == "validate":
        return {"validate": bench_validate.run()}
    if section == "patch":
        return {"patch": bench_patch.run()}
    if section == "lookup":
        return {"lookup": bench_lookup.run(args.lookup_sizes, args.samples)}
    if section == "members":
        return {"members": bench_members.run(args.member_sizes, args.adds)}
    if section == "asgi":
        return {"asgi": bench_asgi.run(args.asgi_users, args.samples)}
    if section == "request_log":
        return {"request_log": bench_request_log.run(args.asgi_users, args.samples)}
    if section == "mongo":
        return mongo_shapes.run()
    raise ValueError(section)


# --- main -------------------------------------------------------------------------------------


def _json_default(value: Any) -> Any:
    return repr(value)


def print_results(results: dict[str, Any]) -> None:
    text = orjson.dumps(
        results, option=orjson.OPT_INDENT_2 | _OPTIONS, default=_json_default
    ).decode()
    print(text)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.micro",
        description="Micro-benchmarks of scimkit's hot paths against their targets.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("sections", nargs="*", help=f"any of {', '.join(SECTIONS)} (default: all)")
    parser.add_argument("--lookup-sizes", type=int, nargs=2, default=(1_000, 100_000))
    parser.add_argument("--member-sizes", type=int, nargs=2, default=(10, 100_000))
    parser.add_argument("--samples", type=int, default=2000, help="lookups per timed run")
    parser.add_argument("--adds", type=int, default=500, help="timed member adds per run")
    parser.add_argument("--asgi-users", type=int, default=1000, help="users seeded for asgi")
    parser.add_argument("--out", type=Path, help="write the results as JSON here")
    args = parser.parse_args(argv)
    unknown = set(args.sections) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown section(s) {sorted(unknown)}; choose from {list(SECTIONS)}")
    sections = args.sections or list(SECTIONS)
    results: dict[str, Any] = {"tool": "benchmarks/micro.py", "machine": machine_info()}
    for section in sections:
        started = time.perf_counter()
        print(f"[{section}] ...", file=sys.stderr)
        results.update(run_section(section, args))
        print(f"[{section}] {time.perf_counter() - started:.1f} s", file=sys.stderr)
    print_results(results)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_bytes(
            orjson.dumps(results, option=orjson.OPT_INDENT_2 | _OPTIONS, default=_json_default)
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
