"""The operator's state: one client, the watch caches, the work queues, the probe results.

Handlers and loops receive this object; nothing lives in module globals, so tests can run an
operator in-process against a real cluster and throw it away.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from pim_operator.cache import InstanceStore, Key, PodStore, Store
from pim_operator.kube import resources
from pim_operator.kube.client import KubeClient
from pim_operator.probe.summary import Sample
from pim_operator.reconciler.piminstance.resources.names import INSTANCE_LABEL
from pim_operator.settings import Settings
from pim_operator.workqueue import WorkQueue

#: Children kinds the operator watches (by its managed-by label) and restores on drift.
CHILD_KINDS: tuple[resources.Kind, ...] = (
    resources.CONFIGMAP,
    resources.DEPLOYMENT,
    resources.SERVICE,
    resources.PVC,
    resources.HPA,
    resources.SERVICEMONITOR,
)


@dataclass
class ServiceMonitorSupport:
    """Whether the cluster serves ServiceMonitors; re-checked now and then, since CRDs come and go."""

    available: bool = False
    checked_at: float = 0.0
    ttl: float = 60.0

    def fresh(self) -> bool:
        return time.monotonic() - self.checked_at < self.ttl


@dataclass
class Operator:
    settings: Settings
    client: KubeClient
    models: Store = field(default_factory=Store)
    instances: InstanceStore = field(default_factory=InstanceStore)
    children: dict[str, Store] = field(
        default_factory=lambda: {**{k.kind: Store() for k in CHILD_KINDS}, "Pod": PodStore(INSTANCE_LABEL)}
    )
    model_queue: WorkQueue[Key] | None = None
    instance_queue: WorkQueue[Key] | None = None
    servicemonitors: ServiceMonitorSupport = field(default_factory=ServiceMonitorSupport)
    probes: dict[Key, dict[str, Any]] = field(default_factory=dict)
    samples: dict[Key, dict[str, Sample]] = field(default_factory=dict)
    last_resync: float = field(default_factory=time.monotonic)

    def child(self, kind: resources.Kind, namespace: str, name: str) -> dict[str, Any] | None:
        return self.children[kind.kind].get(namespace, name)

    def enqueue_instance(self, key: Key) -> None:
        if self.instance_queue is not None:
            self.instance_queue.add(key)

    def enqueue_model(self, key: Key) -> None:
        if self.model_queue is not None:
            self.model_queue.add(key)
