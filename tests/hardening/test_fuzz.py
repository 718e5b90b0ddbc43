"""HTTP fuzzing with hypothesis: hostile filters, PATCH bodies, documents, parameters, headers.

Each case is one request through ``create_scim_app`` (``httpx.ASGITransport``) over either
store, against tenant A (Entra-tolerant) or B (strict). Whatever the request:

- no response is a 5xx;
- every 4xx is a valid SCIM Error (``schemas``, ``status`` equal to the HTTP status, a known
  ``scimType`` only on 400/409, ``detail`` a string), and so is every failed Bulk operation;
- a rejected request changes nothing (both tenants' resources, members and versions compared
  before and after), a read changes nothing, and no request changes the other tenant.

The CI run tries a few hundred cases; ``-m slow`` tries more than 10,000.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette

from scimkit.store import ResourceStore
from tests.hardening.strategies import (
    Request,
    bulk_requests,
    create_requests,
    patch_requests,
    query_requests,
    raw_requests,
    replace_requests,
    search_requests,
)
from tests.hardening.support import (
    TENANT_A,
    TENANT_B,
    TOKEN_A,
    TOKEN_B,
    check_error,
    check_response,
    client_for,
    count,
    group_body,
    make_app,
    snapshot,
    user_body,
)


@dataclass
class Fuzzed:
    """A seeded app: a few users and groups per tenant, and a client per tenant."""

    kind: str
    store: ResourceStore
    app: Starlette
    clients: dict[str, httpx.AsyncClient]
    users: list[str]
    groups: list[str]


async def _seed(client: httpx.AsyncClient) -> tuple[list[str], list[str]]:
    users = []
    for name in ("ada@example.com", "Bob@Example.com", "chloé@example.com"):
        response = await client.post("/Users", json=user_body(name, displayName=name))
        assert response.status_code == 201, response.text
        users.append(response.json()["id"])
    groups = []
    for name, members in (("Admins", users[:2]), ("Everyone", users)):
        response = await client.post("/Groups", json=group_body(name, members))
        assert response.status_code == 201, response.text
        groups.append(response.json()["id"])
    return users, groups


async def _environment(kind: str, store: ResourceStore) -> AsyncIterator[Fuzzed]:
    app = make_app(store)
    async with client_for(app, TENANT_A, TOKEN_A) as a, client_for(app, TENANT_B, TOKEN_B) as b:
        users, groups = await _seed(a)
        await _seed(b)  # B has its own ids; A's strategies target A's
        yield Fuzzed(kind, store, app, {TENANT_A: a, TENANT_B: b}, users, groups)


# One seeded app per test, shared by its examples: successful writes accumulate, as they
# would on a server, and the dataset stays small enough for mongoeco.
@pytest.fixture
async def memory_env(memory_store: ResourceStore) -> AsyncIterator[Fuzzed]:
    async for env in _environment("memory", memory_store):
        yield env


@pytest.fixture
async def mongo_env(mongo_store: ResourceStore) -> AsyncIterator[Fuzzed]:
    async for env in _environment("mongo", mongo_store):
        yield env


Targets = dict[str, Callable[[Fuzzed], st.SearchStrategy[Request]]]
TARGETS: Targets = {
    "query": lambda env: query_requests(),
    "search": lambda env: search_requests(),
    "create": lambda env: create_requests(env.users),
    "replace": lambda env: replace_requests(env.users, env.groups),
    "patch": lambda env: patch_requests(env.users, env.groups),
    "bulk": lambda env: bulk_requests(env.users, env.groups),
    "raw": lambda env: raw_requests(env.users),
}


async def _send(client: httpx.AsyncClient, request: Request) -> httpx.Response:
    headers = [(name.encode("ascii"), value) for name, value in request.headers]
    query = request.raw_query
    if query is None and request.params:
        # Encoded here and sent through RawQuery: httpx refuses URLs over 64 KiB, and a long
        # non-ASCII filter is that long once percent-encoded.
        query = urlencode(request.params, quote_via=quote).encode("ascii")
    if query is not None:
        headers.append((b"x-raw-query", query))
    return await client.request(request.method, request.path, content=request.body, headers=headers)


def _check_bulk(response: httpx.Response) -> None:
    """Each failed operation of a BulkResponse carries a SCIM Error, never a 5xx."""
    for result in response.json().get("Operations", []):
        status = int(result["status"])
        assert status < 500, result
        if status >= 400:
            error = httpx.Response(
                status,
                json=result["response"],
                headers={"content-type": "application/scim+json"},
            )
            check_error(error)


async def _state(env: Fuzzed) -> dict[str, Any]:
    return {tenant: await snapshot(env.store, tenant) for tenant in (TENANT_A, TENANT_B)}


async def run_case(env: Fuzzed, tenant: str, request: Request) -> None:
    before = await _state(env)
    response = await _send(env.clients[tenant], request)
    if request.method == "HEAD":
        count(f"fuzz ({env.kind}) cases")
        assert response.status_code < 500, response.status_code
    else:
        check_response(response, f"fuzz ({env.kind})")
    if request.path == "/Bulk" and response.status_code == 200:
        _check_bulk(response)
    after = await _state(env)
    other = TENANT_B if tenant == TENANT_A else TENANT_A
    assert after[other] == before[other], f"{request} changed the other tenant"
    if response.status_code >= 400 or not request.writes:
        assert after[tenant] == before[tenant], f"{request} -> {response.status_code} wrote"


_BASE = settings(
    deadline=None,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
    ],
)
# The CI run is derandomized (the same cases on every run); the large one explores.
_CI = settings(_BASE, derandomize=True, database=None)
_TARGET = pytest.mark.parametrize("target", sorted(TARGETS))
_TENANTS = st.sampled_from([TENANT_A, TENANT_A, TENANT_B])


async def _fuzz(env: Fuzzed, target: str, data: st.DataObject) -> None:
    tenant = data.draw(_TENANTS, label="tenant")
    request = data.draw(TARGETS[target](env), label="request")
    await run_case(env, tenant, request)


@_TARGET
@settings(_CI, max_examples=45)
@given(data=st.data())
async def test_fuzz_memory(memory_env: Fuzzed, target: str, data: st.DataObject) -> None:
    await _fuzz(memory_env, target, data)


@pytest.mark.mongo
@_TARGET
@settings(_CI, max_examples=12)
@given(data=st.data())
async def test_fuzz_mongo(mongo_env: Fuzzed, target: str, data: st.DataObject) -> None:
    await _fuzz(mongo_env, target, data)


@pytest.mark.slow
@_TARGET
@settings(_BASE, max_examples=2000)
@given(data=st.data())
async def test_fuzz_memory_large(memory_env: Fuzzed, target: str, data: st.DataObject) -> None:
    await _fuzz(memory_env, target, data)


@pytest.mark.slow
@pytest.mark.mongo
@_TARGET
@settings(_BASE, max_examples=300)
@given(data=st.data())
async def test_fuzz_mongo_large(mongo_env: Fuzzed, target: str, data: st.DataObject) -> None:
    await _fuzz(mongo_env, target, data)
