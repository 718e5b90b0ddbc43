"""Races: concurrent requests on one resource, on both stores.

Each test fires its requests at once with ``asyncio.gather`` through one app, so the store sees
them interleaved at every await point (MemoryStore) or truly in parallel (MongoStore), and
then checks an outcome that every serial order of the same requests would give.
"""

from __future__ import annotations

import asyncio
import itertools
import unicodedata
from typing import Any

import httpx
import pytest

from scimkit._filter import fold_case
from scimkit.store import ResourceStore, version_counter
from tests.hardening.support import (
    ENTERPRISE_URN,
    TENANT_A,
    check_error,
    check_response,
    count,
    group_body,
    patch_body,
    snapshot,
    user_body,
)

# One userName spelled in letter-case variants that fold (NFC + casefold, RFC 7643 caseExact
# false) to the same key: ASCII case, the Kelvin sign, ß / SS / ẞ, the three cases of the ǆ
# digraph, the ﬁ ligature and a decomposed é.
_SEGMENTS = (
    ("fiona", "FIONA", "\ufb01ona", "Fiona", "\ufb01ONA"),
    ("kelvin", "KELVIN", "\u212aelvin", "\u212aELVIN"),
    ("straße", "STRASSE", "stra\u1e9ee", "Strasse", "STRAßE"),
    ("\u01c6", "\u01c4", "\u01c5"),
    ("josé", "JOSÉ", "jose\u0301", "JOSE\u0301"),
)


def case_variants(wanted: int) -> list[str]:
    """``wanted`` distinct spellings of one userName, all equal once folded."""
    variants: list[str] = []
    for index in itertools.count():
        parts = [options[(index * (n + 1)) % len(options)] for n, options in enumerate(_SEGMENTS)]
        name = ".".join(parts[:3]) + "-" + "".join(parts[3:]) + "@Example.COM"
        if name not in variants:
            variants.append(name)
        if len(variants) == wanted:
            return variants
    raise AssertionError("unreachable")


def test_case_variants_fold_to_one_key():
    variants = case_variants(20)
    assert len(set(variants)) == 20
    assert len({unicodedata.normalize("NFC", v) for v in variants}) > 10
    assert len({fold_case(v) for v in variants}) == 1


async def created(client: httpx.AsyncClient, path: str, body: dict[str, Any]) -> dict[str, Any]:
    response = await client.post(path, json=body)
    assert response.status_code == 201, response.text
    data: dict[str, Any] = response.json()
    return data


async def test_concurrent_creates_of_one_user_name_in_any_case(
    client_a: httpx.AsyncClient, store: ResourceStore
):
    variants = case_variants(20)
    responses = await asyncio.gather(
        *(client_a.post("/Users", json=user_body(v)) for v in variants)
    )
    count("races")
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] + [409] * 19, [r.text for r in responses]
    for response in responses:
        check_response(response, "race")
        if response.status_code == 409:
            assert check_error(response)["scimType"] == "uniqueness"
    winner = next(r.json() for r in responses if r.status_code == 201)
    users, groups = await snapshot(store, TENANT_A)
    assert [u["id"] for u in users] == [winner["id"]] and not groups
    # Each spelling finds the one user, whatever case the filter uses.
    for variant in (variants[0], variants[-1]):
        found = await client_a.get("/Users", params={"filter": f'userName eq "{variant}"'})
        assert found.json()["totalResults"] == 1


async def test_concurrent_member_adds_and_removes_serialize(
    client_a: httpx.AsyncClient, store: ResourceStore
):
    """Tasks that add then remove their own member, tasks that only add, and a tug of war.

    Every serial order that keeps each task's own order leaves exactly the add-only members,
    plus (or not) the member one task adds while another removes it.
    """
    users = [
        (await created(client_a, "/Users", user_body(f"m{n}@example.com")))["id"] for n in range(14)
    ]
    transient, kept, contested = users[:8], users[8:13], users[13]
    group = await created(client_a, "/Groups", group_body("Racers"))
    path = f"/Groups/{group['id']}"

    def add(member: str) -> dict[str, Any]:
        return patch_body({"op": "add", "path": "members", "value": [{"value": member}]})

    def remove(member: str) -> dict[str, Any]:
        return patch_body({"op": "remove", "path": f'members[value eq "{member}"]'})

    async def patch(body: dict[str, Any]) -> httpx.Response:
        response = await client_a.patch(path, json=body)
        check_response(response, "race")
        return response

    async def add_then_remove(member: str) -> list[httpx.Response]:
        return [await patch(add(member)), await patch(remove(member))]

    async def once(body: dict[str, Any]) -> list[httpx.Response]:
        return [await patch(body)]

    tasks = [add_then_remove(m) for m in transient]
    tasks += [once(add(m)) for m in kept]
    tasks += [once(add(contested)), once(remove(contested))]
    results = await asyncio.gather(*tasks)
    count("races")
    for responses in results:
        for response in responses:
            # Removing an absent member by filter may be noTarget (400) in a serial order
            # where the remove runs first; any other outcome must be success.
            if response.status_code == 400:
                assert check_error(response)["scimType"] == "noTarget", response.text
            else:
                assert response.status_code in (200, 204), response.text

    final = await client_a.get(path, params={"attributes": "members"})
    members = {m["value"] for m in final.json().get("members", [])}
    assert members in (set(kept), set(kept) | {contested}), members
    # The users' derived groups agree with the membership.
    for user in users:
        groups = (await client_a.get(f"/Users/{user}")).json().get("groups", [])
        assert ({g["value"] for g in groups} == {group["id"]}) == (user in members), user


async def test_concurrent_puts_with_one_if_match_let_exactly_one_win(
    client_a: httpx.AsyncClient, store: ResourceStore
):
    user = await created(client_a, "/Users", user_body("put.race@example.com"))
    etag = (await client_a.get(f"/Users/{user['id']}")).headers["etag"]
    bodies = [user_body("put.race@example.com", displayName=f"Writer {n}") for n in range(12)]
    responses = await asyncio.gather(
        *(
            client_a.put(f"/Users/{user['id']}", json=body, headers={"If-Match": etag})
            for body in bodies
        )
    )
    count("races")
    for response in responses:
        check_response(response, "race")
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] + [412] * 11, [r.text for r in responses]
    winner = next(r.json() for r in responses if r.status_code == 200)
    stored = (await client_a.get(f"/Users/{user['id']}")).json()
    assert stored["displayName"] == winner["displayName"]
    assert stored["meta"]["version"] == winner["meta"]["version"] != etag


# Simple attributes a PATCH can set independently, one per concurrent writer.
_DISTINCT = [
    ("displayName", "Display"),
    ("nickName", "Nick"),
    ("title", "Title"),
    ("userType", "Employee"),
    ("preferredLanguage", "en-US"),
    ("locale", "en-US"),
    ("timezone", "Europe/Amsterdam"),
    ("profileUrl", "https://example.com/p"),
    ("name.givenName", "Given"),
    ("name.familyName", "Family"),
    ("name.middleName", "Middle"),
    ("name.honorificPrefix", "Dr."),
    ("name.honorificSuffix", "III"),
    ("externalId", "ext-1"),
    (f"{ENTERPRISE_URN}:employeeNumber", "42"),
    (f"{ENTERPRISE_URN}:costCenter", "CC-7"),
    (f"{ENTERPRISE_URN}:organization", "Org"),
    (f"{ENTERPRISE_URN}:division", "Div"),
    (f"{ENTERPRISE_URN}:department", "Dept"),
    ("active", False),
]


def _read(resource: dict[str, Any], path: str) -> Any:
    if path.startswith(ENTERPRISE_URN):
        return resource.get(ENTERPRISE_URN, {}).get(path[len(ENTERPRISE_URN) + 1 :])
    value: Any = resource
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


@pytest.mark.parametrize("writers", [len(_DISTINCT)])
async def test_concurrent_patches_without_if_match_lose_no_update(
    client_a: httpx.AsyncClient, store: ResourceStore, writers: int
):
    user = await created(client_a, "/Users", user_body("patch.race@example.com", active=True))
    responses = await asyncio.gather(
        *(
            client_a.patch(
                f"/Users/{user['id']}",
                json=patch_body({"op": "replace", "path": path, "value": value}),
            )
            for path, value in _DISTINCT[:writers]
        )
    )
    count("races")
    for response in responses:
        check_response(response, "race")
    assert [r.status_code for r in responses] == [200] * writers, [r.text for r in responses]
    final = (await client_a.get(f"/Users/{user['id']}")).json()
    assert {path: _read(final, path) for path, _ in _DISTINCT[:writers]} == dict(
        _DISTINCT[:writers]
    )


@pytest.mark.parametrize("writers", [30, pytest.param(100, marks=pytest.mark.slow)])
async def test_concurrent_member_patches_on_one_group_all_succeed(
    client_a: httpx.AsyncClient, store: ResourceStore, writers: int
):
    """Entra adds members to one group in parallel requests: none may be refused or lost.

    Member deltas commute, so none of them may lose a race on the group (issue 12 §4: on
    MongoDB, 9-12 of 31 used to answer 409).
    """
    users = [
        (await created(client_a, "/Users", user_body(f"p{n}@example.com")))["id"]
        for n in range(writers)
    ]
    group = await created(client_a, "/Groups", group_body("Parallel"))
    responses = await asyncio.gather(
        *(
            client_a.patch(
                f"/Groups/{group['id']}",
                json=patch_body({"op": "add", "path": "members", "value": [{"value": u}]}),
            )
            for u in users
        )
    )
    count("races")
    for response in responses:
        check_response(response, "race")
    statuses = [r.status_code for r in responses]
    assert statuses == [204] * len(users), [r.text for r in responses if r.status_code != 204]
    _, groups = await snapshot(store, TENANT_A)
    assert {m["value"] for m in groups[0].get("members", [])} == set(users)
    version = groups[0]["meta"]["version"]
    assert version_counter(version) == (version_counter(group["meta"]["version"]) or 0) + writers
