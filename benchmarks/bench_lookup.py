"""``userName eq`` lookup on the memory store at two sizes (target: the larger ≤ 1.3x the smaller).

Timed through ``MemoryStore.query`` with a bound filter and through ``ResourceService.query``
(compile + store), at 1k and 100k users by default. ``python -m benchmarks.micro lookup``.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

from benchmarks._entra import random_case
from benchmarks._report import run_async
from benchmarks._service import TENANT, fill, memory_service, resource_types
from benchmarks._timing import time_async, us
from scimkit import ENTRA, MemoryStore, QueryParams, StoreQuery, compile_filter

__all__ = ["run"]

TARGET_RATIO = 1.3


def run(sizes: Sequence[int], samples: int) -> dict[str, Any]:
    return run_async(_lookup(sizes, samples))


async def _lookup(sizes: Sequence[int], samples: int) -> dict[str, Any]:
    rows: dict[str, Any] = {}
    for size in sizes:
        rows[str(size)] = await _lookup_one(size, samples)
    first, last = str(sizes[0]), str(sizes[-1])
    for key in ("store_query_us", "service_query_us"):
        rows[f"ratio_{key[:-3]}"] = round(rows[last][key] / rows[first][key], 3)
    rows["target_ratio"] = TARGET_RATIO
    rows["meets_target"] = (
        rows["ratio_store_query"] <= TARGET_RATIO and rows["ratio_service_query"] <= TARGET_RATIO
    )
    return rows


async def _lookup_one(size: int, samples: int) -> dict[str, Any]:
    users, _ = resource_types()
    store = MemoryStore()
    service = memory_service(store)
    await fill(service, size)
    rng = random.Random(size)
    names = [f"user{rng.randrange(size):06d}@contoso.example" for _ in range(samples)]
    queries = [StoreQuery(filter=compile_filter(f'userName eq "{n}"', users, ENTRA)) for n in names]
    # Every Entra lookup names another user, so its filter text is new to the service's
    # compile cache. Random letter case keeps the texts distinct at 1k users too (the match is
    # case-insensitive), so both sizes pay the same parse + bind.
    params = [QueryParams(filter=f'userName eq "{random_case(n, rng)}"') for n in names]
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
