"""The instance's HorizontalPodAutoscaler (autoscaling/v2, CPU utilization)."""

from __future__ import annotations

from typing import Any

from pim_operator.apis.v1alpha1.piminstance_types import PimInstance
from pim_operator.reconciler.piminstance.resources import names


def make_hpa(instance: PimInstance) -> dict[str, Any]:
    auto = instance.spec.autoscaling
    if auto is None:
        raise ValueError("make_hpa needs spec.autoscaling")
    name = instance.name
    hpa: dict[str, Any] = {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": names.child_metadata(instance, names.hpa(name)),
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": names.deployment(name)},
            "minReplicas": auto.min_replicas,
            "maxReplicas": auto.max_replicas,
            "metrics": [
                {
                    "type": "Resource",
                    "resource": {
                        "name": "cpu",
                        "target": {"type": "Utilization", "averageUtilization": auto.target_cpu},
                    },
                }
            ],
        },
    }
    if auto.scale_down_stabilization is not None:
        window = {"stabilizationWindowSeconds": auto.scale_down_stabilization}
        hpa["spec"]["behavior"] = {"scaleDown": window}
    return hpa
