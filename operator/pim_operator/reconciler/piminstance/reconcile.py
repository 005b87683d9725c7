"""PimInstance reconcile: resolve the model, apply the children that differ, write status.

Level-triggered: every run starts from the current state (the watch caches, falling back to the
API server where a wrong guess would cost data), never from the event that woke it.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from pim_operator import events, metrics
from pim_operator.apis.v1alpha1 import piminstance_lifecycle as lifecycle
from pim_operator.apis.v1alpha1.conditions import Condition
from pim_operator.apis.v1alpha1.labels import INSTANCE_LABEL, INSTANCE_NAMESPACE_LABEL
from pim_operator.apis.v1alpha1.piminstance_types import PimInstance
from pim_operator.cache import Key
from pim_operator.kube import kinds
from pim_operator.kube.client import ApiError
from pim_operator.kube.diff import satisfies, status_changed
from pim_operator.probe import health
from pim_operator.reconciler.piminstance import access, database, ports
from pim_operator.reconciler.piminstance.database import DatabaseState
from pim_operator.reconciler.piminstance.resolve import Resolution, resolve
from pim_operator.reconciler.piminstance.resources import names
from pim_operator.reconciler.piminstance.resources.cluster import make_cluster
from pim_operator.reconciler.piminstance.resources.configmap import MODEL_KEY, config_digest, make_configmap
from pim_operator.reconciler.piminstance.resources.deployment import make_deployment
from pim_operator.reconciler.piminstance.resources.hpa import make_hpa
from pim_operator.reconciler.piminstance.resources.networkpolicy import make_network_policy, trusted_peers
from pim_operator.reconciler.piminstance.resources.pdb import make_pdb, wants_pdb
from pim_operator.reconciler.piminstance.resources.pvc import make_pvc
from pim_operator.reconciler.piminstance.resources.service import make_service
from pim_operator.reconciler.piminstance.resources.serviceaccount import (
    make_auth_delegator_binding,
    make_service_account,
)
from pim_operator.reconciler.piminstance.resources.servicemonitor import make_servicemonitor
from pim_operator.reconciler.piminstance.status import make_status
from pim_operator.reconciler.pimmodel.reconcile import load_model
from pim_operator.state import KindSupport, Operator

log = logging.getLogger(__name__)


class RetryLater(RuntimeError):
    """The reconcile did what it could and reported why it is stuck; try again after a backoff."""


async def reconcile(op: Operator, key: Key) -> None:
    ns, name = key
    instance = op.instances.get(ns, name)
    if instance is None or instance.meta.deletion_timestamp:
        return
    spec = instance.spec
    resolution = await _resolve(op, instance)
    cloudnativepg = spec.database.managed is not None and await _served(op, op.cloudnativepg, kinds.CNPG_CLUSTER)
    if resolution.snapshot is None:
        resources_ready = lifecycle.mark_waiting_for_model()
        access_ready = await _access(op, instance, None)
        db = await _database(op, instance, cloudnativepg)
    else:
        resources_ready, access_ready, db = await _apply_children(op, instance, resolution, cloudnativepg)
    deployment = op.child(kinds.DEPLOYMENT, ns, names.deployment(name))
    probe = op.probes.get(key)
    pods = op.pods.owned_by(ns, name)
    health_conditions, health_status = health.evaluate(
        pods,
        probe,
        desired=int(deployment["spec"].get("replicas") or 0) if deployment else spec.desired_replicas,
        suspended=spec.suspend,
    )
    extra: dict[str, Any] = {"health": health_status}
    if probe and probe.metrics:
        extra["metrics"] = probe.metrics
    database_ready = db.seen_by_engine(health.database_view(pods, probe))
    conditions = [resolution.condition, database_ready, resources_ready, access_ready, *health_conditions]
    status = make_status(
        instance,
        conditions,
        deployment=deployment,
        model_digest=resolution.digest,
        extra=extra,
        now=events.now(),
    )
    await _write_status(op, instance, status)
    stuck = lifecycle.CONDITIONS.retry_reason(conditions)
    if stuck is not None:
        # Nothing watched will say when a permission is granted or a foreign port released:
        # retry with backoff, now that the status says what is wrong.
        raise RetryLater(f"{ns}/{name}: {stuck.message}")


async def _resolve(op: Operator, instance: PimInstance) -> Resolution:
    ns, name, spec = instance.namespace, instance.name, instance.spec
    model = op.models.get(ns, instance.model)
    if model is None:
        # The cache may not have listed it yet: a wrong "not found" would only mislead, so ask.
        body = await op.client.get(kinds.PIMMODEL, ns, instance.model)
        if body is not None:
            model = op.models.put(body)
    loaded = await load_model(op, model) if model is not None else None
    cm = op.child(kinds.CONFIGMAP, ns, names.configmap(name))
    if cm is None and instance.model_digest:
        # What runs now decides whether a model change is safe: never guess it from a cold cache.
        # (An instance whose status names no digest has never had a snapshot written.)
        cm = await op.client.get(kinds.CONFIGMAP, ns, names.configmap(name))
        if cm is not None:
            op.children[kinds.CONFIGMAP.kind].put(cm)
    current = (cm or {}).get("data", {}).get(MODEL_KEY)
    return resolve(instance.model, loaded, current, allow_destructive=spec.allow_destructive_migration)


async def _database(op: Operator, instance: PimInstance, cloudnativepg: bool) -> DatabaseState:
    """Where the instance's database stands; starts (or stops) the watch of its Secret."""
    ns, name = instance.key
    ref = names.database_secret(instance)
    summary = await op.secrets.use(instance.key, (ns, ref.name) if ref is not None else None)
    cluster = op.child(kinds.CNPG_CLUSTER, ns, names.cluster(name))
    return database.configured(instance, cloudnativepg=cloudnativepg, cluster=cluster, secret=summary)


async def _apply_children(
    op: Operator, instance: PimInstance, resolution: Resolution, cloudnativepg: bool
) -> tuple[Condition, Condition, DatabaseState]:
    """Apply what differs, the engine's workload only once it has a database to use:
    (ResourcesReady, AccessReady, where the database stands).

    A nodePort clash changes nothing: a new instance gets no children at all, a running one keeps
    what it runs, until the port is free. The Service goes first, so that a clash only the API
    server knows of (a foreign Service) also stops the rest.
    """
    ns, name, spec = instance.namespace, instance.name, instance.spec
    assert resolution.snapshot is not None
    assert resolution.digest is not None
    held_by = ports.holder(op.children[kinds.SERVICE.kind].values(), spec.node_port) if spec.node_port else None
    clash = ports.conflict(instance, op.instances.values(), held_by)
    if clash:
        return (
            lifecycle.mark_port_conflict(clash),
            await _access(op, instance, None),
            await _database(op, instance, cloudnativepg),
        )
    configmap = make_configmap(instance, resolution.snapshot)
    desired: list[dict[str, Any]] = [make_service(instance), configmap, make_service_account(instance)]
    unwanted: list[tuple[kinds.Kind, str, str]] = []  # (kind, namespace ("" if cluster-scoped), name)
    if spec.access.network_policy:
        desired.append(make_network_policy(instance, trusted(op)))
    else:
        unwanted.append((kinds.NETWORKPOLICY, ns, names.network_policy(name)))
    if spec.storage.persistent and not spec.database.postgres:
        desired.append(make_pvc(instance))
    if spec.database.managed is not None:
        if cloudnativepg:
            desired.append(make_cluster(instance))
    elif _owned_by(op.child(kinds.CNPG_CLUSTER, ns, names.cluster(name)), instance):
        # No longer managed, and its reclaimPolicy was Delete: it goes, as it would with the instance.
        unwanted.append((kinds.CNPG_CLUSTER, ns, names.cluster(name)))
    outcome = lifecycle.mark_resources_applied()
    if spec.metrics.service_monitor and await _served(op, op.servicemonitors, kinds.SERVICEMONITOR):
        desired.append(make_servicemonitor(instance))
    else:
        unwanted.append((kinds.SERVICEMONITOR, ns, names.servicemonitor(name)))
    binding = names.auth_delegator(ns, name)
    if spec.access.reviews:
        desired.append(make_auth_delegator_binding(instance, namespace_uid=await _namespace_uid(op, ns)))
    else:
        unwanted.append((kinds.CLUSTERROLEBINDING, "", binding))
    outcome, delegation_error = await _apply(op, desired, outcome)
    if outcome.reason == lifecycle.PORT_CONFLICT:  # the API server refused the Service's nodePort
        return outcome, await _access(op, instance, None), await _database(op, instance, cloudnativepg)

    db = await _database(op, instance, cloudnativepg)
    if not db.usable:
        # The workload would only crash without its database: leave it as it is until there is one.
        if outcome.reason == lifecycle.APPLIED:
            outcome = lifecycle.mark_waiting_for_database()
    else:
        workload = [
            make_deployment(
                instance,
                image=spec.image or op.settings.engine_image,
                model_digest=resolution.digest,
                config_digest=config_digest(configmap),
                database_digest=db.digest,
            )
        ]
        if spec.autoscaling is not None and not spec.suspend:
            workload.append(make_hpa(instance))
        else:
            unwanted.append((kinds.HPA, ns, names.hpa(name)))
        if wants_pdb(instance):
            workload.append(make_pdb(instance))
        else:
            unwanted.append((kinds.PDB, ns, names.pdb(name)))
        outcome, _ = await _apply(op, workload, outcome)
    for kind, where, child_name in unwanted:
        if op.child(kind, where, child_name) is not None:
            await op.client.delete(kind, where or None, child_name)
            op.children[kind.kind].remove(where, child_name)
    return outcome, await _access(op, instance, delegation_error), db


async def _apply(op: Operator, desired: list[dict[str, Any]], outcome: Condition) -> tuple[Condition, ApiError | None]:
    """Server-side apply each object that the cache says differs; a refusal becomes the outcome
    (a refused nodePort stops the rest).

    A refused ClusterRoleBinding is returned instead: AccessReady says what the operator's RBAC lacks.
    """
    delegation_error: ApiError | None = None
    for obj in desired:
        kind = kinds.of(obj)
        store = op.children[kind.kind]
        ns, name = obj["metadata"].get("namespace", ""), obj["metadata"]["name"]
        live = store.get(ns, name)
        if live is not None and satisfies(live, obj) and not _disowned(live, obj):
            metrics.APPLIES_SKIPPED.labels(kind=kind.kind).inc()
            continue
        try:
            store.put(await op.client.apply(obj))
        except ApiError as exc:
            if kind is kinds.SERVICE and exc.status == 422 and "port" in exc.message:
                return lifecycle.mark_port_conflict(exc.message), delegation_error  # the rest waits
            if kind is kinds.CLUSTERROLEBINDING and exc.status == 403:
                delegation_error = exc  # the operator's own RBAC: AccessReady says what it lacks
                continue
            if exc.status in (400, 403, 422):
                # The request is wrong, not the weather: say so in status instead of retrying hot.
                outcome = lifecycle.mark_apply_failed(kind.kind, name, exc)
                continue
            raise
    return outcome, delegation_error


def trusted(op: Operator) -> dict[str, dict[str, Any]]:
    """The peers every instance's NetworkPolicy admits: the operator's pods and Prometheus."""
    s = op.settings
    return trusted_peers(
        operator_namespace=s.operator_namespace,
        operator_pods=s.operator_pod_labels,
        prometheus_namespaces=s.prometheus_namespace_labels,
        prometheus_pods=s.prometheus_pod_labels,
    )


async def _access(op: Operator, instance: PimInstance, delegation_error: ApiError | None) -> Condition:
    keys: list[str] | None = []
    secret_error: ApiError | None = None
    secret = instance.spec.access.api_key_secret
    if secret:
        try:
            body = await op.client.get(kinds.SECRET, instance.namespace, secret)
        except ApiError as exc:
            if exc.status != 403:
                raise
            body, secret_error = {}, exc
        keys = None if body is None else sorted((body.get("data") or {}).keys())
    return access.condition(
        instance, trusted(op), api_keys=keys, delegation_error=delegation_error, secret_error=secret_error
    )


async def _namespace_uid(op: Operator, namespace: str) -> str | None:
    """The uid of a Namespace (the owner of the instance's cluster-scoped children), asked once."""
    uid = op.namespace_uids.get(namespace)
    if uid is None:
        try:
            body = await op.client.get(kinds.NAMESPACE, None, namespace)
        except ApiError as exc:
            log.warning("cannot read Namespace %s: %s", namespace, exc)
            return None
        uid = (body or {}).get("metadata", {}).get("uid")
        if uid:
            op.namespace_uids[namespace] = uid
    return uid


async def forget_cluster_children(op: Operator, namespace: str, name: str) -> None:
    """The instance is gone: delete what it cannot own (its ClusterRoleBinding)."""
    binding = names.auth_delegator(namespace, name)
    if op.child(kinds.CLUSTERROLEBINDING, "", binding) is not None:
        await op.client.delete(kinds.CLUSTERROLEBINDING, None, binding)
        op.children[kinds.CLUSTERROLEBINDING.kind].remove("", binding)


async def sweep_cluster_children(op: Operator) -> None:
    """Delete ClusterRoleBindings of instances that are gone or no longer need one, in namespaces this
    operator serves: deletions it missed while it was not running. The API server, not the cache,
    has the last word before anything is deleted."""
    for _, binding in op.children[kinds.CLUSTERROLEBINDING.kind].keys():
        body = op.child(kinds.CLUSTERROLEBINDING, "", binding) or {}
        labels = (body.get("metadata") or {}).get("labels") or {}
        ns, name = labels.get(INSTANCE_NAMESPACE_LABEL, ""), labels.get(INSTANCE_LABEL, "")
        if not ns or not name or not op.settings.watches(ns) or binding != names.auth_delegator(ns, name):
            continue
        cached = op.instances.get(ns, name)
        if cached is not None and cached.spec.access.reviews:
            continue
        live = await op.client.get(kinds.PIMINSTANCE, ns, name)
        if live is not None and PimInstance.from_body(live).spec.access.reviews:
            continue
        log.info("deleting ClusterRoleBinding %s: instance %s/%s is gone or needs none", binding, ns, name)
        await op.client.delete(kinds.CLUSTERROLEBINDING, None, binding)
        op.children[kinds.CLUSTERROLEBINDING.kind].remove("", binding)


def _disowned(live: dict[str, Any], desired: dict[str, Any]) -> bool:
    """A child that should have no owner any more (reclaimPolicy now Retain) but still has one.

    ``satisfies`` cannot see a field that was dropped; the apply without it releases the owner.
    """
    return "ownerReferences" not in desired["metadata"] and bool(live["metadata"].get("ownerReferences"))


def _owned_by(child: dict[str, Any] | None, instance: PimInstance) -> bool:
    refs = ((child or {}).get("metadata") or {}).get("ownerReferences") or ()
    return any(r.get("uid") == instance.meta.uid for r in refs)


async def _served(op: Operator, support: KindSupport, kind: kinds.Kind) -> bool:
    """Whether the cluster serves an optional kind; discovery is re-checked after its TTL."""
    if not support.fresh():
        try:
            support.available = await op.client.has_kind(kind)
        except ApiError:
            support.available = False
        support.checked_at = time.monotonic()
    return support.available


async def _write_status(op: Operator, instance: PimInstance, status: dict[str, Any]) -> None:
    if not status_changed(instance.status, status):
        return
    body = await op.client.patch_status(kinds.PIMINSTANCE, instance.namespace, instance.name, status)
    if body is None:
        return
    live = op.instances.put(body)
    for c, good in lifecycle.CONDITIONS.noteworthy(instance.status.get("conditions"), status["conditions"]):
        await events.emit(
            op.client,
            live.reference(),
            "Normal" if good else "Warning",
            c["reason"],
            f"{c['type']}={c['status']}: {c['message']}",
        )
