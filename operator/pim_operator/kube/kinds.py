"""The kinds the operator reads and writes, and their API paths."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pim_operator.apis.v1alpha1 import API_VERSION, INSTANCE_KIND, INSTANCE_PLURAL, MODEL_KIND, MODEL_PLURAL


@dataclass(frozen=True)
class Kind:
    api_version: str
    kind: str
    plural: str
    namespaced: bool = True

    @property
    def base(self) -> str:
        return f"/api/{self.api_version}" if "/" not in self.api_version else f"/apis/{self.api_version}"

    def path(self, namespace: str | None = None, name: str | None = None) -> str:
        p = self.base
        if self.namespaced and namespace:
            p += f"/namespaces/{namespace}"
        p += f"/{self.plural}"
        if name:
            p += f"/{name}"
        return p


CONFIGMAP = Kind("v1", "ConfigMap", "configmaps")
SERVICE = Kind("v1", "Service", "services")
PVC = Kind("v1", "PersistentVolumeClaim", "persistentvolumeclaims")
POD = Kind("v1", "Pod", "pods")
SECRET = Kind("v1", "Secret", "secrets")
EVENT = Kind("v1", "Event", "events")
SERVICEACCOUNT = Kind("v1", "ServiceAccount", "serviceaccounts")
SECRET = Kind("v1", "Secret", "secrets")
NAMESPACE = Kind("v1", "Namespace", "namespaces", namespaced=False)
NETWORKPOLICY = Kind("networking.k8s.io/v1", "NetworkPolicy", "networkpolicies")
CLUSTERROLEBINDING = Kind("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", "clusterrolebindings", namespaced=False)
DEPLOYMENT = Kind("apps/v1", "Deployment", "deployments")
HPA = Kind("autoscaling/v2", "HorizontalPodAutoscaler", "horizontalpodautoscalers")
PDB = Kind("policy/v1", "PodDisruptionBudget", "poddisruptionbudgets")
CNPG_CLUSTER = Kind("postgresql.cnpg.io/v1", "Cluster", "clusters")
SERVICEMONITOR = Kind("monitoring.coreos.com/v1", "ServiceMonitor", "servicemonitors")
ENDPOINTSLICE = Kind("discovery.k8s.io/v1", "EndpointSlice", "endpointslices")
LEASE = Kind("coordination.k8s.io/v1", "Lease", "leases")
PIMMODEL = Kind(API_VERSION, MODEL_KIND, MODEL_PLURAL)
PIMINSTANCE = Kind(API_VERSION, INSTANCE_KIND, INSTANCE_PLURAL)

BY_KIND: dict[tuple[str, str], Kind] = {
    (k.api_version, k.kind): k
    for k in (
        CONFIGMAP,
        SERVICE,
        PVC,
        POD,
        SECRET,
        EVENT,
        SERVICEACCOUNT,
        SECRET,
        NAMESPACE,
        NETWORKPOLICY,
        CLUSTERROLEBINDING,
        DEPLOYMENT,
        HPA,
        PDB,
        CNPG_CLUSTER,
        SERVICEMONITOR,
        ENDPOINTSLICE,
        LEASE,
        PIMMODEL,
        PIMINSTANCE,
    )
}


def of(obj: Mapping[str, Any]) -> Kind:
    return BY_KIND[(obj["apiVersion"], obj["kind"])]
