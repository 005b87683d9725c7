"""Prometheus metrics of one engine app, kept in the app's own registry.

A dedicated ``CollectorRegistry`` (with its own process and platform collectors) lets several apps
live in one process, as tests and benchmarks do, without "duplicated timeseries" errors. Requests
are labelled with the route *template* (``/api/v1/orders/{id}``), never the raw path, so label
cardinality is bounded by the model; paths no route matches share one label.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from pim_engine.model import Model

UNMATCHED_ROUTE = "<unmatched>"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class _RowsCollector(Collector):
    """``pim_entity_rows``, read at scrape time from counts the store keeps up to date."""

    def __init__(self, counts: Callable[[], Mapping[str, int]]) -> None:
        self._counts = counts

    def collect(self) -> Iterator[Metric]:
        family = GaugeMetricFamily("pim_entity_rows", "Rows stored per entity.", labels=["entity"])
        for entity, rows in sorted(self._counts().items()):
            family.add_metric([entity], rows)
        yield family


class Metrics:
    """The app's registry and the instruments the middleware feeds."""

    def __init__(self, model: Model, row_counts: Callable[[], Mapping[str, int]]) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        self._requests = Counter(
            "pim_http_requests",
            "HTTP requests served.",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self._duration = Histogram(
            "pim_http_request_duration_seconds",
            "HTTP request duration.",
            ["method", "route"],
            registry=self.registry,
            buckets=_BUCKETS,
        )
        info = Gauge(
            "pim_model_info",
            "The model this instance serves.",
            ["domain", "version", "digest"],
            registry=self.registry,
        )
        info.labels(model.domain, model.version, model.digest).set(1)
        self.registry.register(_RowsCollector(row_counts))
        self._children: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}
        self._reviews = Counter(
            "pim_access_reviews",
            "TokenReviews and SubjectAccessReviews sent to the API server (answers are cached), by outcome.",
            ["review", "outcome"],
            registry=self.registry,
        )

    def count_review(self, review: str, outcome: str) -> None:
        self._reviews.labels(review, outcome).inc()

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        key = (method, route, status)
        pair = self._children.get(key)
        if pair is None:
            pair = (self._requests.labels(method, route, str(status)), self._duration.labels(method, route))
            self._children[key] = pair
        pair[0].inc()
        pair[1].observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)


class MetricsMiddleware:
    """Pure ASGI (no ``BaseHTTPMiddleware``): times each request and labels it by route template."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_and_record(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_and_record)
        finally:
            route = scope.get("route")
            template = getattr(route, "path", None) or UNMATCHED_ROUTE
            self.metrics.observe(scope["method"], template, status, time.perf_counter() - start)
