"""Prometheus metrics: requests, latency, store errors, conflicts and retries, on their own port."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from reference_app.__main__ import main
from reference_app.metrics import OTHER_TENANT, InstrumentedStore, Metrics, classify
from reference_app.schemas import RESOURCE_TYPES
from reference_app.settings import Settings, SettingsError
from scimkit import (
    USER,
    MemoryStore,
    PreconditionFailed,
    ResourceService,
    ServiceUnavailable,
    StoreQuery,
)
from tests.reference_app.process import free_port, served
from tests.reference_app.support import TOKEN_A, TOKEN_B, running, scim_client, two_tenants

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
ENDPOINTS = [resource_type.endpoint for resource_type in RESOURCE_TYPES]
Sample = tuple[str, dict[str, str], float]


def _samples(text: str) -> Iterator[Sample]:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            yield sample.name, dict(sample.labels), sample.value


def _value(samples: list[Sample], name: str, **labels: str) -> float:
    return sum(v for n, found, v in samples if n == name and labels.items() <= found.items())


def _scrape(app: Any) -> list[Sample]:
    port = app.state.metrics_server.port
    answer = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5)
    assert answer.status_code == 200
    assert answer.headers["Content-Type"].startswith("text/plain")
    return list(_samples(answer.text))


@pytest.mark.parametrize(
    ("method", "path", "expected"),
    [
        ("GET", "/scim/v2/acme/Users", ("Users", "query")),
        ("POST", "/scim/v2/acme/Users", ("Users", "create")),
        ("GET", "/scim/v2/acme/Users/42", ("Users", "get")),
        ("PUT", "/scim/v2/acme/Users/42", ("Users", "replace")),
        ("PATCH", "/scim/v2/acme/Groups/42", ("Groups", "patch")),
        ("DELETE", "/scim/v2/acme/Groups/42", ("Groups", "delete")),
        ("POST", "/scim/v2/acme/Groups/.search", ("Groups", "search")),
        ("POST", "/scim/v2/acme/.search", ("all", "search")),
        ("POST", "/scim/v2/acme/Bulk", ("bulk", "bulk")),
        ("GET", "/scim/v2/acme/Schemas", ("Schemas", "discovery")),
        ("GET", "/scim/v2/acme/Unknown/x/y", ("other", "other")),
        ("TRACE", "/scim/v2/acme/Users", ("other", "other")),
        ("GET", "/healthz", None),
    ],
)
def test_requests_are_classified_into_fixed_label_sets(
    method: str, path: str, expected: tuple[str, str] | None
):
    assert classify(method, path, "/scim/v2/", ENDPOINTS) == expected


async def test_requests_latency_and_conflicts_are_served_on_the_metrics_port():
    async with running(two_tenants(metrics_port=0)) as app:
        async with scim_client(app, "acme", TOKEN_A) as acme:
            body = {"schemas": [USER_SCHEMA], "userName": "m@example.com"}
            assert (await acme.post("/Users", json=body)).status_code == 201
            assert (await acme.post("/Users", json=body)).status_code == 409
            assert (await acme.get("/Users/nope")).status_code == 404
            # Never on the SCIM port.
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as root:
                assert (await root.get("/metrics")).status_code == 404
                assert (await root.get("/healthz")).status_code == 200
        samples = _scrape(app)
    requests = "scim_requests_total"
    assert _value(samples, requests, resource_type="Users", operation="create", status="201") == 1
    assert _value(samples, requests, resource_type="Users", operation="create", status="409") == 1
    assert _value(samples, requests, resource_type="Users", operation="get", status="404") == 1
    assert _value(samples, "scim_request_duration_seconds_count", operation="create") == 2
    assert _value(samples, "scim_store_write_conflicts_total", kind="uniqueness") == 1
    # Probes are not SCIM requests; tenants are not labels unless asked for.
    assert all("tenant" not in labels for _, labels, _ in samples)
    assert _value(samples, requests) == 3  # /metrics and /healthz are not SCIM requests


async def test_tenant_labels_are_bounded():
    async with running(two_tenants(metrics_port=0, metrics_tenant_labels=1)) as app:
        for tenant, token in (("acme", TOKEN_A), ("beta", TOKEN_B), ("acme", TOKEN_A)):
            async with scim_client(app, tenant, token) as client:
                assert (await client.get("/Users")).status_code == 200
        samples = _scrape(app)
    requests = "scim_requests_total"
    assert _value(samples, requests, tenant="acme") == 2
    assert _value(samples, requests, tenant=OTHER_TENANT) == 1  # beta came second
    assert _value(samples, requests, tenant="beta") == 0


class _LosesOneRace(MemoryStore):
    """The first replace loses a race with another writer."""

    lost = False

    async def replace(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        if not self.lost:
            self.lost = True
            raise PreconditionFailed("stale version")
        return await super().replace(*args, **kwargs)


async def test_a_lost_race_counts_a_conflict_and_a_retry():
    metrics = Metrics(endpoints=ENDPOINTS)
    service = ResourceService(InstrumentedStore(_LosesOneRace(), metrics), [USER])
    created = await service.create("t", USER, {"schemas": [USER_SCHEMA], "userName": "a"})
    body = {"schemas": [USER_SCHEMA], "userName": "a", "displayName": "A"}
    replaced = await service.replace("t", USER, created["id"], body)
    assert replaced["displayName"] == "A"
    samples = list(_samples(_exposition(metrics)))
    assert _value(samples, "scim_store_write_conflicts_total", kind="version") == 1
    assert _value(samples, "scim_store_write_retries_total", operation="replace") == 1


class _Broken(MemoryStore):
    def __init__(self, error: Exception) -> None:
        super().__init__()
        self.error = error

    async def query(self, *args: Any, **kwargs: Any) -> Any:
        raise self.error


@pytest.mark.parametrize(
    ("error", "kind"),
    [(ServiceUnavailable("down"), "unavailable"), (RuntimeError("bug"), "unexpected")],
)
async def test_store_errors_are_counted(error: Exception, kind: str):
    metrics = Metrics(endpoints=ENDPOINTS)
    store = InstrumentedStore(_Broken(error), metrics)
    with pytest.raises(type(error)):
        await store.query("t", USER, StoreQuery())
    samples = list(_samples(_exposition(metrics)))
    assert _value(samples, "scim_store_errors_total", operation="query", kind=kind) == 1


def _exposition(metrics: Metrics) -> str:
    from prometheus_client import generate_latest

    return generate_latest(metrics.registry).decode()


def test_the_metrics_port_is_never_the_scim_port():
    with pytest.raises(SettingsError, match="SCIM port"):
        Settings(port=9000, metrics_port=9000)


def test_metrics_need_a_single_worker(capsys: pytest.CaptureFixture[str]):
    argv = ["serve", "--workers", "2", "--metrics-port", "9100"]
    assert main([*argv, "--mongodb-uri", "mongodb://127.0.0.1:1"]) == 2
    assert "--metrics-port needs --workers 1" in capsys.readouterr().err


def test_serve_exposes_metrics_on_its_own_port_of_the_host():
    port, metrics_port = free_port(), free_port()
    arguments = ["--metrics-port", str(metrics_port), "--tenant", f"t:{TOKEN_A}"]
    with served(arguments, port=port) as server:
        answer = httpx.get(
            f"{server.base_url}/scim/v2/t/Users", headers={"Authorization": f"Bearer {TOKEN_A}"}
        )
        assert answer.status_code == 200
        assert httpx.get(f"{server.base_url}/metrics").status_code == 404
        scraped = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics", timeout=5)
    samples = list(_samples(scraped.text))
    assert _value(samples, "scim_requests_total", resource_type="Users", status="200") == 1


async def test_the_request_log_is_measured_when_scraped():
    async with running(two_tenants(metrics_port=0)) as app:
        async with scim_client(app, "acme", TOKEN_A) as acme:
            body = {"schemas": [USER_SCHEMA], "userName": "log@example.com"}
            assert (await acme.post("/Users", json=body)).status_code == 201
            assert (await acme.get("/Users")).status_code == 200
        await app.state.activity.flush()
        samples = _scrape(app)
    assert _value(samples, "scim_request_log_records_total", outcome="stored") == 2
    assert _value(samples, "scim_request_log_records_total", outcome="failed") == 0
    assert _value(samples, "scim_request_log_records_total", outcome="dropped") == 0
    assert _value(samples, "scim_request_log_pending") == 0
