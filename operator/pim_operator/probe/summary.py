"""Turn engines' /metrics text into the low-frequency summary in ``status.metrics``.

Pure functions over parsed samples: counters are combined across replicas, and rates and
latency percentiles come from the difference between two scrapes (the probe window), the way
Prometheus' ``rate`` and ``histogram_quantile`` would compute them.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

REQUESTS = "pim_http_requests"  # the parser strips the _total suffix of counters
DURATION = "pim_http_request_duration_seconds"
ROWS = "pim_entity_rows"
CPU = "process_cpu_seconds"
RSS = "process_resident_memory_bytes"
#: Probes and scrapes (the kubelet's, the operator's, Prometheus') are not the instance's traffic.
OPS_ROUTES = frozenset({"/health", "/ready", "/metrics"})


@dataclass(frozen=True)
class Sample:
    """What one scrape of one replica says, reduced to what the summary needs."""

    at: float
    requests: float = 0.0
    errors: float = 0.0
    buckets: Mapping[float, float] = field(default_factory=dict)  # le -> cumulative count
    cpu_seconds: float = 0.0
    memory_bytes: float = 0.0
    rows: Mapping[str, float] = field(default_factory=dict)


def parse(text: str, *, at: float) -> Sample:
    """Parse Prometheus text exposition; raises ValueError on text that is not."""
    requests = errors = cpu = rss = 0.0
    buckets: dict[float, float] = defaultdict(float)
    rows: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            if s.labels.get("route") in OPS_ROUTES:
                continue
            if family.name == REQUESTS and s.name.endswith("_total"):
                requests += s.value
                if str(s.labels.get("status", "")).startswith("5"):
                    errors += s.value
            elif family.name == DURATION and s.name.endswith("_bucket"):
                buckets[float(s.labels["le"])] += s.value
            elif family.name == ROWS:
                rows[s.labels.get("entity", "")] = s.value
            elif family.name == CPU:
                cpu = s.value
            elif family.name == RSS:
                rss = s.value
    return Sample(at, requests, errors, dict(buckets), cpu, rss, rows)


def quantile(q: float, buckets: Mapping[float, float]) -> float | None:
    """``histogram_quantile`` over cumulative buckets: linear interpolation inside the bucket."""
    items = sorted(buckets.items())
    if not items or items[-1][1] <= 0:
        return None
    total = items[-1][1]
    rank = q * total
    prev_le, prev_count = 0.0, 0.0
    for le, count in items:
        if count >= rank:
            if math.isinf(le):
                return prev_le  # the highest finite bound, as Prometheus does
            if count == prev_count:
                return le
            return prev_le + (le - prev_le) * (rank - prev_count) / (count - prev_count)
        prev_le, prev_count = le, count
    return prev_le


def _delta(new: Mapping[float, float], old: Mapping[float, float]) -> dict[float, float]:
    # A counter that went down means the replica restarted: its new value is the whole window.
    if any(new.get(le, 0.0) < v for le, v in old.items()):
        return dict(new)
    return {le: v - old.get(le, 0.0) for le, v in new.items()}


def summarize(current: Mapping[str, Sample], previous: Mapping[str, Sample]) -> dict[str, Any]:
    """Combine replicas (keyed by pod uid) into ``status.metrics``; ``previous`` is the last probe's."""
    requests = sum(s.requests for s in current.values())
    errors = sum(s.errors for s in current.values())
    rate = err_rate = 0.0
    window: dict[float, float] = defaultdict(float)
    for uid, now in current.items():
        before = previous.get(uid)
        if before is None or now.at <= before.at:
            continue
        dt = now.at - before.at
        restarted = now.requests < before.requests
        rate += (now.requests - (0 if restarted else before.requests)) / dt
        err_rate += (now.errors - (0 if restarted else before.errors)) / dt
        for le, v in _delta(now.buckets, before.buckets).items():
            window[le] += v
    out: dict[str, Any] = {
        "requestsTotal": int(requests),
        "errorsTotal": int(errors),
        "requestRate": round(rate, 3),
        "errorRate": round(err_rate, 3),
        "cpuSeconds": round(sum(s.cpu_seconds for s in current.values()), 3),
        "memoryBytes": int(sum(s.memory_bytes for s in current.values())),
        "rowsPerEntity": combine_rows(current.values()),
    }
    for name, q in (("latencyP50Ms", 0.5), ("latencyP95Ms", 0.95), ("latencyP99Ms", 0.99)):
        v = quantile(q, window)
        if v is not None:
            out[name] = round(v * 1000, 3)
    return out


def combine_rows(samples: Iterable[Sample]) -> dict[str, int]:
    """Rows per entity: the largest count any replica reports (each replica may hold its own database)."""
    rows: dict[str, float] = {}
    for s in samples:
        for entity, n in s.rows.items():
            rows[entity] = max(rows.get(entity, 0.0), n)
    return {k: int(v) for k, v in sorted(rows.items())}
