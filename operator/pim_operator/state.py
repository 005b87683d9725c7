"""The running operator's state: one client, the watch caches, the work queues, the probe results.

Handlers and loops receive this object; nothing lives in module globals, so tests can run an
operator in-process against a real cluster and throw it away.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pim_operator.apis.v1alpha1.pimmodel_types import PimModel
from pim_operator.cache import InstanceStore, Key, PodStore, Store, child_store, model_store
from pim_operator.kube import kinds
from pim_operator.kube.client import KubeClient
from pim_operator.probe.result import ProbeResult
from pim_operator.probe.summary import Sample
from pim_operator.secret_watch import SecretWatches
from pim_operator.settings import Settings
from pim_operator.workqueue import WorkQueue

#: Children kinds the operator watches (by its managed-by label) and restores on drift.
CHILD_KINDS: tuple[kinds.Kind, ...] = (
    kinds.CONFIGMAP,
    kinds.DEPLOYMENT,
    kinds.SERVICE,
    kinds.PVC,
    kinds.HPA,
    kinds.PDB,
    kinds.SERVICEMONITOR,
    kinds.SERVICEACCOUNT,
    kinds.NETWORKPOLICY,
    kinds.CLUSTERROLEBINDING,
    kinds.CNPG_CLUSTER,
)


@dataclass
class KindSupport:
    """Whether the cluster serves an optional kind (ServiceMonitor, CloudNativePG's Cluster).

    Re-checked now and then, since CRDs come and go.
    """

    available: bool = False
    checked_at: float = 0.0
    ttl: float = 60.0

    def fresh(self) -> bool:
        return time.monotonic() - self.checked_at < self.ttl


@dataclass
class Operator:
    settings: Settings
    client: KubeClient
    models: Store[PimModel] = field(default_factory=model_store)
    instances: InstanceStore = field(default_factory=InstanceStore)
    children: dict[str, Store[dict[str, Any]]] = field(
        default_factory=lambda: {k.kind: child_store() for k in CHILD_KINDS}
    )
    pods: PodStore = field(default_factory=PodStore)
    model_queue: WorkQueue[Key] | None = None
    instance_queue: WorkQueue[Key] | None = None
    servicemonitors: KindSupport = field(default_factory=KindSupport)
    cloudnativepg: KindSupport = field(default_factory=KindSupport)
    secrets: SecretWatches = field(init=False)
    probes: dict[Key, ProbeResult] = field(default_factory=dict)
    samples: dict[Key, dict[str, Sample]] = field(default_factory=dict)
    last_resync: float = field(default_factory=time.monotonic)
    #: Namespace uids, the owners of the instances' cluster-scoped children (they never change).
    namespace_uids: dict[str, str] = field(default_factory=dict)
    #: Whether this replica may work and write now (the leader lease's fence; always, without election).
    is_leader: Callable[[], bool] = field(default=lambda: True)

    def __post_init__(self) -> None:
        self.secrets = SecretWatches(self.client, self.enqueue_instance)

    def store(self, kind: kinds.Kind) -> Store[dict[str, Any]]:
        """The watch cache of a child kind, or of Pods."""
        return self.pods if kind is kinds.POD else self.children[kind.kind]

    def child(self, kind: kinds.Kind, namespace: str, name: str) -> dict[str, Any] | None:
        return self.children[kind.kind].get(namespace, name)

    def enqueue_instance(self, key: Key) -> None:
        if self.instance_queue is not None:
            self.instance_queue.add(key)

    def enqueue_model(self, key: Key) -> None:
        if self.model_queue is not None:
            self.model_queue.add(key)
