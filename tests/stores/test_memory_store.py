"""MemoryStore: the store contract, plus what only the embedded store promises."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import pytest

from scimkit import BoundFilter, MemoryStore, ResourceType, StoreQuery, compile_filter, matches
from scimkit.testing import CONTRACT_GROUP, CONTRACT_USER, StoreContract

NOW = datetime(2024, 1, 1, tzinfo=UTC)


class TestMemoryStoreContract(StoreContract):
    @pytest.fixture
    def store(self) -> MemoryStore:
        return MemoryStore()


@pytest.fixture
def evaluations(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Ids of the resources the filter evaluator runs on."""
    seen: list[str] = []

    def counting(bound: BoundFilter, resource: Mapping[str, Any]) -> bool:
        seen.append(resource["id"])
        return matches(bound, resource)

    monkeypatch.setattr("scimkit._memory.matches", counting)
    return seen


async def _seed(store: MemoryStore, users: int = 200) -> None:
    meta = {"created": NOW, "lastModified": NOW}
    for i in range(users):
        await store.create(
            "t",
            CONTRACT_USER,
            {
                "id": f"u{i}",
                "userName": f"User{i}@example.com",
                "externalId": f"ext-{i}",
                "meta": {"resourceType": "User", **meta},
            },
        )
    for i in range(20):
        members = [{"value": f"u{j}"} for j in range(i, users, 20)]
        group = {"id": f"g{i}", "displayName": f"Team {i}", "members": members}
        await store.create("t", CONTRACT_GROUP, group | {"meta": {"resourceType": "Group", **meta}})


@pytest.mark.parametrize(
    ("resource_type", "text", "expected"),
    [
        (CONTRACT_USER, 'userName eq "USER17@EXAMPLE.COM"', ["u17"]),
        (CONTRACT_USER, 'externalId eq "ext-42"', ["u42"]),
        (CONTRACT_USER, 'id eq "u99"', ["u99"]),
        (CONTRACT_USER, 'userName eq "user5@example.com" and active eq true', []),
        (CONTRACT_GROUP, 'displayName eq "team 3"', ["g3"]),
        (CONTRACT_GROUP, 'id eq "g7" and members eq "u27"', ["g7"]),
        (CONTRACT_GROUP, 'members eq "u27"', ["g7"]),
    ],
)
async def test_indexed_lookups_evaluate_one_candidate(
    evaluations: list[str], resource_type: ResourceType, text: str, expected: list[str]
) -> None:
    store = MemoryStore()
    await _seed(store)
    evaluations.clear()
    page = await store.query(
        "t", resource_type, StoreQuery(filter=compile_filter(text, resource_type))
    )
    assert [r["id"] for r in page.resources] == expected
    assert len(evaluations) == 1


async def test_other_filters_scan(evaluations: list[str]) -> None:
    store = MemoryStore()
    await _seed(store, users=50)
    evaluations.clear()
    query = StoreQuery(filter=compile_filter('userName co "user1"', CONTRACT_USER))
    page = await store.query("t", CONTRACT_USER, query)
    assert page.total == 11  # User1, User10..User19
    assert len(evaluations) == 50


@pytest.mark.parametrize(
    ("text", "evaluated"),
    [
        ('userName sw "USER1"', 0),  # the unique index's keys, folded, are the matches
        ('externalId sw "ext-1"', 0),  # a lookup index's too
        ('userName sw "user1" and externalId eq "ext-12"', 1),
        ('userName sw ""', 50),  # empty values are not indexed: scanned
    ],
)
async def test_prefix_filters_on_indexed_attributes_evaluate_the_prefixed_keys(
    evaluations: list[str], text: str, evaluated: int
) -> None:
    store = MemoryStore()
    await _seed(store, users=50)
    evaluations.clear()
    bound = compile_filter(text, CONTRACT_USER)
    page = await store.query("t", CONTRACT_USER, StoreQuery(filter=bound, count=5))
    assert len(evaluations) == evaluated
    everyone = await store.query("t", CONTRACT_USER, StoreQuery())
    expected = sorted(r["id"] for r in everyone.resources if matches(bound, r))
    assert page.total == len(expected)
    assert [r["id"] for r in page.resources] == expected[:5]


async def test_unfiltered_pages_follow_the_ids_through_writes() -> None:
    store = MemoryStore()
    await _seed(store, users=120)
    ids = sorted(f"u{i}" for i in range(120))

    async def listed(start: int, count: int) -> list[str]:
        page = await store.query("t", CONTRACT_USER, StoreQuery(start_index=start, count=count))
        assert page.total == len(ids)
        assert list(page.keys) == [(None, r["id"]) for r in page.resources]
        return [r["id"] for r in page.resources]

    assert await listed(1, 10) == ids[:10]
    for id in ("u3", "u77", "u119"):
        await store.delete("t", CONTRACT_USER, id)
        ids.remove(id)
    for n in range(5):  # a few writes: brought up to date one by one
        await store.create("t", CONTRACT_USER, {"id": f"v{n}", "userName": f"v{n}", "meta": {}})
        ids.append(f"v{n}")
    ids.sort()
    assert await listed(1, 200) == ids
    assert await listed(100, 30) == ids[99:129]
    for n in range(200):  # many writes: sorted afresh
        await store.create("t", CONTRACT_USER, {"id": f"w{n:03d}", "userName": f"w{n}", "meta": {}})
        ids.append(f"w{n:03d}")
    ids.sort()
    assert await listed(50, 1000) == ids[49:]


async def test_an_unknown_tenant_is_empty_and_not_created() -> None:
    store = MemoryStore()
    page = await store.query("nobody", CONTRACT_USER, StoreQuery())
    assert (page.resources, page.total) == ((), 0)
    assert "nobody" not in store._tenants


async def test_max_page_size_bounds_a_query_without_count() -> None:
    store = MemoryStore(max_page_size=3)
    await _seed(store, users=5)
    page = await store.query("t", CONTRACT_USER, StoreQuery())
    assert (len(page.resources), page.total) == (3, 5)
