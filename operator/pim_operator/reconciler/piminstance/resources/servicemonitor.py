"""A Prometheus Operator ServiceMonitor, offered only where its CRD exists."""

from __future__ import annotations

from typing import Any

from pim_operator.apis.v1alpha1.piminstance_types import PimInstance
from pim_operator.reconciler.piminstance.resources import names

API_VERSION = "monitoring.coreos.com/v1"


def make_servicemonitor(instance: PimInstance) -> dict[str, Any]:
    name = instance.name
    return {
        "apiVersion": API_VERSION,
        "kind": "ServiceMonitor",
        "metadata": names.child_metadata(instance, names.servicemonitor(name)),
        "spec": {
            "selector": {"matchLabels": names.selector_labels(name)},
            "endpoints": [{"port": "http", "path": "/metrics", "interval": instance.spec.metrics.interval}],
        },
    }
