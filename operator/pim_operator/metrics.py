"""The operator's own Prometheus metrics (kopf exports none).

A private registry keeps them apart from anything a library registers globally; the
``/metrics`` endpoint serves this registry plus process metrics.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from pim_operator.apis.v1alpha1.conditions import READY
from pim_operator.apis.v1alpha1.pimmodel_lifecycle import VALID

REGISTRY = CollectorRegistry(auto_describe=True)
ProcessCollector(registry=REGISTRY)
PlatformCollector(registry=REGISTRY)

RECONCILES = Counter(
    "pim_operator_reconcile_total",
    "Reconciles run, by kind and result (success, error, requeue).",
    ["kind", "result"],
    registry=REGISTRY,
)
RECONCILE_ERRORS = Counter(
    "pim_operator_reconcile_errors_total",
    "Reconciles that raised, by kind and error class.",
    ["kind", "error"],
    registry=REGISTRY,
)
RECONCILE_DURATION = Histogram(
    "pim_operator_reconcile_duration_seconds",
    "Wall time of one reconcile.",
    ["kind"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
    registry=REGISTRY,
)
QUEUE_DEPTH = Gauge(
    "pim_operator_queue_depth",
    "Keys waiting to be reconciled.",
    ["kind"],
    registry=REGISTRY,
)
API_REQUESTS = Counter(
    "pim_operator_api_requests_total",
    "Requests the operator made to the Kubernetes API, by verb, kind and HTTP code.",
    ["verb", "kind", "code"],
    registry=REGISTRY,
)
WRITES = Counter(
    "pim_operator_api_writes_total",
    "Writes (POST, PUT, PATCH, DELETE) this replica sent to the Kubernetes API, by kind; the leader "
    "lease's renewals are left out. Only the leader's count moves.",
    ["kind"],
    registry=REGISTRY,
)
WRITES_FENCED = Counter(
    "pim_operator_api_writes_fenced_total",
    "Writes refused before sending because this replica does not hold the leader lease, by kind.",
    ["kind"],
    registry=REGISTRY,
)
CREDENTIAL_RELOADS = Counter(
    "pim_operator_credential_reloads_total",
    "Credentials loaded again because the API server refused the current ones (401): a rotated "
    "token, an expired exec credential.",
    registry=REGISTRY,
)
LEADER = Gauge(
    "pim_operator_leader",
    "1 while this replica holds the leader lease (and does the work), 0 while it stands by.",
    ["identity"],
    registry=REGISTRY,
)
LEADER_TRANSITIONS = Counter(
    "pim_operator_leader_transitions_total",
    "Times this replica started (acquired) or stopped (lost, released) leading.",
    ["transition"],
    registry=REGISTRY,
)
LEADER_SINCE = Gauge(
    "pim_operator_leader_since_timestamp_seconds",
    "Unix time this replica last started leading (0: never).",
    registry=REGISTRY,
)
APPLIES_SKIPPED = Counter(
    "pim_operator_applies_skipped_total",
    "Children already as desired, so no apply was sent.",
    ["kind"],
    registry=REGISTRY,
)
WATCH_EVENTS = Counter(
    "pim_operator_watch_events_total",
    "Watch events received, by kind.",
    ["kind"],
    registry=REGISTRY,
)
PROBES = Counter(
    "pim_operator_probes_total",
    "Replica probes sent, by result (ok, failed).",
    ["result"],
    registry=REGISTRY,
)


class ConditionCounter(Collector):
    """Objects by the status of one condition, counted at scrape time from the watch cache.

    Counting on scrape costs nothing per watch event, which matters with thousands of objects.
    ``source`` yields the objects' ``status`` mappings.
    """

    def __init__(self, name: str, doc: str, label: str, condition: str) -> None:
        self.name, self.doc, self.label, self.condition = name, doc, label, condition
        self.source: Callable[[], Iterable[Mapping[str, Any]]] | None = None

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(self.name, self.doc, labels=[self.label])
        counts = {"True": 0, "False": 0, "Unknown": 0}
        for st in self.source() if self.source else ():
            status = "Unknown"
            for c in st.get("conditions") or ():
                if c.get("type") == self.condition:
                    status = str(c.get("status"))
            counts[status] = counts.get(status, 0) + 1
        for value, n in counts.items():
            family.add_metric([value], n)
        yield family


INSTANCES_READY = ConditionCounter(
    "pim_operator_instances", "PimInstances by the status of their Ready condition.", "ready", READY
)
MODELS_VALID = ConditionCounter(
    "pim_operator_models", "PimModels by the status of their Valid condition.", "valid", VALID
)
REGISTRY.register(INSTANCES_READY)
REGISTRY.register(MODELS_VALID)
