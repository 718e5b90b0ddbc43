"""PATCH apply: Entra's dialects on a stored User, a member add, and the service path.

``parse_patch`` + ``apply_patch`` (ENTRA tolerance) of each dialect on a stored User; a
one-member add on a Group without its member list (what the service does); and
``ResourceService.patch`` on the memory store with its parts (``store.get``, ``apply_patch`` +
``store.update``). ``python -m benchmarks.micro patch``.
"""

from __future__ import annotations

import gc
import statistics
from datetime import UTC, datetime
from typing import Any

from benchmarks import _entra
from benchmarks._entra import sample_user, user_create_body
from benchmarks._report import run_async
from benchmarks._service import TENANT, fill, memory_service, resource_types
from benchmarks._timing import clock, time_async, time_call, us
from scimkit import (
    ENTRA,
    MemoryStore,
    Operation,
    apply_patch,
    needs_members,
    parse_patch,
    validate_resource,
)

__all__ = ["run"]


def entra_patches() -> dict[str, dict[str, Any]]:
    """Entra's PATCH dialects (entra-requests.md §4, §5.1) for the FCC mapping."""
    return {
        "default: Replace work email + familyName": _entra.replace_email_and_family(
            "new@contoso.example", "Updated"
        ),
        'default: Replace active "False" (disable)': _entra.disable(),
        "default: FCC string Boolean + Add department": _entra.fcc_flag_and_department(
            "administrator", "Finance"
        ),
        "aadOptscim062020: path-less dotted + URN keys": _entra.optscim062020(
            "x@contoso.example", "Alicia", "Alicia Jansen", True, "Legal"
        ),
    }


def run() -> dict[str, Any]:
    users, groups = resource_types()
    now = datetime.now(UTC).replace(microsecond=0)
    meta = {"created": now, "lastModified": now, "version": 'W/"1"'}
    stored = validate_resource(
        user_create_body(sample_user()), users, Operation.CREATE, tolerance=ENTRA
    )
    stored["id"] = "2819c223f7f6453a919d413861904646"
    stored["meta"] = {"resourceType": "User", **meta}
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
        "meta": {"resourceType": "Group", **meta},
    }
    add = _entra.members_patch("Add", ["u1"])

    def group_once() -> Any:
        operations = parse_patch(add, ENTRA)
        loaded = needs_members(operations, groups, tolerance=ENTRA)
        return apply_patch(group, operations, groups, tolerance=ENTRA, members_loaded=loaded)

    assert group_once().member_delta
    rows["group: Add members (1 member, no member list)"] = us(time_call(group_once))
    rows.update(run_async(_service_patch()))
    rows.update(run_async(_patch_vs_post()))
    return rows


async def _service_patch() -> dict[str, float]:
    """The whole service path of a User PATCH on the memory store, and its parts."""
    users, _ = resource_types()
    store = MemoryStore()
    service = memory_service(store)
    created = await service.create(TENANT, users, user_create_body(sample_user(7)))
    counter = 0

    def body() -> dict[str, Any]:
        nonlocal counter
        counter += 1
        return _entra.replace_email_and_family(f"m{counter}@contoso.example", f"F{counter}")

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


async def _patch_vs_post(rounds: int = 15, batch: int = 300) -> dict[str, float]:
    """Entra's default PATCH against its POST on one memory-store service, batches alternating.

    ``patch_reply`` as the web layer calls it, ``create`` for the POST; the machine's load falls
    on both alike. Bodies are built before the clock starts.
    """
    users, _ = resource_types()
    service = memory_service(MemoryStore())
    ids = await fill(service, 100)
    samples: dict[str, list[float]] = {"patch": [], "post": []}
    made = 0
    for _ in range(rounds + 1):  # the first round warms up
        patches = [
            _entra.replace_email_and_family(f"m{made + n}@contoso.example", f"F{made + n}")
            for n in range(batch)
        ]
        posts = []
        for n in range(batch):
            user = sample_user(10_000_000 + made + n)
            user.user_name = f"post{made + n}@post.example"
            posts.append(user_create_body(user))
        made += batch
        gc.collect()
        started = clock()
        for n, body in enumerate(patches):
            await service.patch_reply(TENANT, users, ids[n % len(ids)], body)
        samples["patch"].append((clock() - started) / batch)
        gc.collect()
        started = clock()
        for body in posts:
            await service.create(TENANT, users, body)
        samples["post"].append((clock() - started) / batch)
    return {
        "service.patch_reply, Entra's default PATCH (alternating)": us(
            statistics.median(samples["patch"][1:])
        ),
        "service.create, Entra's POST body (alternating)": us(
            statistics.median(samples["post"][1:])
        ),
    }
