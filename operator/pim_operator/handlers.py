"""kopf wiring: watches feed the caches and the queues; the queues run the reconcilers.

kopf gives the watches, peering, the liveness endpoint and login. Only ``on.event`` handlers are
used: they store no progress annotations and add no finalizers, so kopf writes nothing to the
watched objects, and every reconcile works from the current state (level-triggered).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from typing import Any

import kopf

from pim_operator import metrics
from pim_operator.apis.v1alpha1 import GROUP, INSTANCE_PLURAL, MODEL_PLURAL, VERSION
from pim_operator.apis.v1alpha1.labels import INSTANCE_LABEL, INSTANCE_NAMESPACE_LABEL, MANAGED_BY, MANAGED_BY_LABEL
from pim_operator.apis.v1alpha1.piminstance_types import PimInstance
from pim_operator.cache import Key
from pim_operator.kube import config as kubeconfig
from pim_operator.kube import kinds
from pim_operator.kube.client import KubeClient
from pim_operator.probe import loop as probe_loop
from pim_operator.reconciler.piminstance import reconcile as instance_reconciler
from pim_operator.reconciler.pimmodel import reconcile as model_reconciler
from pim_operator.settings import Settings
from pim_operator.state import CHILD_KINDS, Operator
from pim_operator.workqueue import WorkQueue

log = logging.getLogger(__name__)
MANAGED = {MANAGED_BY_LABEL: MANAGED_BY}


class Holder:
    """The running operator, created at startup (it needs the event loop) and shared by handlers."""

    op: Operator | None = None
    tasks: list[asyncio.Task[None]]

    def __init__(self) -> None:
        self.tasks = []

    def get(self) -> Operator:
        if self.op is None:
            raise RuntimeError("operator not started")
        return self.op


def _key(body: Mapping[str, Any]) -> Key:
    meta = body["metadata"]
    return (meta.get("namespace") or "", meta["name"])


def build_registry(config: Settings, holder: Holder | None = None) -> kopf.OperatorRegistry:
    holder = holder or Holder()
    registry = kopf.OperatorRegistry()

    @kopf.on.login(registry=registry)
    def login(**_: Any) -> kopf.ConnectionInfo:
        cfg = kubeconfig.load()
        return kopf.ConnectionInfo(
            server=cfg.server,
            ca_path=cfg.ca_path,
            insecure=cfg.insecure,
            scheme="Bearer" if cfg.bearer() else None,
            token=cfg.bearer(),
            certificate_path=cfg.cert_path,
            private_key_path=cfg.key_path,
            default_namespace=cfg.namespace,
        )

    @kopf.on.startup(registry=registry)
    async def startup(settings: kopf.OperatorSettings, **_: Any) -> None:
        _configure_kopf(settings, config)
        op = Operator(settings=config, client=KubeClient(kubeconfig.load()))
        op.servicemonitors.ttl = op.cloudnativepg.ttl = config.discovery_interval
        op.model_queue = WorkQueue("PimModel", lambda k: model_reconciler.reconcile(op, k), workers=2)
        op.instance_queue = WorkQueue(
            "PimInstance", lambda k: instance_reconciler.reconcile(op, k), workers=config.workers
        )
        op.model_queue.start()
        op.instance_queue.start()
        holder.op = op
        metrics.INSTANCES_READY.source = lambda: (i.status for i in op.instances.values())
        metrics.MODELS_VALID.source = lambda: (m.status for m in op.models.values())
        holder.tasks.append(asyncio.create_task(_resync(op), name="resync"))
        if config.probe_interval > 0:
            holder.tasks.append(asyncio.create_task(probe_loop.run(op), name="probe"))
        log.info("pim-operator started", extra={"engine_image": config.engine_image})

    @kopf.on.cleanup(registry=registry)
    async def cleanup(**_: Any) -> None:
        for t in holder.tasks:
            t.cancel()
        await asyncio.gather(*holder.tasks, return_exceptions=True)
        op = holder.op
        if op is not None:
            for q in (op.model_queue, op.instance_queue):
                if q is not None:
                    await q.stop()
            await op.secrets.stop()
            await op.client.aclose()

    @kopf.on.probe(id="queues", registry=registry)
    def queues(**_: Any) -> dict[str, Any]:
        op = holder.get()
        dead = [t.get_name() for t in holder.tasks if t.done()]
        if dead:
            raise kopf.PermanentError(f"background tasks stopped: {', '.join(dead)}")
        return {
            "instances": len(op.instances),
            "models": len(op.models),
            "queued": len(op.instance_queue or ()),
            "lastResyncAgo": round(time.monotonic() - op.last_resync, 1),
        }

    @kopf.on.event(GROUP, VERSION, MODEL_PLURAL, registry=registry)
    async def model_event(event: Mapping[str, Any], body: kopf.Body, **_: Any) -> None:
        op = holder.get()
        metrics.WATCH_EVENTS.labels(kind="PimModel").inc()
        key = _key(body)
        if event.get("type") == "DELETED":
            op.models.remove(*key)
            op.model_queue.forget(key)  # type: ignore[union-attr]
            await model_reconciler.deleted(op, body)
            return
        op.models.put(body)
        op.enqueue_model(key)

    @kopf.on.event(GROUP, VERSION, INSTANCE_PLURAL, registry=registry)
    async def instance_event(event: Mapping[str, Any], body: kopf.Body, **_: Any) -> None:
        op = holder.get()
        metrics.WATCH_EVENTS.labels(kind="PimInstance").inc()
        key = _key(body)
        ns = key[0]
        old = op.instances.get(*key)
        old_model = old.model if old is not None else None
        if event.get("type") == "DELETED":
            gone = PimInstance.from_body(body)
            op.instances.remove(*key)
            op.probes.pop(key, None)
            op.secrets.forget(key)
            op.instance_queue.forget(key)  # type: ignore[union-attr]
            await instance_reconciler.forget_cluster_children(op, *key)
            if old_model:
                op.enqueue_model((ns, old_model))
            if gone.node_port is not None:
                # A released nodePort may unblock a later claimant.
                for other in op.instances.values():
                    if other.node_port is not None:
                        op.enqueue_instance(other.key)
            return
        new = op.instances.put(body)
        if old is None or old_model != new.model:
            for m in {old_model, new.model} - {None, ""}:
                op.enqueue_model((ns, m))  # type: ignore[arg-type]
        op.enqueue_instance(key)

    for kind in (*CHILD_KINDS, kinds.POD):
        _watch_children(registry, holder, kind)

    return registry


def _watch_children(registry: kopf.OperatorRegistry, holder: Holder, kind: kinds.Kind) -> None:
    group, _, version = kind.api_version.rpartition("/")

    @kopf.on.event(group, version, kind.plural, labels=MANAGED, registry=registry, id=f"child-{kind.plural}")
    async def child_event(event: Mapping[str, Any], body: kopf.Body, **_: Any) -> None:
        op = holder.get()
        metrics.WATCH_EVENTS.labels(kind=kind.kind).inc()
        store = op.store(kind)
        meta = body["metadata"]
        labels = meta.get("labels") or {}
        if event.get("type") == "DELETED":
            store.remove(meta.get("namespace") or "", meta["name"])
        else:
            store.put(body)
        owner = labels.get(INSTANCE_LABEL)
        # A cluster-scoped child names its instance's namespace in a label.
        owner_ns = meta.get("namespace") or labels.get(INSTANCE_NAMESPACE_LABEL)
        if owner and owner_ns:
            op.enqueue_instance((owner_ns, owner))


async def _resync(op: Operator) -> None:
    """Re-run every reconcile now and then: drift the watches missed, ConfigMap-sourced models."""
    while True:
        await asyncio.sleep(op.settings.resync_interval)
        for key in op.models.keys():
            op.enqueue_model(key)
        for key in op.instances.keys():
            op.enqueue_instance(key)
        try:
            await instance_reconciler.sweep_cluster_children(op)
        except Exception:  # a failed sweep is retried at the next resync; the loop must go on
            log.exception("sweeping ClusterRoleBindings failed")
        op.last_resync = time.monotonic()


def _configure_kopf(settings: kopf.OperatorSettings, ours: Settings) -> None:
    settings.watching.server_timeout = ours.watch_server_timeout
    settings.watching.client_timeout = ours.watch_client_timeout
    settings.watching.connect_timeout = 30
    settings.networking.request_timeout = 60
    # Our own Events say what happened; kopf's would repeat its log lines on the objects.
    settings.posting.enabled = False
    settings.peering.priority = 0
