"""The probe timer: every interval, GET /ready and /metrics from each ready replica.

Replicas are found through the pod cache (ready pods and their IPs, as the Service's
EndpointSlices list them). Results go into the operator's memory; an instance is re-reconciled
only when what it would report changed.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx

from pim_operator import events, metrics
from pim_operator.cache import Key
from pim_operator.probe import summary
from pim_operator.probe.health import not_ready
from pim_operator.probe.result import ProbeResult, ReplicaProbe
from pim_operator.state import Operator

log = logging.getLogger(__name__)
CONCURRENCY = 32
TOKEN_REREAD = 60.0  # the kubelet rotates the projected token; client-go re-reads it every minute


class ProbeToken:
    """The bearer token shown to instances with auth on: their /metrics needs get on
    ``piminstances/metrics`` (the chart grants it). A token for the probe audience, never the
    operator's API credentials: an instance could replay those. /ready needs nothing."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._token = ""
        self._read_at = float("-inf")

    def headers(self) -> dict[str, str]:
        if self.path is None:
            return {}
        if time.monotonic() - self._read_at >= TOKEN_REREAD:
            try:
                self._token = self.path.read_text().strip()
            except OSError as exc:
                log.warning("cannot read the probe token %s: %s", self.path, exc)
            self._read_at = time.monotonic()
        return {"Authorization": f"Bearer {self._token}"} if self._token else {}


def _ready(p: Mapping[str, Any]) -> bool:
    st = p.get("status") or {}
    return any(c.get("type") == "Ready" and c.get("status") == "True" for c in st.get("conditions") or ())


def _running(p: Mapping[str, Any]) -> bool:
    st = p.get("status") or {}
    return bool(st.get("podIP")) and any(
        "running" in (cs.get("state") or {}) for cs in st.get("containerStatuses") or ()
    )


def ready_pods(pods: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [p for p in pods if _ready(p) and (p.get("status") or {}).get("podIP") and not _terminating(p)]


def unready_pods(pods: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Running but not ready: their /ready says why (a database they cannot reach, say)."""
    return [p for p in pods if not _ready(p) and _running(p) and not _terminating(p)]


def _terminating(p: Mapping[str, Any]) -> bool:
    return bool(p["metadata"].get("deletionTimestamp"))


async def _probe_pod(
    http: httpx.AsyncClient, ip: str, port: int, headers: Mapping[str, str] | None = None, *, scrape: bool = True
) -> tuple[ReplicaProbe, summary.Sample | None]:
    base = f"http://{ip}:{port}"
    try:
        ready = await http.get(f"{base}/ready")
        resp = await http.get(f"{base}/metrics", headers=headers) if scrape else None
    except httpx.HTTPError as exc:
        return ReplicaProbe(False, f"probe failed: {type(exc).__name__}: {exc}"), None
    answer = ReplicaProbe(True, "ready") if ready.status_code == 200 else not_ready(ready.status_code, ready.text)
    if resp is not None and resp.status_code in (401, 403):
        refused = f"{answer.message}; /metrics answered {resp.status_code}: {resp.text[:200]}"
        return ReplicaProbe(answer.ok, refused, answer.database), None
    if resp is None or resp.status_code != 200:
        return answer, None
    try:
        return answer, summary.parse(resp.text, at=time.monotonic())
    except ValueError as exc:
        return ReplicaProbe(answer.ok, f"{answer.message}; unreadable /metrics: {exc}", answer.database), None


def probeable(ip: str, networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]) -> bool:
    """Only pod IPs inside the configured networks are probed (all, when none are configured)."""
    if not networks:
        return True
    try:
        addr = ipaddress.ip_address(ip)
    except ValueError:
        return False
    return any(addr in net for net in networks)


async def probe_instance(op: Operator, http: httpx.AsyncClient, key: Key, token: ProbeToken | None = None) -> None:
    instance = op.instances.get(*key)
    if instance is None:
        return
    nets = op.settings.probe_networks
    owned = op.pods.owned_by(*key)
    pods = [p for p in ready_pods(owned) if probeable(p["status"]["podIP"], nets)]
    unready = [p for p in unready_pods(owned) if probeable(p["status"]["podIP"], nets)]
    port = instance.spec.port
    headers = token.headers() if token is not None and instance.spec.access.reviews else None
    answers, waiting = await asyncio.gather(
        asyncio.gather(*(_probe_pod(http, p["status"]["podIP"], port, headers) for p in pods)),
        asyncio.gather(*(_probe_pod(http, p["status"]["podIP"], port, headers, scrape=False) for p in unready)),
    )
    replicas: dict[str, ReplicaProbe] = {}
    samples: dict[str, summary.Sample] = {}
    for pod, (answer, sample) in zip(pods, answers, strict=True):
        metrics.PROBES.labels(result="ok" if answer.ok else "failed").inc()
        replicas[pod["metadata"]["name"]] = answer
        if sample is not None:
            samples[pod["metadata"]["uid"]] = sample
    previous = op.samples.get(key, {})
    op.samples[key] = samples
    result = ProbeResult(
        at=events.now(),
        replicas=replicas,
        metrics=summary.summarize(samples, previous) if samples else None,
        unready={p["metadata"]["name"]: answer for p, (answer, _) in zip(unready, waiting, strict=True)},
    )
    if result.material(op.probes.get(key)):
        op.probes[key] = result
        op.enqueue_instance(key)


async def run(op: Operator) -> None:
    limit = asyncio.Semaphore(CONCURRENCY)
    token = ProbeToken(op.settings.probe_token_file)
    async with httpx.AsyncClient(timeout=httpx.Timeout(3.0)) as http:

        async def one(key: Key) -> None:
            async with limit:
                try:
                    await probe_instance(op, http, key, token)
                except Exception:  # a probe must never stop the loop
                    log.exception("probe failed", extra={"instance": f"{key[0]}/{key[1]}"})

        while True:
            started = time.monotonic()
            await asyncio.gather(*(one(k) for k in op.instances.keys()))
            await asyncio.sleep(max(0.0, op.settings.probe_interval - (time.monotonic() - started)))
