"""PimInstance reconcile: resolve the model, apply the children that differ, write status.

Level-triggered: every run starts from the current state (the watch caches, falling back to the
API server where a wrong guess would cost data), never from the event that woke it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from typing import Any

from pim_operator import events, metrics
from pim_operator.apis.v1alpha1 import conditions as cond
from pim_operator.apis.v1alpha1.types import InstanceSpec
from pim_operator.cache import Key, PodStore
from pim_operator.context import Operator
from pim_operator.kube import resources
from pim_operator.kube.client import ApiError
from pim_operator.kube.diff import satisfies
from pim_operator.probe import health
from pim_operator.reconciler.piminstance import ports
from pim_operator.reconciler.piminstance.resolve import Resolution, resolve
from pim_operator.reconciler.piminstance.resources import names
from pim_operator.reconciler.piminstance.resources.configmap import MODEL_KEY, config_digest, make_configmap
from pim_operator.reconciler.piminstance.resources.deployment import make_deployment
from pim_operator.reconciler.piminstance.resources.hpa import make_hpa
from pim_operator.reconciler.piminstance.resources.pvc import make_pvc
from pim_operator.reconciler.piminstance.resources.service import make_service
from pim_operator.reconciler.piminstance.resources.servicemonitor import make_servicemonitor
from pim_operator.reconciler.piminstance.status import make_status, status_changed
from pim_operator.reconciler.pimmodel.reconcile import load_model

log = logging.getLogger(__name__)


class RetryLater(RuntimeError):
    """The reconcile did what it could and reported why it is stuck; try again after a backoff."""


RETRY_REASONS = ("ApplyFailed", "PortConflict")
EVENT_CONDITIONS = ("Ready", "ModelResolved", "ResourcesReady", "Healthy", "Degraded")
APPLIED = cond.Condition("ResourcesReady", cond.TRUE, "Applied", "all children are as desired")


async def reconcile(op: Operator, key: Key) -> None:
    ns, name = key
    instance = op.instances.get(ns, name)
    if instance is None or instance["metadata"].get("deletionTimestamp"):
        return
    spec = InstanceSpec.from_spec(instance.get("spec") or {})
    resolution = await _resolve(op, instance, spec)
    if resolution.snapshot is None:
        resources_ready = cond.Condition("ResourcesReady", cond.FALSE, "WaitingForModel", "no valid model to serve yet")
    else:
        resources_ready = await _apply_children(op, instance, spec, resolution)
    deployment = op.child(resources.DEPLOYMENT, ns, names.deployment(name))
    probe = op.probes.get(key)
    pods = op.children["Pod"]
    health_conditions, health_status = health.evaluate(
        pods.owned_by(ns, name) if isinstance(pods, PodStore) else [],
        probe,
        desired=int(deployment["spec"].get("replicas") or 0) if deployment else spec.desired_replicas,
        suspended=spec.suspend,
    )
    extra: dict[str, Any] = {"health": health_status}
    if probe and probe.get("metrics"):
        extra["metrics"] = probe["metrics"]
    status = make_status(
        instance,
        spec,
        model_resolved=resolution.condition,
        resources_ready=resources_ready,
        deployment=deployment,
        model_digest=resolution.digest,
        health=health_conditions,
        extra=extra,
        now=events.now(),
    )
    await _write_status(op, instance, status)
    if resources_ready.reason in RETRY_REASONS:
        # Nothing watched will say when a permission is granted or a foreign port released:
        # retry with backoff, now that the status says what is wrong.
        raise RetryLater(f"{ns}/{name}: {resources_ready.message}")


async def _resolve(op: Operator, instance: Mapping[str, Any], spec: InstanceSpec) -> Resolution:
    ns, name = instance["metadata"]["namespace"], instance["metadata"]["name"]
    model = op.models.get(ns, spec.model)
    if model is None:
        # The cache may not have listed it yet: a wrong "not found" would only mislead, so ask.
        model = await op.client.get(resources.PIMMODEL, ns, spec.model)
        if model is not None:
            op.models.put(model)
    loaded = await load_model(op, model) if model is not None else None
    cm = op.child(resources.CONFIGMAP, ns, names.configmap(name))
    if cm is None and (instance.get("status") or {}).get("modelDigest"):
        # What runs now decides whether a model change is safe: never guess it from a cold cache.
        # (An instance whose status names no digest has never had a snapshot written.)
        cm = await op.client.get(resources.CONFIGMAP, ns, names.configmap(name))
        if cm is not None:
            op.children[resources.CONFIGMAP.kind].put(cm)
    current = (cm or {}).get("data", {}).get(MODEL_KEY)
    return resolve(spec.model, loaded, current, allow_destructive=spec.allow_destructive_migration)


async def _apply_children(
    op: Operator, instance: Mapping[str, Any], spec: InstanceSpec, resolution: Resolution
) -> cond.Condition:
    ns, name = instance["metadata"]["namespace"], instance["metadata"]["name"]
    assert resolution.snapshot is not None
    assert resolution.digest is not None
    configmap = make_configmap(instance, spec.model, resolution.snapshot)
    desired: list[dict[str, Any]] = [configmap]
    if spec.storage.persistent:
        desired.append(make_pvc(instance, spec))
    desired.append(
        make_deployment(
            instance,
            spec,
            image=spec.image or op.settings.engine_image,
            model_digest=resolution.digest,
            config_digest=config_digest(configmap),
        )
    )
    outcome = APPLIED
    clash = ports.conflict(instance, spec, op.instances.values())
    if clash:
        outcome = cond.Condition("ResourcesReady", cond.FALSE, "PortConflict", clash)
    else:
        desired.append(make_service(instance, spec))
    unwanted: list[resources.Kind] = []
    if spec.autoscaling is not None and not spec.suspend:
        desired.append(make_hpa(instance, spec))
    else:
        unwanted.append(resources.HPA)
    if spec.metrics.service_monitor and await _servicemonitors(op):
        desired.append(make_servicemonitor(instance, spec))
    else:
        unwanted.append(resources.SERVICEMONITOR)

    for obj in desired:
        kind = resources.of(obj)
        store = op.children[kind.kind]
        live = store.get(ns, obj["metadata"]["name"])
        if live is not None and satisfies(live, obj):
            metrics.APPLIES_SKIPPED.labels(kind=kind.kind).inc()
            continue
        try:
            store.put(await op.client.apply(obj))
        except ApiError as exc:
            if kind is resources.SERVICE and exc.status == 422 and "port" in exc.message:
                outcome = cond.Condition("ResourcesReady", cond.FALSE, "PortConflict", exc.message)
                continue
            if exc.status in (400, 403, 422):
                # The request is wrong, not the weather: say so in status instead of retrying hot.
                outcome = cond.Condition(
                    "ResourcesReady",
                    cond.FALSE,
                    "ApplyFailed",
                    f"{kind.kind} {obj['metadata']['name']}: {exc}",
                )
                continue
            raise
    for kind in unwanted:
        child_name = names.hpa(name) if kind is resources.HPA else names.servicemonitor(name)
        if op.child(kind, ns, child_name) is not None:
            await op.client.delete(kind, ns, child_name)
            op.children[kind.kind].remove(ns, child_name)
    return outcome


async def _servicemonitors(op: Operator) -> bool:
    support = op.servicemonitors
    if not support.fresh():
        try:
            support.available = await op.client.has_kind(resources.SERVICEMONITOR)
        except ApiError:
            support.available = False
        support.checked_at = time.monotonic()
    return support.available


async def _write_status(op: Operator, instance: Mapping[str, Any], status: dict[str, Any]) -> None:
    meta = instance["metadata"]
    current = instance.get("status") or {}
    if not status_changed(current, status):
        return
    live = await op.client.patch_status(resources.PIMINSTANCE, meta["namespace"], meta["name"], status)
    if live is None:
        return
    op.instances.put(live)
    for c, good in cond.noteworthy(current.get("conditions"), status["conditions"], EVENT_CONDITIONS):
        await events.emit(
            op.client, live, "Normal" if good else "Warning", c["reason"], f"{c['type']}={c['status']}: {c['message']}"
        )
