"""kopf wiring: watches feed the caches and the queues; the leader's workers run the reconcilers.

kopf gives the watches, the liveness endpoint and login. It writes nothing: only ``on.event``
handlers are used (no progress annotations, no finalizers), its Events are off, and it runs
standalone (no peering objects). Which replica works is decided by our own leader election on a
Lease (``leaderelection.py``); every replica watches and queues, only the leader's queues run.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
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
from pim_operator.leaderelection import LeaderElector, Timing
from pim_operator.leading import LeaderWork
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
    work: LeaderWork | None = None
    elector: LeaderElector | None = None
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

    source = kubeconfig.Source(config.kubeconfig, config.context)

    @kopf.on.login(registry=registry)
    def login(**_: Any) -> kopf.ConnectionInfo:
        # kopf calls this at start and again after a 401: each call loads afresh (token files
        # re-read, exec plugins re-run), from the same source as the operator's own client.
        loaded = source.load()
        scheme, token = loaded.scheme_and_token()
        return kopf.ConnectionInfo(
            server=loaded.server,
            ca_path=loaded.config.ssl_ca_cert,
            insecure=not loaded.config.verify_ssl,
            scheme=scheme,
            token=token,
            certificate_path=loaded.config.cert_file,
            private_key_path=loaded.config.key_file,
            default_namespace=loaded.namespace,
        )

    @kopf.on.startup(registry=registry)
    async def startup(settings: kopf.OperatorSettings, **_: Any) -> None:
        _configure_kopf(settings, config)
        credentials = await asyncio.to_thread(kubeconfig.Credentials, source)
        client = KubeClient(credentials)
        op = Operator(settings=config, client=client)
        op.servicemonitors.ttl = op.cloudnativepg.ttl = config.discovery_interval
        op.model_queue = WorkQueue("PimModel", lambda k: model_reconciler.reconcile(op, k), workers=2)
        op.instance_queue = WorkQueue(
            "PimInstance", lambda k: instance_reconciler.reconcile(op, k), workers=config.workers
        )
        holder.op = op
        holder.work = work = LeaderWork(op)
        metrics.INSTANCES_READY.source = lambda: (i.status for i in op.instances.values())
        metrics.MODELS_VALID.source = lambda: (m.status for m in op.models.values())
        if config.leader_elect:
            elector = LeaderElector(
                client,
                name=config.lease_name,
                namespace=config.lease_namespace or credentials.namespace,
                identity=f"{config.pod_name}_{secrets.token_hex(3)}",
                timing=Timing(config.lease_duration, config.renew_deadline, config.retry_period),
                on_started_leading=work.start,
                on_stopped_leading=work.stop,
            )
            holder.elector = elector
            client.may_write = op.is_leader = lambda: elector.leading
            holder.tasks.append(asyncio.create_task(elector.run(), name="leader-election"))
        else:
            await work.start()
        log.info(
            "pim-operator started",
            extra={
                "engine_image": config.engine_image,
                "credentials": credentials.current.origin,
                "identity": holder.elector.identity if holder.elector else None,
            },
        )

    @kopf.on.cleanup(registry=registry)
    async def cleanup(**_: Any) -> None:
        # Order matters: stop renewing (the fence closes), stop the work, and only then free the
        # lease, so the next leader's first write comes after this replica's last.
        for t in holder.tasks:
            t.cancel()
        await asyncio.gather(*holder.tasks, return_exceptions=True)
        if holder.work is not None:
            await holder.work.stop()
        if holder.elector is not None:
            await holder.elector.release()
        if holder.op is not None:
            await holder.op.secrets.stop()
            await holder.op.client.aclose()

    @kopf.on.probe(id="queues", registry=registry)
    def queues(**_: Any) -> dict[str, Any]:
        op = holder.get()
        dead = [t.get_name() for t in holder.tasks if t.done()] + (holder.work.dead() if holder.work else [])
        if dead:
            raise kopf.PermanentError(f"background tasks stopped: {', '.join(dead)}")
        return {
            "leading": op.is_leader(),
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
            if op.is_leader():  # a standby writes nothing, Events included
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
            if op.is_leader():  # a standby writes nothing; the leader's resync sweeps what it missed
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


def _configure_kopf(settings: kopf.OperatorSettings, ours: Settings) -> None:
    settings.watching.server_timeout = ours.watch_server_timeout
    settings.watching.client_timeout = ours.watch_client_timeout
    settings.watching.connect_timeout = 30
    settings.networking.request_timeout = 60
    # Our own Events say what happened; kopf's would repeat its log lines on the objects (and a
    # standby must write nothing).
    settings.posting.enabled = False
