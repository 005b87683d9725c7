"""The instance's PersistentVolumeClaim; owned (deleted with the instance) only under policy Delete."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pim_operator.apis.v1alpha1.types import InstanceSpec
from pim_operator.reconciler.piminstance.resources import names


def make_pvc(instance: Mapping[str, Any], spec: InstanceSpec) -> dict[str, Any]:
    name = instance["metadata"]["name"]
    body: dict[str, Any] = {
        "accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": spec.storage.size}},
    }
    if spec.storage.storage_class:
        body["storageClassName"] = spec.storage.storage_class
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": names.child_metadata(instance, names.pvc(name), spec.model, owned=not spec.storage.retain),
        "spec": body,
    }
