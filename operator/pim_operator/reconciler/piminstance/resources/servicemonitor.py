"""A Prometheus Operator ServiceMonitor, offered only where its CRD exists."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pim_operator.apis.v1alpha1.types import InstanceSpec
from pim_operator.reconciler.piminstance.resources import names

API_VERSION = "monitoring.coreos.com/v1"


def make_servicemonitor(instance: Mapping[str, Any], spec: InstanceSpec) -> dict[str, Any]:
    name = instance["metadata"]["name"]
    return {
        "apiVersion": API_VERSION,
        "kind": "ServiceMonitor",
        "metadata": names.child_metadata(instance, names.servicemonitor(name), spec.model),
        "spec": {
            "selector": {"matchLabels": names.selector_labels(name)},
            "endpoints": [{"port": "http", "path": "/metrics", "interval": spec.metrics.interval}],
        },
    }
