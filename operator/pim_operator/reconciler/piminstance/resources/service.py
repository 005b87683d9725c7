"""The instance's Service: the stable address in status.url."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pim_operator.apis.v1alpha1.types import InstanceSpec
from pim_operator.reconciler.piminstance.resources import names


def make_service(instance: Mapping[str, Any], spec: InstanceSpec) -> dict[str, Any]:
    name = instance["metadata"]["name"]
    port: dict[str, Any] = {"name": "http", "port": spec.port, "targetPort": "http", "protocol": "TCP"}
    if spec.node_port is not None and spec.service_type != "ClusterIP":
        port["nodePort"] = spec.node_port
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": names.child_metadata(instance, names.service(name), spec.model),
        "spec": {
            "type": spec.service_type,
            "selector": names.selector_labels(name),
            "ports": [port],
        },
    }
