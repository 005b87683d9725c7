"""/metrics text -> status.metrics: parsed from real prometheus_client output, not hand-typed text."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from pim_operator.probe import summary

pytestmark = pytest.mark.unit
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)


class FakeEngine:
    """An engine's metrics, exposed by the same library the engine uses."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("pim_http_requests_total", "r", ["method", "route", "status"], registry=self.registry)
        self.latency = Histogram(
            "pim_http_request_duration_seconds",
            "l",
            ["method", "route"],
            buckets=BUCKETS,
            registry=self.registry,
        )
        self.rows = Gauge("pim_entity_rows", "rows", ["entity"], registry=self.registry)

    def hit(self, n: int, seconds: float, status: str = "200", route: str = "/api/v1/users") -> None:
        for _ in range(n):
            self.requests.labels("GET", route, status).inc()
            self.latency.labels("GET", route).observe(seconds)

    def scrape(self, at: float) -> summary.Sample:
        return summary.parse(generate_latest(self.registry).decode(), at=at)


def test_counts_errors_rows_and_window_percentiles():
    e = FakeEngine()
    e.hit(10, 0.3)  # before the window: must not shape the percentiles
    before = e.scrape(at=100.0)
    e.hit(90, 0.004)
    e.hit(10, 0.2, status="500")
    e.rows.labels("User").set(7)
    after = e.scrape(at=110.0)
    out = summary.summarize({"pod-a": after}, {"pod-a": before})
    assert out["requestsTotal"] == 110
    assert out["errorsTotal"] == 10
    assert out["requestRate"] == pytest.approx(10.0)  # 100 requests in 10 s
    assert out["errorRate"] == pytest.approx(1.0)
    assert out["latencyP50Ms"] <= 5.0
    assert 100.0 <= out["latencyP95Ms"] <= 250.0
    assert out["rowsPerEntity"] == {"User": 7}


def test_replicas_are_combined():
    a, b = FakeEngine(), FakeEngine()
    pa, pb = a.scrape(0.0), b.scrape(0.0)
    a.hit(5, 0.01)
    b.hit(15, 0.01)
    a.rows.labels("User").set(3)
    b.rows.labels("User").set(4)
    out = summary.summarize({"a": a.scrape(5.0), "b": b.scrape(5.0)}, {"a": pa, "b": pb})
    assert out["requestsTotal"] == 20
    assert out["requestRate"] == pytest.approx(4.0)
    assert out["rowsPerEntity"] == {"User": 4}


def test_first_probe_has_totals_but_no_window():
    e = FakeEngine()
    e.hit(3, 0.01)
    out = summary.summarize({"a": e.scrape(1.0)}, {})
    assert out["requestsTotal"] == 3
    assert out["requestRate"] == 0.0
    assert "latencyP50Ms" not in out


def test_a_restarted_replica_counts_from_zero():
    old = FakeEngine()
    old.hit(100, 0.01)
    before = old.scrape(0.0)
    fresh = FakeEngine()
    fresh.hit(5, 0.01)
    out = summary.summarize({"a": fresh.scrape(10.0)}, {"a": before})
    assert out["requestRate"] == pytest.approx(0.5)


def test_quantile_interpolates_like_prometheus():
    buckets = {0.1: 50.0, 0.2: 100.0, float("inf"): 100.0}
    assert summary.quantile(0.5, buckets) == pytest.approx(0.1)
    assert summary.quantile(0.75, buckets) == pytest.approx(0.15)
    assert summary.quantile(0.5, {}) is None
    assert summary.quantile(0.99, {0.1: 0.0, float("inf"): 10.0}) == pytest.approx(0.1)


def test_garbage_is_an_error():
    with pytest.raises(ValueError, match="could not convert"):
        summary.parse("this is { not metrics", at=0.0)


def test_probes_and_scrapes_are_not_traffic():
    e = FakeEngine()
    e.hit(5, 0.01, route="/ready")
    e.hit(3, 0.01, route="/metrics")
    e.hit(2, 0.01, route="/health")
    e.hit(4, 0.01)
    out = summary.summarize({"a": e.scrape(1.0)}, {})
    assert out["requestsTotal"] == 4
