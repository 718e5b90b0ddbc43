"""Micro-benchmarks of scimkit's hot paths, each against its target.

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
- ``mongo``: the MongoDB query shapes of Entra's filters and the store's indexes, printed (no
  timing: the mongoeco stand-in is no performance reference).

Filter parse + bind + translate is measured by ``benchmarks/bench_filter.py``.

``python -m benchmarks.micro`` (all) or ``python -m benchmarks.micro validate lookup``. Times are
CPU time of this process (``time.process_time``): the machine may be shared.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import random
import statistics
import sys
import time
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

import orjson

if __package__ in (None, ""):  # run as a file: make `benchmarks` importable
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._report import machine_info, optional_module, run_async
from scimkit import ENTRA, GROUP, USER, Operation, ResourceType
from scimkit._projection import project
from scimkit._validation import validate_resource

CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
FCC = "urn:ietf:params:scim:schemas:extension:fcc:2.0:User"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
TENANT = "bench"
SECTIONS = ("validate", "patch", "lookup", "members", "asgi", "mongo")
_OPTIONS = orjson.OPT_UTC_Z


def resource_types() -> tuple[ResourceType, ResourceType]:
    """The reference app's User (enterprise + FCC extensions) and Group, else the built-ins."""
    try:
        from reference_app.schemas import GROUPS, USERS
    except ImportError:
        return USER, GROUP
    return USERS, GROUPS


# --- timing -----------------------------------------------------------------------------------


# CPU time of this process, not wall time: the machine is shared (2 cores), and a preempted
# benchmark should not count its neighbours' work.
_clock = time.process_time


def time_call(fn: Callable[[], Any], *, repeat: int = 7, min_time: float = 0.2) -> float:
    """Median CPU seconds per call over ``repeat`` runs of enough calls to last ``min_time``."""
    fn()
    number = 1
    while True:
        started = _clock()
        for _ in range(number):
            fn()
        elapsed = _clock() - started
        if elapsed >= min_time / 4 or number >= 1 << 20:
            break
        number *= 2
    number = max(1, int(number * (min_time / 4) / max(elapsed, 1e-9)))
    samples = []
    gc.collect()
    for _ in range(repeat):
        started = _clock()
        for _ in range(number):
            fn()
        samples.append((_clock() - started) / number)
    return statistics.median(samples)


async def time_async(
    fn: Callable[[], Awaitable[Any]], *, repeat: int = 7, number: int = 2000, warmup: int = 200
) -> float:
    """Median CPU seconds per awaited call over ``repeat`` runs of ``number`` calls."""
    for _ in range(warmup):
        await fn()
    samples = []
    gc.collect()
    for _ in range(repeat):
        started = _clock()
        for _ in range(number):
            await fn()
        samples.append((_clock() - started) / number)
    return statistics.median(samples)


def us(seconds: float) -> float:
    return round(seconds * 1e6, 2)


# --- validate + serialize ---------------------------------------------------------------------


def entra_user(index: int = 1, *, fcc: bool = True) -> dict[str, Any]:
    """Entra's POST /Users body (entra-requests.md §3.2) for the FCC mapping."""
    user_name = f"user{index:06d}@contoso.example"
    body: dict[str, Any] = {
        "schemas": [CORE_USER, ENTERPRISE],
        "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
        "userName": user_name,
        "active": True,
        "emails": [{"primary": True, "type": "work", "value": user_name}],
        "meta": {"resourceType": "User"},
        "name": {"formatted": "Alice Jansen", "familyName": "Jansen", "givenName": "Alice"},
        ENTERPRISE: {"department": "Sales", "employeeNumber": str(index)},
        "roles": [],
    }
    if fcc:
        body[FCC] = {"administrator": False, "loginDisabled": False}
    return body


def bench_validate(results: dict[str, Any]) -> None:
    users, _ = resource_types()
    now = datetime.now(UTC).replace(microsecond=0)
    location = "http://127.0.0.1:8000/scim/v2/bench/Users/2819c223f7f6453a919d413861904646"
    body = entra_user(fcc=False)
    body_fcc = entra_user(fcc=True)

    def scimkit_once(data: dict[str, Any] = body) -> bytes:
        resource = validate_resource(data, users, Operation.CREATE, tolerance=ENTRA)
        resource["id"] = "2819c223f7f6453a919d413861904646"
        resource["meta"] = {
            "resourceType": "User",
            "created": now,
            "lastModified": now,
            "version": 'W/"1"',
        }
        out = project(resource, users)
        out["meta"] = {**out["meta"], "location": location}
        return orjson.dumps(out, option=_OPTIONS)

    row: dict[str, Any] = {
        "scimkit_us": us(time_call(scimkit_once)),
        "scimkit_with_fcc_us": us(time_call(lambda: scimkit_once(body_fcc))),
        "scimkit_validate_only_us": us(
            time_call(lambda: validate_resource(body, users, Operation.CREATE, tolerance=ENTRA))
        ),
    }
    models = optional_module("scim2_models")
    if models is None:
        row["scim2_models"] = "not installed (pip install scim2-models)"
    else:
        model = models.User[models.EnterpriseUser]
        request_ctx = models.Context.RESOURCE_CREATION_REQUEST
        response_ctx = models.Context.RESOURCE_CREATION_RESPONSE

        def scim2_once() -> str:
            user = model.model_validate(body, scim_ctx=request_ctx)
            user.id = "2819c223f7f6453a919d413861904646"
            user.meta = models.Meta(
                resource_type="User",
                created=now,
                last_modified=now,
                version='W/"1"',
                location=location,
            )
            dumped: str = user.model_dump_json(scim_ctx=response_ctx)
            return dumped

        # Same information out of both (scim2-models orders keys its own way).
        ours = orjson.loads(scimkit_once())
        theirs = orjson.loads(scim2_once())
        row["same_output"] = ours == theirs
        if not row["same_output"]:
            row["output_difference"] = sorted(
                k for k in ours.keys() | theirs.keys() if ours.get(k) != theirs.get(k)
            )
        row["scim2_models_us"] = us(time_call(scim2_once))
        row["scim2_models_version"] = getattr(models, "__version__", None) or _version(
            "scim2-models"
        )
        row["speedup"] = round(row["scim2_models_us"] / row["scimkit_us"], 2)
        row["target_speedup"] = 5.0
        row["meets_target"] = row["speedup"] >= 5.0
    results["validate"] = row


def _version(distribution: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(distribution)
    except PackageNotFoundError:
        return None


# --- PATCH apply --------------------------------------------------------------------------------


def entra_patches() -> dict[str, dict[str, Any]]:
    """Entra's PATCH dialects (entra-requests.md §4, §5.1) for the FCC mapping."""

    def message(*operations: dict[str, Any]) -> dict[str, Any]:
        return {"schemas": [PATCH_OP], "Operations": list(operations)}

    return {
        "default: Replace work email + familyName": message(
            {
                "op": "Replace",
                "path": 'emails[type eq "work"].value',
                "value": "new@contoso.example",
            },
            {"op": "Replace", "path": "name.familyName", "value": "Updated"},
        ),
        'default: Replace active "False" (disable)': message(
            {"op": "Replace", "path": "active", "value": "False"}
        ),
        "default: FCC string Boolean + Add department": message(
            {"op": "Replace", "path": f"{FCC}:administrator", "value": "True"},
            {"op": "Add", "path": f"{ENTERPRISE}:department", "value": "Finance"},
        ),
        "aadOptscim062020: path-less dotted + URN keys": message(
            {"op": "replace", "path": 'emails[type eq "work"].value', "value": "x@contoso.example"},
            {
                "op": "replace",
                "value": {
                    "name.givenName": "Alicia",
                    "name.formatted": "Alicia Jansen",
                    f"{FCC}:administrator": True,
                    f"{ENTERPRISE}:department": "Legal",
                },
            },
        ),
    }


def bench_patch(results: dict[str, Any]) -> None:
    from scimkit._patch import apply_patch, needs_members, parse_patch

    users, groups = resource_types()
    now = datetime.now(UTC).replace(microsecond=0)
    stored = validate_resource(entra_user(), users, Operation.CREATE, tolerance=ENTRA)
    stored["id"] = "2819c223f7f6453a919d413861904646"
    stored["meta"] = {
        "resourceType": "User",
        "created": now,
        "lastModified": now,
        "version": 'W/"1"',
    }
    rows: dict[str, Any] = {}
    for name, body in entra_patches().items():

        def once(body: dict[str, Any] = body) -> Any:
            return apply_patch(stored, parse_patch(body, ENTRA), users, tolerance=ENTRA)

        result = once()
        assert result.changed, name
        rows[name] = us(time_call(once))
    group = {
        "schemas": [groups.schema.id],
        "id": "g1",
        "displayName": "Sales",
        "meta": {"resourceType": "Group", "created": now, "lastModified": now, "version": 'W/"1"'},
    }
    add = {
        "schemas": [PATCH_OP],
        "Operations": [{"op": "Add", "path": "members", "value": [{"$ref": None, "value": "u1"}]}],
    }

    def group_once() -> Any:
        operations = parse_patch(add, ENTRA)
        loaded = needs_members(operations, groups, tolerance=ENTRA)
        return apply_patch(group, operations, groups, tolerance=ENTRA, members_loaded=loaded)

    assert group_once().member_delta
    rows["group: Add members (1 member, no member list)"] = us(time_call(group_once))
    rows.update(run_async(_service_patch()))
    results["patch"] = rows


async def _service_patch() -> dict[str, float]:
    """The whole service path of a User PATCH on the memory store, and its parts."""
    from scimkit._memory import MemoryStore
    from scimkit._patch import apply_patch, parse_patch

    users, _ = resource_types()
    store = MemoryStore()
    service = await _service(store)
    created = await service.create(TENANT, users, entra_user(7))
    counter = 0

    def body() -> dict[str, Any]:
        nonlocal counter
        counter += 1
        return {
            "schemas": [PATCH_OP],
            "Operations": [
                {
                    "op": "Replace",
                    "path": 'emails[type eq "work"].value',
                    "value": f"m{counter}@contoso.example",
                },
                {"op": "Replace", "path": "name.familyName", "value": f"F{counter}"},
            ],
        }

    async def service_patch() -> Any:
        return await service.patch(TENANT, users, created["id"], body())

    async def store_get() -> Any:
        return await store.get(TENANT, users, created["id"])

    current: dict[str, Any] = {}

    async def store_update() -> Any:
        nonlocal current
        result = apply_patch(current, parse_patch(body(), ENTRA), users, tolerance=ENTRA)
        current = await store.update(
            TENANT, users, created["id"], result, expected_version=current["meta"]["version"]
        )
        return current

    patch_seconds = await time_async(service_patch)
    get_seconds = await time_async(store_get)
    current = await store.get(TENANT, users, created["id"])
    apply_and_update = await time_async(store_update)
    return {
        "service.patch (default dialect, memory store)": us(patch_seconds),
        "  of which store.get": us(get_seconds),
        "  of which apply_patch + store.update": us(apply_and_update),
    }


# --- memory store: lookup and member add ------------------------------------------------------


async def _service(store: Any) -> Any:
    from scimkit._service import ResourceService

    users, groups = resource_types()
    return ResourceService(store, (users, groups), tolerance=ENTRA)


async def _fill(service: Any, count: int, offset: int = 0) -> list[str]:
    users, _ = resource_types()
    ids = []
    for index in range(offset, offset + count):
        created = await service.create(TENANT, users, entra_user(index))
        ids.append(created["id"])
    return ids


def _random_case(text: str, rng: random.Random) -> str:
    return "".join(c.upper() if rng.random() < 0.5 else c for c in text)


async def _lookup_one(size: int, samples: int) -> dict[str, Any]:
    from scimkit._filter import compile_filter
    from scimkit._memory import MemoryStore
    from scimkit._service import QueryParams
    from scimkit._store import StoreQuery

    users, _ = resource_types()
    store = MemoryStore()
    service = await _service(store)
    await _fill(service, size)
    rng = random.Random(size)
    names = [f"user{rng.randrange(size):06d}@contoso.example" for _ in range(samples)]
    queries = [StoreQuery(filter=compile_filter(f'userName eq "{n}"', users, ENTRA)) for n in names]
    # Every Entra lookup names another user, so its filter text is new to the service's
    # compile cache. Random letter case keeps the texts distinct at 1k users too (the match is
    # case-insensitive), so both sizes pay the same parse + bind.
    params = [QueryParams(filter=f'userName eq "{_random_case(n, rng)}"') for n in names]
    page = await store.query(TENANT, users, queries[0])
    assert page.total == 1, "lookup did not find exactly one user"
    position = 0

    async def store_once() -> Any:
        nonlocal position
        position = (position + 1) % samples
        return await store.query(TENANT, users, queries[position])

    async def service_once() -> Any:
        nonlocal position
        position = (position + 1) % samples
        return await service.query(TENANT, users, params[position])

    return {
        "store_query_us": us(await time_async(store_once, number=samples)),
        "service_query_us": us(await time_async(service_once, number=samples)),
    }


async def _lookup(sizes: Sequence[int], samples: int) -> dict[str, Any]:
    rows: dict[str, Any] = {}
    for size in sizes:
        rows[str(size)] = await _lookup_one(size, samples)
    first, last = str(sizes[0]), str(sizes[-1])
    for key in ("store_query_us", "service_query_us"):
        rows[f"ratio_{key[:-3]}"] = round(rows[last][key] / rows[first][key], 3)
    rows["target_ratio"] = 1.3
    rows["meets_target"] = rows["ratio_store_query"] <= 1.3 and rows["ratio_service_query"] <= 1.3
    return rows


async def _members_one(size: int, adds: int) -> dict[str, Any]:
    from scimkit._memory import MemoryStore

    _, groups = resource_types()
    store = MemoryStore()
    service = await _service(store)
    ids = await _fill(service, size + adds)
    group = await service.create(
        TENANT, groups, {"schemas": [groups.schema.id], "displayName": f"Group of {size}"}
    )
    batch = 1000
    for start in range(0, size, batch):
        chunk = ids[start : min(start + batch, size)]
        add = {"op": "Add", "path": "members", "value": [{"value": i} for i in chunk]}
        await service.patch(
            TENANT, groups, group["id"], {"schemas": [PATCH_OP], "Operations": [add]}, members=False
        )
    spare = ids[size:]

    def patch(op: str, id: str) -> dict[str, Any]:
        member = {"$ref": None, "value": id}
        return {
            "schemas": [PATCH_OP],
            "Operations": [{"op": op, "path": "members", "value": [member]}],
        }

    # Each timed add is undone (untimed) by Entra's remove, so the group keeps its size.
    # members=False: the web layer answers Entra's group PATCH with 204, no member list.
    samples = []
    for run in range(6):
        elapsed = 0.0
        for id in spare:
            started = _clock()
            await service.patch(TENANT, groups, group["id"], patch("Add", id), members=False)
            elapsed += _clock() - started
            await service.patch(TENANT, groups, group["id"], patch("Remove", id), members=False)
        if run:  # the first run warms up
            samples.append(elapsed / len(spare))
    check = await service.get(TENANT, groups, group["id"])
    return {
        "service_patch_add_one_us": us(statistics.median(samples)),
        "members_after": len(check.get("members") or []),
    }


async def _members(sizes: Sequence[int], adds: int) -> dict[str, Any]:
    rows: dict[str, Any] = {}
    for size in sizes:
        rows[str(size)] = await _members_one(size, adds)
    first, last = str(sizes[0]), str(sizes[-1])
    rows["ratio"] = round(
        rows[last]["service_patch_add_one_us"] / rows[first]["service_patch_add_one_us"], 3
    )
    rows["target_ratio"] = 2.0
    rows["meets_target"] = rows["ratio"] <= 2.0
    return rows


def bench_lookup(results: dict[str, Any], sizes: Sequence[int], samples: int) -> None:
    results["lookup"] = run_async(_lookup(sizes, samples))


def bench_members(results: dict[str, Any], sizes: Sequence[int], adds: int) -> None:
    results["members"] = run_async(_members(sizes, adds))


# --- the apps without the HTTP server ---------------------------------------------------------


class _ASGIClient:
    """Calls an ASGI app in process: what the app costs per request, hypercorn left out."""

    def __init__(self, app: Any, token: str) -> None:
        self.app = app
        self.headers = [
            (b"host", b"127.0.0.1:8000"),
            (b"authorization", f"Bearer {token}".encode()),
            (b"accept", b"application/scim+json"),
            (b"content-type", b"application/scim+json; charset=utf-8"),
        ]

    async def __call__(self, method: str, target: str, body: bytes = b"") -> tuple[int, bytes]:
        path, _, query = target.partition("?")
        headers = self.headers
        if body:
            headers = [*headers, (b"content-length", str(len(body)).encode())]
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": query.encode(),
            "root_path": "",
            "headers": headers,
            "server": ("127.0.0.1", 8000),
            "client": ("127.0.0.1", 50000),
            "state": {},
        }
        sent = False
        status = 0
        chunks: list[bytes] = []

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if sent:
                return {"type": "http.disconnect"}
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))

        await self.app(scope, receive, send)
        return status, b"".join(chunks)


async def _asgi(seeded: int, samples: int) -> dict[str, Any]:
    from benchmarks.ceiling_app import build_app
    from reference_app.app import create_app
    from reference_app.settings import load_settings

    token = "bench-token"
    base = "/scim/v2/bench"
    settings = load_settings({"tenants": [f"bench:{token}"]}, environ={})
    apps = {
        "app": _ASGIClient(create_app(settings), token),
        "ceiling": _ASGIClient(build_app(token), token),
    }
    ids = []
    for index in range(seeded):
        status, raw = await apps["app"]("POST", f"{base}/Users", orjson.dumps(entra_user(index)))
        assert status == 201, raw
        ids.append(orjson.loads(raw)["id"])
    rng = random.Random(3)
    names = [
        _random_case(f"user{rng.randrange(seeded):06d}@contoso.example", rng)
        for _ in range(samples)
    ]
    rows: dict[str, Any] = {}
    for name, client in apps.items():
        position = 0
        counter = 0

        async def get(client: _ASGIClient = client) -> Any:
            nonlocal position
            position = (position + 1) % samples
            query = "filter=" + quote_plus(f'userName eq "{names[position]}"')
            status, _ = await client("GET", f"{base}/Users?{query}")
            assert status == 200

        async def post(client: _ASGIClient = client, name: str = name) -> Any:
            nonlocal counter
            counter += 1
            body = entra_user(10_000_000 + counter)
            body["userName"] = f"{name}{counter}@post.example"
            status, _ = await client("POST", f"{base}/Users", orjson.dumps(body))
            assert status == 201

        async def patch(client: _ASGIClient = client) -> Any:
            nonlocal counter
            counter += 1
            body = {
                "schemas": [PATCH_OP],
                "Operations": [
                    {
                        "op": "Replace",
                        "path": 'emails[type eq "work"].value',
                        "value": f"m{counter}@contoso.example",
                    },
                    {"op": "Replace", "path": "name.familyName", "value": f"F{counter}"},
                ],
            }
            target = f"{base}/Users/{ids[counter % len(ids)]}"
            status, _ = await client("PATCH", target, orjson.dumps(body))
            assert status == 200

        rows[name] = {
            "GET filter (new text each)_us": us(await time_async(get, number=samples)),
            "POST_us": us(await time_async(post, number=samples)),
            "PATCH_us": us(await time_async(patch, number=samples)),
        }
    rows["scim_work_us"] = {
        key: round(rows["app"][key] - rows["ceiling"][key], 2) for key in rows["app"]
    }
    return rows


def bench_asgi(results: dict[str, Any], seeded: int, samples: int) -> None:
    results["asgi"] = run_async(_asgi(seeded, samples))


# --- MongoDB query shapes ---------------------------------------------------------------------


def bench_mongo(results: dict[str, Any]) -> None:
    from scimkit._filter import compile_filter
    from scimkit.mongo._query import translate_filter

    users, groups = resource_types()
    shapes: dict[str, Any] = {}
    for resource_type, text in (
        (users, 'userName eq "Test_User_00aa00aa@contoso.example"'),
        (users, 'externalId eq "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef"'),
        (users, 'emails[type eq "work"].value eq "alice@contoso.example"'),
        (groups, 'displayName eq "Sales Team"'),
        (groups, 'id eq "927fa2c0" and members eq "f648f8d5"'),
    ):
        bound = compile_filter(text, resource_type, ENTRA)
        shapes[f"{resource_type.name}: {text}"] = translate_filter(bound)
    results["mongo_queries"] = {
        "note": 'MongoStore prefixes every query with {"t": tenant, "rt": resource type}; '
        "a members condition is first resolved through the membership collection (t_m_g)",
        **shapes,
    }
    try:
        indexes = importlib.import_module("scimkit.mongo._indexes")
    except ImportError as exc:
        results["mongo_indexes"] = f"scimkit.mongo not importable: {exc}"
        return
    specs = [
        *indexes.resource_indexes((users, groups), {}, {}),
        *indexes.membership_indexes(),
    ]
    results["mongo_indexes"] = {
        spec.name: {
            "keys": ", ".join(f"{name}: {order}" for name, order in spec.keys),
            "unique": spec.unique,
            **({"partialFilterExpression": dict(spec.partial)} if spec.partial else {}),
        }
        for spec in specs
    }


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
        if section == "validate":
            bench_validate(results)
        elif section == "patch":
            bench_patch(results)
        elif section == "lookup":
            bench_lookup(results, args.lookup_sizes, args.samples)
        elif section == "members":
            bench_members(results, args.member_sizes, args.adds)
        elif section == "asgi":
            bench_asgi(results, 1000, args.samples)
        elif section == "mongo":
            bench_mongo(results)
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
