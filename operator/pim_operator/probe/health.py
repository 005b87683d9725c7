"""Healthy and Degraded from the pods' own state and the operator's last probe of them.

Pod state (CrashLoopBackOff, image pull errors, OOMKilled, unschedulable) is read from the watch
cache on every reconcile, so it shows at once; probe results arrive on the probe timer.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from pim_operator.apis.v1alpha1 import piminstance_lifecycle as lifecycle
from pim_operator.apis.v1alpha1.conditions import FALSE, TRUE, Condition
from pim_operator.probe.result import ProbeResult, ReplicaProbe

#: Container waiting reasons that mean the pod will not get better by itself.
BAD_WAITING = (
    "CrashLoopBackOff",
    "ImagePullBackOff",
    "ErrImagePull",
    "ErrImageNeverPull",
    "InvalidImageName",
    "CreateContainerConfigError",
    "CreateContainerError",
    "RunContainerError",
)


def pod_problems(pods: Sequence[Mapping[str, Any]]) -> list[tuple[str, str]]:
    """(reason, message) for each pod in trouble, worst first."""
    found: list[tuple[str, str]] = []
    for pod in pods:
        name = pod["metadata"]["name"]
        st = pod.get("status") or {}
        for c in st.get("conditions") or ():
            if c.get("type") == "PodScheduled" and c.get("status") == "False":
                found.append((str(c.get("reason") or "Unschedulable"), f"pod {name}: {c.get('message', '')}"))
        for cs in st.get("containerStatuses") or ():
            waiting = (cs.get("state") or {}).get("waiting") or {}
            last = (cs.get("lastState") or {}).get("terminated") or {}
            if waiting.get("reason") in BAD_WAITING:
                extra = f" (last exit: {last.get('reason')}, code {last.get('exitCode')})" if last else ""
                found.append((waiting["reason"], f"pod {name}: {waiting.get('message', '')}{extra}".strip()))
            elif last.get("reason") == "OOMKilled":
                found.append(("OOMKilled", f"pod {name}: container was OOMKilled; raise spec.resources.limits.memory"))
    order = {r: i for i, r in enumerate(("OOMKilled", *BAD_WAITING))}
    return sorted(found, key=lambda rm: order.get(rm[0], len(order)))


#: The engine's ``/ready`` reasons (``pim_engine.storage``'s constants) that are about its database.
ENGINE_REASONS = {
    "Unreachable": lifecycle.UNREACHABLE,
    "MigrationRefused": lifecycle.MIGRATION_REFUSED,
    "Unavailable": lifecycle.UNREACHABLE,  # SQLite's file not writable
}
_CREDENTIALS = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^:/@\s]*):[^@\s]*@", re.IGNORECASE)


def redact(text: str) -> str:
    """``scheme://user:password@host`` → ``scheme://user:***@host``: status is read by many."""
    return _CREDENTIALS.sub(r"\1:***@", text)


def not_ready(status: int, body: str) -> ReplicaProbe:
    """A not-ready answer of /ready: the engine's ``{"status", "reason", "detail"}``, or any text."""
    try:
        doc = json.loads(body)
    except ValueError:
        doc = None
    database: str | None
    if isinstance(doc, dict) and doc.get("reason"):
        reason, detail = str(doc["reason"]), str(doc.get("detail") or "")
        said = f"{reason}: {detail}" if detail else reason
        database = ENGINE_REASONS.get(reason) or database_problem(said)
    else:
        said, database = body, database_problem(body)
    message = redact(f"/ready answered {status}: {said[:300]}")
    return ReplicaProbe(False, message, database if status == 503 else None)


def database_problem(said: str) -> str | None:
    """The DatabaseReady reason in what an engine said as text (a crashed container's last log lines).

    A refused migration says "migration refused"; anything else about its database while not
    ready means it cannot reach or use it.
    """
    text = said.lower()
    if "migration refused" in text:
        return lifecycle.MIGRATION_REFUSED
    if any(word in text for word in ("database", "postgres", "connect")):
        return lifecycle.UNREACHABLE
    return None


def database_view(pods: Sequence[Mapping[str, Any]], probe: ProbeResult | None) -> Condition | None:
    """What the engine says of its database, when something is wrong: a refused migration first."""
    live = [p for p in pods if not p["metadata"].get("deletionTimestamp")]
    for pod in live:
        for cs in (pod.get("status") or {}).get("containerStatuses") or ():
            if cs.get("ready"):
                continue
            for state in (cs.get("state") or {}, cs.get("lastState") or {}):
                said = str((state.get("terminated") or {}).get("message") or "")
                if database_problem(said) == lifecycle.MIGRATION_REFUSED:
                    line = next(ln for ln in said.splitlines() if "migration refused" in ln.lower())
                    message = redact(f"pod {pod['metadata']['name']}: {line.strip()}")
                    return lifecycle.propagate_migration_refused(message)
    current = {p["metadata"]["name"] for p in live}
    seen = {**probe.replicas, **probe.unready} if probe else {}
    answers = sorted((pod, r) for pod, r in seen.items() if pod in current and r.database)
    for reason in (lifecycle.MIGRATION_REFUSED, lifecycle.UNREACHABLE):
        said = [f"pod {pod}: {r.message}" for pod, r in answers if r.database == reason]
        if said:
            more = f" (+{len(said) - 1} more)" if len(said) > 1 else ""
            if reason == lifecycle.MIGRATION_REFUSED:
                return lifecycle.propagate_migration_refused(said[0] + more)
            return lifecycle.propagate_unreachable(said[0] + more)
    return None


def evaluate(
    pods: Sequence[Mapping[str, Any]],
    probe: ProbeResult | None,
    *,
    desired: int,
    suspended: bool,
) -> tuple[list[Condition], dict[str, Any]]:
    """The Healthy and Degraded conditions, and ``status.health``; ``probe`` is the last probe result."""
    live = [p for p in pods if not p["metadata"].get("deletionTimestamp")]
    problems = pod_problems(live)
    current = {p["metadata"]["name"] for p in live}
    results = {pod: r for pod, r in (probe.replicas if probe else {}).items() if pod in current}
    healthy_n = sum(1 for r in results.values() if r.ok)
    failing = [f"pod {pod}: {r.message}" for pod, r in sorted(results.items()) if not r.ok]
    health: dict[str, Any] = {"healthyReplicas": healthy_n}
    if probe and probe.at:
        health["lastProbeTime"] = probe.at

    if suspended or desired == 0:
        idle = lifecycle.SUSPENDED if suspended else lifecycle.SCALED_TO_ZERO
        health |= {"status": idle, "message": "no replicas to probe"}
        return list(lifecycle.mark_nothing_to_probe(idle)), health

    if problems:
        reason, message = problems[0]
        more = f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""
        healthy, degraded = lifecycle.propagate_pod_problem(reason, message + more, healthy_replicas=healthy_n)
    elif failing:
        healthy, degraded = lifecycle.mark_probe_failed("; ".join(failing[:3]), healthy_replicas=healthy_n)
    elif probe is None or not results:
        ready_n = sum(1 for p in live if _pod_ready(p))
        healthy, degraded = lifecycle.propagate_pod_readiness(ready_n, desired)
        health["healthyReplicas"] = ready_n
    else:
        healthy, degraded = lifecycle.mark_replicas_probed(healthy_n, desired)
    health |= {
        "status": "Healthy"
        if healthy.status == TRUE and degraded.status == FALSE
        else ("Degraded" if healthy.status == TRUE else "Unhealthy"),
        "message": degraded.message or healthy.message,
    }
    return [healthy, degraded], health


def _pod_ready(pod: Mapping[str, Any]) -> bool:
    return any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in (pod.get("status") or {}).get("conditions") or ()
    )
