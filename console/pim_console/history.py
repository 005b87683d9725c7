"""A short history of each instance's ``status.metrics``: the charts' source without Prometheus.

The operator writes a metrics summary into status when it changes (request and error rates,
latency percentiles over its probe window); the console keeps each new summary with the time it saw
it. Bounded per instance, forgotten with the instance, and gone when the console restarts.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

#: status.metrics keys that are charted, in the order of ``Point``'s fields.
FIELDS = ("requestRate", "errorRate", "latencyP50Ms", "latencyP95Ms", "latencyP99Ms")


@dataclass(frozen=True)
class Point:
    at: float
    values: tuple[float | None, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"at": self.at, **dict(zip(FIELDS, self.values, strict=True))}


def point(metrics: Mapping[str, Any], at: float) -> Point:
    values: list[float | None] = []
    for key in FIELDS:
        v = metrics.get(key)
        values.append(float(v) if isinstance(v, int | float) and not isinstance(v, bool) else None)
    return Point(at, tuple(values))


class History:
    def __init__(self, maxlen: int = 720) -> None:
        self.maxlen = maxlen
        self._series: dict[str, deque[Point]] = {}
        self._last_seen: dict[str, Mapping[str, Any]] = {}

    def record(self, name: str, metrics: Mapping[str, Any] | None, at: float) -> bool:
        """Keep ``metrics`` if it differs from the last summary seen for ``name``; True if kept."""
        if not metrics or self._last_seen.get(name) == metrics:
            return False
        self._last_seen[name] = dict(metrics)
        self._series.setdefault(name, deque(maxlen=self.maxlen)).append(point(metrics, at))
        return True

    def forget(self, name: str) -> None:
        self._series.pop(name, None)
        self._last_seen.pop(name, None)

    def series(self, name: str, since: float = 0.0) -> list[dict[str, Any]]:
        return [p.to_dict() for p in self._series.get(name, ()) if p.at >= since]
