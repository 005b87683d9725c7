"""The instance's Service: the stable address in status.url."""

from __future__ import annotations

from typing import Any

from pim_operator.apis.v1alpha1.piminstance_types import PimInstance
from pim_operator.reconciler.piminstance.resources import names


def make_service(instance: PimInstance) -> dict[str, Any]:
    name, spec = instance.name, instance.spec
    port: dict[str, Any] = {"name": "http", "port": spec.port, "targetPort": "http", "protocol": "TCP"}
    if instance.node_port is not None:
        port["nodePort"] = instance.node_port
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": names.child_metadata(instance, names.service(name)),
        "spec": {
            "type": spec.service_type,
            "selector": names.selector_labels(name),
            "ports": [port],
        },
    }
