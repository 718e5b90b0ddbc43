"""The reference app against the physical limit, in one run, on each ASGI server with its settings.

For each ASGI server (``--servers``: hypercorn, granian, uvicorn; those installed) it starts
two processes pinned to core 0 (``os.sched_setaffinity``): the reference app
(``python -m reference_app serve --server S``, embedded memory store, one Entra-tolerant
tenant) and ``benchmarks/ceiling_app.py --server S`` (same routes and JSON shapes, no SCIM
work, the same server options). The load generator (``wrk`` with Lua scripts when installed,
else a lean asyncio HTTP/1.1 client) and this runner are pinned to core 1. It seeds each app's
tenant with users, then measures phase by phase for several rounds, each app against its
ceiling in alternating order (ABBA), reading each server's CPU time (process tree) from
``/proc/PID/stat`` before and after every measured run. Idle servers wait on core 0 meanwhile.

Phases: ``get`` (``GET /Users?filter=userName+eq+%22...%22`` hitting one seeded user),
``post`` (Entra's create body) and ``patch`` (Entra's capitalised ``Replace`` of
``emails[type eq "work"].value`` and ``name.familyName`` on seeded users).

Per server and phase it prints the throughput of the app and its ceiling and their ratio, the
server CPU µs per request of each and the difference: the SCIM work per request; then all
servers side by side, each app's throughput against the app on hypercorn. Targets: at most
60 µs (GET) and 120 µs (POST, PATCH) of SCIM work per request; app/ceiling throughput of at
least 0.85 (GET) and 0.75 (POST, PATCH) on hypercorn, 0.5 and 0.4 on granian (issue 16).

``python -m benchmarks.run_ceiling --rounds 3 --duration 5 --out ceiling.json``
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import resource
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

if __package__ in (None, ""):  # run as a file: make `benchmarks` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import _entra
from benchmarks._entra import (
    EXTERNAL_ID,
    SimUser,
    filter_query,
    make_users,
    random_case,
    user_create_body,
)
from benchmarks._http import RawClient
from benchmarks._report import (
    core_busy_seconds,
    cpu_seconds,
    machine_info,
    percentile,
    proc_tree_cpu_seconds,
    run_async,
)

ROOT = Path(__file__).resolve().parent.parent
TENANT = "bench"
PHASES = ("get", "post", "patch")
TARGET_US = {"get": 60.0, "post": 120.0, "patch": 120.0}
TARGET_RATIO = {
    "hypercorn": {"get": 0.85, "post": 0.75, "patch": 0.75},
    "granian": {"get": 0.5, "post": 0.4, "patch": 0.4},
}
"""App/ceiling throughput targets per server (issue 16); uvicorn has none."""
ASGI_SERVERS = ("hypercorn", "granian", "uvicorn")
SERVER_CORE = 0
CLIENT_CORE = 1


# --- servers ----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def pin(cores: set[int]) -> Callable[[], None]:
    def apply() -> None:
        try:
            os.sched_setaffinity(0, cores)
        except OSError:
            pass

    return apply


@dataclass
class Server:
    """One started server: the process, its base URL and where its output goes."""

    kind: str  # "app" or "ceiling"
    asgi: str  # the ASGI server it runs on
    process: subprocess.Popen[bytes]
    port: int
    log: Path
    base_path: str

    @property
    def name(self) -> str:
        return f"{self.kind}-{self.asgi}"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        return self.url + self.base_path

    def cpu(self) -> float:
        return proc_tree_cpu_seconds(self.process.pid)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)


def start_server(
    kind: str,
    asgi: str,
    module: list[str],
    workdir: Path,
    cores: set[int],
    *,
    prefix: Sequence[str] = (),
    tree: Path = ROOT,
) -> Server:
    """``python -m <module...> --server ASGI`` on a free loopback port, pinned to ``cores``.

    ``prefix`` runs it under another program (``valgrind --tool=callgrind ...``). ``tree``:
    the checkout the module is imported from (``python -m`` looks in its working directory
    first); a tree other than this one is one from before ``--server``, which ran hypercorn
    only, and is not given the option.
    """
    port = free_port()
    command = [*prefix, sys.executable, "-m", *module, "--host", "127.0.0.1", "--port", str(port)]
    if tree == ROOT:
        command += ["--server", asgi]
    elif asgi != "hypercorn":
        raise ValueError(f"a tree other than this one serves on hypercorn only, not {asgi}")
    log = workdir / f"{kind}-{asgi}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            command,
            cwd=tree,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            preexec_fn=pin(cores),
        )
    return Server(kind, asgi, process, port, log, f"/scim/v2/{TENANT}")


async def wait_healthy(server: Server, limit: float = 30.0) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            break
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
            writer.write(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            head = await reader.read()
            writer.close()
            if head[9:12] == b"200":
                return
        except OSError:
            pass
        await asyncio.sleep(0.2)
    tail = server.log.read_text(errors="replace")[-3000:]
    raise RuntimeError(f"{server.name} did not become healthy on port {server.port}:\n{tail}")


# --- workloads --------------------------------------------------------------------------------


@dataclass
class Workload:
    """Everything a generator needs for one phase, independent of the generator."""

    seeded: list[SimUser]
    get_targets: list[str]
    post_template: tuple[str, str, str]
    patch_template: tuple[str, str, str]


def make_workload(seeded: list[SimUser], get_paths: int) -> Workload:
    """Request material for every phase.

    Entra looks each user up by a filter naming that user, so in a sync cycle no filter text
    repeats. The GET targets name the seeded users in random letter case (``userName`` matches
    case-insensitively), ``get_paths`` distinct texts in all, so a server's filter cache sees
    mostly new texts, as under Entra; ``get_paths`` no larger than the seeded users measures
    the cached path instead.
    """
    rng = random.Random(5)
    get_targets = [
        "/Users?" + filter_query("userName", random_case(seeded[n % len(seeded)].user_name, rng))
        for n in range(max(get_paths, 1))
    ]
    marker = "\x00UNAME\x00"
    probe = SimUser(0, marker, EXTERNAL_ID, "Given", "Family", marker, "Sales", False)
    body = orjson.dumps(user_create_body(probe)).decode()
    before, middle, after = body.split(orjson.dumps(marker).decode()[1:-1], 2)
    patch = orjson.dumps(_entra.replace_email_and_family(marker, marker)).decode()
    p1, p2, p3 = patch.split(orjson.dumps(marker).decode()[1:-1], 2)
    return Workload(seeded, get_targets, (before, middle, after), (p1, p2, p3))


def _lua(text: str) -> str:
    return f"[==[{text}]==]"


_LUA_DONE = """
done = function(summary, latency, requests)
  io.write(string.format(
    'WRKJSON {"requests":%d,"duration_us":%d,"connect":%d,"read":%d,"write":%d,' ..
    '"status":%d,"timeout":%d,"p50_us":%d,"p99_us":%d}\\n',
    summary.requests, summary.duration, summary.errors.connect, summary.errors.read,
    summary.errors.write, summary.errors.status, summary.errors.timeout,
    latency:percentile(50), latency:percentile(99)))
end
"""


def lua_script(phase: str, workload: Workload, base_path: str, token: str, run: str) -> str:
    head = "".join(f'wrk.headers["{k}"] = "{v}"\n' for k, v in _entra.headers(token).items())
    if phase == "get":
        paths = ",\n".join(_lua(base_path + target) for target in workload.get_targets)
        body = f"""
local paths = {{
{paths}
}}
local n = #paths
local i = 0
request = function()
  i = i % n + 1
  return wrk.format("GET", paths[i])
end
"""
    elif phase == "post":
        a, b, c = (_lua(part) for part in workload.post_template)
        body = f"""
local a, b, c = {a}, {b}, {c}
local counter = 0
request = function()
  counter = counter + 1
  local uname = "w{run}." .. counter .. "@contoso.example"
  return wrk.format("POST", "{base_path}/Users", nil, a .. uname .. b .. uname .. c)
end
"""
    elif phase == "patch":
        ids = ",\n".join(_lua(u.id or "") for u in workload.seeded)
        a, b, c = (_lua(part) for part in workload.patch_template)
        body = f"""
local ids = {{
{ids}
}}
local n = #ids
local a, b, c = {a}, {b}, {c}
local counter = 0
request = function()
  counter = counter + 1
  local id = ids[counter % n + 1]
  local mail = "p{run}." .. counter .. "@contoso.example"
  return wrk.format("PATCH", "{base_path}/Users/" .. id, nil, a .. mail .. b .. "F" .. counter .. c)
end
"""
    else:  # pragma: no cover
        raise ValueError(phase)
    return head + body + _LUA_DONE


@dataclass
class Measurement:
    server: str
    phase: str
    round: int
    requests: int
    seconds: float
    server_cpu_s: float
    generator_cpu_s: float
    core_busy_s: float = 0.0
    errors: dict[str, int] = field(default_factory=dict)
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    asgi: str = "hypercorn"

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def server_us(self) -> float:
        return self.server_cpu_s / self.requests * 1e6 if self.requests else 0.0

    @property
    def foreign_share(self) -> float:
        """Share of the server core's time spent on other processes (noise from neighbours)."""
        if not self.seconds:
            return 0.0
        return max(0.0, self.core_busy_s - self.server_cpu_s) / self.seconds


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_wrk(
    wrk: str,
    server: Server,
    script: Path,
    duration: float,
    connections: int,
) -> tuple[dict[str, Any], float]:
    """Run wrk once; return its done() summary and its CPU seconds."""
    before = children_cpu()
    completed = subprocess.run(
        [
            wrk,
            "-t1",
            f"-c{connections}",
            f"-d{max(1, round(duration))}s",
            "--timeout",
            "10s",
            "-s",
            str(script),
            server.url,
        ],
        capture_output=True,
        text=True,
        preexec_fn=pin({CLIENT_CORE}),
        timeout=duration + 60,
        check=False,
    )
    generator_cpu = children_cpu() - before
    for line in completed.stdout.splitlines():
        if line.startswith("WRKJSON "):
            return orjson.loads(line[8:]), generator_cpu
    raise RuntimeError(
        f"wrk failed ({completed.returncode}):\n{completed.stdout}\n{completed.stderr}"
    )


class PythonGenerator:
    """A closed-loop generator on the raw asyncio client, when wrk is not installed."""

    def __init__(self, workload: Workload, token: str) -> None:
        self.workload = workload
        self.headers = _entra.headers(token)

    def request_maker(self, phase: str, run: str) -> Callable[[], tuple[str, str, bytes | None]]:
        """The phase's next request each call: method, target below the base URL, body.

        ``phase`` is one of :data:`PHASES`, or ``delete`` (a ``DELETE`` of a seeded user each
        time, for a ceiling app, which deletes nothing: the Entra cycle's mix needs its cost).
        """
        seeded = self.workload.seeded
        counter = 0
        a, b, c = self.workload.post_template
        pa, pb, pc = self.workload.patch_template

        def next_request() -> tuple[str, str, bytes | None]:
            nonlocal counter
            counter += 1
            if phase == "get":
                targets = self.workload.get_targets
                return "GET", targets[counter % len(targets)], None
            if phase == "post":
                uname = f"w{run}.{counter}@contoso.example"
                return "POST", "/Users", (a + uname + b + uname + c).encode()
            user = seeded[counter % len(seeded)]
            if phase == "delete":  # only the ceiling is driven with it: it deletes nothing
                return "DELETE", f"/Users/{user.id}", None
            mail = f"p{run}.{counter}@contoso.example"
            return "PATCH", f"/Users/{user.id}", (pa + mail + pb + f"F{counter}" + pc).encode()

        return next_request

    async def run(
        self, phase: str, server: Server, duration: float, connections: int, run: str
    ) -> tuple[dict[str, Any], float]:
        client = RawClient(server.base_url, self.headers, connections, timeout=10)
        errors: dict[str, int] = {}
        latencies: list[float] = []
        stop = time.monotonic() + duration
        next_request = self.request_maker(phase, run)

        async def worker() -> None:
            while time.monotonic() < stop:
                method, target, body = next_request()
                started = time.perf_counter()
                try:
                    status, _ = await client.request(method, target, body)
                except Exception as exc:  # noqa: BLE001 - counted
                    errors[type(exc).__name__] = errors.get(type(exc).__name__, 0) + 1
                    continue
                latencies.append(time.perf_counter() - started)
                if status >= 300:
                    errors["status"] = errors.get("status", 0) + 1

        cpu = cpu_seconds()
        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(connections)))
        elapsed = time.perf_counter() - started
        generator_cpu = cpu_seconds() - cpu
        await client.aclose()
        latencies.sort()
        summary = {
            "requests": len(latencies),
            "duration_us": elapsed * 1e6,
            "status": errors.pop("status", 0),
            "connect": 0,
            "read": sum(errors.values()),
            "write": 0,
            "timeout": 0,
            "p50_us": percentile(latencies, 0.5) * 1e6,
            "p99_us": percentile(latencies, 0.99) * 1e6,
        }
        return summary, generator_cpu


# --- the run ----------------------------------------------------------------------------------


def ceiling_ids(users: list[SimUser]) -> None:
    """Give users ids for the ceiling app, which stores nothing: any id is answered."""
    for n, user in enumerate(users):
        user.id = f"{n:020x}"


async def seed(server: Server, token: str, users: list[SimUser]) -> None:
    client = RawClient(server.base_url, _entra.headers(token), 8)
    queue = iter(users)

    async def worker() -> None:
        for user in queue:
            status, body = await client.request(
                "POST", "/Users", orjson.dumps(user_create_body(user))
            )
            if status != 201:
                raise RuntimeError(f"seeding failed: {status} {body[:300]!r}")
            user.id = orjson.loads(body)["id"]

    try:
        await asyncio.gather(*(worker() for _ in range(8)))
    finally:
        await client.aclose()


def wait_for_quiet(limit: float, threshold: float = 0.15) -> float:
    """Wait (at most ``limit`` s) until other processes use under ``threshold`` cores.

    The machine may be shared (other test runs): their load on the server's core would be
    counted as lost throughput. Returns the last load seen, in cores.
    """
    cores = sorted(os.sched_getaffinity(0) | {SERVER_CORE, CLIENT_CORE})
    deadline = time.monotonic() + limit
    while True:
        before = sum(core_busy_seconds(core) for core in cores)
        time.sleep(0.5)
        load = (sum(core_busy_seconds(core) for core in cores) - before) / 0.5
        if load < threshold or time.monotonic() >= deadline:
            return load


def measure(
    args: argparse.Namespace,
    server: Server,
    phase: str,
    round_: int,
    workload: Workload,
    token: str,
    workdir: Path,
    duration: float,
) -> Measurement:
    run = f"{server.kind[0]}{server.asgi[0]}{round_}{phase}{secrets.token_hex(3)}"
    cpu_before = server.cpu()
    core_before = core_busy_seconds(SERVER_CORE)
    if args.wrk:
        script = workdir / f"{server.name}-{phase}-{round_}.lua"
        script.write_text(lua_script(phase, workload, server.base_path, token, run))
        summary, generator_cpu = run_wrk(args.wrk, server, script, duration, args.connections)
    else:
        generator = PythonGenerator(workload, token)
        summary, generator_cpu = run_async(
            generator.run(phase, server, duration, args.connections, run)
        )
    server_cpu = server.cpu() - cpu_before
    core_busy = core_busy_seconds(SERVER_CORE) - core_before
    errors = {
        key: int(summary[key])
        for key in ("status", "connect", "read", "write", "timeout")
        if summary[key]
    }
    return Measurement(
        server=server.kind,
        asgi=server.asgi,
        phase=phase,
        round=round_,
        requests=int(summary["requests"]),
        seconds=summary["duration_us"] / 1e6,
        server_cpu_s=server_cpu,
        generator_cpu_s=generator_cpu,
        core_busy_s=core_busy,
        errors=errors,
        p50_ms=summary["p50_us"] / 1000,
        p99_ms=summary["p99_us"] / 1000,
    )


def aggregate(measurements: list[Measurement], asgi: str) -> dict[str, Any]:
    """Per phase: the app and its ceiling on the ASGI server ``asgi``, and their ratios."""
    out: dict[str, Any] = {}
    targets = TARGET_RATIO.get(asgi, {})
    for phase in PHASES:
        row: dict[str, Any] = {}
        for name in ("app", "ceiling"):
            ms = [m for m in measurements if (m.phase, m.server, m.asgi) == (phase, name, asgi)]
            if not ms:
                continue
            requests = sum(m.requests for m in ms)
            seconds = sum(m.seconds for m in ms)
            cpu = sum(m.server_cpu_s for m in ms)
            generator = sum(m.generator_cpu_s for m in ms)
            errors: dict[str, int] = {}
            for m in ms:
                for key, value in m.errors.items():
                    errors[key] = errors.get(key, 0) + value
            row[name] = {
                "requests": requests,
                "rps": round(requests / seconds, 1) if seconds else 0.0,
                "rps_by_round": [round(m.rps, 1) for m in ms],
                "server_cpu_us_per_request": round(cpu / requests * 1e6, 1) if requests else 0.0,
                "server_cpu_us_by_round": [round(m.server_us, 1) for m in ms],
                "server_core_utilisation": round(cpu / seconds, 3) if seconds else 0.0,
                "foreign_load_on_server_core": round(
                    sum(m.foreign_share * m.seconds for m in ms) / seconds, 3
                )
                if seconds
                else 0.0,
                "generator_cpu_us_per_request": (
                    round(generator / requests * 1e6, 1) if requests else 0.0
                ),
                "p50_ms": round(sorted(m.p50_ms for m in ms)[len(ms) // 2], 3),
                "p99_ms": round(max(m.p99_ms for m in ms), 3),
                "errors": errors,
            }
        if "app" in row and "ceiling" in row:
            app, ceiling = row["app"], row["ceiling"]
            ratio = app["rps"] / ceiling["rps"] if ceiling["rps"] else 0.0
            work = app["server_cpu_us_per_request"] - ceiling["server_cpu_us_per_request"]
            row["throughput_ratio"] = round(ratio, 3)
            # What the ratio would be with the server core saturated by each server alone.
            row["cpu_capacity_ratio"] = round(
                ceiling["server_cpu_us_per_request"] / app["server_cpu_us_per_request"], 3
            )
            row["scim_work_us_per_request"] = round(work, 1)
            row["target_scim_work_us"] = TARGET_US[phase]
            row["target_ratio"] = targets.get(phase)
            row["meets_work_target"] = work <= TARGET_US[phase]
            row["meets_ratio_target"] = phase not in targets or ratio >= targets[phase]
        if row:
            out[phase] = row
    return out


def print_summary(result: dict[str, Any]) -> None:
    for asgi, phases in result["servers"].items():
        print(
            f"\n{asgi:<10}{'app req/s':>11}{'ceil req/s':>12}{'ratio':>8}{'cpu':>6}{'target':>8}"
            f"{'app µs':>9}{'ceil µs':>9}{'SCIM µs':>9}{'target':>8}{'gen µs':>8}  errors"
        )
        for phase, row in phases.items():
            app, ceiling = row.get("app"), row.get("ceiling")
            if app is None or ceiling is None:
                only = app or ceiling
                assert only is not None
                print(
                    f"{phase:<10} {only['rps']:>10.0f} req/s  "
                    f"{only['server_cpu_us_per_request']:.0f} µs"
                )
                continue
            verdict = "ok" if row["meets_work_target"] and row["meets_ratio_target"] else "MISS"
            errors = {**{f"app {k}": v for k, v in app["errors"].items()}}
            errors.update({f"ceiling {k}": v for k, v in ceiling["errors"].items()})
            target = "-" if row["target_ratio"] is None else f"≥{row['target_ratio']}"
            print(
                f"{phase:<10}{app['rps']:>11.0f}{ceiling['rps']:>12.0f}"
                f"{row['throughput_ratio']:>8.2f}{row['cpu_capacity_ratio']:>6.2f}{target:>8}"
                f"{app['server_cpu_us_per_request']:>9.0f}"
                f"{ceiling['server_cpu_us_per_request']:>9.0f}"
                f"{row['scim_work_us_per_request']:>9.0f}"
                f"{'≤' + str(int(row['target_scim_work_us'])):>8}"
                f"{app['generator_cpu_us_per_request']:>8.0f}  {errors or '-'} {verdict}"
            )
    comparison = result.get("comparison", {})
    if comparison:
        print("\napp throughput (and server CPU µs/request) against the app on hypercorn:")
        for phase, row in comparison.items():
            cells = [
                f"{asgi} {cell['app_rps']:.0f} req/s ({cell['app_cpu_us']:.0f} µs) "
                f"{cell['vs_hypercorn']:.2f}x"
                for asgi, cell in row.items()
            ]
            print(f"  {phase:<6} " + "  |  ".join(cells))


def compare(servers: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Per phase, each server's app throughput and CPU per request, against hypercorn's."""
    out: dict[str, Any] = {}
    for phase in PHASES:
        row: dict[str, Any] = {}
        base = servers.get("hypercorn", {}).get(phase, {}).get("app")
        for asgi, phases in servers.items():
            app = phases.get(phase, {}).get("app")
            if app is None:
                continue
            row[asgi] = {
                "app_rps": app["rps"],
                "app_cpu_us": app["server_cpu_us_per_request"],
                # Requests per core: what a saturated core would serve (CPU per request).
                "vs_hypercorn": round(app["rps"] / base["rps"], 2) if base else 0.0,
                "per_core_vs_hypercorn": round(
                    base["server_cpu_us_per_request"] / app["server_cpu_us_per_request"], 2
                )
                if base and app["server_cpu_us_per_request"]
                else 0.0,
            }
        if row:
            out[phase] = row
    return out


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.run_ceiling",
        description=(
            "Measure the reference app (embedded store) against a bare Starlette ceiling app on "
            "each ASGI server with the same settings: throughput ratio and server CPU µs per "
            "request, and the servers side by side."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--rounds", type=int, default=3, help="alternating rounds")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per measured run")
    parser.add_argument("--warmup", type=float, default=1.0, help="seconds of warm-up per run")
    parser.add_argument("--connections", type=int, default=16, help="keep-alive connections")
    parser.add_argument("--seed-users", type=int, default=1000, help="users seeded in the app")
    parser.add_argument(
        "--get-paths",
        type=int,
        default=20000,
        help="distinct filter texts in the GET phase (Entra never repeats one in a cycle); "
        "set it to --seed-users or less to measure a warm filter cache",
    )
    parser.add_argument(
        "--generator",
        choices=("auto", "wrk", "python"),
        default="auto",
        help="auto: wrk when installed, else the asyncio raw client",
    )
    parser.add_argument(
        "--quiet-wait",
        type=float,
        default=60.0,
        help="before each run, wait up to this long for other processes to go idle (0: never)",
    )
    parser.add_argument("--phases", nargs="+", choices=PHASES, default=list(PHASES))
    parser.add_argument(
        "--servers",
        nargs="+",
        choices=ASGI_SERVERS,
        help="ASGI servers to measure (default: each one installed)",
    )
    parser.add_argument(
        "--only", choices=("app", "ceiling"), help="measure one server only (e.g. ceiling alone)"
    )
    parser.add_argument("--out", type=Path, help="write the results as JSON here")
    parser.add_argument("--keep-logs", action="store_true", help="keep server logs and scripts")
    args = parser.parse_args(argv)
    wrk = shutil.which("wrk")
    if args.generator == "wrk" and wrk is None:
        parser.error("wrk is not installed (benchmarks/setup installs it)")
    args.wrk = wrk if args.generator in ("auto", "wrk") else None
    if args.servers is None:
        from reference_app.servers import missing_server

        args.servers = [asgi for asgi in ASGI_SERVERS if missing_server(asgi) is None]
    return args


def split_cores() -> set[int]:
    """Pin this process (the load generator) to :data:`CLIENT_CORE`; the servers' cores.

    With fewer than two cores (or without these two) nothing is pinned and the servers get
    every core this process may use.
    """
    cores = os.sched_getaffinity(0)
    if len(cores) >= 2 and {SERVER_CORE, CLIENT_CORE} <= cores:
        os.sched_setaffinity(0, {CLIENT_CORE})
        return {SERVER_CORE}
    print("fewer than 2 cores: server and generator share them", file=sys.stderr)
    return set(cores)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    server_cores = split_cores()
    token = secrets.token_urlsafe(24)
    workdir = Path(tempfile.mkdtemp(prefix="scimkit-ceiling-"))
    servers: dict[tuple[str, str], Server] = {}
    kinds = [kind for kind in ("app", "ceiling") if args.only in (None, kind)]
    try:
        for asgi in args.servers:
            if "app" in kinds:
                app = ["reference_app", "serve", "--tenant", f"{TENANT}:{token}"]
                app += ["--log-level", "warning"]
                servers["app", asgi] = start_server("app", asgi, app, workdir, server_cores)
            if "ceiling" in kinds:
                # "--token=": a random token may start with "-", which argparse takes for an option.
                ceiling = ["benchmarks.ceiling_app", f"--token={token}"]
                servers["ceiling", asgi] = start_server(
                    "ceiling", asgi, ceiling, workdir, server_cores
                )
        for server in servers.values():
            run_async(wait_healthy(server))
        # Each app has its own store: its own seeded users (and ids), one workload each.
        workloads: dict[str, Workload] = {}
        for asgi in args.servers:
            users = make_users(args.seed_users, secrets.token_hex(4), random.Random(11))
            if ("app", asgi) in servers:
                run_async(seed(servers["app", asgi], token, users))
            else:
                ceiling_ids(users)
            workloads[asgi] = make_workload(users, args.get_paths)
        generator = f"wrk ({args.wrk})" if args.wrk else "python raw-asyncio client"
        print(
            f"servers {', '.join(args.servers)} on core(s) {sorted(server_cores)}, "
            f"generator: {generator}, {args.connections} connections, "
            f"{args.rounds} rounds × {args.duration:g} s",
            file=sys.stderr,
        )
        measurements: list[Measurement] = []
        for round_ in range(args.rounds):
            for phase in args.phases:
                for asgi in args.servers:
                    order = [servers[kind, asgi] for kind in kinds]
                    flip = (round_ + PHASES.index(phase)) % 2
                    for server in order[::-1] if flip else order:
                        if args.quiet_wait > 0:
                            load = wait_for_quiet(args.quiet_wait)
                            if load >= 0.15:
                                print(
                                    f"machine busy ({load:.2f} cores): measuring anyway",
                                    file=sys.stderr,
                                )
                        workload = workloads[asgi]
                        if args.warmup > 0:
                            measure(args, server, phase, -1, workload, token, workdir, args.warmup)
                        m = measure(
                            args, server, phase, round_, workload, token, workdir, args.duration
                        )
                        measurements.append(m)
                        print(
                            f"round {round_} {phase:<6}{server.name:<18} {m.rps:>8.0f} req/s  "
                            f"server {m.server_us:>6.0f} µs/req  generator "
                            f"{m.generator_cpu_s / max(m.requests, 1) * 1e6:>4.0f} µs/req"
                            f"  p50 {m.p50_ms:.2f} ms  core0: server "
                            f"{m.server_cpu_s / m.seconds:.0%} others {m.foreign_share:.0%}"
                            f"  errors {m.errors or '-'}",
                            file=sys.stderr,
                        )
        for server in servers.values():
            if server.process.poll() is not None:
                raise RuntimeError(f"{server.name} exited during the run; see {server.log}")
        by_server = {asgi: aggregate(measurements, asgi) for asgi in args.servers}
        result = {
            "tool": "benchmarks/run_ceiling.py",
            "machine": machine_info(),
            "generator": generator,
            "connections": args.connections,
            "rounds": args.rounds,
            "duration_s": args.duration,
            "server_cores": sorted(server_cores),
            "seeded_users": args.seed_users,
            "servers": by_server,
            "comparison": compare(by_server),
            "measurements": [m.__dict__ for m in measurements],
        }
        print_summary(result)
        if args.out:
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2))
            print(f"wrote {args.out}")
        return 0
    finally:
        for server in servers.values():
            server.stop()
        if args.keep_logs:
            print(f"logs and scripts kept in {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
