"""Healthy and Degraded from the pods' own state and the operator's last probe of them.

Pod state (CrashLoopBackOff, image pull errors, OOMKilled, unschedulable) is read from the watch
cache on every reconcile, so it shows at once; probe results arrive on the probe timer.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from pim_engine import storage as engine_storage
from pim_engine.serve import EXIT_REFUSED
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


#: The engine's ``/ready`` reasons (``pim_engine.storage``'s constants, its contract with us), each
#: the DatabaseReady reason it becomes. Matched exactly: any other answer is not about the database.
ENGINE_REASONS = {
    engine_storage.UNREACHABLE: lifecycle.UNREACHABLE,
    engine_storage.MIGRATION_REFUSED: lifecycle.MIGRATION_REFUSED,
    engine_storage.UNAVAILABLE: lifecycle.UNAVAILABLE,  # SQLite's file not writable
}
#: How ``pim-engine serve`` says, exiting ``EXIT_REFUSED``, that it refused a migration at start
#: (``pim_engine.migrate.MigrationRefused``): ``pim-engine serve: PATH: migration refused, N offending…``.
_REFUSED_AT_START = re.compile(r"^pim-engine serve: .*: migration refused, \d+ offending change")
_CREDENTIALS = re.compile(r"(\b[a-z][a-z0-9+.-]*://[^:/@\s]*):[^@\s]*@", re.IGNORECASE)


def redact(text: str) -> str:
    """``scheme://user:password@host`` → ``scheme://user:***@host``: status is read by many."""
    return _CREDENTIALS.sub(r"\1:***@", text)


def not_ready(status: int, body: str) -> ReplicaProbe:
    """A not-ready answer of /ready: the engine's ``{"status", "reason", "detail"}``, or any text.

    Only a 503 whose ``reason`` is one of the engine's names a database problem; the text of a
    detail or of any other body is shown, never interpreted.
    """
    try:
        doc = json.loads(body)
    except ValueError:
        doc = None
    database: str | None = None
    if isinstance(doc, dict) and doc.get("reason"):
        reason, detail = str(doc["reason"]), str(doc.get("detail") or "")
        said = f"{reason}: {detail}" if detail else reason
        if status == 503:
            database = ENGINE_REASONS.get(reason)
    else:
        said = body
    message = redact(f"/ready answered {status}: {said[:300]}")
    return ReplicaProbe(False, message, database)


def refused_at_start(terminated: Mapping[str, Any]) -> str | None:
    """The line of a terminated engine container that says it refused a migration, if it did."""
    if terminated.get("exitCode") != EXIT_REFUSED:
        return None
    lines = str(terminated.get("message") or "").splitlines()
    return next((ln.strip() for ln in lines if _REFUSED_AT_START.match(ln.strip())), None)


def database_view(pods: Sequence[Mapping[str, Any]], probe: ProbeResult | None) -> Condition | None:
    """What the engine says of its database, when something is wrong: a refused migration first."""
    live = [p for p in pods if not p["metadata"].get("deletionTimestamp")]
    for pod in live:
        for cs in (pod.get("status") or {}).get("containerStatuses") or ():
            if cs.get("ready"):
                continue
            for state in (cs.get("state") or {}, cs.get("lastState") or {}):
                line = refused_at_start(state.get("terminated") or {})
                if line is not None:
                    return lifecycle.propagate_migration_refused(redact(f"pod {pod['metadata']['name']}: {line}"))
    current = {p["metadata"]["name"] for p in live}
    seen = {**probe.replicas, **probe.unready} if probe else {}
    answers = sorted((pod, r) for pod, r in seen.items() if pod in current and r.database)
    for reason, propagate in (
        (lifecycle.MIGRATION_REFUSED, lifecycle.propagate_migration_refused),
        (lifecycle.UNREACHABLE, lifecycle.propagate_unreachable),
        (lifecycle.UNAVAILABLE, lifecycle.propagate_unavailable),
    ):
        said = [f"pod {pod}: {r.message}" for pod, r in answers if r.database == reason]
        if said:
            more = f" (+{len(said) - 1} more)" if len(said) > 1 else ""
            return propagate(said[0] + more)
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
