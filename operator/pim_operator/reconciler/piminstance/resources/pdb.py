"""The instance's PodDisruptionBudget: a drain or an eviction takes one replica at a time.

Only a scaled instance on PostgreSQL has one: a single pod (SQLite) has nothing to keep serving
while it moves, and a budget would only block the drain.
"""

from __future__ import annotations

from typing import Any

from pim_operator.apis.v1alpha1.piminstance_types import PimInstance
from pim_operator.reconciler.piminstance.resources import names


def wants_pdb(instance: PimInstance) -> bool:
    spec = instance.spec
    if not spec.database.postgres or spec.suspend:
        return False
    if spec.autoscaling is not None:
        return spec.autoscaling.max_replicas > 1
    return spec.desired_replicas > 1


def make_pdb(instance: PimInstance) -> dict[str, Any]:
    name = instance.name
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": names.child_metadata(instance, names.pdb(name)),
        "spec": {
            "maxUnavailable": 1,
            "selector": {"matchLabels": names.selector_labels(name)},
            # A pod that is not Ready serves nothing: evicting it costs no availability.
            "unhealthyPodEvictionPolicy": "AlwaysAllow",
        },
    }
