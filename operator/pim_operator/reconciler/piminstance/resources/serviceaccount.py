"""The engine's own ServiceAccount, and the one ClusterRoleBinding it may get.

Every instance's pods run as a ServiceAccount of their own, whose token is mounted only when the
engine calls the API server (auth Kubernetes or APIKey, whose /metrics takes Kubernetes tokens).
Then it is bound to ``system:auth-delegator``, the built-in ClusterRole that allows creating
TokenReviews and SubjectAccessReviews and nothing else: what the engine needs, exactly.

A ClusterRoleBinding is cluster-scoped, and a cluster-scoped object cannot be owned by a namespaced
one (the garbage collector ignores such references), so the instance cannot own it. Instead it is
labelled with the instance's name and namespace, deleted by the operator when the instance goes or
stops needing it (and swept on resync for deletions the operator missed), and owned by the
instance's Namespace, so that deleting the namespace removes it even when no operator runs.
"""

from __future__ import annotations

from typing import Any

from pim_operator.apis.v1alpha1.piminstance_types import PimInstance
from pim_operator.reconciler.piminstance.resources import names

AUTH_DELEGATOR = "system:auth-delegator"


def make_service_account(instance: PimInstance) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": names.child_metadata(instance, names.service_account(instance.name)),
        # The pod template says when to mount a token; none is mounted by default.
        "automountServiceAccountToken": False,
    }


def make_auth_delegator_binding(instance: PimInstance, *, namespace_uid: str | None) -> dict[str, Any]:
    """``namespace_uid``: the uid of the instance's Namespace, its owner (None: not known, no owner)."""
    meta = names.cluster_child_metadata(instance, names.auth_delegator(instance.namespace, instance.name))
    if namespace_uid:
        meta["ownerReferences"] = [
            {"apiVersion": "v1", "kind": "Namespace", "name": instance.namespace, "uid": namespace_uid}
        ]
    return {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": meta,
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": AUTH_DELEGATOR},
        "subjects": [
            {"kind": "ServiceAccount", "name": names.service_account(instance.name), "namespace": instance.namespace}
        ],
    }
