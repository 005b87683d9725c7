"""Charts from Prometheus when one is configured: the same five series as the status history.

The selector template names an instance's series (``{namespace}`` and ``{instance}`` are filled in);
its default fits the usual pod scrape config, which labels series with ``namespace`` and ``pod``.
Probe and scrape traffic is left out, as in the operator's own summary.
"""

from __future__ import annotations

from typing import Any

import httpx

OPS = 'route!~"/health|/ready|/metrics"'


def queries(selector: str, namespace: str, instance: str, window: str = "1m") -> dict[str, str]:
    sel = selector.format(namespace=namespace, instance=instance)
    requests = f"pim_http_requests_total{{{sel},{OPS}}}"
    buckets = f"pim_http_request_duration_seconds_bucket{{{sel},{OPS}}}"
    out = {
        "requestRate": f"sum(rate({requests}[{window}]))",
        "errorRate": f'sum(rate(pim_http_requests_total{{{sel},{OPS},status=~"5.."}}[{window}]))',
    }
    for key, q in (("latencyP50Ms", 0.5), ("latencyP95Ms", 0.95), ("latencyP99Ms", 0.99)):
        out[key] = f"1000 * histogram_quantile({q}, sum by (le) (rate({buckets}[{window}])))"
    return out


def merge(results: dict[str, list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """Per-query matrices into the history's point shape: one dict per timestamp."""
    points: dict[float, dict[str, Any]] = {}
    for key, result in results.items():
        for series in result[:1]:
            for ts, value in series.get("values") or ():
                try:
                    v: float | None = float(value)
                except ValueError:
                    v = None
                if v is not None and v != v:  # NaN: no traffic in the window
                    v = None
                points.setdefault(float(ts), {"at": float(ts)})[key] = v
    return [points[t] for t in sorted(points)]


async def series(
    http: httpx.AsyncClient, base: str, selector: str, namespace: str, instance: str, start: float, end: float
) -> list[dict[str, Any]]:
    step = max(5.0, (end - start) / 240)
    results: dict[str, list[dict[str, Any]]] = {}
    for key, expr in queries(selector, namespace, instance).items():
        resp = await http.get(
            f"{base.rstrip('/')}/api/v1/query_range",
            params={"query": expr, "start": f"{start:.3f}", "end": f"{end:.3f}", "step": f"{step:.0f}s"},
        )
        resp.raise_for_status()
        results[key] = resp.json()["data"]["result"]
    return merge(results)
