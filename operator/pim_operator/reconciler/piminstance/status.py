"""A PimInstance's status: conditions from the Deployment, the model resolution and the probes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pim_operator.apis.v1alpha1 import conditions as cond
from pim_operator.apis.v1alpha1.types import InstanceSpec
from pim_operator.reconciler.piminstance.resources import names


def available(deployment: Mapping[str, Any] | None, spec: InstanceSpec) -> cond.Condition:
    if spec.suspend:
        return cond.Condition("Available", cond.FALSE, "Suspended", "spec.suspend is true: scaled to zero")
    if deployment is None:
        return cond.Condition("Available", cond.UNKNOWN, "DeploymentMissing", "the Deployment does not exist yet")
    st = deployment.get("status") or {}
    ready = int(st.get("readyReplicas") or 0)
    want = int((deployment.get("spec") or {}).get("replicas") or 0)
    if want == 0:
        return cond.Condition("Available", cond.FALSE, "ScaledToZero", "replicas is 0")
    if ready >= 1:
        return cond.Condition("Available", cond.TRUE, "MinimumReplicasAvailable", f"{ready}/{want} replicas ready")
    return cond.Condition("Available", cond.FALSE, "NoReadyReplicas", f"0/{want} replicas ready")


def progressing(deployment: Mapping[str, Any] | None) -> cond.Condition:
    """True while a rollout runs; False/Complete when settled; False with the cause when it failed."""
    if deployment is None:
        return cond.Condition("Progressing", cond.TRUE, "Creating", "creating the Deployment")
    meta = deployment.get("metadata") or {}
    st = deployment.get("status") or {}
    for c in st.get("conditions") or ():
        if c.get("type") == "Progressing" and c.get("status") == "False":
            return cond.Condition("Progressing", cond.FALSE, str(c.get("reason")), str(c.get("message", "")))
    want = int((deployment.get("spec") or {}).get("replicas") or 0)
    if int(st.get("observedGeneration") or 0) < int(meta.get("generation") or 0):
        return cond.Condition(
            "Progressing", cond.TRUE, "RollingOut", "the Deployment controller has not seen the change yet"
        )
    updated = int(st.get("updatedReplicas") or 0)
    total = int(st.get("replicas") or 0)
    avail = int(st.get("availableReplicas") or 0)
    if updated < want or total > updated or avail < updated:
        return cond.Condition(
            "Progressing",
            cond.TRUE,
            "RollingOut",
            f"{updated}/{want} updated, {avail} available, {total} total",
        )
    return cond.Condition("Progressing", cond.FALSE, "Complete", f"{updated}/{want} replicas up to date")


def make_status(
    instance: Mapping[str, Any],
    spec: InstanceSpec,
    *,
    model_resolved: cond.Condition,
    resources_ready: cond.Condition,
    deployment: Mapping[str, Any] | None,
    model_digest: str | None,
    health: Sequence[cond.Condition] = (),
    extra: Mapping[str, Any] | None = None,
    now: str,
) -> dict[str, Any]:
    """The whole status. ``health`` holds the probe's Healthy/Degraded conditions, when probed."""
    meta = instance["metadata"]
    current: Mapping[str, Any] = instance.get("status") or {}
    generation = int(meta.get("generation") or 0)
    parts = [model_resolved, resources_ready, available(deployment, spec), progressing(deployment), *health]
    ready = cond.summarize(parts)
    dst = (deployment or {}).get("status") or {}
    status: dict[str, Any] = {
        "observedGeneration": generation,
        "conditions": cond.merge(current.get("conditions"), [*parts, ready], generation=generation, now=now),
        "replicas": int(dst.get("replicas") or 0),
        "readyReplicas": int(dst.get("readyReplicas") or 0),
        "selector": names.selector_string(meta["name"]),
        "url": names.service_url(meta["name"], meta["namespace"], spec.port),
    }
    if model_digest:
        status["modelDigest"] = model_digest
    status.update(extra or {})
    return status


def status_changed(current: Mapping[str, Any] | None, desired: Mapping[str, Any]) -> bool:
    """Whether writing ``desired`` would change anything: an unchanged status is never written."""
    current = current or {}
    return any(current.get(k) != v for k, v in desired.items())
