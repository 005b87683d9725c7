"""Healthy and Degraded from the pods' own state and the operator's last probe of them.

Pod state (CrashLoopBackOff, image pull errors, OOMKilled, unschedulable) is read from the watch
cache on every reconcile, so it shows at once; probe results arrive on the probe timer.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pim_operator.apis.v1alpha1 import conditions as cond

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


def evaluate(
    pods: Sequence[Mapping[str, Any]],
    probe: Mapping[str, Any] | None,
    *,
    desired: int,
    suspended: bool,
) -> tuple[list[cond.Condition], dict[str, Any]]:
    """The Healthy and Degraded conditions, and ``status.health``.

    ``probe`` is the last probe result: ``{"at": time, "replicas": {pod: [ok, message]}}``.
    """
    live = [p for p in pods if not p["metadata"].get("deletionTimestamp")]
    problems = pod_problems(live)
    replicas: Mapping[str, Sequence[Any]] = (probe or {}).get("replicas") or {}
    current = {p["metadata"]["name"] for p in live}
    results = {pod: r for pod, r in replicas.items() if pod in current}
    healthy_n = sum(1 for ok, _ in results.values() if ok)
    failing = [f"pod {pod}: {msg}" for pod, (ok, msg) in sorted(results.items()) if not ok]
    health: dict[str, Any] = {"healthyReplicas": healthy_n}
    if probe and probe.get("at"):
        health["lastProbeTime"] = probe["at"]

    if suspended or desired == 0:
        health |= {"status": "Suspended" if suspended else "ScaledToZero", "message": "no replicas to probe"}
        return [
            cond.Condition("Healthy", cond.TRUE, health["status"], "no replicas to probe"),
            cond.Condition("Degraded", cond.FALSE, "AsExpected", ""),
        ], health

    if problems:
        reason, message = problems[0]
        more = f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""
        healthy = cond.Condition("Healthy", cond.FALSE if healthy_n == 0 else cond.TRUE, reason, message + more)
        degraded = cond.Condition("Degraded", cond.TRUE, reason, message + more)
    elif failing:
        msg = "; ".join(failing[:3])
        healthy = cond.Condition("Healthy", cond.FALSE if healthy_n == 0 else cond.TRUE, "ProbeFailed", msg)
        degraded = cond.Condition("Degraded", cond.TRUE, "ProbeFailed", msg)
    elif probe is None or not results:
        # Not probed (yet, or probing is off): the kubelet's readiness probes of /ready stand in.
        ready_n = sum(1 for p in live if _pod_ready(p))
        msg = f"{ready_n}/{desired} pods ready (not probed by the operator)"
        healthy_n = ready_n
        healthy = cond.Condition(
            "Healthy",
            cond.TRUE if ready_n else cond.FALSE,
            "PodsReady" if ready_n else "NoReadyReplicas",
            msg,
        )
        degraded = (
            cond.Condition("Degraded", cond.TRUE, "ReplicasUnavailable", msg)
            if 0 < ready_n < desired
            else cond.Condition("Degraded", cond.FALSE, "AsExpected", "")
        )
        health["healthyReplicas"] = ready_n
    elif healthy_n < desired:
        msg = f"{healthy_n}/{desired} replicas healthy"
        healthy = cond.Condition("Healthy", cond.TRUE, "ReplicasHealthy", msg)
        degraded = cond.Condition("Degraded", cond.TRUE, "ReplicasUnavailable", msg)
    else:
        msg = f"{healthy_n}/{desired} replicas healthy"
        healthy = cond.Condition("Healthy", cond.TRUE, "ReplicasHealthy", msg)
        degraded = cond.Condition("Degraded", cond.FALSE, "AsExpected", "")
    health |= {
        "status": "Healthy"
        if healthy.status == cond.TRUE and degraded.status == cond.FALSE
        else ("Degraded" if healthy.status == cond.TRUE else "Unhealthy"),
        "message": degraded.message or healthy.message,
    }
    return [healthy, degraded], health


def _pod_ready(pod: Mapping[str, Any]) -> bool:
    return any(
        c.get("type") == "Ready" and c.get("status") == "True"
        for c in (pod.get("status") or {}).get("conditions") or ()
    )
