"""Simulate Microsoft Entra ID provisioning against any SCIM 2.0 base URL, over HTTP only.

Phases, in Entra's request shapes (``shared/reference/entra-requests.md``):

- ``probe``: Test Connection: ``userName eq "<guid>"`` on /Users and ``displayName eq`` on
  /Groups, each expecting 200 and an empty ListResponse.
- ``initial-users``: per user, ``GET /Users?filter=userName+eq+%22...%22`` (expects 0 hits),
  then ``POST /Users`` with Entra's create body (enterprise URN listed, the FCC extension
  ``urn:ietf:params:scim:schemas:extension:fcc:2.0:User`` sent but not listed).
- ``initial-groups``: per group, ``GET /Groups?excludedAttributes=members&filter=displayName+eq``,
  then ``POST /Groups`` with the ADSCIM marker URN.
- ``group-members``: ``PATCH {"op":"Add","path":"members","value":[{"$ref":null,"value":id},...]}``
  in batches; some groups are large. At most one PATCH per group is in flight.
- ``incremental-users``: per changed user, the match GET (expects the one user) and a PATCH in
  one of Entra's dialects: capitalised ``Replace`` of ``emails[type eq "work"].value`` and
  ``name.familyName``; the ``aadOptscim062020`` path-less ``replace`` with dotted and URN keys;
  string Booleans on the FCC extension; ``Replace active "False"`` (disable).
- ``incremental-groups``: ``PATCH {"op":"Remove","path":"members","value":[...]}``.
- ``verify``: ``GET /Users/{id}`` and ``GET /Groups/{id}`` of a sample, compared with what
  the simulator sent.
- ``deprovision``: ``DELETE`` every group and user (expects 204), then a sample GET (404).

Every response's status is checked against the step's expected codes, and bodies against what
was sent where the step returns one; a mismatch counts as an error. Per phase it reports
requests, throughput, p50/p95/p99 latency, errors by kind and the client's own CPU time, and
writes JSON (``--out``) and a PNG chart (``--chart``, needs matplotlib).

Example: ``python -m benchmarks.entra_sync --base-url http://127.0.0.1:8000/scim/v2/bench
--token secret --users 20000 --groups 10 --out results.json``
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import orjson

if __package__ in (None, ""):  # run as a file: make `benchmarks` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import _entra
from benchmarks._entra import (
    ENTERPRISE,
    FCC,
    SimUser,
    filter_query,
    group_create_body,
    make_users,
    members_patch,
    user_create_body,
)
from benchmarks._http import Client, check_loopback, make_client
from benchmarks._report import (
    cpu_seconds,
    machine_info,
    optional_module,
    percentile,
    run_async,
)

PATCH_OK = (200, 204)
DIALECTS = ("default-replace", "optscim062020", "fcc-string-bool", "default-name")


# --- statistics -------------------------------------------------------------------------------


@dataclass
class OpStats:
    """Latencies and outcomes of one kind of request within a phase."""

    latencies: list[float] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)

    def summary(self, elapsed: float) -> dict[str, Any]:
        ordered = sorted(self.latencies)
        count = len(ordered)
        return {
            "requests": count,
            "throughput_rps": round(count / elapsed, 1) if elapsed > 0 else 0.0,
            "latency_ms": {
                "p50": round(percentile(ordered, 0.50) * 1000, 3),
                "p95": round(percentile(ordered, 0.95) * 1000, 3),
                "p99": round(percentile(ordered, 0.99) * 1000, 3),
                "max": round(ordered[-1] * 1000, 3) if ordered else 0.0,
                "mean": round(sum(ordered) / count * 1000, 3) if count else 0.0,
            },
            "statuses": dict(sorted(self.statuses.items())),
            "errors": sum(self.errors.values()),
            "errors_by_kind": dict(self.errors.most_common()),
        }


@dataclass
class Phase:
    """One phase's requests, wall time and client CPU time."""

    name: str
    planned: int
    ops: dict[str, OpStats] = field(default_factory=dict)
    elapsed: float = 0.0
    client_cpu: float = 0.0
    aborted: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def op(self, name: str) -> OpStats:
        stats = self.ops.get(name)
        if stats is None:
            stats = self.ops[name] = OpStats()
        return stats

    def summary(self) -> dict[str, Any]:
        merged = OpStats()
        for stats in self.ops.values():
            merged.latencies.extend(stats.latencies)
            merged.statuses.update(stats.statuses)
            merged.errors.update(stats.errors)
        out = merged.summary(self.elapsed)
        requests = out["requests"]
        out = {
            "phase": self.name,
            "seconds": round(self.elapsed, 3),
            **out,
            "client_cpu_s": round(self.client_cpu, 3),
            "client_cpu_us_per_request": (
                round(self.client_cpu / requests * 1e6, 1) if requests else 0.0
            ),
            "aborted": self.aborted,
            **self.extra,
            "ops": {name: stats.summary(self.elapsed) for name, stats in self.ops.items()},
        }
        return out


class Progress:
    """A progress bar on a terminal: tqdm when installed, else a plain carriage-return line."""

    def __init__(self, name: str, total: int, enabled: bool) -> None:
        self._bar: Any = None
        self._plain = False
        self._name = name
        self._total = total
        self._done = 0
        self._shown = 0.0
        if not enabled:
            return
        tqdm = optional_module("tqdm")
        if tqdm is not None:
            self._bar = tqdm.tqdm(total=total, desc=f"{name:<18}", unit="req", leave=True)
        else:
            self._plain = True

    def update(self, count: int = 1) -> None:
        self._done += count
        if self._bar is not None:
            self._bar.update(count)
        elif self._plain:
            now = time.monotonic()
            if now - self._shown > 0.25 or self._done >= self._total:
                self._shown = now
                sys.stderr.write(f"\r{self._name:<18} {self._done}/{self._total} req")
                sys.stderr.flush()

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
        elif self._plain:
            sys.stderr.write("\n")


# --- what the simulator holds ----------------------------------------------------------------


@dataclass
class SimGroup:
    index: int
    display_name: str
    external_id: str
    members: list[int]
    id: str | None = None
    removed: set[int] = field(default_factory=set)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


def incremental_patch(user: SimUser, dialect: str, run: str) -> dict[str, Any]:
    """One PATCH in an Entra dialect; updates ``user`` to what the server should now hold."""
    if dialect == "disable":
        user.active = False
        body = _entra.disable()
    elif dialect == "default-replace":
        user.email = f"changed{user.index:06d}.{run}@contoso.example"
        user.family = f"Updated{user.index:06d}"
        body = _entra.replace_email_and_family(user.email, user.family)
    elif dialect == "optscim062020":
        user.email = f"flagged{user.index:06d}.{run}@contoso.example"
        user.given = f"Renamed{user.index:06d}"
        user.administrator = not user.administrator
        user.department = "Flagged"
        body = _entra.optscim062020(
            user.email,
            user.given,
            f"{user.given} {user.family}",
            user.administrator,
            user.department,
        )
    elif dialect == "fcc-string-bool":
        user.login_disabled = True
        user.department = "Moved"
        body = _entra.fcc_flag_and_department("loginDisabled", user.department)
    elif dialect == "default-name":
        user.given = f"Given{user.index:06d}x"
        body = _entra.replace_given_name(user.given, f"{user.given} {user.family}")
    else:  # pragma: no cover - the dialects are fixed above
        raise ValueError(dialect)
    user.dialect = dialect
    return body


def user_mismatch(user: SimUser, resource: Any) -> str | None:
    """Compare a returned User with what the simulator sent; a short reason or ``None``."""
    if not isinstance(resource, dict):
        return "body is not a JSON object"
    if user.id is not None and resource.get("id") != user.id:
        return "id differs"
    if str(resource.get("userName", "")).lower() != user.user_name.lower():
        return "userName differs"
    if resource.get("active") is not user.active:
        return "active differs"
    name = resource.get("name") or {}
    if name.get("givenName") != user.given or name.get("familyName") != user.family:
        return "name differs"
    emails = resource.get("emails") or []
    work = [e.get("value") for e in emails if isinstance(e, dict) and e.get("type") == "work"]
    if work != [user.email]:
        return "work email differs"
    enterprise = resource.get(ENTERPRISE) or {}
    if enterprise.get("department") != user.department:
        return "enterprise department differs"
    fcc = resource.get(FCC)
    if fcc is not None:  # a server that does not know the FCC extension may drop it
        if fcc.get("administrator") is not user.administrator:
            return "fcc administrator differs"
        if bool(fcc.get("loginDisabled")) is not user.login_disabled:
            return "fcc loginDisabled differs"
    return None


# --- the simulator ----------------------------------------------------------------------------


class Simulator:
    def __init__(self, args: argparse.Namespace, client: Client) -> None:
        self.args = args
        self.client = client
        self.deadline = time.monotonic() + args.max_seconds
        self.rng = random.Random(args.seed)
        self.run = args.prefix or uuid.UUID(int=self.rng.getrandbits(128)).hex[:8]
        self.users = make_users(args.users, self.run, self.rng)
        self.groups = self._make_groups()
        self.phases: list[Phase] = []
        self.methods: Counter[str] = Counter()
        """Requests sent, by HTTP method: the cycle's mix, which a server's cost is weighed by."""
        self._phase: Phase | None = None
        self._progress: Progress | None = None
        self.progress_enabled = not args.no_progress and sys.stderr.isatty()

    def _make_groups(self) -> list[SimGroup]:
        args = self.args
        groups = []
        every = list(range(len(self.users)))
        for index in range(args.groups):
            if index < args.large_groups:
                members = every[: min(args.large_group_size or len(every), len(every))]
            else:
                members = sorted(self.rng.sample(every, min(args.group_size, len(every))))
            groups.append(
                SimGroup(
                    index=index,
                    display_name=f"Group {index:04d} {self.run}",
                    external_id=str(uuid.UUID(int=self.rng.getrandbits(128), version=4)),
                    members=members,
                )
            )
        return groups

    # -- one request --

    async def call(
        self,
        op: str,
        method: str,
        target: str,
        body: Any = None,
        *,
        expect: Sequence[int],
        check: Callable[[int, Any], str | None] | None = None,
    ) -> tuple[int, Any]:
        """Send one request, record it, verify the status (and body via ``check``)."""
        phase = self._phase
        assert phase is not None
        stats = phase.op(op)
        self.methods[method] += 1
        payload = orjson.dumps(body) if body is not None else None
        started = time.perf_counter()
        try:
            status, raw = await self.client.request(method, target, payload)
        except Exception as exc:  # noqa: BLE001 - every failure is a counted error
            stats.latencies.append(time.perf_counter() - started)
            stats.errors[f"exception {type(exc).__name__}"] += 1
            stats.statuses["exception"] += 1
            if self._progress is not None:
                self._progress.update()
            return 0, None
        stats.latencies.append(time.perf_counter() - started)
        stats.statuses[str(status)] += 1
        if self._progress is not None:
            self._progress.update()
        data: Any = None
        if status not in expect:
            stats.errors[f"status {status} (expected {'/'.join(map(str, expect))})"] += 1
            return status, None
        if check is not None:
            try:
                data = orjson.loads(raw) if raw else None
            except orjson.JSONDecodeError:
                stats.errors["body is not JSON"] += 1
                return status, None
            reason = check(status, data)
            if reason is not None:
                stats.errors[f"mismatch: {reason}"] += 1
                return status, None
        return status, data

    # -- phases --

    async def run_phase(
        self, name: str, planned: int, jobs: Iterable[Callable[[], Awaitable[None]]]
    ) -> Phase:
        phase = Phase(name, planned)
        self._phase = phase
        self._progress = Progress(name, planned, self.progress_enabled)
        iterator: Iterator[Callable[[], Awaitable[None]]] = iter(jobs)

        async def worker() -> None:
            for job in iterator:
                if time.monotonic() > self.deadline:
                    phase.aborted = True
                    return
                await job()

        cpu = cpu_seconds()
        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(self.args.concurrency)))
        phase.elapsed = time.perf_counter() - started
        phase.client_cpu = cpu_seconds() - cpu
        self._progress.close()
        self._progress = None
        self.phases.append(phase)
        if not self.progress_enabled:
            s = phase.summary()
            print(
                f"{name:<18} {s['requests']:>7} req {s['seconds']:>8.2f} s "
                f"{s['throughput_rps']:>8.1f} req/s  errors {s['errors']}",
                file=sys.stderr,
            )
        return phase

    async def probe(self) -> None:
        def empty(status: int, data: Any) -> str | None:
            if not isinstance(data, dict) or data.get("totalResults") != 0:
                return "expected an empty ListResponse"
            return None

        guid = str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

        async def users() -> None:
            await self.call(
                "GET /Users?filter",
                "GET",
                "/Users?" + filter_query("userName", guid),
                expect=(200,),
                check=empty,
            )

        async def groups() -> None:
            await self.call(
                "GET /Groups?filter",
                "GET",
                "/Groups?excludedAttributes=members&" + filter_query("displayName", guid),
                expect=(200,),
                check=empty,
            )

        await self.run_phase("probe", 2, [users, groups])

    async def initial_users(self) -> None:
        def created(user: SimUser) -> Callable[[int, Any], str | None]:
            def check(status: int, data: Any) -> str | None:
                if not isinstance(data, dict) or not isinstance(data.get("id"), str):
                    return "created user has no id"
                user.id = data["id"]
                return user_mismatch(user, data)

            return check

        def no_match(status: int, data: Any) -> str | None:
            if not isinstance(data, dict) or data.get("totalResults") != 0:
                return "match query found a user before create"
            return None

        def job(user: SimUser) -> Callable[[], Awaitable[None]]:
            async def run() -> None:
                await self.call(
                    "GET /Users?filter",
                    "GET",
                    "/Users?" + filter_query("userName", user.user_name),
                    expect=(200,),
                    check=no_match,
                )
                await self.call(
                    "POST /Users",
                    "POST",
                    "/Users",
                    user_create_body(user),
                    expect=(201,),
                    check=created(user),
                )

            return run

        phase = await self.run_phase(
            "initial-users", 2 * len(self.users), (job(u) for u in self.users)
        )
        created_count = sum(1 for u in self.users if u.id is not None)
        phase.extra["users_created"] = created_count
        phase.extra["users_per_s"] = (
            round(created_count / phase.elapsed, 1) if phase.elapsed > 0 else 0.0
        )

    async def initial_groups(self) -> None:
        def no_match(status: int, data: Any) -> str | None:
            if not isinstance(data, dict) or data.get("totalResults") != 0:
                return "match query found a group before create"
            return None

        def job(group: SimGroup) -> Callable[[], Awaitable[None]]:
            def created(status: int, data: Any) -> str | None:
                if not isinstance(data, dict) or not isinstance(data.get("id"), str):
                    return "created group has no id"
                if data.get("displayName") != group.display_name:
                    return "displayName differs"
                group.id = data["id"]
                return None

            async def run() -> None:
                await self.call(
                    "GET /Groups?filter",
                    "GET",
                    "/Groups?excludedAttributes=members&"
                    + filter_query("displayName", group.display_name),
                    expect=(200,),
                    check=no_match,
                )
                await self.call(
                    "POST /Groups",
                    "POST",
                    "/Groups",
                    group_create_body(group.display_name, group.external_id),
                    expect=(201,),
                    check=created,
                )

            return run

        await self.run_phase("initial-groups", 2 * len(self.groups), (job(g) for g in self.groups))

    def _member_batches(self, member_lists: list[tuple[SimGroup, list[int]]]) -> Iterator[Any]:
        """Round-robin over groups so large groups interleave with small ones."""
        size = self.args.member_batch
        queues = [
            (group, [indexes[i : i + size] for i in range(0, len(indexes), size)])
            for group, indexes in member_lists
            if group.id is not None
        ]
        position = 0
        while any(batches for _, batches in queues):
            for group, batches in queues:
                if position < len(batches):
                    yield group, batches[position]
            position += 1
            if all(position >= len(batches) for _, batches in queues):
                break

    async def group_members(self) -> None:
        pairs = [(g, [i for i in g.members if self.users[i].id is not None]) for g in self.groups]
        batches = list(self._member_batches(pairs))

        def job(group: SimGroup, indexes: list[int]) -> Callable[[], Awaitable[None]]:
            async def run() -> None:
                ids = [self.users[i].id or "" for i in indexes]
                async with group.lock:  # Entra serialises changes to one group
                    await self.call(
                        "PATCH /Groups add",
                        "PATCH",
                        f"/Groups/{group.id}",
                        members_patch("Add", ids),
                        expect=PATCH_OK,
                    )

            return run

        phase = await self.run_phase("group-members", len(batches), (job(g, b) for g, b in batches))
        phase.extra["members_added"] = sum(len(b) for _, b in batches)
        phase.extra["largest_group"] = max((len(g.members) for g in self.groups), default=0)

    async def incremental_users(self) -> None:
        args = self.args
        candidates = [u for u in self.users if u.id is not None]
        changed = self.rng.sample(candidates, round(len(candidates) * args.update_fraction))
        disabled = set(
            u.index for u in self.rng.sample(changed, round(len(changed) * args.disable_fraction))
        )

        def job(position: int, user: SimUser) -> Callable[[], Awaitable[None]]:
            dialect = "disable" if user.index in disabled else DIALECTS[position % len(DIALECTS)]

            def matched(status: int, data: Any) -> str | None:
                if not isinstance(data, dict) or data.get("totalResults") != 1:
                    return "match query did not find exactly one user"
                resources = data.get("Resources") or [{}]
                if resources[0].get("id") != user.id:
                    return "match query returned another user"
                return None

            def patched(status: int, data: Any) -> str | None:
                if status == 204:
                    return None
                return user_mismatch(user, data)

            async def run() -> None:
                await self.call(
                    "GET /Users?filter",
                    "GET",
                    "/Users?" + filter_query("userName", user.user_name),
                    expect=(200,),
                    check=matched,
                )
                body = incremental_patch(user, dialect, self.run)
                await self.call(
                    f"PATCH /Users {dialect}",
                    "PATCH",
                    f"/Users/{user.id}",
                    body,
                    expect=PATCH_OK,
                    check=patched,
                )

            return run

        phase = await self.run_phase(
            "incremental-users",
            2 * len(changed),
            (job(n, u) for n, u in enumerate(changed)),
        )
        phase.extra["users_changed"] = len(changed)
        phase.extra["users_disabled"] = len(disabled)

    async def incremental_groups(self) -> None:
        batches = []
        for group in self.groups:
            present = [i for i in group.members if self.users[i].id is not None]
            if group.id is None or not present:
                continue
            chosen = self.rng.sample(present, min(self.args.member_removes, len(present)))
            group.removed.update(chosen)
            for i in range(0, len(chosen), self.args.member_batch):
                batches.append((group, chosen[i : i + self.args.member_batch]))

        def job(group: SimGroup, indexes: list[int]) -> Callable[[], Awaitable[None]]:
            async def run() -> None:
                ids = [self.users[i].id or "" for i in indexes]
                async with group.lock:
                    await self.call(
                        "PATCH /Groups remove",
                        "PATCH",
                        f"/Groups/{group.id}",
                        members_patch("Remove", ids),
                        expect=PATCH_OK,
                    )

            return run

        await self.run_phase("incremental-groups", len(batches), (job(g, b) for g, b in batches))

    async def verify(self) -> None:
        users = [u for u in self.users if u.id is not None]
        sample = self.rng.sample(users, min(self.args.verify_sample, len(users)))
        groups = [
            g
            for g in self.groups
            if g.id is not None and len(g.members) <= self.args.verify_group_limit
        ]

        def user_job(user: SimUser) -> Callable[[], Awaitable[None]]:
            async def run() -> None:
                await self.call(
                    "GET /Users/{id}",
                    "GET",
                    f"/Users/{user.id}",
                    expect=(200,),
                    check=lambda status, data: user_mismatch(user, data),
                )

            return run

        def group_job(group: SimGroup) -> Callable[[], Awaitable[None]]:
            expected = {self.users[i].id for i in group.members if self.users[i].id is not None} - {
                self.users[i].id for i in group.removed
            }

            def check(status: int, data: Any) -> str | None:
                if not isinstance(data, dict):
                    return "body is not a JSON object"
                members = {m.get("value") for m in data.get("members") or []}
                if members != expected:
                    return f"members differ ({len(members)} vs {len(expected)} expected)"
                return None

            async def run() -> None:
                await self.call(
                    "GET /Groups/{id}",
                    "GET",
                    f"/Groups/{group.id}",
                    expect=(200,),
                    check=check,
                )

            return run

        jobs: list[Callable[[], Awaitable[None]]] = [user_job(u) for u in sample]
        jobs += [group_job(g) for g in groups]
        await self.run_phase("verify", len(jobs), jobs)

    async def deprovision(self) -> None:
        groups = [g for g in self.groups if g.id is not None]
        users = [u for u in self.users if u.id is not None]

        def delete(kind: str, id: str) -> Callable[[], Awaitable[None]]:
            async def run() -> None:
                await self.call(f"DELETE /{kind}", "DELETE", f"/{kind}/{quote(id)}", expect=(204,))

            return run

        def gone(user: SimUser) -> Callable[[], Awaitable[None]]:
            async def run() -> None:
                await self.call(
                    "GET deleted /Users/{id}", "GET", f"/Users/{user.id}", expect=(404,)
                )

            return run

        jobs: list[Callable[[], Awaitable[None]]] = [delete("Groups", g.id or "") for g in groups]
        jobs += [delete("Users", u.id or "") for u in users]
        await self.run_phase("deprovision", len(jobs), jobs)
        sample = self.rng.sample(users, min(self.args.verify_sample // 4, len(users)))
        await self.run_phase("deprovision-check", len(sample), [gone(u) for u in sample])

    async def run_all(self) -> None:
        steps: list[tuple[str, Callable[[], Awaitable[None]]]] = [
            ("probe", self.probe),
            ("initial-users", self.initial_users),
            ("initial-groups", self.initial_groups),
            ("group-members", self.group_members),
            ("incremental-users", self.incremental_users),
            ("incremental-groups", self.incremental_groups),
            ("verify", self.verify),
            ("deprovision", self.deprovision),
        ]
        skip = set(self.args.skip)
        for name, step in steps:
            if name in skip:
                continue
            if time.monotonic() > self.deadline:
                print(f"time limit reached; skipping {name} and later phases", file=sys.stderr)
                break
            await step()


# --- output -----------------------------------------------------------------------------------


def print_table(phases: Sequence[dict[str, Any]], out: Any = sys.stdout) -> None:
    header = (
        f"{'phase':<20}{'requests':>9}{'seconds':>9}{'req/s':>9}"
        f"{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'errors':>8}{'cli µs/req':>11}"
    )
    print(header, file=out)
    print("-" * len(header), file=out)
    for s in phases:
        lat = s["latency_ms"]
        print(
            f"{s['phase']:<20}{s['requests']:>9}{s['seconds']:>9.2f}{s['throughput_rps']:>9.1f}"
            f"{lat['p50']:>9.2f}{lat['p95']:>9.2f}{lat['p99']:>9.2f}{s['errors']:>8}"
            f"{s['client_cpu_us_per_request']:>11.0f}",
            file=out,
        )
        for kind, count in s["errors_by_kind"].items():
            print(f"    {count:>7} × {kind}", file=out)


def write_chart(phases: Sequence[dict[str, Any]], path: Path, title: str) -> bool:
    """A PNG with throughput and latency percentiles per phase; ``False`` without matplotlib."""
    matplotlib = optional_module("matplotlib")
    if matplotlib is None:
        return False
    matplotlib.use("Agg")
    plt = optional_module("matplotlib.pyplot")
    assert plt is not None
    shown = [s for s in phases if s["requests"]]
    names = [s["phase"] for s in shown]
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(11, 7.5), sharex=True)
    positions = list(range(len(shown)))
    top.bar(positions, [s["throughput_rps"] for s in shown], color="#4472c4")
    top.set_ylabel("requests / s")
    top.set_title(title)
    for x, s in zip(positions, shown, strict=True):
        top.annotate(
            f"{s['throughput_rps']:.0f}" + (f"\n{s['errors']} err" if s["errors"] else ""),
            (x, s["throughput_rps"]),
            ha="center",
            va="bottom",
            fontsize=8,
        )
    width = 0.27
    for offset, key, color in (
        (-width, "p50", "#70ad47"),
        (0, "p95", "#ffc000"),
        (width, "p99", "#c00000"),
    ):
        bottom.bar(
            [x + offset for x in positions],
            [max(s["latency_ms"][key], 1e-3) for s in shown],
            width=width,
            label=key,
            color=color,
        )
    bottom.set_yscale("log")
    bottom.set_ylabel("latency (ms, log)")
    bottom.legend()
    bottom.set_xticks(positions)
    bottom.set_xticklabels(names, rotation=20, ha="right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.entra_sync",
        description=(
            "Simulate Microsoft Entra ID provisioning (initial cycle, group members, incremental "
            "PATCHes in Entra's dialects, deprovisioning) against a SCIM 2.0 base URL over HTTP."
        ),
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--base-url", required=True, help="SCIM base URL (the Entra Tenant URL)")
    parser.add_argument("--token", required=True, help="bearer token (Entra's Secret Token)")
    parser.add_argument("--users", type=int, default=1000, help="users in the initial cycle")
    parser.add_argument("--groups", type=int, default=10, help="groups to create")
    parser.add_argument(
        "--large-groups", type=int, default=2, help="how many of the groups are large"
    )
    parser.add_argument(
        "--large-group-size",
        type=int,
        default=0,
        help="members of each large group (0: every user)",
    )
    parser.add_argument("--group-size", type=int, default=100, help="members of other groups")
    parser.add_argument("--member-batch", type=int, default=50, help="members per PATCH")
    parser.add_argument(
        "--update-fraction", type=float, default=0.5, help="users PATCHed in the incremental cycle"
    )
    parser.add_argument(
        "--disable-fraction",
        type=float,
        default=0.1,
        help='share of the changed users that are disabled (active "False")',
    )
    parser.add_argument(
        "--member-removes", type=int, default=20, help="members removed per group (incremental)"
    )
    parser.add_argument("--verify-sample", type=int, default=200, help="users re-read in verify")
    parser.add_argument(
        "--verify-group-limit",
        type=int,
        default=1000,
        help="groups up to this size are re-read in verify",
    )
    parser.add_argument("--concurrency", type=int, default=16, help="requests in flight")
    parser.add_argument(
        "--client",
        choices=("raw", "httpx"),
        default="raw",
        help="raw: lean asyncio HTTP/1.1 client; httpx: httpx.AsyncClient",
    )
    parser.add_argument("--timeout", type=float, default=60.0, help="per request (Entra: 60 s)")
    parser.add_argument(
        "--max-seconds", type=float, default=1800.0, help="stop starting work after this long"
    )
    parser.add_argument(
        "--skip",
        action="append",
        default=[],
        metavar="PHASE",
        help="skip a phase (repeatable), e.g. --skip deprovision to keep the data",
    )
    parser.add_argument("--prefix", default="", help="run id in user and group names")
    parser.add_argument("--seed", type=int, default=7, help="random seed")
    parser.add_argument("--out", type=Path, help="write results as JSON here")
    parser.add_argument("--chart", type=Path, help="write a PNG chart here (needs matplotlib)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument(
        "--allow-remote",
        action="store_true",
        help="allow a non-loopback base URL (off by default so a typo loads nothing remote)",
    )
    args = parser.parse_args(argv)
    if args.concurrency < 1 or args.member_batch < 1:
        parser.error("--concurrency and --member-batch must be at least 1")
    return args


async def amain(args: argparse.Namespace) -> dict[str, Any]:
    client = make_client(
        args.client,
        args.base_url,
        _entra.headers(args.token),
        args.concurrency,
        timeout=args.timeout,
    )
    simulator = Simulator(args, client)
    started = time.perf_counter()
    cpu = cpu_seconds()
    try:
        await simulator.run_all()
    finally:
        await client.aclose()
    phases = [phase.summary() for phase in simulator.phases]
    total_requests = sum(s["requests"] for s in phases)
    total_cpu = cpu_seconds() - cpu
    return {
        "tool": "benchmarks/entra_sync.py",
        "base_url": args.base_url,
        "client": client.name,
        "config": {
            k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items() if k != "token"
        },
        "machine": machine_info(),
        "seconds": round(time.perf_counter() - started, 3),
        "requests": total_requests,
        "errors": sum(s["errors"] for s in phases),
        "client_cpu_s": round(total_cpu, 3),
        "client_cpu_us_per_request": (
            round(total_cpu / total_requests * 1e6, 1) if total_requests else 0.0
        ),
        "requests_by_method": dict(sorted(simulator.methods.items())),
        "phases": phases,
    }


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if not args.allow_remote:
        try:
            check_loopback(args.base_url)
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
    result = run_async(amain(args))
    print_table(result["phases"])
    print(
        f"\n{result['requests']} requests in {result['seconds']} s, {result['errors']} errors; "
        f"client ({result['client']}) CPU {result['client_cpu_s']} s = "
        f"{result['client_cpu_us_per_request']} µs/request"
    )
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2))
        print(f"wrote {args.out}")
    if args.chart:
        args.chart.parent.mkdir(parents=True, exist_ok=True)
        title = f"entra_sync: {args.users} users, {args.groups} groups, {result['client']} client"
        if write_chart(result["phases"], args.chart, title):
            print(f"wrote {args.chart}")
        else:
            print("matplotlib is not installed: no chart", file=sys.stderr)
    return 1 if result["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
