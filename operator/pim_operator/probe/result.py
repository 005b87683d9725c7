"""What one probe of an instance found: the value the probe loop hands to the health evaluation."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class ReplicaProbe:
    """One replica's answer to ``GET /ready``."""

    ok: bool
    message: str
    #: What a not-ready answer says of the database: a DatabaseReady reason, or None.
    database: str | None = None


@dataclass(frozen=True)
class ProbeResult:
    at: str  # when, as status.health.lastProbeTime shows it
    replicas: Mapping[str, ReplicaProbe] = field(default_factory=dict)  # by pod name
    metrics: Mapping[str, Any] | None = None  # the status.metrics summary; None without readable /metrics
    #: Running pods that are not ready, by pod name: only their /ready (why not ready) was asked.
    unready: Mapping[str, ReplicaProbe] = field(default_factory=dict)

    def material(self, old: ProbeResult | None) -> bool:
        """Whether this result is worth a status write, compared to the last one written.

        CPU seconds and RSS move on every scrape; writing them each time would turn a quiet fleet
        into a steady stream of status writes. They are refreshed whenever something else changes.
        """
        if old is None or old.replicas != self.replicas or old.unready != self.unready:
            return True
        a, b = old.metrics or {}, self.metrics or {}
        keys = ("requestsTotal", "errorsTotal", "rowsPerEntity")
        return any(a.get(k) != b.get(k) for k in keys) or bool(a.get("requestRate")) != bool(b.get("requestRate"))
