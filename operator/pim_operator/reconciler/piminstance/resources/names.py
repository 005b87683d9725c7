"""Names and labels of an instance's children: one place, so handlers and builders agree."""

from __future__ import annotations

from typing import Any

from pim_operator.apis.v1alpha1.labels import (
    APP_NAME,
    INSTANCE_LABEL,
    INSTANCE_NAMESPACE_LABEL,
    MANAGED_BY,
    MANAGED_BY_LABEL,
    MODEL_LABEL,
    NAME_LABEL,
    PART_OF,
    PART_OF_LABEL,
)
from pim_operator.apis.v1alpha1.piminstance_types import DEFAULT_SECRET_KEY, PimInstance, SecretRef

CONTAINER = "engine"


def deployment(instance: str) -> str:
    return instance


def service(instance: str) -> str:
    return instance


def configmap(instance: str) -> str:
    return f"{instance}-model"


def pvc(instance: str) -> str:
    return f"{instance}-data"


def hpa(instance: str) -> str:
    return instance


def servicemonitor(instance: str) -> str:
    return instance


def service_account(instance: str) -> str:
    return f"{instance}-engine"


def network_policy(instance: str) -> str:
    return instance


def auth_delegator(namespace: str, instance: str) -> str:
    """The ClusterRoleBinding letting the engine's ServiceAccount create reviews: cluster-wide, so
    its name carries the namespace (names of both parts are DNS labels: no two instances collide)."""
    return f"pim-engine:{namespace}:{instance}"


def pdb(instance: str) -> str:
    return instance


def cluster(instance: str) -> str:
    """The CloudNativePG Cluster of a managed database (CloudNativePG allows 50 characters; the CRD 47 + 3)."""
    return f"{instance}-db"


def cluster_app_secret(instance: str) -> str:
    """The Secret CloudNativePG writes for the Cluster's application user (keys ``uri``, ``password``, ...)."""
    return f"{cluster(instance)}-app"


def database_secret(instance: PimInstance) -> SecretRef | None:
    """The Secret key holding the instance's PostgreSQL URI: the user's, or CloudNativePG's; None for SQLite."""
    db = instance.spec.database
    if not db.postgres:
        return None
    if db.managed is not None:
        return SecretRef(cluster_app_secret(instance.name), DEFAULT_SECRET_KEY)
    return db.secret_ref


def selector_labels(instance: str) -> dict[str, str]:
    """The pod selector: immutable in a Deployment, so it holds nothing that can change."""
    return {NAME_LABEL: APP_NAME, INSTANCE_LABEL: instance}


def selector_string(instance: str) -> str:
    return ",".join(f"{k}={v}" for k, v in selector_labels(instance).items())


def labels(instance: PimInstance) -> dict[str, str]:
    return {
        **selector_labels(instance.name),
        MANAGED_BY_LABEL: MANAGED_BY,
        PART_OF_LABEL: PART_OF,
        MODEL_LABEL: instance.model,
    }


def child_metadata(instance: PimInstance, name: str, *, owned: bool = True) -> dict[str, Any]:
    out: dict[str, Any] = {"name": name, "namespace": instance.namespace, "labels": labels(instance)}
    if owned:
        out["ownerReferences"] = [instance.owner_reference()]
    return out


def cluster_child_metadata(instance: PimInstance, name: str) -> dict[str, Any]:
    """A cluster-scoped child: no namespace, and no owner reference to the (namespaced) instance,
    which the garbage collector would not honour; a label names the instance's namespace instead."""
    return {"name": name, "labels": {**labels(instance), INSTANCE_NAMESPACE_LABEL: instance.namespace}}


def service_url(instance: str, namespace: str, port: int) -> str:
    return f"http://{service(instance)}.{namespace}.svc:{port}"
