"""Adding one member to a group of 10 and of 100k members (target: the larger ≤ 2x the smaller).

``ResourceService.patch`` on the memory store with ``members=False``, as for Entra's group
PATCH (answered 204, no member list). ``python -m benchmarks.micro members``.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Any

from benchmarks._entra import members_patch
from benchmarks._report import run_async
from benchmarks._service import TENANT, fill, memory_service, resource_types
from benchmarks._timing import clock, us
from scimkit import MemoryStore

__all__ = ["run"]

TARGET_RATIO = 2.0


def run(sizes: Sequence[int], adds: int) -> dict[str, Any]:
    return run_async(_members(sizes, adds))


async def _members(sizes: Sequence[int], adds: int) -> dict[str, Any]:
    rows: dict[str, Any] = {}
    for size in sizes:
        rows[str(size)] = await _members_one(size, adds)
    first, last = str(sizes[0]), str(sizes[-1])
    rows["ratio"] = round(
        rows[last]["service_patch_add_one_us"] / rows[first]["service_patch_add_one_us"], 3
    )
    rows["target_ratio"] = TARGET_RATIO
    rows["meets_target"] = rows["ratio"] <= TARGET_RATIO
    return rows


async def _members_one(size: int, adds: int) -> dict[str, Any]:
    _, groups = resource_types()
    service = memory_service(MemoryStore())
    ids = await fill(service, size + adds)
    group = await service.create(
        TENANT, groups, {"schemas": [groups.schema.id], "displayName": f"Group of {size}"}
    )
    batch = 1000
    for start in range(0, size, batch):
        chunk = ids[start : min(start + batch, size)]
        await service.patch(TENANT, groups, group["id"], members_patch("Add", chunk), members=False)
    spare = ids[size:]

    # Each timed add is undone (untimed) by Entra's remove, so the group keeps its size.
    samples = []
    for run in range(6):
        elapsed = 0.0
        for id in spare:
            started = clock()
            await service.patch(
                TENANT, groups, group["id"], members_patch("Add", [id]), members=False
            )
            elapsed += clock() - started
            await service.patch(
                TENANT, groups, group["id"], members_patch("Remove", [id]), members=False
            )
        if run:  # the first run warms up
            samples.append(elapsed / len(spare))
    check = await service.get(TENANT, groups, group["id"])
    return {
        "service_patch_add_one_us": us(statistics.median(samples)),
        "members_after": len(check.get("members") or []),
    }
