"""python-scim's ``scim2-tester``, a compliance checker nobody here wrote, on the reference app.

Four configurations: the embedded store and MongoDB (the mongoeco stand-in), each with an
``entra``-policy tenant and a ``strict`` one. The tester discovers the tenant
(ServiceProviderConfig, ResourceTypes, Schemas), then creates, reads, queries, replaces, PATCHes
(add, remove, replace of every attribute, extensions included) and deletes Users and Groups.

The app runs in process, without a port: scim2-client's ASGI engine calls it directly. The tester
drives a synchronous client, so the app, its lifespan and its store live on an event loop in a
helper thread (anyio's blocking portal) and each request is handed to that loop.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal
from scim2_client import BaseSyncSCIMClient
from scim2_client.client import RawResponse
from scim2_client.engines.asgi import ASGISCIMClient
from scim2_tester import CheckResult, Status, check_server

from reference_app.settings import Settings, TenantSeed
from tests.reference_app.support import running

TENANT = "compliance"
TOKEN = "compliance-token-0123456789abcdef"

FAILING = frozenset({Status.ERROR, Status.CRITICAL, Status.DEVIATION})
"""What counts against the app: MUST violations, security issues, and SHOULD deviations."""


class PortalSCIMClient(BaseSyncSCIMClient):
    """A synchronous SCIM client whose requests run on ``portal``'s event loop, in process."""

    def __init__(self, inner: ASGISCIMClient, portal: BlockingPortal) -> None:
        super().__init__()
        self._inner = inner
        self._portal = portal

    def _stays_under_base_url(self, endpoint: str) -> bool:
        return self._inner._stays_under_base_url(endpoint)

    def _parse_json(self, response: RawResponse) -> Any:
        return self._inner._parse_json(response)

    def request(self, method: str, url: str, **kwargs: Any) -> RawResponse:
        return self._portal.call(functools.partial(self._inner.request, method, url, **kwargs))


@contextmanager
def scim_client(settings: Settings) -> Iterator[PortalSCIMClient]:
    """A client for the ``compliance`` tenant of the app built from ``settings``, started."""
    with (
        start_blocking_portal() as portal,
        portal.wrap_async_context_manager(running(settings)) as app,
    ):
        inner = ASGISCIMClient(
            app,
            base_url=f"http://testserver/scim/v2/{TENANT}",
            headers={"Authorization": f"Bearer {TOKEN}"},
        )
        yield PortalSCIMClient(inner, portal)


def _key(result: CheckResult) -> tuple[str, str, str]:
    urn = result.data.get("urn") if isinstance(result.data, dict) else None
    return (result.resource_type or "-", result.title or "?", str(urn or "-"))


def summary(failures: list[CheckResult], total: int, label: str) -> str:
    """One block per failing check: status, resource type, check name, path, reason."""
    lines = [f"scim2-tester, {label}: {len(failures)} of {total} checks failed"]
    for result in failures:
        resource_type, title, urn = _key(result)
        reason = (result.reason or "no reason given").replace("\n", "\n      ")
        lines.append(f"  {result.status.name} {resource_type}.{title} [{urn}]\n      {reason}")
    return "\n".join(lines)


def run_tester(settings: Settings, label: str) -> None:
    with scim_client(settings) as client:
        results = check_server(client)
    checked = {r.resource_type for r in results if r.status is Status.SUCCESS}
    # check_server stops early when discovery fails: make sure the resource checks did run.
    assert {"User", "Group"} <= checked, summary(results, len(results), label)
    failures = [r for r in results if r.status in FAILING]
    assert not failures, summary(failures, len(results), label)


POLICIES = ["entra", "strict"]


@pytest.mark.parametrize("policy", POLICIES)
def test_embedded_store(policy: str) -> None:
    settings = Settings(tenants=(TenantSeed(TENANT, TOKEN, strict=policy == "strict"),))
    run_tester(settings, f"embedded store, {policy} tenant")


@pytest.mark.mongo
@pytest.mark.parametrize("policy", POLICIES)
def test_mongodb(policy: str, mongodb_uri: str, mongo_db_name: str) -> None:
    settings = Settings(
        mongodb_uri=mongodb_uri,
        mongodb_database=mongo_db_name,
        tenants=(TenantSeed(TENANT, TOKEN, strict=policy == "strict"),),
    )
    run_tester(settings, f"MongoDB store, {policy} tenant")
