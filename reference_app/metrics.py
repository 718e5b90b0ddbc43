"""Prometheus metrics of the reference app, served on their own port (never the SCIM one).

- ``scim_requests_total{resource_type, operation, status}``: SCIM requests answered, with a
  ``tenant`` label too when per-tenant labels are on.
- ``scim_request_duration_seconds{resource_type, operation}``: latency histogram.
- ``scim_store_errors_total{operation, kind}``: store calls that failed, ``kind`` being
  ``unavailable`` (the database did not answer) or ``unexpected``.
- ``scim_store_write_conflicts_total{kind}``: writes that lost a race (``version``) or hit a
  unique attribute (``uniqueness``).
- ``scim_store_write_retries_total{operation}``: writes attempted again after a version
  conflict (the service retries when the client sent no If-Match).
- ``scim_event_backlog{receiver}``: provisioning events not yet delivered, ``receiver`` being
  ``poll`` (tenants with an events token) or ``push`` (tenants with a push URL); refreshed
  every 30 s. With per-tenant labels on, a ``tenant`` label too.
- ``scim_event_delivery_lag_seconds{receiver}``: seconds from an event's ``iat`` (its write) to
  the receiver accepting it (a push answered 202).
- ``scim_event_push_failures_total``: push attempts the receiver did not accept (an answer
  other than 202, a timeout, a connection error); each is retried.

Label values come from fixed sets (resource types, operations, HTTP statuses), except the
tenant: per-tenant labels are off by default, and when on at most ``tenant_labels`` distinct
tenants get their own value; later ones are counted as ``other``. Every metric lives in the
:class:`Metrics` object's own registry, not prometheus_client's global one.
"""

from __future__ import annotations

import threading
from collections import Counter as Tally
from collections.abc import Iterable, Mapping, Sequence
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from reference_app.access_log import RequestRecord
from scimkit import (
    Page,
    PatchResult,
    PreconditionFailed,
    ResourceStore,
    ResourceType,
    SCIMError,
    ServiceUnavailable,
    StoreQuery,
    UniquenessError,
)

if TYPE_CHECKING:
    from reference_app.activity import ActivityRecorder
    from reference_app.events import PushReceivers
    from scimkit import Event, Subscription

__all__ = ["OTHER_TENANT", "InstrumentedStore", "Metrics", "MetricsServer", "classify"]

OTHER_TENANT = "other"
_DISCOVERY = frozenset({"ServiceProviderConfig", "ResourceTypes", "Schemas"})
_ITEM_OPERATIONS = {"GET": "get", "PUT": "replace", "PATCH": "patch", "DELETE": "delete"}
_COLLECTION_OPERATIONS = {"GET": "query", "POST": "create"}
# A write that lost a race in this request, waiting to see whether the service retries it.
_LOST_RACE: ContextVar[tuple[str, str, str] | None] = ContextVar("_lost_race", default=None)


def classify(
    method: str, path: str, prefix: str, endpoints: Iterable[str]
) -> tuple[str, str] | None:
    """``(resource_type, operation)`` of a SCIM request path, or ``None`` for other paths.

    Both come from fixed sets: a path the app does not route is ``("other", "other")``.
    """
    if not path.startswith(prefix):
        return None
    parts = [part for part in path[len(prefix) :].split("/") if part][1:]  # after the tenant
    names = {endpoint.strip("/"): endpoint.strip("/") for endpoint in endpoints}
    if parts == [".search"] and method == "POST":
        return ("all", "search")
    if parts == ["Bulk"] and method == "POST":
        return ("bulk", "bulk")
    if len(parts) == 1 and parts[0] in _DISCOVERY and method == "GET":
        return (parts[0], "discovery")
    if parts and parts[0] in names:
        resource_type = names[parts[0]]
        if len(parts) == 1 and method in _COLLECTION_OPERATIONS:
            return (resource_type, _COLLECTION_OPERATIONS[method])
        if len(parts) == 2 and parts[1] == ".search" and method == "POST":
            return (resource_type, "search")
        if len(parts) == 2 and method in _ITEM_OPERATIONS:
            return (resource_type, _ITEM_OPERATIONS[method])
    return ("other", "other")


class Metrics:
    """The app's metrics, in a registry of their own."""

    def __init__(
        self,
        *,
        endpoints: Iterable[str],
        tenant_prefix: str = "/scim/v2/",
        tenant_labels: int = 0,
    ) -> None:
        if tenant_labels < 0:
            raise ValueError("tenant_labels must not be negative")
        self.registry = CollectorRegistry(auto_describe=True)
        self._endpoints = tuple(endpoints)
        self._prefix = tenant_prefix
        self._tenant_labels = tenant_labels
        self._tenants: set[str] = set()
        self._lock = threading.Lock()
        request_labels = ["resource_type", "operation", "status"]
        if tenant_labels:
            request_labels.append("tenant")
        self.requests = Counter(
            "scim_requests",
            "SCIM requests answered.",
            request_labels,
            registry=self.registry,
        )
        self.latency = Histogram(
            "scim_request_duration_seconds",
            "Time from a SCIM request's arrival to the end of its response.",
            ["resource_type", "operation"],
            registry=self.registry,
        )
        self.store_errors = Counter(
            "scim_store_errors",
            "Store calls that failed: the database did not answer, or an unexpected error.",
            ["operation", "kind"],
            registry=self.registry,
        )
        self.conflicts = Counter(
            "scim_store_write_conflicts",
            "Writes that lost a race (version) or hit a unique attribute (uniqueness).",
            ["kind"],
            registry=self.registry,
        )
        self.retries = Counter(
            "scim_store_write_retries",
            "Writes attempted again after losing a race.",
            ["operation"],
            registry=self.registry,
        )
        backlog_labels = ["receiver", "tenant"] if tenant_labels else ["receiver"]
        self.event_backlog = Gauge(
            "scim_event_backlog",
            "Provisioning events not yet delivered to the receivers.",
            backlog_labels,
            registry=self.registry,
        )
        self.event_lag = Histogram(
            "scim_event_delivery_lag_seconds",
            "Seconds from an event's write to its receiver accepting it.",
            ["receiver"],
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600),
            registry=self.registry,
        )
        self.push_failures = Counter(
            "scim_event_push_failures",
            "Push deliveries the receiver did not accept (retried).",
            registry=self.registry,
        )

    def watch_request_log(self, recorder: ActivityRecorder) -> None:
        """Expose the request log's queue and outcomes, read from ``recorder`` when scraped.

        Read at scrape time, so the request path pays nothing for them.
        """
        self.registry.register(_RequestLogCollector(recorder))

    def watch_push(self, subscription: Subscription) -> None:
        """Count ``subscription``'s failed pushes and time its accepted ones."""
        send = subscription.handler

        async def timed(event: Event) -> None:
            try:
                await send(event)
            except Exception:
                self.push_failures.inc()
                raise
            self.event_lag.labels("push").observe((datetime.now(UTC) - event.iat).total_seconds())

        subscription.handler = timed

    async def update_backlogs(self, pushes: PushReceivers) -> None:
        """Set the backlog gauges from the feed: poll receivers and push deliveries."""
        from reference_app.events import POLL_RECEIVER, poll_backlog

        totals: Tally[tuple[str, ...]] = Tally()
        for tenant in await pushes.tenants.list():
            extra = (self._tenant_label(tenant.name),) if self._tenant_labels else ()
            if tenant.events_digests:
                stats = await pushes.feed.stats(tenant.name)
                checkpoint = await pushes.feed.checkpoint(tenant.name, POLL_RECEIVER)
                totals[("poll", *extra)] += poll_backlog(stats.last, checkpoint)
            status = await pushes.status(tenant.name)
            if status is not None:
                totals[("push", *extra)] += status.backlog
        for receiver in ("poll", "push"):
            if not self._tenant_labels:
                totals.setdefault((receiver,), 0)
        for labels, count in totals.items():
            self.event_backlog.labels(*labels).set(count)

    def observe(self, record: RequestRecord) -> None:
        """A request observer (see :class:`reference_app.access_log.AccessLog`)."""
        kind = classify(record.method, record.path, self._prefix, self._endpoints)
        if kind is None:
            return  # not a SCIM request (/healthz, /readyz)
        resource_type, operation = kind
        labels = [resource_type, operation, str(record.status)]
        if self._tenant_labels:
            labels.append(self._tenant_label(record.tenant))
        self.requests.labels(*labels).inc()
        self.latency.labels(resource_type, operation).observe(record.duration)

    def _tenant_label(self, tenant: str | None) -> str:
        if tenant is None:
            return OTHER_TENANT
        with self._lock:
            if tenant in self._tenants:
                return tenant
            if len(self._tenants) < self._tenant_labels:
                self._tenants.add(tenant)
                return tenant
        return OTHER_TENANT


class MetricsServer:
    """``/metrics`` (any path, in fact) on its own port, served from a thread."""

    def __init__(self, metrics: Metrics, host: str, port: int) -> None:
        self._server, self._thread = start_http_server(port, addr=host, registry=metrics.registry)

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()


class InstrumentedStore:
    """A :class:`ResourceStore` that counts its store's errors, conflicts and retried writes."""

    def __init__(self, store: ResourceStore, metrics: Metrics) -> None:
        self.store = store
        self._metrics = metrics
        # The feed the service records events into, when the store keeps one.
        self.feed = getattr(store, "feed", None)

    # ``**record``: the service's WriteRecord, passed on only when events are recorded, so a
    # store that records none is called exactly as before.
    async def create(
        self,
        tenant: str,
        resource_type: ResourceType,
        resource: dict[str, Any],
        *,
        shared: bool = False,
        **record: Any,
    ) -> dict[str, Any]:
        # A shared answer is asked of the store only if it has shared reads (as the service
        # asks this wrapper, which always has get_shared); any other returns a copy.
        if shared and hasattr(self.store, "get_shared"):
            record["shared"] = True
        with self._counted("create"):
            return await self.store.create(tenant, resource_type, resource, **record)

    async def get(
        self, tenant: str, resource_type: ResourceType, id: str, *, members: bool = True
    ) -> dict[str, Any]:
        with self._counted("get"):
            return await self.store.get(tenant, resource_type, id, members=members)

    async def get_shared(
        self, tenant: str, resource_type: ResourceType, id: str, *, members: bool = True
    ) -> dict[str, Any]:
        # The store's uncopied read when it has one (docs/storage.md, "Copies"), else get.
        read = getattr(self.store, "get_shared", self.store.get)
        with self._counted("get"):
            result: dict[str, Any] = await read(tenant, resource_type, id, members=members)
            return result

    async def replace(
        self,
        tenant: str,
        resource_type: ResourceType,
        id: str,
        resource: dict[str, Any],
        *,
        expected_version: str | None = None,
        **record: Any,
    ) -> dict[str, Any]:
        with self._counted("replace", (tenant, resource_type.name, id)):
            return await self.store.replace(
                tenant, resource_type, id, resource, expected_version=expected_version, **record
            )

    async def update(
        self,
        tenant: str,
        resource_type: ResourceType,
        id: str,
        result: PatchResult,
        *,
        expected_version: str | None,
        modified: datetime | None = None,
        **record: Any,
    ) -> dict[str, Any]:
        with self._counted("update", (tenant, resource_type.name, id)):
            return await self.store.update(
                tenant,
                resource_type,
                id,
                result,
                expected_version=expected_version,
                modified=modified,
                **record,
            )

    async def delete(
        self,
        tenant: str,
        resource_type: ResourceType,
        id: str,
        *,
        expected_version: str | None = None,
        **record: Any,
    ) -> None:
        with self._counted("delete", (tenant, resource_type.name, id)):
            await self.store.delete(
                tenant, resource_type, id, expected_version=expected_version, **record
            )

    async def query(self, tenant: str, resource_type: ResourceType, query: StoreQuery) -> Page:
        with self._counted("query"):
            return await self.store.query(tenant, resource_type, query)

    async def query_shared(
        self, tenant: str, resource_type: ResourceType, query: StoreQuery
    ) -> Page:
        # The store's uncopied query when it has one (docs/storage.md, "Copies"), else query.
        read = getattr(self.store, "query_shared", self.store.query)
        with self._counted("query"):
            page: Page = await read(tenant, resource_type, query)
            return page

    async def resource_types_of(self, tenant: str, ids: Sequence[str]) -> Mapping[str, str]:
        with self._counted("query"):
            return await self.store.resource_types_of(tenant, ids)

    async def get_with_types(
        self,
        tenant: str,
        resource_type: ResourceType,
        id: str,
        ids: Sequence[str],
        *,
        members: bool = True,
    ) -> tuple[dict[str, Any], Mapping[str, str]]:
        with self._counted("get"):
            return await self.store.get_with_types(tenant, resource_type, id, ids, members=members)

    async def ping(self) -> bool:
        return await self.store.ping()

    def _counted(self, operation: str, key: tuple[str, str, str] | None = None) -> _Counting:
        return _Counting(self._metrics, operation, key)


class _Counting:
    """Counts one store call's outcome; a context manager so each method stays one line."""

    def __init__(self, metrics: Metrics, operation: str, key: tuple[str, str, str] | None):
        self._metrics = metrics
        self._operation = operation
        self._key = key

    def __enter__(self) -> None:
        if self._key is not None and _LOST_RACE.get() == self._key:
            self._metrics.retries.labels(self._operation).inc()
            _LOST_RACE.set(None)

    def __exit__(self, kind: type[BaseException] | None, error: Any, traceback: Any) -> None:
        if error is None:
            return
        if isinstance(error, PreconditionFailed) and self._key is not None:
            self._metrics.conflicts.labels("version").inc()
            _LOST_RACE.set(self._key)
        elif isinstance(error, UniquenessError):
            self._metrics.conflicts.labels("uniqueness").inc()
        elif isinstance(error, ServiceUnavailable):
            self._metrics.store_errors.labels(self._operation, "unavailable").inc()
        elif not isinstance(error, SCIMError):
            self._metrics.store_errors.labels(self._operation, "unexpected").inc()


class _RequestLogCollector(Collector):
    """The request log's figures, read from its recorder at each scrape."""

    def __init__(self, recorder: ActivityRecorder) -> None:
        self._recorder = recorder

    def describe(self) -> Iterable[Metric]:
        return list(self.collect())

    def collect(self) -> Iterable[Metric]:
        recorder = self._recorder
        pending = GaugeMetricFamily(
            "scim_request_log_pending",
            "SCIM requests waiting for the request log's background writer.",
            value=recorder.pending,
        )
        written = CounterMetricFamily(
            "scim_request_log_records",
            "SCIM requests taken by the request log, by outcome: stored; failed (the store "
            "did not take the batch); dropped (the queue was full).",
            labels=["outcome"],
        )
        written.add_metric(["stored"], recorder.stored)
        written.add_metric(["failed"], recorder.failed)
        written.add_metric(["dropped"], recorder.dropped)
        return [pending, written]
