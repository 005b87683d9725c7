"""The CloudNativePG Cluster of a managed database: one database, ``app``, owned by user ``app``.

CloudNativePG writes the ``<cluster>-app`` Secret (key ``uri``), which the engine's pods read.
The PostgreSQL image is left to CloudNativePG's configuration (its default, or the
``POSTGRES_IMAGE_NAME`` the cluster administrator set), so the operator names no operand image.
Under ``reclaimPolicy: Retain`` the Cluster has no owner and survives its instance, as a retained
PVC does: CloudNativePG's PVCs are owned by the Cluster, so the data goes only with it.
"""

from __future__ import annotations

from typing import Any

from pim_operator.apis.v1alpha1.piminstance_types import PimInstance
from pim_operator.reconciler.piminstance.resources import names

API_VERSION = "postgresql.cnpg.io/v1"
DATABASE = "app"
#: A failover must not lose acknowledged writes: while a standby is up, a commit waits for it.
#: "preferred" keeps the primary writable while no standby is (just after a failover, say).
SYNCHRONOUS = {"method": "any", "number": 1, "dataDurability": "preferred"}
#: Seconds a stopping server waits for its clients to leave before it cuts them off (CloudNativePG's
#: default is 180). The engines keep pooled connections open and never leave: a deleted or failing
#: primary would refuse new connections for three minutes before the failover could start.
SMART_SHUTDOWN_SECONDS = 5


def make_cluster(instance: PimInstance) -> dict[str, Any]:
    managed = instance.spec.database.managed
    if managed is None:
        raise ValueError("make_cluster needs spec.database.postgres.managed")
    storage: dict[str, Any] = {"size": managed.size}
    if managed.storage_class:
        storage["storageClass"] = managed.storage_class
    return {
        "apiVersion": API_VERSION,
        "kind": "Cluster",
        "metadata": names.child_metadata(instance, names.cluster(instance.name), owned=not managed.retain),
        "spec": {
            "instances": managed.instances,
            "storage": storage,
            "bootstrap": {"initdb": {"database": DATABASE, "owner": DATABASE}},
            **({"postgresql": {"synchronous": SYNCHRONOUS}} if managed.instances > 1 else {}),
            "enableSuperuserAccess": False,
            "smartShutdownTimeout": SMART_SHUTDOWN_SECONDS,
        },
    }


def is_ready(cluster: dict[str, Any] | None) -> tuple[bool, str, str]:
    """(ready, phase, phaseReason) as CloudNativePG reports them in the Cluster's status."""
    if cluster is None:
        return False, "", "not created yet"
    st = cluster.get("status") or {}
    ready = any(c.get("type") == "Ready" and c.get("status") == "True" for c in st.get("conditions") or ())
    return ready, str(st.get("phase") or ""), str(st.get("phaseReason") or "")
